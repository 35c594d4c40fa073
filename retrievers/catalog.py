"""A library's SQLite tables: the record of its images, their vectors, and the files it skipped.

Layout: `<folder>/library.db`, tables `library` (key/value: name, model, root, generation,
vocabulary), `images`, `vectors` and `skipped`; a person can open it with `sqlite-utils tables`.

Why the vectors live here and the FAISS index is derived from them: rows and vectors are
committed together (see indexer.py), so the tables are always true, and the index file can be
rebuilt from them at any time. The `generation` counter, bumped by every transaction that changes
rows or vectors, tells when the index file is behind (see index_file.py).

Why one lock: the connection is shared across threads (`check_same_thread=False`; the TUI
searches from a worker), and a connection has one transaction; the lock keeps a write from
interleaving with another write or with an index rebuild reading the vectors.

Why paths are stored twice for some files: `path` is text that SQLite can index and a person can
read, with undecodable bytes shown as \\xNN escapes; a name that is not UTF-8 also keeps its real
bytes in `path_bytes`, so the file can still be opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sqlite_utils

from retrievers.images import Decoded, FileEntry

DB_NAME = "library.db"

SCHEMA = [
    # m001: the library's identity, its images with their vectors, and what could not be read.
    """
    CREATE TABLE IF NOT EXISTS library (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE IF NOT EXISTS images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        path_bytes BLOB,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        indexed_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS images_sha256 ON images(sha256);
    CREATE TABLE IF NOT EXISTS vectors (
        id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS skipped (
        path TEXT PRIMARY KEY,
        size INTEGER,
        mtime REAL,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    );
    """,
    # m002: a colour-layout descriptor per image, so "more like #3" can mean "looks like".
    """
    ALTER TABLE vectors ADD COLUMN appearance BLOB;
    """,
]

# Ids are passed to SQLite as one JSON array: one query for any number of ids, with no limit on
# bound variables to chunk around.
_IDS = "id IN (SELECT value FROM json_each(?))"


def summary(path: Path) -> tuple[dict[str, str], int] | None:
    """The info table and image count of the catalog at path, read without migrating it;
    None when it is not a readable SQLite file."""
    db = sqlite_utils.Database(path)
    try:
        info = dict(db.execute("SELECT key, value FROM library").fetchall())
        count = db.execute("SELECT count(*) FROM images").fetchone()[0]
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    return info, count


def path_text(path: Path) -> str:
    """The path as text SQLite can store: undecodable bytes shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class Catalog:
    """The tables of one library, opened (and migrated) from its `library.db`."""

    def __init__(self, path: Path):
        # A writer holds the database for a whole batch; others wait for it rather than fail.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        # WAL lets readers (another process listing libraries, say) in while a batch is written.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        self._migrate()

    def close(self) -> None:
        self.db.conn.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SCHEMA[version:], start=version + 1):
            self.db.conn.executescript(script)
            self.db.execute(f"PRAGMA user_version = {number}")
        self.db.conn.commit()

    @contextmanager
    def write(self) -> Iterator[None]:
        """One transaction, under the lock (`db.atomic()`: why not `with conn:` is in indexer.py)."""
        with self.lock, self.db.atomic():
            yield

    # -- identity --------------------------------------------------------------------------

    def info(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM library").fetchall())

    def set_info(self, **values) -> None:
        with self.write():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO library(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, str(value)],
                )

    @property
    def generation(self) -> int:
        return int(self.info().get("generation", 0))

    def bump_generation(self) -> None:
        """Mark the rows or vectors as changed; call inside the `write()` that changes them."""
        self.db.execute(
            "INSERT INTO library(key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM images").fetchone()[0]

    # -- writing ---------------------------------------------------------------------------

    def files(self) -> dict[str, tuple[int, int, float]]:
        """Each indexed file's stored path -> (id, size, mtime)."""
        return {row[0]: (row[1], row[2], row[3])
                for row in self.db.execute("SELECT path, id, size, mtime FROM images")}

    def skips(self) -> dict[str, tuple[int, float, str]]:
        """Each skipped file's stored path -> (size, mtime, reason)."""
        return {row[0]: (row[1], row[2], row[3])
                for row in self.db.execute("SELECT path, size, mtime, reason FROM skipped")}

    def upsert(self, entry: FileEntry, decoded: Decoded, *, meta: dict, vector, look,
               row_id: int | None) -> int:
        """Write one image's row and vectors (a new row when row_id is None); inside a `write()`."""
        raw = os.fsencode(entry.path)
        values = [
            raw if _needs_bytes(raw) else None,  # the real name, when it is not UTF-8
            decoded.sha256, entry.size, entry.mtime, decoded.width, decoded.height,
            json.dumps(meta), time.time(),
        ]
        key = path_text(entry.path)
        if row_id is not None:
            self.db.execute(
                "UPDATE images SET path_bytes=?, sha256=?, size=?, mtime=?, width=?, height=?, "
                "meta=?, indexed_at=? WHERE id=?", values + [row_id],
            )
        else:
            cursor = self.db.execute(
                "INSERT INTO images(path, path_bytes, sha256, size, mtime, width, height, meta, "
                "indexed_at) VALUES (?,?,?,?,?,?,?,?,?)", [key] + values,
            )
            row_id = cursor.lastrowid
        self.db.execute(
            "INSERT OR REPLACE INTO vectors(id, vector, appearance) VALUES (?, ?, ?)",
            [row_id, np.asarray(vector, np.float32).tobytes(),
             np.asarray(look, np.float32).tobytes()],
        )
        self.db.execute("DELETE FROM skipped WHERE path = ?", [key])
        return row_id

    def record_skip(self, entry: FileEntry, reason: str) -> None:
        """Remember why this file was not indexed; inside a `write()`."""
        self.db.execute(
            "INSERT OR REPLACE INTO skipped(path, size, mtime, reason, at) VALUES (?,?,?,?,?)",
            [path_text(entry.path), entry.size, entry.mtime, reason, time.time()],
        )

    def forget_skips(self, paths: Iterable[str]) -> None:
        with self.write():
            for path in paths:
                self.db.execute("DELETE FROM skipped WHERE path = ?", [path])

    def remove(self, ids: Sequence[int]) -> int:
        """Delete these images with their vectors, in one transaction; returns how many."""
        if not ids:
            return 0
        with self.write():
            self.db.execute(f"DELETE FROM vectors WHERE {_IDS}", [_id_list(ids)])
            self.db.execute(f"DELETE FROM images WHERE {_IDS}", [_id_list(ids)])
            self.bump_generation()
        return len(ids)

    # -- reading ---------------------------------------------------------------------------

    def rows(self, ids: Iterable[int]) -> dict[int, dict]:
        """Each image's full row by id, with `meta` parsed and `path` the file's real name."""
        out: dict[int, dict] = {}
        for row in self.db.query(f"SELECT * FROM images WHERE {_IDS}", [_id_list(ids)]):
            row["meta"] = json.loads(row["meta"] or "{}")
            row["path"] = _real_path(row["path"], row.pop("path_bytes"))
            out[row["id"]] = row
        return out

    def metadata(self, ids: Iterable[int] | None = None) -> dict[int, dict]:
        return {int(i): json.loads(meta or "{}")
                for i, meta in self._select("id, meta", ids)}

    def paths(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        return {int(i): _real_path(path, raw)
                for i, path, raw in self._select("id, path, path_bytes", ids)}

    def ids_in_split(self, split: str) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM images WHERE json_extract(meta, '$.split') = ? ORDER BY id", [split])
        return [int(r[0]) for r in rows]

    def _select(self, columns: str, ids: Iterable[int] | None) -> list[tuple]:
        """These columns of the images with these ids (of every image when ids is None)."""
        if ids is None:
            return self.db.execute(f"SELECT {columns} FROM images ORDER BY id").fetchall()
        return self.db.execute(f"SELECT {columns} FROM images WHERE {_IDS} ORDER BY id",
                               [_id_list(ids)]).fetchall()

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every image's id and embedding, in id order."""
        rows = self.db.execute("SELECT id, vector FROM vectors ORDER BY id").fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
        return ids, vectors.copy()

    def appearances(self) -> tuple[dict[int, int], np.ndarray]:
        """Every colour-layout descriptor: id -> row of the table (rows before m002 have none)."""
        rows = self.db.execute(
            "SELECT id, appearance FROM vectors WHERE appearance IS NOT NULL").fetchall()
        position = {int(r[0]): n for n, r in enumerate(rows)}
        table = (np.frombuffer(b"".join(r[1] for r in rows), np.float32)
                 .reshape(len(rows), -1).copy() if rows else np.zeros((0, 0), np.float32))
        return position, table

    def skipped(self) -> list[dict]:
        return list(self.db.query("SELECT path, reason FROM skipped ORDER BY path"))


def _id_list(ids: Iterable[int]) -> str:
    return json.dumps([int(i) for i in ids])


def _real_path(text: str, raw: bytes | None) -> str:
    return os.fsdecode(raw) if raw is not None else text


def _needs_bytes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True
