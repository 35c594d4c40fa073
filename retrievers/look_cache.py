"""The looks (colour-layout descriptors) a process has read from library.db, kept by image id.

What it holds: the looks the file saved beside the index (look_file.py) does not, read from
library.db by id: rows written since that file was saved, and every row of a library without
one (vectors in Milvus, a disk that refused the file). The file itself is mapped and needs no
copy kept (reading 400 rows from it costs about 20 us).

Why: a turn reranks its 400 candidates with their looks (image feedback compares them, and the
first page is spread over different looks), and reading 400 looks by id from library.db took
2.5-3.5 ms at 1M images (a B-tree descent per row; neither a larger SQLite cache nor mmap made
it faster), the largest single part of a turn's own work there. A conversation keeps meeting
the same candidates: over the 20 scripted conversations of benchmarks/scale_bench.py, 62 % of
the looks a turn asked for had been read by an earlier turn of the same process. So the looks
are read on demand (never the whole table: that cost 3.5 s and 1.7 GiB at 1M) and kept, up to
KEPT of them, least recently used dropped first (a tenth of them at a time).

How: the kept looks are rows of one array, found through an array indexed by image id (row or
-1; 4 bytes per id up to the largest kept, 4 MB at 1M images: ids are library.db's rowids, which
count up from 1), and the rows last used longest ago are the ones reused. An OrderedDict of one
array per look cost 1.1 ms of Python per 400 looks asked for the first time (a copy, an insert
and a move per row, then a stack of 400 arrays): as much as reading them. Rows of one array
found through a dict of id -> row still cost a dict read and a few list items per id asked:
replaying the 347 asks of scale_bench.py's turns (1M images, reads included), 0.54 ms an ask
on average against 0.41 with every step an operation on arrays (medians of 6 rounds).

What it holds is what library.db held when each look was read. The library empties it whenever
it loads its index again, so a process's looks and its index's vectors always describe the
same catalog: a change another process writes is seen by both at the next load, not by one.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Sequence

import numpy as np

KEPT = 100_000  # looks kept; 192 float32 each, so at most about 77 MB


class LookCache:
    def __init__(self, read: Callable[[Sequence[int]], np.ndarray], kept: int = KEPT):
        self._read = read  # ids -> one look per id, in the order asked (zeros where none)
        self._kept = kept
        self._clock = 0  # asks counted so far, what _used is measured in
        self.clear()

    def __len__(self) -> int:
        return self._held

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """One look per id, in the order asked: kept ones from memory, the rest read once."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if not len(ids):
            return self._read([])
        where = self._where(ids)
        hits = where >= 0
        # ask order is use order: the last id asked is the most recently used
        asked = self._clock + np.arange(len(ids), dtype=np.int64)
        self._clock += len(ids)
        if hits.all():
            self._used[where] = asked
            return self._rows[where]
        # the ids not kept, each once, in the order first asked: the order they are read in
        absent = ids[~hits]
        unique, first, inverse = np.unique(absent, return_index=True, return_inverse=True)
        by_first = np.argsort(first, kind="stable")
        missing = unique[by_first]
        read = self._read(missing.tolist())
        rank = np.empty(len(unique), np.int64)
        rank[by_first] = np.arange(len(unique))
        out = np.empty((len(ids), read.shape[1]), np.float32)
        if hits.any():
            out[hits] = self._rows[where[hits]]
        out[~hits] = read[rank[inverse.reshape(-1)]]
        self._keep(missing, read, where[hits])
        where = self._where(ids)  # the newly kept ones too (all but beyond `kept` in one ask)
        held = where >= 0
        self._used[where[held]] = asked[held]
        return out

    def _where(self, ids: np.ndarray) -> np.ndarray:
        """Each id's row of _rows, -1 where it is not kept."""
        inside = (ids >= 0) & (ids < len(self._slot))
        if inside.all():
            return self._slot[ids].astype(np.int64)
        where = np.full(len(ids), -1, np.int64)
        where[inside] = self._slot[ids[inside]]
        return where

    def _keep(self, ids: np.ndarray, looks: np.ndarray, busy: np.ndarray) -> None:
        """Keep newly read looks in free rows, else in the rows used longest ago (never in a
        row this ask used: `busy`)."""
        if self._rows.shape[1] != looks.shape[1]:
            self.clear(width=looks.shape[1])
        fresh = min(len(ids), self._kept - self._fresh)
        free = np.concatenate([self._free,
                               np.arange(self._fresh, self._fresh + fresh, dtype=np.int64)])
        self._fresh += fresh
        if len(free) < len(ids):
            used = self._used.copy()
            used[busy] = np.iinfo(np.int64).max
            used[free] = np.iinfo(np.int64).max
            # a tenth at a time: the partition over every kept row is paid once per ~10,000
            # new looks rather than at every ask once the cache is full
            want = min(max(len(ids) - len(free), self._kept // 10),
                       len(used) - len(free) - len(np.unique(busy)))
            if want > 0:
                old = np.argpartition(used, want - 1)[:want]
                self._slot[self._ids[old]] = -1
                self._ids[old] = -1
                self._held -= want
                free = np.concatenate([free, old])
        n = min(len(ids), len(free))  # fewer only when one ask holds more than `kept` ids
        at = free[:n]
        self._free = free[n:]
        self._rows[at] = looks[:n]
        self._ids[at] = ids[:n]
        top = int(ids[:n].max()) + 1 if n else 0
        if top > len(self._slot):  # room for the largest id kept, grown by half at least
            grown = np.full(max(top, len(self._slot) * 3 // 2), -1, np.int32)
            grown[:len(self._slot)] = self._slot
            self._slot = grown
        self._slot[ids[:n]] = at
        self._held += n

    def clear(self, width: int = 0) -> None:
        """Keep nothing; with a width, room for `kept` looks that wide, allocated at once
        (pages the system only backs once written: `_zeros`)."""
        self._rows = _zeros((self._kept if width else 0, width))  # the looks
        self._ids = np.full(len(self._rows), -1, np.int64)  # each row's image id (-1: free)
        self._used = np.zeros(len(self._rows), np.int64)  # when each row was last asked for
        self._slot = np.full(0, -1, np.int32)  # image id -> its row of _rows (-1: not kept)
        self._held = 0  # rows that hold a look
        self._fresh = 0  # rows from here on were never written
        self._free = np.empty(0, np.int64)  # rows written once and free again


def _zeros(shape: tuple[int, int]) -> np.ndarray:
    """float32 zeros that the system backs as rows are first written, in small pages.

    numpy asks for huge pages for an array this large (madvise), and where the kernel compacts
    memory to find one (THP defrag "madvise", the 2-core machine's setting) the write that
    first touched each 2 MB of rows stalled for up to 7 ms: once per ~2,700 new looks, while
    the cache fills. In 4 KB pages a turn's ~165 new looks cost ~0.1 ms of page faults, every
    turn alike. 1M images, two processes taking sessions in turn (40 each, twice): turn p50
    7.43 / 7.75 -> 7.36 / 7.65 ms, mean 8.64 / 8.73 -> 8.25 / 8.48, p95 16.2 / 15.6 -> 14.9 /
    15.3."""
    size = shape[0] * shape[1] * 4
    if not size:
        return np.zeros(shape, np.float32)
    block = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux
        block.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(block, np.float32).reshape(shape)
