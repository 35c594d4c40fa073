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

Why migrations go through retrievers/migrations.py: the steps below are one transaction each,
under the write lock, so processes opening a new library at once cannot crash one another or
leave a half-migrated file (the old user_version ladder did both; the measurements are there).

Why a new row is an upsert on its path: two `index` runs of one folder at once both see a new
file as new; the second insert then updates the row the first made instead of failing on
`UNIQUE images.path`.

Why an open checks the file (`PRAGMA quick_check`): a damaged library.db otherwise opens and
then fails somewhere later with a traceback, or reads as a library with fewer images. The
check reads every page: 70 ms for a 20,000-image library (87 MB, 512-d vectors) on 2 cores,
where an `ask` spends seconds loading its model.

Why looks are read by id (`looks`), never as a table: a turn compares the looks of its ~400
candidates and of the images it is told about. Loading every look on a process's first turn
took 3.5 s and +1.68 GiB at 1M images (0.8 s and +341 MiB at 200k); reading 400 random looks
by id takes 6.6 ms (median, 200k images, 2 busy cores; benchmarks/scale_bench.py).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sqlite_utils

from retrievers.images import APPEARANCE_SIDE, Decoded, FileEntry
from retrievers.migrations import Ladder, apply, use_wal

DB_NAME = "library.db"
log = logging.getLogger(__name__)

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
    # m003: the descriptor keeps its colours (retrievers/images.py's `appearance`); the old
    # ones, mean removed and of unit length, cannot be compared with the new, so they go, and
    # the next `index` run reads them again from the files (Indexer._fill_looks). The
    # generation moves on: an index file and the looks saved beside it are written again.
    """
    UPDATE vectors SET appearance = NULL WHERE appearance IS NOT NULL;
    """,
]



# the catalog's generation moves on by one (Catalog.bump_generation, and m003 for its rows)
_BUMP_GENERATION = ("INSERT INTO library(key, value) VALUES ('generation', '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def m001_tables(conn: sqlite3.Connection) -> None:
    _run(conn, SCHEMA[0])


def m002_appearance(conn: sqlite3.Connection) -> None:
    # Skipped when the column is there: the old ladder could commit this ALTER and die before
    # counting it, leaving files that failed with "duplicate column name" on every open.
    if "appearance" not in {row[1] for row in conn.execute("PRAGMA table_info(vectors)")}:
        _run(conn, SCHEMA[1])


def m003_absolute_looks(conn: sqlite3.Connection) -> None:
    # one line before a step that rewrites every row (and, through the generation, rebuilds
    # the index at the next open: about 2.5 min at 1M images on 2 cores, once)
    if conn.execute("SELECT 1 FROM vectors WHERE appearance IS NOT NULL LIMIT 1").fetchone():
        log.warning("rummage: this library's looks were made by an older release; they are "
                    "dropped now and its index is rebuilt once (`rummage index` reads the looks "
                    "again)")
    _run(conn, SCHEMA[2])
    if conn.execute("SELECT changes()").fetchone()[0]:  # a new library keeps generation 0
        conn.execute(_BUMP_GENERATION)
        # so that `index` looks for rows without a look only when some are (a scan of the
        # vectors table reads every vector: seconds at 1M images)
        conn.execute("INSERT OR REPLACE INTO library(key, value) VALUES ('looks', 'missing')")


LADDER = Ladder("rummage.catalog", [m001_tables, m002_appearance, m003_absolute_looks],
                user_version=True)

# Ids are passed to SQLite as one JSON array: one query for any number of ids, with no limit on
# bound variables to chunk around.
_IDS = "id IN (SELECT value FROM json_each(?))"
LOOK_WIDTH = 3 * APPEARANCE_SIDE * APPEARANCE_SIDE  # numbers in one colour-layout descriptor


class UnreadableCatalog(Exception):
    """library.db is not a readable SQLite database (corrupt, truncated, or another file)."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path} is not a readable SQLite database ({reason})")


def summary(path: Path) -> tuple[dict[str, str], int]:
    """The info table and image count of the catalog at path, read without migrating it.

    Raises UnreadableCatalog when it is not a readable SQLite file."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        _check_readable(conn, path)
        info = dict(conn.execute("SELECT key, value FROM library").fetchall())
        count = conn.execute("SELECT count(*) FROM images").fetchone()[0]
    except sqlite3.DatabaseError as e:
        if not _is_damage(e):
            raise
        raise UnreadableCatalog(path, str(e)) from e
    finally:
        conn.close()
    return info, count


def path_text(path: Path) -> str:
    """The path as text SQLite can store: undecodable bytes shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class Catalog:
    """The tables of one library, opened (and migrated) from its `library.db`."""

    def __init__(self, path: Path):
        # A writer holds the database for a whole batch; others wait for it rather than fail.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        try:
            _check_readable(conn, path)
            # WAL lets readers (another process listing libraries) in while a batch is written.
            use_wal(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            apply(conn, LADDER)
        except sqlite3.DatabaseError as e:
            conn.close()
            if not _is_damage(e):
                raise
            raise UnreadableCatalog(path, str(e)) from e
        except BaseException:
            conn.close()
            raise
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()

    def close(self) -> None:
        self.db.conn.close()

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
        self.db.execute(_BUMP_GENERATION)

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
        updated = row_id is not None and self.db.execute(
            "UPDATE images SET path_bytes=?, sha256=?, size=?, mtime=?, width=?, height=?, "
            "meta=?, indexed_at=? WHERE id=?", values + [row_id],
        ).rowcount
        if not updated:  # new here, or removed by another run since it was read
            row_id = self.db.execute(
                "INSERT INTO images(path, path_bytes, sha256, size, mtime, width, height, meta, "
                "indexed_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                "path_bytes=excluded.path_bytes, sha256=excluded.sha256, size=excluded.size, "
                "mtime=excluded.mtime, width=excluded.width, height=excluded.height, "
                "meta=excluded.meta, indexed_at=excluded.indexed_at RETURNING id",
                [key] + values,
            ).fetchone()[0]
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
        return _id_vectors(self.db.execute("SELECT id, vector FROM vectors ORDER BY id").fetchall())

    def vector_batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every image's id and embedding in id order, `size` rows at a time (a copy of the
        vectors elsewhere is filled without holding them all)."""
        return self._batches("vector", size)

    def look_batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every image's id and look in id order, `size` rows at a time (rows without a look
        left out), for the looks file beside the index (look_file.py)."""
        return self._batches("appearance", size)

    def _batches(self, column: str, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        after = -1
        while True:
            rows = self.db.execute(f"SELECT id, {column} FROM vectors WHERE id > ? AND {column} "
                                   "IS NOT NULL ORDER BY id LIMIT ?", [after, size]).fetchall()
            if not rows:
                return
            yield _id_vectors(rows)
            after = rows[-1][0]

    def vector_width(self) -> int:
        """The embeddings' width (0 while there are none)."""
        row = self.db.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
        return row[0] // 4 if row else 0

    def vector_ids(self) -> np.ndarray:
        """The ids that have a vector, ascending (what the index file must hold)."""
        # Streamed from the cursor: a list of 1M row tuples first cost 84 MiB of peak memory.
        rows = self.db.execute("SELECT id FROM vectors ORDER BY id")
        return np.fromiter((r[0] for r in rows), np.int64)

    def vectors_of(self, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """The ids among these that have a vector, ascending, and their embeddings."""
        return _id_vectors(self.db.execute(
            f"SELECT id, vector FROM vectors WHERE {_IDS} ORDER BY id", [_id_list(ids)]).fetchall())

    @property
    def looks_missing(self) -> bool:
        """Whether some images lost their look to m003 and `index` has not read them again."""
        return self.info().get("looks") == "missing"

    def without_looks(self) -> dict[str, int]:
        """Path -> id of the images that have a vector but no look (their looks were dropped
        by m003, or never read: rows indexed before m002). Reads every row: ask only when
        `looks_missing`."""
        rows = self.db.execute("SELECT images.path, images.id FROM images JOIN vectors "
                               "ON vectors.id = images.id WHERE vectors.appearance IS NULL")
        return dict(rows.fetchall())

    def looks_found(self) -> None:
        """Every image has its look again; call inside a `write()`."""
        self.db.execute("DELETE FROM library WHERE key = 'looks'")

    def set_looks(self, looks: Iterable[tuple[int, np.ndarray]]) -> None:
        """Store these (id, look) pairs; call inside a `write()`, which bumps the generation."""
        self.db.conn.executemany("UPDATE vectors SET appearance = ? WHERE id = ?",
                                 [(np.asarray(look, np.float32).tobytes(), int(image_id))
                                  for image_id, look in looks])

    def looks(self, ids: Sequence[int]) -> np.ndarray:
        """The colour-layout descriptors of these images, one row per id in the order asked
        (zeros for an id without one: not read yet since m002 or m003, or gone)."""
        ids = [int(i) for i in ids]
        rows = self.db.execute(
            f"SELECT id, appearance FROM vectors WHERE {_IDS} AND appearance IS NOT NULL",
            [json.dumps(ids)]).fetchall()
        found = {int(r[0]): np.frombuffer(r[1], np.float32) for r in rows}
        width = len(next(iter(found.values()))) if found else LOOK_WIDTH
        out = np.zeros((len(ids), width), np.float32)
        for n, image_id in enumerate(ids):
            look = found.get(image_id)
            if look is not None:
                out[n] = look
        return out

    def skipped(self) -> list[dict]:
        return list(self.db.query("SELECT path, reason FROM skipped ORDER BY path"))


def _run(conn: sqlite3.Connection, script: str) -> None:
    """The statements of script one by one: `executescript` would commit the migration's
    transaction before its first statement."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _check_readable(conn: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise UnreadableCatalog(path, "; ".join(problems))


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """True for a file that is not SQLite or is damaged; not for "database is locked"."""
    primary = getattr(error, "sqlite_errorcode", 0) & 0xFF  # SQLITE_CORRUPT_INDEX -> CORRUPT
    return primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _id_vectors(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of (id, vector blob) rows; (0, 0) vectors for no rows."""
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    if not rows:
        return ids, np.zeros((0, 0), np.float32)
    return ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1).copy()


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
