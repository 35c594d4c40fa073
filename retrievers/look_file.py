"""The looks of the index file's images, kept beside it in one file read by position.

Why: a turn reranks its 400 candidates with their looks (colour-layout descriptors: image
feedback compares them, and the first page is spread over different looks). Read by id from
library.db they cost 8 us a row at 1M images (a B-tree descent each: 400 rows 3.2 ms, the
largest part of a turn's own work there). In this file the rows are memory-mapped and read by
position (a fancy index): 400 rows in about 20 us, so a process never holds the whole table
(that cost 3.5 s and 1.7 GiB at 1M) nor keeps a copy of what it read.

Why 8-bit rows, mapped: a look is an 8x8 colour layout of 8-bit colours times a step
(images.APPEARANCE_STEP), so one byte a number holds it exactly, read back bit for bit as
library.db has it (a number that is not such a multiple is refused when writing, and the looks
then come from library.db). The rows of 1M images take 192 MB rather than 776, and mapped, at
most that much of the process's memory, all of it once a process has touched rows across the
whole file (the kernel maps the neighbours of a page it already holds; `MADV_RANDOM` only stops
it reading ahead from disk). Float32 rows were read with one `os.pread` each, because mapping
them had left 733 MB resident after 40,000 random rows and the benchmark's turns peaked at
1.47 GiB; mapped 8-bit rows peak at 953 MiB there. The preads cost 0.06 ms an ask at the
median but whole milliseconds where the rows had left the page cache (this machine reclaims
pages not touched for a while): 1.0-2.5 ms a turn over scale_bench.py's 20 conversations at
1M images (137 turns, four runs), against about 0.3 ms a turn mapped. Mapping trusts the file
not to be cut short while open: the library only ever replaces it (a new file renamed over
it), which leaves the mapped one whole.

The file (`index.faiss.looks`) is written with index.faiss, by the same save, for exactly that
index's ids, and the stamp names it (size and modification time): a file that is missing,
replaced or unreadable is written again from library.db, as a damaged index.faiss is rebuilt
(one warning line, never a traceback); where it cannot be written (a full disk) the looks come
from library.db by id, as before. It is not checksummed like index.faiss: a look only orders
near ties, library.db holds the record, and hashing it would add to every open (776 MB of
float32 rows at 1M images took about 1.3 s); its ids are checked against the index's instead.
Rows written since the save (the index's delta, index_file.py) are read from library.db:
`stale`.

Layout: a 32-byte header (MAGIC, rows, width, step as float32), the ids ascending (int64),
then one row of `width` bytes per id, each a number divided by the step (zeros for an image
without a look, as library.db answers for one).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from retrievers.atomic_file import replacing

MAGIC = b"RUMLOOK2"  # RUMLOOK1 held float32 rows, read by pread: written again on open
HEADER = struct.Struct("<8sQQf4x")  # magic, rows, width, step; 32 bytes
BATCH = 10_000  # rows read from library.db at a time while writing (about 8 MB)


class NotEightBit(ValueError):
    """A look that one byte a number cannot hold exactly (not made by `images.appearance`)."""


def write(path: Path, ids: np.ndarray, width: int,
          batches: Iterator[tuple[np.ndarray, np.ndarray]], step: float) -> dict:
    """Write the looks of `ids` (ascending) atomically; `batches` yields (ids, looks) in id
    order, rows of other ids are ignored. Each number is stored as its multiple of `step`, a
    whole number from 0 to 255 (a look is 8-bit colours times a step); a number that is not
    one raises NotEightBit and leaves no file. Returns what the stamp keeps to know the file
    again.

    Written front to back with plain writes: filling a memory map of the whole file instead
    took 13 s at 1M images against 1.5 s for reading the looks out of library.db."""
    ids = np.ascontiguousarray(ids, np.int64)
    with replacing(path) as f:
        step = np.float32(step)
        f.write(HEADER.pack(MAGIC, len(ids), width, step))
        f.write(ids.tobytes())
        done = 0  # rows of `ids` written so far
        for got, rows in batches if len(ids) else ():
            at = np.searchsorted(ids, got)
            keep = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == got)
            if not keep.any():
                continue
            end = int(at[keep][-1]) + 1
            chunk = np.zeros((end - done, width), np.uint8)  # zeros: rows without a look
            levels = np.clip(np.rint(rows[keep] / step), 0, 255).astype(np.uint8)
            off = (levels * step != rows[keep]).any(axis=1)
            if off.any():
                image = int(got[keep][np.flatnonzero(off)[0]])
                raise NotEightBit(f"the look of image {image} is not 8-bit colours")
            chunk[at[keep] - done] = levels
            f.write(chunk.tobytes())
            done = end
        f.write(bytes((len(ids) - done) * width))
    return identity(path)


def identity(path: Path) -> dict:
    """What tells this file from another one written later or copied in: size and mtime."""
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class LookFile:
    """The looks of an index file's ids: its rows memory-mapped, read by position."""

    def __init__(self, path: Path, ids: np.ndarray, width: int, step: float,
                 stale: np.ndarray):
        self.ids = ids
        self.width = width
        self.step = np.float32(step)
        self.stale = np.sort(np.asarray(stale, np.int64))  # rows written or removed since
        # each image id's row in the file, -1 where it holds none or a stale one: one fancy
        # index per ask. A binary search of the 1M sorted ids (8 MB, out of the CPU's caches
        # by the next turn) took 0.15 ms for a turn's ~165 new looks, and checking them
        # against `stale` 0.03 ms more. 4 bytes per id up to the largest: 4 MB at 1M images.
        top = int(ids[-1]) + 1 if len(ids) else 0
        self._row = np.full(top, -1, np.int32)
        self._row[ids] = np.arange(len(ids), dtype=np.int32)
        self._row[self.stale[self.stale < top]] = -1
        # mapped from the file opened now: a file written again later replaces this one
        # under its name (a new inode), so the rows read here stay the ones that go with `ids`
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if len(ids) else None
        if self._map is not None and hasattr(mmap, "MADV_RANDOM"):
            self._map.madvise(mmap.MADV_RANDOM)  # no read-ahead from disk around a row
        self._rows = (np.frombuffer(self._map, np.uint8, len(ids) * width,
                                    HEADER.size + len(ids) * 8).reshape(len(ids), width)
                      if self._map is not None else np.zeros((0, width), np.uint8))

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
        ids, width, step = found
        try:
            return cls(path, ids, width, step, stale), ""
        except (OSError, ValueError) as e:
            return None, f"cannot be read ({e})"

    def close(self) -> None:
        self._rows = np.zeros((0, self.width), np.uint8)  # the map's last view, before it goes
        self._row = np.full(0, -1, np.int32)  # asked after this, every id comes from elsewhere
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view of it still held somewhere: unmapped when it goes
                pass
            self._map = None

    def get(self, ids: np.ndarray, elsewhere: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """One look per id, in the order asked: from the file where it holds the id's current
        look, from `elsewhere` (ids -> looks) for the rest."""
        ids = np.asarray(ids, np.int64)
        inside = (ids >= 0) & (ids < len(self._row))
        at = np.full(len(ids), -1, np.int64)
        at[inside] = self._row[ids[inside]]
        held = at >= 0
        out = np.empty((len(ids), self.width), np.float32)
        out[held] = self._rows[at[held]] * self.step
        if not held.all():
            out[~held] = elsewhere(ids[~held])
        return out


def _read(path: Path, expected: dict, index_ids: np.ndarray):
    """(ids, width, step) of a good file, else what is wrong with it."""
    try:
        if identity(path) != {"bytes": expected.get("bytes"),
                              "mtime_ns": expected.get("mtime_ns")}:
            return "is not the file its stamp names (replaced or changed)"
        with open(path, "rb") as f:
            magic, rows, width, step = HEADER.unpack(f.read(HEADER.size))
        if magic != MAGIC or HEADER.size + rows * (8 + width) != expected["bytes"]:
            return "is not a looks file of this version"
        ids = np.fromfile(path, np.int64, rows, offset=HEADER.size)
    except FileNotFoundError:
        return "is missing"
    except (OSError, ValueError, struct.error) as e:
        return f"cannot be read ({e})"
    if not np.array_equal(ids, index_ids):
        return "holds other images than the index"
    return ids, width, step
