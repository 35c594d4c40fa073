"""The looks of the index file's images, kept beside it as one memory-mapped array.

Why: a turn reranks its 400 candidates with their looks (colour-layout descriptors: image
feedback compares them, and the first page is spread over different looks). Read by id from
library.db they cost 8 us a row at 1M images (a B-tree descent each: 400 rows 3.2 ms, the
largest part of a turn's own work there), and the looks a process keeps (look_cache.py) cover
only what earlier turns met. Read from this file a row is an index into a memory map: the
operating system keeps the pages, so a process never holds the whole table (that cost 3.5 s and
1.7 GiB at 1M) and a second process shares them.

The file (`index.faiss.looks`) is written with index.faiss, by the same save, for exactly that
index's ids, and the stamp names it (size and modification time): a file that is missing,
replaced or unreadable is written again from library.db, as a damaged index.faiss is rebuilt
(one warning line, never a traceback); where it cannot be written (a read-only folder) the looks
come from library.db by id, as before. It is not checksummed like index.faiss: a look only orders near ties,
library.db holds the record, and hashing 768 MB at 1M images would add about 1.3 s to every open;
its ids are checked against the index's instead. Rows written since the save (the index's
delta, index_file.py) are read from library.db: `stale`.

Layout: a 32-byte header (MAGIC, rows, width), the ids ascending (int64), then one row of
float32 per id (zeros for an image without a look, as library.db answers for one).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from retrievers.atomic_file import replacing

MAGIC = b"RUMLOOK1"
HEADER = struct.Struct("<8sQQ8x")  # magic, rows, width; 32 bytes
BATCH = 10_000  # rows read from library.db at a time while writing (about 8 MB)


def write(path: Path, ids: np.ndarray, width: int,
          batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Write the looks of `ids` (ascending) atomically; `batches` yields (ids, looks) in id
    order, rows of other ids are ignored. Returns what the stamp keeps to know the file again.

    Written front to back with plain writes: filling a memory map of the whole file instead
    took 13 s at 1M images against 1.5 s for reading the looks out of library.db."""
    ids = np.ascontiguousarray(ids, np.int64)
    with replacing(path) as f:
        f.write(HEADER.pack(MAGIC, len(ids), width))
        f.write(ids.tobytes())
        done = 0  # rows of `ids` written so far
        for got, rows in batches:
            at = np.searchsorted(ids, got)
            keep = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == got)
            if not keep.any():
                continue
            end = int(at[keep][-1]) + 1
            chunk = np.zeros((end - done, width), np.float32)  # zeros: rows without a look
            chunk[at[keep] - done] = rows[keep]
            f.write(chunk.tobytes())
            done = end
        f.write(bytes((len(ids) - done) * width * 4))
    return identity(path)


def identity(path: Path) -> dict:
    """What tells this file from another one written later or copied in: size and mtime."""
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class LookFile:
    """The looks of an index file's ids, read through a memory map."""

    def __init__(self, ids: np.ndarray, looks: np.ndarray, stale: np.ndarray):
        self.ids = ids
        self.looks = looks
        self.stale = np.sort(np.asarray(stale, np.int64))

    @classmethod
    def open(cls, path: Path, expected: dict | None, index_ids: np.ndarray,
             stale: np.ndarray) -> tuple[LookFile | None, str]:
        """The file when it is the one the stamp names (`expected`) and holds the index file's
        ids; else None and what is wrong ("" for a stamp from before looks were saved)."""
        if not expected:
            return None, ""
        found = _read(path, expected, index_ids)
        if isinstance(found, str):
            return None, found
        return cls(*found, stale), ""

    def get(self, ids: np.ndarray, elsewhere: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """One look per id, in the order asked: from the file where it holds the id's current
        look, from `elsewhere` (ids -> looks) for the rest."""
        ids = np.asarray(ids, np.int64)
        at = np.minimum(np.searchsorted(self.ids, ids), max(len(self.ids) - 1, 0))
        held = self.ids[at] == ids if len(self.ids) else np.zeros(len(ids), bool)
        if len(self.stale):
            held &= ~np.isin(ids, self.stale)
        out = np.empty((len(ids), self.looks.shape[1]), np.float32)
        out[held] = self.looks[at[held]]
        if not held.all():
            out[~held] = elsewhere(ids[~held])
        return out


def _mapped(path: Path, offset: int, rows: int, width: int) -> np.ndarray:
    """The looks as a read-only array over a memory map that pages in only the rows read.

    MADV_RANDOM: a turn reads 400 rows scattered over the file, and by default each page fault
    maps the pages around it too (fault-around), which made a first read of 400 rows cost
    1.8-2.8 ms at 1M images against 0.5-1.1 ms without (interleaved runs, medians of 100)."""
    if not rows:
        return np.zeros((0, width), np.float32)
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, np.float32, rows * width, offset).reshape(rows, width)


def _read(path: Path, expected: dict, index_ids: np.ndarray):
    """(ids, looks) of a good file, else what is wrong with it."""
    try:
        if identity(path) != {"bytes": expected.get("bytes"),
                              "mtime_ns": expected.get("mtime_ns")}:
            return "is not the file its stamp names (replaced or changed)"
        with open(path, "rb") as f:
            magic, rows, width = HEADER.unpack(f.read(HEADER.size))
        if magic != MAGIC or HEADER.size + rows * (8 + 4 * width) != expected["bytes"]:
            return "is not a looks file of this version"
        ids = np.fromfile(path, np.int64, rows, offset=HEADER.size)
        looks = _mapped(path, HEADER.size + rows * 8, rows, width)
    except FileNotFoundError:
        return "is missing"
    except (OSError, ValueError, struct.error) as e:
        return f"cannot be read ({e})"
    if not np.array_equal(ids, index_ids):
        return "holds other images than the index"
    return ids, looks
