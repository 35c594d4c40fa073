"""The FAISS index file beside a library: loaded while it is level with the catalog, else rebuilt.

Why a stamp: the index is derived from the catalog's vectors and saved after their transaction
commits, so a run killed in between leaves an index file behind the tables. `index.faiss.json`
records the catalog generation the file was built from; when that differs from the catalog's
generation, the index is rebuilt from the vectors table. The index file is saved first (atomically,
by `VectorIndex.save`) and the stamp replaced after it, so a crash between the two leaves an old
stamp, which costs one more rebuild and never serves a stale index as current.

Why the file is checked beyond its stamp: index.faiss is derived, library.db is the record, so
an index file that cannot be read (damaged, truncated) or that holds other ids than the vectors
table (a file copied in from elsewhere under the old stamp) is rebuilt, never a traceback.
The stamp also keeps the file's sha256, checked before FAISS parses it: damaged bytes among
the vectors would otherwise load as wrong vectors, and a damaged header can make FAISS allocate
absurd sizes (26 ms for the 40 MB index of 20,000 512-d images). Comparing the ids costs one
`SELECT id FROM vectors` (a few ms at 20,000 images). A stamp from before the checksum costs one
silent rebuild. Such a rebuild
is logged as one warning line; the ordinary rebuild after an `index` run (the generation moved
on) is silent, as is the first build of a library.

Why the generation is read before the vectors: a write committed by another process between
the two then leaves the stamp older than the file, costing one rebuild; read after, it would
stamp vectors of the previous generation as current. Why a lock file: two processes rebuilding
at once could otherwise save their files and stamps interleaved (A's index under B's stamp).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrievers.catalog import Catalog
from retrievers.index import VectorIndex, VectorIndexError

INDEX_NAME = "index.faiss"
STAMP_NAME = INDEX_NAME + ".json"
LOCK_NAME = INDEX_NAME + ".lock"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """The rows one `index` run wrote: enough to patch an index file that was level with the
    catalog when the run began, as long as nobody else wrote to the catalog meanwhile."""

    since: int  # the catalog's generation before the run
    commits: int  # the run's transactions that moved the generation on
    written: Sequence[int]  # rows embedded, new or again
    removed: Sequence[int]  # rows deleted

    def patch(self, saved_generation: int, generation: int) -> bool:
        """Whether these changes take an index saved at saved_generation to generation: any
        other writer's transaction would have moved the generation further than ours did."""
        return saved_generation == self.since and generation == self.since + self.commits


def load_or_rebuild(folder: Path, catalog: Catalog, *, dim: Callable[[], int],
                    changes: Changes | None = None, rebuild: bool = False) -> VectorIndex:
    """The library's index, level with the catalog: the saved file when it is current, the
    saved file patched with `changes` when they are all it lacks, else rebuilt from the vectors
    table (always with rebuild=True). `dim` gives the width of an empty index (called only when
    the catalog holds no vectors to take it from)."""
    path = folder / INDEX_NAME
    with _exclusive(folder / LOCK_NAME):
        generation = catalog.generation
        saved, problem = (None, "") if rebuild else _stamp(folder / STAMP_NAME)
        if saved is not None and saved["library"] not in (None, _identity(catalog)):
            saved, problem = None, f"belongs to another library ({saved['library']})"
        current = saved is not None and saved["generation"] == generation
        patchable = (saved is not None and changes is not None
                     and saved["library"] is not None  # stamps before it: rebuilt once
                     and changes.patch(saved["generation"], generation))
        if current or patchable:
            index, problem = _verified(path, saved)
            if index is not None and current:
                problem = _mismatch(index, catalog)
                if not problem:
                    return index
            elif index is not None:
                # Not checked against the table's ids like an opened file (a scan of the
                # vectors table: 0.23 s at 200k): the stamp's library and generation already
                # say these changes are all the file lacks, and the next open checks the ids.
                _apply(index, changes, catalog)
                _save(index, folder, catalog, generation)
                return index
        if problem:
            log.warning("rummage: %s in %s %s; rebuilt it from library.db", INDEX_NAME, folder,
                        problem)
        ids, vectors = catalog.all_vectors()
        index = VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(dim())
        _save(index, folder, catalog, generation)
        return index


def _apply(index: VectorIndex, changes: Changes, catalog: Catalog) -> None:
    """Remove the deleted rows, then store the written ones under their ids (replacing the old
    vector of a changed file); a written row deleted since is removed too."""
    written, vectors = catalog.vectors_of(changes.written)
    gone = set(changes.removed) | (set(map(int, changes.written)) - set(written.tolist()))
    index.remove(sorted(gone))
    if len(written):
        index.add(written, vectors)


def _save(index: VectorIndex, folder: Path, catalog: Catalog, generation: int) -> None:
    digest = index.save(folder / INDEX_NAME)
    _write_atomically(folder / STAMP_NAME, json.dumps(
        {"generation": generation, "count": len(index), "sha256": digest,
         "library": _identity(catalog)}))


def _identity(catalog: Catalog) -> str:
    """Which library a stamp belongs to: its name and creation time, unique enough to tell a
    file copied in from another library, which may well stand at the same generation."""
    info = catalog.info()
    return f"{info.get('name', '')}@{info.get('created', '')}"


def _stamp(stamp: Path) -> tuple[dict | None, str]:
    """The stamp's generation, count and sha256; else None and what is wrong with it ("" when
    there is none, or it is from before the checksum)."""
    if not stamp.is_file():
        return None, ""
    try:
        saved = json.loads(stamp.read_text())
        saved = {"generation": int(saved["generation"]), "count": int(saved["count"]),
                 "sha256": saved.get("sha256"), "library": saved.get("library")}
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None, f"has an unreadable stamp ({stamp.name})"
    return (saved, "") if saved["sha256"] else (None, "")


def _verified(path: Path, saved: dict) -> tuple[VectorIndex | None, str]:
    """The index file when it is the one its stamp describes; else None and what is wrong."""
    if not path.is_file():
        return None, "is missing"
    if _digest(path) != saved["sha256"]:
        return None, "is damaged or was replaced (its checksum differs from its stamp)"
    try:
        index = VectorIndex.load(path)
    except VectorIndexError:
        return None, "is not a readable FAISS index"
    if len(index) != saved["count"]:
        return None, f"holds {len(index)} vectors where its stamp says {saved['count']}"
    return index, ""


def _mismatch(index: VectorIndex, catalog: Catalog) -> str:
    """What is wrong with an index that should hold exactly the vectors table's ids, or ""."""
    ids = catalog.vector_ids()
    if len(index) != len(ids):
        return f"holds {len(index)} vectors where the table holds {len(ids)}"
    if not np.array_equal(index.ids(), ids):
        return "holds other images than the table"
    return ""


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    # A private temporary name: racing rebuilds must not rename each other's file away.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on this file for the block (no lock where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: racing rebuilds there cost a rebuild, as before
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
