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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from retrievers.catalog import Catalog
from retrievers.index import VectorIndex, VectorIndexError

INDEX_NAME = "index.faiss"
STAMP_NAME = INDEX_NAME + ".json"
LOCK_NAME = INDEX_NAME + ".lock"

log = logging.getLogger(__name__)


def load_or_rebuild(folder: Path, catalog: Catalog, *, dim: Callable[[], int]) -> VectorIndex:
    """The library's index, level with the catalog. `dim` gives the width of an empty index
    (called only when the catalog holds no vectors to take it from)."""
    path = folder / INDEX_NAME
    with _exclusive(folder / LOCK_NAME):
        generation = catalog.generation
        index, problem = _current(path, folder / STAMP_NAME, catalog, generation)
        if index is not None:
            return index
        if problem:
            log.warning("rummage: %s in %s %s; rebuilt it from library.db", INDEX_NAME, folder,
                        problem)
        ids, vectors = catalog.all_vectors()
        index = VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(dim())
        index.save(path)
        _write_atomically(folder / STAMP_NAME, json.dumps(
            {"generation": generation, "count": len(ids), "sha256": _digest(path)}))
        return index


def _current(path: Path, stamp: Path, catalog: Catalog,
             generation: int) -> tuple[VectorIndex | None, str]:
    """The saved index when it is level with the catalog; else None and what is wrong with it
    ("" when it is merely behind or was never built)."""
    if not stamp.is_file():
        return None, ""
    try:
        saved = json.loads(stamp.read_text())
        saved_generation, saved_count = int(saved["generation"]), int(saved["count"])
    except (ValueError, KeyError, TypeError, OSError):
        return None, f"has an unreadable stamp ({stamp.name})"
    if saved_generation != generation or "sha256" not in saved:
        return None, ""
    if not path.is_file():
        return None, "is missing"
    if _digest(path) != saved["sha256"]:
        return None, "is damaged or was replaced (its checksum differs from its stamp)"
    try:
        index = VectorIndex.load(path)
    except VectorIndexError:
        return None, "is not a readable FAISS index"
    ids = catalog.vector_ids()
    if len(index) != len(ids) or saved_count != len(ids):
        return None, f"holds {len(index)} vectors where the table holds {len(ids)}"
    if not np.array_equal(index.ids(), ids):
        return None, "holds other images than the table"
    return index, ""


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
