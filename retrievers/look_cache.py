"""The looks (colour-layout descriptors) a process has read, kept by image id.

Where it reads from: the file saved beside the index (look_file.py), and library.db by id for
what that file does not hold (rows written since it was saved, every row of a library whose
vectors are in Milvus, every row where the file cannot be written). Either way a look read
once is kept here: 400 kept looks cost 0.23 ms, 400 read from the file about 1 ms.

Why: a turn reranks its 400 candidates with their looks (image feedback compares them, and the
first page is spread over different looks), and reading 400 looks by id from library.db took
2.5-3.5 ms at 1M images (a B-tree descent per row; neither a larger SQLite cache nor mmap made
it faster), the largest single part of a turn's own work there. A conversation keeps meeting
the same candidates: over the 20 scripted conversations of benchmarks/scale_bench.py, 62 % of
the looks a turn asked for had been read by an earlier turn of the same process. So the looks
are read on demand (never the whole table: that cost 3.5 s and 1.7 GiB at 1M) and kept, up to
KEPT of them, least recently used dropped first (a tenth of them at a time).

How: the kept looks are rows of one array, found through a dict of id -> row, and the rows last
used longest ago are the ones reused. An OrderedDict of one array per look cost 1.1 ms of
Python per 400 looks asked for the first time (a copy, an insert and a move per row, then a
stack of 400 arrays): as much as reading them. As rows of one array, the look-ups are one dict
read per id and the answer one fancy index (benchmarks/scale_bench.py, 1M images).

What it holds is what library.db held when each look was read. The library empties it whenever
it loads its index again, so a process's looks and its index's vectors always describe the
same catalog: a change another process writes is seen by both at the next load, not by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

KEPT = 100_000  # looks kept; 192 float32 each, so at most about 77 MB


class LookCache:
    def __init__(self, read: Callable[[Sequence[int]], np.ndarray], kept: int = KEPT):
        self._read = read  # ids -> one look per id, in the order asked (zeros where none)
        self._kept = kept
        self._row: dict[int, int] = {}  # image id -> its row of _rows
        self._clock = 0  # asks counted so far, what _used is measured in
        self.clear()

    def __len__(self) -> int:
        return len(self._row)

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """One look per id, in the order asked: kept ones from memory, the rest read once."""
        ids = [int(i) for i in ids]
        if not ids:
            return self._read([])
        where = [self._row.get(i, -1) for i in ids]
        missing = list(dict.fromkeys(i for i, at in zip(ids, where) if at < 0))
        read = self._read(missing) if missing else None
        # ask order is use order: the last id asked is the most recently used
        asked = self._clock + np.arange(len(ids), dtype=np.int64)
        self._clock += len(ids)
        where = np.asarray(where, np.int64)
        hits = where >= 0
        self._used[where[hits]] = asked[hits]
        if read is None:
            return self._rows[where]
        out = np.empty((len(ids), read.shape[1]), np.float32)
        if hits.any():
            out[hits] = self._rows[where[hits]]
        fresh = {image_id: n for n, image_id in enumerate(missing)}
        out[~hits] = read[[fresh[i] for i, hit in zip(ids, hits.tolist()) if not hit]]
        self._keep(missing, read, {i: t for i, t in zip(ids, asked.tolist())}, where[hits])
        return out

    def _keep(self, ids: list[int], looks: np.ndarray, asked: dict[int, int],
              busy: np.ndarray) -> None:
        """Keep newly read looks in free rows, else in the rows used longest ago (never in a
        row this ask used: `busy`)."""
        if self._rows.shape[1] != looks.shape[1]:
            self.clear(width=looks.shape[1])
        fresh = min(len(ids), self._kept - self._fresh)
        free = np.concatenate([np.asarray(self._free, np.int64),
                               np.arange(self._fresh, self._fresh + fresh, dtype=np.int64)])
        self._free, self._fresh = [], self._fresh + fresh
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
                for image_id in self._ids[old].tolist():
                    del self._row[image_id]
                self._ids[old] = -1
                free = np.concatenate([free, old])
        n = min(len(ids), len(free))  # fewer only when one ask holds more than `kept` ids
        at = free[:n]
        self._free = free[n:].tolist()
        self._rows[at] = looks[:n]
        self._ids[at] = ids[:n]
        self._used[at] = [asked[i] for i in ids[:n]]
        self._row.update(zip(ids[:n], at.tolist()))

    def clear(self, width: int = 0) -> None:
        """Keep nothing; with a width, room for `kept` looks that wide, allocated at once
        (np.zeros takes pages the system only backs once written)."""
        self._row.clear()
        self._rows = np.zeros((self._kept if width else 0, width), np.float32)  # the looks
        self._ids = np.full(len(self._rows), -1, np.int64)  # each row's image id (-1: free)
        self._used = np.zeros(len(self._rows), np.int64)  # when each row was last asked for
        self._fresh = 0  # rows from here on were never written
        self._free: list[int] = []  # rows written once and free again
