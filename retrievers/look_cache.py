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
KEPT of them, least recently used dropped first.

What it holds is what library.db held when each look was read. The library empties it whenever
it loads its index again, so a process's looks and its index's vectors always describe the
same catalog: a change another process writes is seen by both at the next load, not by one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

KEPT = 100_000  # looks kept; 192 float32 each, so at most about 77 MB


class LookCache:
    def __init__(self, read: Callable[[Sequence[int]], np.ndarray], kept: int = KEPT):
        self._read = read  # ids -> one look per id, in the order asked (zeros where none)
        self._kept = kept
        self._looks: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._looks)

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """One look per id, in the order asked: kept ones from memory, the rest read once."""
        ids = [int(i) for i in ids]
        missing = [i for i in dict.fromkeys(ids) if i not in self._looks]
        if missing:
            # copies: a row kept as a view would keep its whole batch alive
            self._looks.update((i, row.copy()) for i, row in zip(missing, self._read(missing)))
        if not ids:
            return self._read([])
        out = np.stack([self._looks[i] for i in ids])
        for image_id in ids:
            self._looks.move_to_end(image_id)
        while len(self._looks) > self._kept:
            self._looks.popitem(last=False)
        return out

    def clear(self) -> None:
        self._looks.clear()
