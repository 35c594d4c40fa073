"""The looks of the index file's images, kept beside it in one file read by position.

Why: a turn reranks its 400 candidates with their looks (colour-layout descriptors: image
feedback compares them, and the first page is spread over different looks). Read by id from
library.db they cost 8 us a row at 1M images (a B-tree descent each: 400 rows 3.2 ms, the
largest part of a turn's own work there). From this file a row is one `os.pread` at a known
offset: 400 rows in about 1 ms, and the library keeps what it read (look_cache.py), so a
process never holds the whole table (that cost 3.5 s and 1.7 GiB at 1M).

Why pread, not a memory map: mapped, the file's pages counted in the process's memory as they
were touched, and far more than the rows read (the kernel maps whole folios): 40,000 random rows
of the 776 MB file at 1M images left 733 MB of it resident in the process, and the benchmark's
turns peaked at 1.47 GiB against 0.78 before. Reading a row maps nothing.

The file (`index.faiss.looks`) is written with index.faiss, by the same save, for exactly that
index's ids, and the stamp names it (size and modification time): a file that is missing,
replaced or unreadable is written again from library.db, as a damaged index.faiss is rebuilt
(one warning line, never a traceback); where it cannot be written (a full disk) the looks come
from library.db by id, as before. It is not checksummed like index.faiss: a look only orders
near ties, library.db holds the record, and hashing 776 MB at 1M images would add about 1.3 s
to every open; its ids are checked against the index's instead. Rows written since the save
(the index's delta, index_file.py) are read from library.db: `stale`.

Layout: a 32-byte header (MAGIC, rows, width), the ids ascending (int64), then one row of
float32 per id (zeros for an image without a look, as library.db answers for one).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from itertools import repeat
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
        for got, rows in batches if len(ids) else ():
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
    """The looks of an index file's ids, read row by row with `os.pread`."""

    def __init__(self, path: Path, ids: np.ndarray, width: int, stale: np.ndarray):
        self.ids = ids
        self.width = width
        self.stale = np.sort(np.asarray(stale, np.int64))  # rows written or removed since
        self._start = HEADER.size + len(ids) * 8  # where the rows begin
        # each image id's row in the file, -1 where it holds none or a stale one: one fancy
        # index per ask. A binary search of the 1M sorted ids (8 MB, out of the CPU's caches
        # by the next turn) took 0.15 ms for a turn's ~165 new looks, and checking them
        # against `stale` 0.03 ms more. 4 bytes per id up to the largest: 4 MB at 1M images.
        top = int(ids[-1]) + 1 if len(ids) else 0
        self._row = np.full(top, -1, np.int32)
        self._row[ids] = np.arange(len(ids), dtype=np.int32)
        self._row[self.stale[self.stale < top]] = -1
        # kept open: a file written again later replaces this one under its name (a new
        # inode), so the rows read here stay the ones that go with `ids`
        self._fd = os.open(path, os.O_RDONLY)

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
        ids, width = found
        try:
            return cls(path, ids, width, stale), ""
        except OSError as e:
            return None, f"cannot be read ({e})"

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def get(self, ids: np.ndarray, elsewhere: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """One look per id, in the order asked: from the file where it holds the id's current
        look, from `elsewhere` (ids -> looks) for the rest."""
        ids = np.asarray(ids, np.int64)
        inside = (ids >= 0) & (ids < len(self._row))
        at = np.full(len(ids), -1, np.int64)
        at[inside] = self._row[ids[inside]]
        held = at >= 0
        out = np.empty((len(ids), self.width), np.float32)
        rows = self._rows(at[held]) if held.any() else None
        if rows is None:  # none held, or the file cut short under us: library.db has them
            held[:] = False
        else:
            out[held] = rows
        if not held.all():
            out[~held] = elsewhere(ids[~held])
        return out

    def _rows(self, positions: np.ndarray) -> np.ndarray | None:
        """The rows at these positions, in the order given; None if the file is cut short.

        Read in file order and put back in the order asked, the loop in C (`map`): 165 rows
        (a turn's usual new looks at 1M images) took 415 us with a generator of preads in the
        order asked, 175 us mapped in that order, 124 us mapped in file order."""
        size = self.width * 4
        order = np.argsort(positions, kind="stable")
        offsets = (self._start + positions[order].astype(np.int64) * size).tolist()
        try:
            data = b"".join(map(os.pread, repeat(self._fd), repeat(size), offsets))
        except OSError:
            return None
        if len(data) != size * len(positions):
            return None
        rows = np.empty((len(positions), self.width), np.float32)
        rows[order] = np.frombuffer(data, np.float32).reshape(len(positions), self.width)
        return rows


def _read(path: Path, expected: dict, index_ids: np.ndarray):
    """(ids, width) of a good file, else what is wrong with it."""
    try:
        if identity(path) != {"bytes": expected.get("bytes"),
                              "mtime_ns": expected.get("mtime_ns")}:
            return "is not the file its stamp names (replaced or changed)"
        with open(path, "rb") as f:
            magic, rows, width = HEADER.unpack(f.read(HEADER.size))
        if magic != MAGIC or HEADER.size + rows * (8 + 4 * width) != expected["bytes"]:
            return "is not a looks file of this version"
        ids = np.fromfile(path, np.int64, rows, offset=HEADER.size)
    except FileNotFoundError:
        return "is missing"
    except (OSError, ValueError, struct.error) as e:
        return f"cannot be read ({e})"
    if not np.array_equal(ids, index_ids):
        return "holds other images than the index"
    return ids, width
