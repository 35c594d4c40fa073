"""A turn reads the looks of its candidates and of the images it is told about, never the table:
from the file beside the index, or by id from library.db where that file cannot be had."""

from __future__ import annotations

import errno
import sqlite3

import numpy as np
import pytest

from agent import Agent
from retrievers import look_file
from retrievers.images import APPEARANCE_STEP
from retrievers.index_file import LOOKS_NAME
from retrievers.look_file import LookFile

CANDIDATES = 12  # of the 40 images of small_library


@pytest.fixture
def file_reads(monkeypatch) -> list[list[int]]:
    """The ids of every look read from the file beside the index (look_file.py)."""
    reads: list[list[int]] = []
    by_position = LookFile.get

    def counted(self, ids, elsewhere):
        reads.append([int(i) for i in ids])
        return by_position(self, ids, elsewhere)

    monkeypatch.setattr(LookFile, "get", counted)
    return reads


def test_a_turn_reads_only_its_candidates_looks(small_library, looks_read, file_reads):
    agent = Agent.open(small_library, persist=False).variant(candidates=CANDIDATES)
    sql: list[str] = []
    agent.library.catalog.db.conn.set_trace_callback(sql.append)
    session = agent.new_session()

    first = session.say("a red dress")
    shown = [r.id for r in first.results]
    assert file_reads and all(len(ids) <= CANDIDATES for ids in file_reads)

    session.say("more like 2")
    read = {i for ids in file_reads for i in ids}
    assert shown[1] in read  # the image it was told about (read by one turn or the other)
    assert all(len(ids) <= CANDIDATES for ids in file_reads) and len(read) < agent.size

    # the file beside the index held every look: not one statement read them from library.db
    assert looks_read == [] and not [s for s in sql if "appearance" in s]
    agent.close()


def test_without_the_looks_file_a_conversation_reads_each_look_once_by_id(
        small_library, rummage_home, looks_read, monkeypatch):
    # the looks file lost, and the disk too full to write it again: library.db serves by id
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(look_file, "write", disk_full)
    (rummage_home / small_library / LOOKS_NAME).unlink()
    agent = Agent.open(small_library, persist=False).variant(candidates=CANDIDATES)
    sql: list[str] = []
    agent.library.catalog.db.conn.set_trace_callback(sql.append)
    session = agent.new_session()
    session.say("a red dress")
    first = {i for ids in looks_read for i in ids}
    assert first and all(len(ids) <= CANDIDATES for ids in looks_read)
    looks_read.clear()
    session.say("a red dress")  # the same candidates again: nothing more to read
    assert not looks_read
    # read by id: no statement loads the whole column
    looks = [s for s in sql if "appearance" in s]
    assert looks and all("json_each" in s for s in looks), looks
    agent.close()


def test_looks_changed_by_another_writer_are_seen_with_the_next_index(small_library,
                                                                      looks_read):
    agent = Agent.open(small_library, persist=False)
    library = agent.library
    image_id = int(library.catalog.vector_ids()[0])
    before = library.appearance([image_id])[0]
    grey = np.full_like(before, 128 * APPEARANCE_STEP)  # a look as `appearance` makes them
    assert not (before == grey).all()
    # another process rewrites that image's look (a changed file indexed again), and moves
    # the generation on as every writer of library.db does (catalog.py)
    with sqlite3.connect(library.folder / "library.db") as other:
        other.execute("UPDATE vectors SET appearance = ? WHERE id = ?",
                      [grey.tobytes(), image_id])
        other.execute("UPDATE library SET value = CAST(value AS INTEGER) + 1 "
                      "WHERE key = 'generation'")
    assert (library.appearance([image_id])[0] == before).all()  # the loaded view, as its index
    library.refresh_index()
    assert (library.appearance([image_id])[0] == grey).all()
    agent.close()


def test_the_looks_kept_are_bounded():
    from retrievers.look_cache import LookCache

    reads: list[list[int]] = []

    def read(ids):
        reads.append(list(ids))
        return np.array([[float(i)] * 3 for i in ids], np.float32).reshape(len(ids), 3)

    cache = LookCache(read, kept=3)
    assert cache.get([1, 2, 2, 1]).tolist() == [[1.0] * 3, [2.0] * 3, [2.0] * 3, [1.0] * 3]
    assert reads == [[1, 2]]  # each id read once, however often asked
    cache.get([3, 4])  # four looks for three places: the least recently asked (2) goes
    assert len(cache) == 3
    cache.get([2, 1])
    assert reads[-1] == [2]
    assert cache.get([]).shape == (0, 3)


def test_the_kept_looks_follow_least_recently_used_order():
    """Against a plain LRU list: the same looks come back, and an id is read again exactly when
    it was dropped: once the cache is full, the least recently asked, a tenth of them (5) or
    as many as the ask needs at a time, never one the same ask wants."""
    from collections import OrderedDict

    from retrievers.look_cache import LookCache

    reads: list[int] = []

    def read(ids):
        reads.extend(ids)
        return np.array([[float(i), -float(i)] for i in ids], np.float32).reshape(len(ids), 2)

    rng = np.random.default_rng(7)
    cache, model, expected_reads = LookCache(read, kept=50), OrderedDict(), []
    for _ in range(300):
        asked = rng.integers(0, 120, size=int(rng.integers(1, 30))).tolist()
        new = [i for i in dict.fromkeys(asked) if i not in model]
        expected_reads += new
        for i in asked:
            if i in model:
                model.move_to_end(i)
        if len(model) + len(new) > 50:
            old = [i for i in model if i not in asked]
            for i in old[:max(len(model) + len(new) - 50, 5)]:
                del model[i]
        for i in asked:
            model[i] = True
            model.move_to_end(i)
        got = cache.get(asked)
        assert got.tolist() == [[float(i), -float(i)] for i in asked]
        assert reads == expected_reads and len(cache) == len(model)
