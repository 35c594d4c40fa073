"""library.db climbs its schema ladders once, whole steps at a time, however many processes open
it at once and wherever one of them dies."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from memory.store import MIGRATIONS
from retrievers.catalog import LADDER, SCHEMA, Catalog
from retrievers.images import Decoded, FileEntry
from retrievers.migrations import Ladder, apply, recorded

ROOT = Path(__file__).resolve().parents[2]

# Each racer waits at a file barrier, then opens the library as `rummage index` would first.
_RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    barrier, me, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    from memory.store import Store
    from retrievers.catalog import Catalog
    failed = 0
    for db in sys.argv[4:]:
        ready = Path(db).parent / "ready"
        ready.mkdir(exist_ok=True)
        (ready / me).touch()
        deadline = time.monotonic() + 60  # a racer that died must not hang the others
        while len(list(ready.iterdir())) < count and time.monotonic() < deadline:
            time.sleep(0.0005)
        try:
            Catalog(Path(db)).close()
            Store(Path(db)).close()
        except Exception as e:
            failed += 1
            print(f"{db}: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1 if failed else 0)
""")


def test_three_processes_opening_a_new_library_at_once_all_succeed(tmp_path):
    rounds = [tmp_path / f"round{n}" / "library.db" for n in range(6)]
    for db in rounds:
        db.parent.mkdir()
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path), str(n), "3",
                                *map(str, rounds)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
              for n in range(3)]
    errors = [racer.communicate(timeout=240)[1] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], errors

    for db in rounds:
        catalog = Catalog(db)  # opens, and every step is recorded exactly once
        assert recorded(catalog.db.conn, LADDER) == LADDER.step_names()
        assert recorded(catalog.db.conn, MIGRATIONS) == MIGRATIONS.step_names()
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
        catalog.close()


def _make_notes(conn):
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")


def _add_stars_then_fail(conn):
    conn.execute("ALTER TABLE notes ADD COLUMN stars INTEGER")
    raise RuntimeError("disk full, say")


def _add_stars(conn):
    conn.execute("ALTER TABLE notes ADD COLUMN stars INTEGER")


_add_stars_then_fail.__name__ = _add_stars.__name__  # the same step, before and after a fix


def _columns(conn, table):
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_a_step_that_fails_halfway_leaves_the_file_at_the_step_before(tmp_path):
    conn = sqlite3.connect(tmp_path / "library.db")
    with pytest.raises(RuntimeError, match="disk full"):
        apply(conn, Ladder("notes", [_make_notes, _add_stars_then_fail]))

    # The ALTER rolled back with its step: no half-migrated file, and the step is still to run.
    assert _columns(conn, "notes") == ["id", "text"]
    assert recorded(conn, Ladder("notes", [])) == ["_make_notes"]
    assert apply(conn, Ladder("notes", [_make_notes, _add_stars])) == ["_add_stars"]
    assert _columns(conn, "notes") == ["id", "text", "stars"]


_KILLED_MID_STEP = textwrap.dedent("""
    import sqlite3, sys, time
    from pathlib import Path
    from retrievers.migrations import Ladder, apply

    def m001_tables(conn):
        conn.execute("CREATE TABLE library (key TEXT PRIMARY KEY, value TEXT)")
        Path(sys.argv[2]).touch()  # the step is half done: tell the test to kill us
        time.sleep(60)

    apply(sqlite3.connect(sys.argv[1]), Ladder("rummage.catalog", [m001_tables]))
""")


def test_a_process_killed_inside_a_step_leaves_a_file_the_next_open_completes(tmp_path):
    db, signal_file = tmp_path / "library.db", tmp_path / "half-done"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_MID_STEP, str(db), str(signal_file)],
                             cwd=ROOT)
    deadline = time.time() + 60
    while not signal_file.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.01)
    assert signal_file.exists(), "the child must reach the middle of its step"
    child.send_signal(signal.SIGKILL)
    child.wait()

    catalog = Catalog(db)
    assert recorded(catalog.db.conn, LADDER) == LADDER.step_names()
    assert "appearance" in _columns(catalog.db.conn, "vectors")
    catalog.close()


def test_a_library_from_the_user_version_ladder_runs_no_step_again(tmp_path):
    ran = []

    def m001(conn):
        ran.append("m001")

    def m002(conn):
        ran.append("m002")

    def m003(conn):
        ran.append("m003")

    conn = sqlite3.connect(tmp_path / "library.db")
    conn.execute("PRAGMA user_version = 2")  # an older release ran two steps
    ladder = Ladder("rummage.catalog", [m001, m002, m003], user_version=True)
    assert apply(conn, ladder) == ["m003"] and ran == ["m003"]
    assert recorded(conn, ladder) == ["m001", "m002", "m003"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # older releases read this
    assert apply(conn, ladder) == [] and ran == ["m003"]


def test_a_library_the_old_race_left_unopenable_opens_again(tmp_path):
    # The old ladder committed m002's ALTER, then died before counting it: every later open
    # failed with "duplicate column name: appearance".
    db = tmp_path / "library.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA[0] + SCHEMA[1])
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    catalog = Catalog(db)
    assert recorded(catalog.db.conn, LADDER) == LADDER.step_names()
    assert _columns(catalog.db.conn, "vectors") == ["id", "vector", "appearance"]
    catalog.close()


def test_two_index_runs_adding_the_same_new_file_keep_one_row(tmp_path):
    db = tmp_path / "library.db"
    first, second = Catalog(db), Catalog(db)
    entry = FileEntry(path=Path("/photos/new.jpg"), size=1, mtime=1.0)
    decoded = Decoded(image=None, width=4, height=3, sha256="0" * 64)
    # Both runs read the catalog before either wrote: to both, the file is new.
    assert first.files() == second.files() == {}
    ids = []
    for catalog in (first, second):
        with catalog.write():
            ids.append(catalog.upsert(entry, decoded, meta={}, vector=np.ones(2) / 2**0.5,
                                      look=np.zeros(3), row_id=None))
            catalog.bump_generation()
    assert ids[0] == ids[1] and len(first) == 1
    assert first.all_vectors()[0].tolist() == [ids[0]]
    first.close()
    second.close()
