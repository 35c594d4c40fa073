"""Conversation history in SQLite: sessions, turns, propositions, shown results and feedback.

Plain tables in the library's own `library.db`, so `sqlite-utils tables library.db` or Datasette
show a library's images and the conversations about them side by side.

Why a named ladder (retrievers/migrations.py, recorded in `_sqlite_migrations` as sqlite-utils
`Migrations` did before) and not `PRAGMA user_version`: the file is shared with the library,
whose own ladder also keeps user_version. Two ladders on one counter would each skip the other's
steps; a named ladder counts only its own.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Self

import sqlite_utils

from retrievers.migrations import Ladder, apply, use_wal

FEEDBACK_KINDS = ("like", "dislike", "undo", "reference", "preview", "remove-constraint", "found")

def m001_create_tables(db: sqlite3.Connection) -> None:
    """Why: one row per conversation, per turn, and per thing a turn said, showed or heard."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS sessions (
            id TEXT PRIMARY KEY,
            library TEXT NOT NULL,
            created TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS turns (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,
            text TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS propositions (
            id INTEGER PRIMARY KEY,
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            text TEXT NOT NULL,
            polarity INTEGER NOT NULL
        )""")
    # image_id is not a foreign key: the images table belongs to the library and may be
    # re-indexed after a conversation, which must not erase what the conversation saw.
    db.execute("""
        CREATE TABLE IF NOT EXISTS shown (
            id INTEGER PRIMARY KEY,
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            image_id INTEGER NOT NULL,
            score REAL
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS feedback (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,
            image_id INTEGER,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_created ON sessions(created)")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS turns_session_turn ON turns(session_id, turn)")
    db.execute("CREATE INDEX IF NOT EXISTS propositions_turn ON propositions(turn_id, position)")
    db.execute("CREATE INDEX IF NOT EXISTS shown_turn ON shown(turn_id, rank)")
    db.execute("CREATE INDEX IF NOT EXISTS shown_image ON shown(image_id)")
    db.execute("CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id, turn)")


def m002_turns_keep_reply_and_memory(db: sqlite3.Connection) -> None:
    """Why: the store, not the checkpointer, keeps a session's history (JSON of each reply)
    and enough to rebuild the session when checkpoints.db is lost (the memory after the turn).
    """
    have = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
    for column in ("reply", "memory"):
        if column not in have:  # idempotent, as every step of a ladder must be
            db.execute(f"ALTER TABLE turns ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'")


# The store's steps, in order: a new step is one more function here.
MIGRATIONS = Ladder("rummage.memory", [m001_create_tables, m002_turns_keep_reply_and_memory])


class StoreError(Exception):
    """A store call that cannot be carried out; the message says what to do instead."""


class NoSuchSession(StoreError, LookupError):
    def __init__(self, session_id: str):
        self.session_id = session_id
        super().__init__(f"No session {session_id!r}: create it with create_session() first, "
                         "or pick one from sessions().")


class UnknownFeedbackKind(StoreError, ValueError):
    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(f"Unknown feedback kind {kind!r}: use one of {', '.join(FEEDBACK_KINDS)}.")


class PropositionLike(Protocol):
    text: str
    polarity: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Store:
    """Sessions and their turns in `path` (created when missing, migrated on open)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Same settings as the library's connection: both write this file, possibly from
        # worker threads of the TUI, and WAL lets one read while the other writes.
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        use_wal(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        apply(conn, MIGRATIONS)

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, library: str, session_id: str | None = None) -> str:
        """A new conversation about `library`; returns its id (a uuid4 hex when not given)."""
        session_id = session_id or uuid.uuid4().hex
        with self.db.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO sessions (id, library, created) VALUES (?, ?, ?)",
                [session_id, library, _now()],
            )
        return session_id

    def sessions(self, limit: int = 50) -> list[dict]:
        """Newest first, each with its number of turns and a title (its first turn's text)."""
        return self._session_rows("ORDER BY s.created DESC, s.rowid DESC LIMIT ?", [limit])

    def session(self, session_id: str) -> dict | None:
        rows = self._session_rows("WHERE s.id = ?", [session_id])
        return rows[0] if rows else None

    def _session_rows(self, tail: str, params: list) -> list[dict]:
        return list(self.db.query(
            f"""
            SELECT s.id, s.library, s.created,
                   (SELECT count(*) FROM turns t WHERE t.session_id = s.id) AS turns,
                   coalesce((SELECT t.text FROM turns t WHERE t.session_id = s.id
                             ORDER BY t.turn LIMIT 1), '') AS title
            FROM sessions s {tail}""",
            params,
        ))

    def _require(self, session_id: str) -> None:
        if self.db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is None:
            raise NoSuchSession(session_id)

    # -- turns -------------------------------------------------------------------------------

    def record_turn(
        self,
        session_id: str,
        text: str,
        propositions: Sequence[PropositionLike],
        shown: Sequence[tuple[int, float]],
        summary: str,
        *,
        reply: dict | None = None,
        memory: dict | None = None,
    ) -> int:
        """Append one turn and return its number (1, 2, ...), given by the store: a row is
        never replaced, so two writers each get their own number. `reply` and `memory` (JSON
        values: what the turn answered and the memory after it) let a session whose
        checkpoints are lost be rebuilt from its last row."""
        self._require(session_id)
        with self._immediate():
            turn = self.db.execute(
                "SELECT coalesce(max(turn), 0) + 1 FROM turns WHERE session_id = ?",
                [session_id]).fetchone()[0]
            turn_id = self.db.execute(
                "INSERT INTO turns (session_id, turn, text, summary, created, reply, memory) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [session_id, turn, text, summary, _now(), json.dumps(reply or {}),
                 json.dumps(memory or {})],
            ).lastrowid
            self.db.conn.executemany(
                "INSERT INTO propositions (turn_id, position, text, polarity) VALUES (?, ?, ?, ?)",
                [(turn_id, i, p.text, int(p.polarity)) for i, p in enumerate(propositions)],
            )
            self.db.conn.executemany(
                "INSERT INTO shown (turn_id, rank, image_id, score) VALUES (?, ?, ?, ?)",
                [(turn_id, rank, int(image_id), None if score is None else float(score))
                 for rank, (image_id, score) in enumerate(shown, start=1)],
            )
        return turn

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """A write transaction that takes the write lock when it starts. A deferred one
        (sqlite-utils' `atomic`) reads first and upgrades later, and an upgrade that meets
        another writer fails at once with "database is locked" whatever the busy timeout."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def turns(self, session_id: str) -> list[dict]:
        """The session's turns in order, each with its propositions and shown ids (rank order)
        and the reply and memory recorded with it."""
        rows = self.db.execute(
            "SELECT id, turn, text, summary, created, reply, memory FROM turns "
            "WHERE session_id = ? ORDER BY turn", [session_id],
        ).fetchall()
        out = []
        for turn_id, turn, text, summary, created, reply, memory in rows:
            propositions = [
                {"text": t, "polarity": p} for t, p in self.db.execute(
                    "SELECT text, polarity FROM propositions WHERE turn_id = ? ORDER BY position",
                    [turn_id],
                ).fetchall()
            ]
            shown = self.db.execute(
                "SELECT image_id, score FROM shown WHERE turn_id = ? ORDER BY rank", [turn_id]
            ).fetchall()
            out.append({
                "id": turn_id, "turn": turn, "text": text, "summary": summary,
                "created": created, "propositions": propositions,
                "shown": [image_id for image_id, _ in shown],
                "scores": [score for _, score in shown],
                "reply": json.loads(reply), "memory": json.loads(memory),
            })
        return out

    def last_turn(self, session_id: str) -> dict | None:
        """The session's newest turn row (as in `turns`), or None before its first turn."""
        row = self.db.execute(
            "SELECT turn, text, reply, memory FROM turns WHERE session_id = ? "
            "ORDER BY turn DESC LIMIT 1", [session_id]).fetchone()
        if row is None:
            return None
        turn, text, reply, memory = row
        return {"turn": turn, "text": text, "reply": json.loads(reply),
                "memory": json.loads(memory)}

    # -- feedback ----------------------------------------------------------------------------

    def record_feedback(self, session_id: str, turn: int, image_id: int | None, kind: str,
                        detail: str = "") -> int:
        """One click of feedback (like, dislike, remove-constraint, ...); returns its row id.
        `detail` carries what an image id cannot, e.g. the removed constraint's text."""
        if kind not in FEEDBACK_KINDS:
            raise UnknownFeedbackKind(kind)
        self._require(session_id)
        with self.db.atomic():
            return self.db.execute(
                "INSERT INTO feedback (session_id, turn, image_id, kind, detail, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [session_id, turn, image_id, kind, detail, _now()],
            ).lastrowid

    def feedback(self, session_id: str) -> list[dict]:
        return list(self.db.query(
            "SELECT turn, image_id, kind, detail, created FROM feedback WHERE session_id = ? "
            "ORDER BY id", [session_id],
        ))
