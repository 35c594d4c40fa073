"""A folder of images made searchable: rows and vectors in SQLite, a FAISS index beside them.

Layout: `<home>/<name>/library.db` (tables `library`, `images`, `vectors`, `skipped`; open it
with `sqlite-utils tables`) and `<home>/<name>/index.faiss`.

Why the vectors live in SQLite and the FAISS index is derived: each batch of images is committed
with its vectors in one transaction (`db.atomic()`: sqlite-utils' `execute` commits each write
on its own unless a transaction is open, so a plain `with conn:` block is not one), so a run
killed at any moment leaves a table that is true (every file at most once, each with its
vector). The index is rebuilt from the table; a `generation` counter, bumped by every commit
and saved beside the index, tells when the index on disk is behind the table (after a crash),
and opening the library then rebuilds it.

Why unchanged files are recognised by size and mtime: hashing 100k photos costs minutes, a stat
costs microseconds; a file whose size and mtime match its row is not read again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils

from retrievers.encoders import Encoder, ModelSpec
from retrievers.images import (
    MAX_PIXELS,
    BadImage,
    FileEntry,
    appearance,
    decode,
    walk_images,
)
from retrievers.index import VectorIndex

DB_NAME = "library.db"
INDEX_NAME = "index.faiss"


class LibraryError(Exception):
    """A library cannot be opened or used as asked; the message says what to do."""


class UnknownLibrary(LibraryError):
    pass


class ModelMismatch(LibraryError):
    pass


@dataclass(frozen=True, kw_only=True)
class Hit:
    id: int  # the image's row id in `images` (stable across re-index runs)
    path: str  # absolute path of the file
    score: float  # cosine similarity to the query
    meta: dict = field(default_factory=dict)


@dataclass(kw_only=True)
class IndexReport:
    """What one `index` run did, for the closing summary."""

    seen: int = 0  # image files found under the root
    added: int = 0  # new files embedded
    updated: int = 0  # changed files embedded again
    unchanged: int = 0  # skipped because size and mtime match
    removed: int = 0  # rows of files that are gone
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: float = 0.0
    total: int = 0  # images in the library after the run

    @property
    def embedded(self) -> int:
        return self.added + self.updated


Progress = Callable[[int, int], None]  # (done, total)

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


def library_dir(home: Path, name: str) -> Path:
    return home / name


def list_libraries(home: Path) -> list[dict]:
    """Each library under home with its size and model, for `rummage libraries`."""
    out = []
    if not home.is_dir():
        return out
    for folder in sorted(p for p in home.iterdir() if (p / DB_NAME).is_file()):
        db = sqlite_utils.Database(folder / DB_NAME)
        try:
            info = dict(db.execute("SELECT key, value FROM library").fetchall())
            count = db.execute("SELECT count(*) FROM images").fetchone()[0]
        except sqlite3.DatabaseError:
            continue
        finally:
            db.close()
        spec = ModelSpec.from_dict(json.loads(info.get("model", "{}")))
        out.append(
            {"name": folder.name, "images": count, "model": spec.label,
             "root": info.get("root"), "folder": str(folder)}
        )
    return out


class Library:
    """One library: open it by name (under a home folder) or by its folder path."""

    def __init__(self, folder: Path, *, encoder: Encoder | None = None):
        self.folder = folder
        self.name = folder.name
        conn = sqlite3.connect(folder / DB_NAME, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        self._migrate()
        self._lock = threading.RLock()
        self._encoder = encoder
        self._index: VectorIndex | None = None
        self._looks: tuple[dict[int, int], np.ndarray] | None = None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(cls, home: Path, name: str, spec: ModelSpec, **kwargs) -> Library:
        """Open the library `name`, creating it for `spec`; an existing one must use `spec`."""
        if not name or "/" in name or name in (".", ".."):
            raise LibraryError(f"Bad library name {name!r}: use a plain name such as 'photos'")
        folder = library_dir(home, name)
        folder.mkdir(parents=True, exist_ok=True)
        library = cls(folder, **kwargs)
        stored = library.info.get("model")
        if stored is None:
            library._set_info(name=name, model=json.dumps(spec.to_dict()), created=time.time())
        elif ModelSpec.from_dict(json.loads(stored)) != spec:
            existing = library.spec.label
            library.close()
            raise ModelMismatch(
                f"Library {name!r} was indexed with {existing}; index with that model, "
                f"or choose another --library name for {spec.label}"
            )
        return library

    @classmethod
    def open(cls, name_or_path: str | Path, home: Path, **kwargs) -> Library:
        candidate = Path(name_or_path).expanduser()
        for folder in (candidate, library_dir(home, str(name_or_path))):
            if (folder / DB_NAME).is_file():
                return cls(folder.resolve(), **kwargs)
        known = ", ".join(item["name"] for item in list_libraries(home)) or "none yet"
        raise UnknownLibrary(
            f"No library named {str(name_or_path)!r} in {home} (known: {known}); "
            "create one with `rummage index DIR --library NAME`"
        )

    def close(self) -> None:
        self.db.conn.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SCHEMA[version:], start=version + 1):
            self.db.conn.executescript(script)
            self.db.execute(f"PRAGMA user_version = {number}")
        self.db.conn.commit()

    # -- identity --------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM library").fetchall())

    def _set_info(self, **values) -> None:
        with self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO library(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, str(value)],
                )

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec.from_dict(json.loads(self.info.get("model", "{}")))

    @property
    def root(self) -> Path | None:
        root = self.info.get("root")
        return Path(root) if root else None

    @property
    def generation(self) -> int:
        return int(self.info.get("generation", 0))

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM images").fetchone()[0]

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder.load(self.spec)
            return self._encoder

    # -- indexing --------------------------------------------------------------------------

    def index_folder(
        self,
        root: Path,
        *,
        metadata: Mapping[str, dict] | None = None,
        progress: Progress | None = None,
        batch_size: int = 64,
        max_pixels: int = MAX_PIXELS,
    ) -> IndexReport:
        """Make the library hold exactly the images under root (incremental, resumable).

        `metadata` maps a path relative to root (with `/`) to the JSON stored in `meta`.
        """
        started = time.perf_counter()
        root = Path(root).expanduser()
        if not root.is_dir():
            raise LibraryError(f"Not a folder: {root}")
        root = root.resolve()
        stored_root = self.root
        if stored_root is not None and stored_root != root:
            raise LibraryError(
                f"Library {self.name!r} indexes {stored_root}; use another --library name "
                f"for {root}"
            )
        self._set_info(root=str(root))
        report = IndexReport()
        known = {
            row[0]: (row[1], row[2], row[3])
            for row in self.db.execute("SELECT path, id, size, mtime FROM images")
        }
        skipped_before = {
            row[0]: (row[1], row[2], row[3])
            for row in self.db.execute("SELECT path, size, mtime, reason FROM skipped")
        }
        todo: list[FileEntry] = []
        seen: set[str] = set()
        for entry in walk_images(root):
            report.seen += 1
            key = _path_text(entry.path)
            seen.add(key)
            if entry.problem:
                report.skipped[key] = entry.problem
                self._record_skip(key, entry, entry.problem)
                continue
            row = known.get(key)
            if row and row[1] == entry.size and row[2] == entry.mtime:
                report.unchanged += 1
                continue
            before = skipped_before.get(key)
            if before and before[0] == entry.size and before[1] == entry.mtime:
                report.skipped[key] = before[2]
                continue
            todo.append(entry)
        gone = [known[path][0] for path in known if path not in seen]
        report.removed = self._remove_rows(gone)
        with self.db.atomic():
            for path in set(skipped_before) - seen:
                self.db.execute("DELETE FROM skipped WHERE path = ?", [path])
        self._embed_all(root, todo, known, metadata or {}, report, progress, batch_size,
                        max_pixels)
        self.refresh_index()
        report.total = len(self)
        report.seconds = time.perf_counter() - started
        return report

    def _embed_all(self, root, todo, known, metadata, report, progress, batch_size, max_pixels):
        encoder = self.encoder if todo else None
        done = 0
        if progress:
            progress(0, len(todo))

        def load(entry: FileEntry):
            try:
                decoded = decode(entry.path, max_pixels)
                pixels = encoder.preprocess(decoded.image)
                return entry, decoded, pixels, appearance(decoded.image)
            except BadImage as e:
                return entry, None, None, str(e)

        def failed(item) -> bool:
            return isinstance(item[3], str)

        # Decoding overlaps with encoding: PIL and torch both release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for start in range(0, len(todo), batch_size):
                batch = list(pool.map(load, todo[start : start + batch_size]))
                good = [item for item in batch if not failed(item)]
                vectors = encoder.encode_pixels([item[2] for item in good]) if good else []
                with self._lock, self.db.atomic():
                    for entry, _, _, reason in batch:
                        if isinstance(reason, str):
                            key = _path_text(entry.path)
                            report.skipped[key] = reason
                            self._record_skip(key, entry, reason, commit=False)
                    for (entry, decoded, _, look), vector in zip(good, vectors):
                        key = _path_text(entry.path)
                        rel = entry.path.relative_to(root).as_posix()
                        meta = metadata.get(rel, {})
                        row_id = self._upsert(key, entry, decoded, meta, vector, look,
                                              known.get(key))
                        if key in known:
                            report.updated += 1
                        else:
                            report.added += 1
                            known[key] = (row_id, entry.size, entry.mtime)
                    self._bump_generation()
                done += len(batch)
                if progress:
                    progress(done, len(todo))

    def _upsert(self, key, entry, decoded, meta, vector, look, existing) -> int:
        raw = os.fsencode(entry.path)
        values = [
            raw if _needs_bytes(raw) else None,  # the real name, when it is not UTF-8
            decoded.sha256, entry.size, entry.mtime, decoded.width, decoded.height,
            json.dumps(meta), time.time(),
        ]
        if existing:
            row_id = existing[0]
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

    def _record_skip(self, key: str, entry: FileEntry, reason: str, commit: bool = True) -> None:
        def write():
            self.db.execute(
                "INSERT OR REPLACE INTO skipped(path, size, mtime, reason, at) VALUES (?,?,?,?,?)",
                [key, entry.size, entry.mtime, reason, time.time()],
            )

        if commit:
            with self.db.atomic():
                write()
        else:
            write()

    def _remove_rows(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._lock, self.db.atomic():
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM vectors WHERE id IN ({marks})", chunk)
                self.db.execute(f"DELETE FROM images WHERE id IN ({marks})", chunk)
            self._bump_generation()
        return len(ids)

    def _bump_generation(self) -> None:
        self.db.execute(
            "INSERT INTO library(key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- the index -------------------------------------------------------------------------

    @property
    def index(self) -> VectorIndex:
        with self._lock:
            if self._index is None:
                self._index = self._load_or_rebuild()
            return self._index

    def refresh_index(self) -> VectorIndex:
        """Bring the index on disk level with the table (rebuilding it when it is behind)."""
        with self._lock:
            self._index = self._load_or_rebuild()
            self._looks = None
            return self._index

    def appearance(self, ids: Sequence[int]) -> np.ndarray:
        """The colour-layout descriptors of these images (zeros for rows indexed before m002)."""
        with self._lock:
            if self._looks is None:
                rows = self.db.execute(
                    "SELECT id, appearance FROM vectors WHERE appearance IS NOT NULL").fetchall()
                position = {int(r[0]): n for n, r in enumerate(rows)}
                table = (np.frombuffer(b"".join(r[1] for r in rows), np.float32)
                         .reshape(len(rows), -1).copy() if rows else np.zeros((0, 0), np.float32))
                self._looks = (position, table)
            position, table = self._looks
        width = table.shape[1] if table.size else 3 * 8 * 8
        out = np.zeros((len(ids), width), np.float32)
        for n, image_id in enumerate(ids):
            row = position.get(int(image_id))
            if row is not None:
                out[n] = table[row]
        return out

    def _load_or_rebuild(self) -> VectorIndex:
        path = self.folder / INDEX_NAME
        stamp = self.folder / (INDEX_NAME + ".json")
        if path.is_file() and stamp.is_file():
            saved = json.loads(stamp.read_text())
            if saved.get("generation") == self.generation:
                return VectorIndex.load(path)
        ids, vectors = self.all_vectors()
        index = VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(self._dim())
        index.save(path)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps({"generation": self.generation, "count": len(ids)}))
        os.replace(tmp, stamp)
        return index

    def _dim(self) -> int:
        row = self.db.execute("SELECT vector FROM vectors LIMIT 1").fetchone()
        if row:
            return len(row[0]) // 4
        return self.encoder.dim

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute("SELECT id, vector FROM vectors ORDER BY id").fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
        return ids, vectors.copy()

    # -- reading ---------------------------------------------------------------------------

    def rows(self, ids: Iterable[int]) -> dict[int, dict]:
        ids = [int(i) for i in ids]
        out: dict[int, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"SELECT * FROM images WHERE id IN ({marks})", chunk):
                row["meta"] = json.loads(row["meta"] or "{}")
                raw = row.pop("path_bytes")
                if raw is not None:
                    row["path"] = os.fsdecode(raw)
                out[row["id"]] = row
        return out

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self.index.vectors(np.asarray(ids, np.int64))

    def search_vector(
        self, query: np.ndarray, k: int = 10, *, exclude: Iterable[int] = ()
    ) -> list[Hit]:
        scores, ids = self.index.search(np.asarray(query, np.float32), k, exclude=set(exclude))
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        rows = self.rows(i for i, _ in found)
        return [
            Hit(id=i, path=rows[i]["path"], score=s, meta=rows[i]["meta"])
            for i, s in found if i in rows
        ]

    def search_text(self, text: str, k: int = 10, **kwargs) -> list[Hit]:
        return self.search_vector(self.encoder.encode_texts([text])[0], k, **kwargs)

    def search_image(self, path: Path, k: int = 10, **kwargs) -> list[Hit]:
        decoded = decode(Path(path))
        return self.search_vector(self.encoder.encode_images([decoded.image])[0], k, **kwargs)

    def skipped(self) -> list[dict]:
        return list(self.db.query("SELECT path, reason FROM skipped ORDER BY path"))


def _path_text(path: Path) -> str:
    """The path as text SQLite can store: undecodable bytes shown as \\xNN escapes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def _needs_bytes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True
