"""A library's tables: true after every write, readable by id in any number, migrated in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from retrievers.catalog import SCHEMA, Catalog
from retrievers.images import Decoded, FileEntry


def _add(catalog: Catalog, count: int) -> list[int]:
    ids = []
    with catalog.write():
        for n in range(count):
            entry = FileEntry(path=Path(f"/photos/{n:05d}.jpg"), size=n, mtime=float(n))
            decoded = Decoded(image=None, width=4, height=3, sha256=f"{n:064x}")
            ids.append(catalog.upsert(entry, decoded, meta={"n": n}, vector=np.ones(2) / 2**0.5,
                                      look=np.zeros(3), row_id=None))
        catalog.bump_generation()
    return ids


def test_thousands_of_ids_are_read_and_removed_at_once(tmp_path):
    # More ids than SQLite takes as bound variables (999 in older builds).
    catalog = Catalog(tmp_path / "library.db")
    ids = _add(catalog, 2500)
    assert catalog.generation == 1

    assert len(catalog.rows(ids)) == len(catalog.metadata(ids)) == len(catalog.paths(ids)) == 2500
    assert catalog.remove(ids[:2000]) == 2000
    assert len(catalog) == 500 and catalog.generation == 2
    assert catalog.all_vectors()[0].tolist() == ids[2000:]


def test_a_library_from_before_looks_opens_with_none_recorded(tmp_path):
    path = tmp_path / "library.db"
    with sqlite3.connect(path) as conn:  # as the first release left it
        conn.executescript(SCHEMA[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO images(path, sha256, size, mtime, width, height, indexed_at) "
                     "VALUES ('/photos/a.jpg', 'x', 1, 1.0, 4, 3, 0)")
        conn.execute("INSERT INTO vectors(id, vector) VALUES (1, x'0000803f')")
    conn.close()

    catalog = Catalog(path)
    assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
    assert catalog.paths() == {1: "/photos/a.jpg"} and catalog.metadata() == {1: {}}
    assert not catalog.looks([1]).any()
