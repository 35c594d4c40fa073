"""Schema migrations for a library's `library.db`: named ladders of steps, each applied once.

One file holds two schemas, the library's tables (retrievers/catalog.py) and the conversations
about them (memory/store.py), so both climb their own named ladder through this one mechanism.

Design decisions:
- Each step runs in one transaction with its record that it ran, opened with `BEGIN IMMEDIATE`:
  the write lock is taken before the record is read, so a racing process waits (busy timeout)
  and then finds the step recorded and skips it. SQLite DDL is transactional, so a crash or an
  error inside a step rolls back its ALTERs with it: a file is always at a step boundary. The
  connection is put in autocommit mode for the ladder, because Python's sqlite3 would otherwise
  commit or begin on its own, and statements run one by one (`executescript` commits first).
- The records live in sqlite-utils' `_sqlite_migrations` table (migration_set, name,
  applied_at), where the conversations' steps were recorded before: their old records are
  adopted as they are, and `sqlite-utils` tooling still reads the file.
- Before this module the catalog counted its steps in `PRAGMA user_version`, with nothing
  serialising processes: racing first opens crashed with "duplicate column name" and about 1
  first open in 6 left a file that could never be opened again. A ladder with
  `user_version=True` adopts a file whose user_version is N as having steps 1..N done, and
  keeps writing user_version in each step's transaction, so an older rummage still sees the
  file as current rather than re-running an ALTER.
- An open of an up-to-date file only reads the records (no write lock): opens of a library in
  use by another process (a long `index` batch) do not queue behind it.
- benchmarks/race_opens.py, 20 rounds of 3 processes opening a new library at once (catalog
  and store): before, 22 of 60 processes failed and 10 of 20 files were broken for good; with
  this module, none failed and none broke.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

RECORDS = "_sqlite_migrations"

Step = Callable[[sqlite3.Connection], None]  # statements run one by one, inside the transaction


@dataclass(frozen=True)
class Ladder:
    """The steps of one schema, in order; a step is recorded under its function's name."""

    name: str
    steps: Sequence[Step]
    user_version: bool = False  # the step count also lives in PRAGMA user_version (see above)

    def step_names(self) -> list[str]:
        return [step.__name__ for step in self.steps]


def apply(conn: sqlite3.Connection, ladder: Ladder) -> list[str]:
    """Run the steps of ladder not yet recorded in conn's file; returns the names it ran.

    conn must have no transaction open; it is left in the isolation mode it came in."""
    if conn.in_transaction:
        raise RuntimeError("apply() needs a connection with no open transaction")
    if not pending(conn, ladder):
        return []
    ran = []
    saved = conn.isolation_level
    conn.isolation_level = None  # autocommit: only our BEGIN IMMEDIATE / COMMIT count
    try:
        for number, step in enumerate(ladder.steps, start=1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                _ensure_records(conn)
                _adopt(conn, ladder)
                if step.__name__ not in _recorded(conn, ladder):
                    step(conn)
                    _record(conn, ladder, step.__name__)
                    if ladder.user_version:
                        conn.execute(f"PRAGMA user_version = {int(number)}")
                    ran.append(step.__name__)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    finally:
        conn.isolation_level = saved
    return ran


def pending(conn: sqlite3.Connection, ladder: Ladder) -> list[str]:
    """The names of ladder's steps not yet recorded (read only, no lock taken)."""
    if not _has_records(conn):
        done = set(ladder.step_names()[:_legacy_count(conn, ladder)])
    else:
        done = _recorded(conn, ladder) or set(ladder.step_names()[:_legacy_count(conn, ladder)])
    return [name for name in ladder.step_names() if name not in done]


def recorded(conn: sqlite3.Connection, ladder: Ladder) -> list[str]:
    """The names of ladder's steps recorded as run, in the order they ran."""
    if not _has_records(conn):
        return []
    rows = conn.execute(f"SELECT name FROM {RECORDS} WHERE migration_set = ? ORDER BY rowid",
                        [ladder.name])
    return [row[0] for row in rows]


def _has_records(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [RECORDS]).fetchone() is not None


def _recorded(conn: sqlite3.Connection, ladder: Ladder) -> set[str]:
    return set(recorded(conn, ladder))


def _legacy_count(conn: sqlite3.Connection, ladder: Ladder) -> int:
    if not ladder.user_version:
        return 0
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _ensure_records(conn: sqlite3.Connection) -> None:
    # The table and index sqlite-utils' Migrations makes, so either can read the other's file.
    conn.execute(f"CREATE TABLE IF NOT EXISTS [{RECORDS}] ([id] INTEGER PRIMARY KEY, "
                 "[migration_set] TEXT, [name] TEXT, [applied_at] TEXT)")
    conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS [idx_{RECORDS}_migration_set_name] "
                 f"ON [{RECORDS}] ([migration_set], [name])")


def _adopt(conn: sqlite3.Connection, ladder: Ladder) -> None:
    """Record the steps an older release counted in user_version, once, in this transaction."""
    if _recorded(conn, ladder):
        return
    for name in ladder.step_names()[:_legacy_count(conn, ladder)]:
        _record(conn, ladder, name)


def _record(conn: sqlite3.Connection, ladder: Ladder, name: str) -> None:
    conn.execute(f"INSERT INTO {RECORDS} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                 [ladder.name, name, str(datetime.now(UTC))])


def use_wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Put conn's file in WAL mode (persistent, so once per file), waiting out racing openers.

    Switching a new file to WAL needs it to itself, and SQLite answers "database is locked" at
    once instead of calling the busy handler: three processes opening a new library together
    failed this way about 1 round in 30 under load (tests/retrievers/test_migrations.py). A
    file already in WAL mode is only read."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
