"""A turn reads the looks of its candidates and of the images it is told about, never the table."""

from __future__ import annotations

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

    looks_read.clear()
    session.say("more like 2")
    read = {i for ids in looks_read for i in ids}
    assert shown[1] in read  # the image it was told about
    assert all(len(ids) <= CANDIDATES for ids in looks_read) and len(read) < agent.size

    # However a look is read, it is read by id: no statement loads the whole column.
    looks = [s for s in sql if "appearance" in s]
    assert looks and all("json_each" in s for s in looks), looks
    agent.close()
