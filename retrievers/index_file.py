"""The FAISS index file beside a library: loaded while level with the catalog, patched, or rebuilt.

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
is logged as one warning line; the ordinary rebuild after a write the index was not told of
(the generation moved on) is silent, as is the first build of a library.

Why an `index` run patches rather than rebuilds: retraining from every vector took 26-49 s and
3.5 GiB at 1M images for one changed file. The run knows the rows it wrote and removed and how
many transactions it committed (`Changes`); when the stamp stands at the generation the run
began from and the catalog at that plus the run's commits, nobody else wrote, and those rows are
all the file lacks. Anything else (a killed run before, another process writing meanwhile, a
file from another library: the stamp names its library) is rebuilt as before.

Why the patch goes to a delta file beside the index (`index.faiss.delta`: the rows written, with
their vectors, and the ids removed since index.faiss was saved) rather than into index.faiss:
loading, patching and saving the file cost 0.67-0.83 s at 200k images (save 0.4 s, of which
fsync 0.1-0.2 s; checksum and load 0.15 s), 10-12 % of a full build (7 s); the delta costs
22-30 ms. Every open applies the delta (a remove and an add), so it is folded into a new
index.faiss once it holds more than DELTA_ROWS rows or 1/DELTA_SHARE of the file's, or when its
rows could make the index change layout (an exact index crossing to IVF, an IVF outgrowing its
training), which would otherwise retrain at every open. IVF retraining itself follows
`IndexConfig.relayout`: when the library has grown so that the rule asks for twice the lists
it was trained with (about 4x the rows), or shrunk below half the exact threshold.

Why the generation is read before the vectors: a write committed by another process between
the two then leaves the stamp older than the file, costing one rebuild; read after, it would
stamp vectors of the previous generation as current. Why a lock file: two processes rebuilding
at once could otherwise save their files and stamps interleaved (A's index under B's stamp).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrievers import look_file
from retrievers.catalog import LOOK_WIDTH, Catalog
from retrievers.file_lock import exclusive
from retrievers.images import APPEARANCE_STEP
from retrievers.index import IndexConfig, VectorIndex, VectorIndexError
from retrievers.look_file import LookFile

INDEX_NAME = "index.faiss"
STAMP_NAME = INDEX_NAME + ".json"
DELTA_NAME = INDEX_NAME + ".delta"  # rows written and removed since index.faiss (an .npz)
LOCK_NAME = INDEX_NAME + ".lock"
LOOKS_NAME = INDEX_NAME + ".looks"  # the looks of the index's images, by position (look_file.py)

# The delta is folded into index.faiss when it holds more rows than this, or than 1/DELTA_SHARE
# of the file's (every open applies it).
DELTA_ROWS = 1000
DELTA_SHARE = 100

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
                    changes: Changes | None = None,
                    rebuild: bool = False) -> tuple[VectorIndex, LookFile | None] | None:
    """The library's index, level with the catalog, and the looks saved with it: the saved file
    (with its delta) when it is current, else rebuilt from the vectors table (always with
    rebuild=True). With `changes` that are all the saved file lacks, they are written to its
    delta instead and None is returned: the index is not loaded, the next open loads it level.
    `dim` gives the width of an empty index (called only when the catalog holds no vectors to
    take it from). The looks are None where their file cannot be used (look_file.py)."""
    path = folder / INDEX_NAME
    with exclusive(folder / LOCK_NAME):
        generation = catalog.generation
        saved, problem = (None, "") if rebuild else _stamp(folder / STAMP_NAME)
        if saved is not None and saved["library"] not in (None, library_identity(catalog)):
            saved, problem = None, f"belongs to another library ({saved['library']})"
        current = saved is not None and saved["generation"] == generation
        patchable = (saved is not None and changes is not None
                     and saved["library"] is not None  # stamps before it: rebuilt once
                     and changes.patch(saved["generation"], generation))
        delta = None
        if current or patchable:
            delta, problem = _read_delta(folder, saved)
        if delta is not None:
            if patchable:
                # Not checked against the table's ids like an opened file (a scan of the
                # vectors table: 0.23 s at 200k): the stamp's library and generation already
                # say these changes are all the file lacks, and the next open checks the ids.
                delta = _merged(delta, changes, catalog)
                if not _outgrown(saved, delta):
                    _save_delta(folder, saved, delta, catalog, generation)
                    return None
            index, problem = _verified(path, saved)
            if index is not None:
                saved_ids = index.ids()  # what the looks file beside it must hold
                _apply(index, delta)
                if patchable:  # the delta has grown: folded into a new index file
                    return index, _save(index, folder, catalog, generation)
                problem = _mismatch(index, catalog)
                if not problem:
                    # rows written or removed since the file: library.db answers for them
                    stale = np.union1d(delta["ids"], delta["removed"])
                    return index, _looks(folder, saved, saved_ids, stale, catalog)
        if problem:
            log.warning("rummage: %s in %s %s; rebuilt it from library.db", INDEX_NAME, folder,
                        problem)
        ids, vectors = catalog.all_vectors()
        index = VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(dim())
        return index, _save(index, folder, catalog, generation)


def _merged(delta: dict, changes: Changes, catalog: Catalog) -> dict:
    """The delta with these changes on top: a written row replaces its older vector, a row
    written and deleted since is removed."""
    written, vectors = catalog.vectors_of(changes.written)
    gone = (set(map(int, changes.removed))
            | (set(map(int, changes.written)) - set(written.tolist())))
    kept = ~np.isin(delta["ids"], np.array(sorted(gone | set(written.tolist())), np.int64))
    parts = [part for part in (delta["vectors"][kept], vectors) if len(part)]
    return {"ids": np.concatenate([delta["ids"][kept], written]),
            "vectors": np.concatenate(parts) if parts else np.empty((0, 0), np.float32),
            "removed": np.union1d(delta["removed"], np.array(sorted(gone), np.int64))}


def _outgrown(saved: dict, delta: dict) -> bool:
    """Whether the delta is folded into the index file now: it is large against the file, or
    the rows it adds or removes may make the index change layout (retrain) on every open."""
    rows = len(delta["ids"]) + len(delta["removed"])
    if rows > max(DELTA_ROWS, saved["count"] // DELTA_SHARE):
        return True
    config = IndexConfig()
    low, high = saved["count"] - len(delta["removed"]), saved["count"] + len(delta["ids"])
    return saved["nlist"] is None or any(config.relayout(saved["nlist"], n) for n in (low, high))


def _apply(index: VectorIndex, delta: dict) -> None:
    index.remove(delta["removed"])
    if len(delta["ids"]):
        index.add(delta["ids"], delta["vectors"])


def _save(index: VectorIndex, folder: Path, catalog: Catalog, generation: int) -> LookFile | None:
    """Save the index, its looks, then the stamp that names both; the looks, opened."""
    digest = index.save(folder / INDEX_NAME)
    ids = index.ids()
    looks = _write_looks(folder, ids, catalog)
    write_atomically(folder / STAMP_NAME, json.dumps(
        {"generation": generation, "count": len(index), "sha256": digest,
         "library": library_identity(catalog), "nlist": index.nlist, "looks": looks}).encode())
    (folder / DELTA_NAME).unlink(missing_ok=True)
    return LookFile.open(folder / LOOKS_NAME, looks, ids, stale=np.empty(0, np.int64))[0]


def _write_looks(folder: Path, ids: np.ndarray, catalog: Catalog) -> dict | None:
    """The looks file written for these ids; None where it cannot be (library.db serves)."""
    try:
        return look_file.write(folder / LOOKS_NAME, ids, LOOK_WIDTH,
                               catalog.look_batches(look_file.BATCH), APPEARANCE_STEP)
    except (OSError, look_file.NotEightBit) as e:
        log.warning("rummage: %s could not be written (%s); looks are read from library.db",
                    folder / LOOKS_NAME, e)
        return None


def _looks(folder: Path, saved: dict, ids: np.ndarray, stale: np.ndarray,
           catalog: Catalog) -> LookFile | None:
    """The looks saved with a current index file (`ids`: the file's own, before its delta); a
    looks file that is missing or not the one the stamp names is written again and the stamp
    updated, silently for a stamp from before looks were saved."""
    found, problem = LookFile.open(folder / LOOKS_NAME, saved["looks"], ids, stale)
    if found is not None:
        return found
    if problem:
        log.warning("rummage: %s %s; written again from library.db", folder / LOOKS_NAME,
                    problem)
    looks = _write_looks(folder, ids, catalog)
    if looks is None:
        return None
    write_atomically(folder / STAMP_NAME, json.dumps({**saved, "looks": looks}).encode())
    return LookFile.open(folder / LOOKS_NAME, looks, ids, stale)[0]


def library_identity(catalog: Catalog) -> str:
    """Which library a stamp belongs to: its name and creation time, unique enough to tell a
    file copied in from another library, which may well stand at the same generation."""
    info = catalog.info()
    return f"{info.get('name', '')}@{info.get('created', '')}"


def _save_delta(folder: Path, saved: dict, delta: dict, catalog: Catalog,
                generation: int) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **delta)
    data = buffer.getvalue()
    write_atomically(folder / DELTA_NAME, data)
    write_atomically(folder / STAMP_NAME, json.dumps(
        {"generation": generation, "count": saved["count"], "sha256": saved["sha256"],
         "library": library_identity(catalog), "nlist": saved["nlist"],
         "looks": saved["looks"], "delta": hashlib.sha256(data).hexdigest()}).encode())


def _read_delta(folder: Path, saved: dict) -> tuple[dict | None, str]:
    """The changes saved beside the index file since it was written (none: empty arrays)."""
    if not saved["delta"]:
        return {"ids": np.empty(0, np.int64), "vectors": np.empty((0, 0), np.float32),
                "removed": np.empty(0, np.int64)}, ""
    try:
        data = (folder / DELTA_NAME).read_bytes()
    except OSError:
        return None, f"lost its delta ({DELTA_NAME})"
    if hashlib.sha256(data).hexdigest() != saved["delta"]:
        return None, f"has a damaged delta ({DELTA_NAME})"
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in ("ids", "vectors", "removed")}, ""


def _stamp(stamp: Path) -> tuple[dict | None, str]:
    """The stamp's generation, count and sha256; else None and what is wrong with it ("" when
    there is none, or it is from before the checksum)."""
    if not stamp.is_file():
        return None, ""
    try:
        saved = json.loads(stamp.read_text())
        saved = {"generation": int(saved["generation"]), "count": int(saved["count"]),
                 "sha256": saved.get("sha256"), "library": saved.get("library"),
                 "nlist": saved.get("nlist"), "delta": saved.get("delta"),
                 "looks": saved.get("looks")}
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


def write_atomically(path: Path, data: bytes) -> None:
    # A private temporary name: racing rebuilds must not rename each other's file away.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
