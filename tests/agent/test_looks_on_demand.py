"""A turn reads the looks of its candidates and of the images it is told about, never the table."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from agent import Agent
from retrievers.catalog import Catalog

CANDIDATES = 12  # of the 40 images of small_library


@pytest.fixture
def looks_read(monkeypatch) -> list[list[int]]:
    """The ids of every look read from library.db, one list per read."""
    reads: list[list[int]] = []
    by_id = Catalog.looks

    def counted(self, ids):
        reads.append([int(i) for i in ids])
        return by_id(self, ids)

    monkeypatch.setattr(Catalog, "looks", counted)
    return reads


def test_a_turn_reads_only_its_candidates_looks(small_library, looks_read):
    agent = Agent.open(small_library, persist=False).variant(candidates=CANDIDATES)
    sql: list[str] = []
    agent.library.catalog.db.conn.set_trace_callback(sql.append)
    session = agent.new_session()

    first = session.say("a red dress")
    shown = [r.id for r in first.results]
    assert looks_read and all(len(ids) <= CANDIDATES for ids in looks_read)

    session.say("more like 2")
    read = {i for ids in looks_read for i in ids}
    assert shown[1] in read  # the image it was told about (read by one turn or the other)
    assert all(len(ids) <= CANDIDATES for ids in looks_read) and len(read) < agent.size

    # However a look is read, it is read by id: no statement loads the whole column.
    looks = [s for s in sql if "appearance" in s]
    assert looks and all("json_each" in s for s in looks), looks
    agent.close()


def test_a_conversation_reads_each_look_once(small_library, looks_read):
    agent = Agent.open(small_library, persist=False).variant(candidates=CANDIDATES)
    session = agent.new_session()
    session.say("a red dress")
    first = {i for ids in looks_read for i in ids}
    looks_read.clear()
    session.say("a red dress")  # the same candidates again: nothing more to read
    assert first and not looks_read
    agent.close()


def test_looks_changed_by_another_writer_are_seen_with_the_next_index(small_library,
                                                                      looks_read):
    agent = Agent.open(small_library, persist=False)
    library = agent.library
    image_id = int(library.catalog.vector_ids()[0])
    before = library.appearance([image_id])[0]
    assert not (before == 0.5).all()
    # another process rewrites that image's look (a changed file indexed again)
    with sqlite3.connect(library.folder / "library.db") as other:
        other.execute("UPDATE vectors SET appearance = ? WHERE id = ?",
                      [np.full_like(before, 0.5).tobytes(), image_id])
    assert (library.appearance([image_id])[0] == before).all()  # the loaded view, as its index
    library.refresh_index()
    assert (library.appearance([image_id])[0] == 0.5).all()
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
