"""Exact inner-product search in torch: unit vectors resident on a device (a CUDA GPU in use),
a matrix product and top-k per batch of queries; the GPU search where faiss has no GPU build.

Design decisions:
- Exact, whatever the library's FAISS layout: a batch reads every vector once, 10 GB at 10M x
  512 in fp16, about 2 ms at an H200's 4.8 TB/s (an estimate, not measured), so an IVF library
  searched here gets exact results, not nprobe's.
- fp16 storage on CUDA (half the memory and the bandwidth of fp32), scores in fp32: the product
  runs with `torch.mm(..., out_dtype=torch.float32)`, fp32 accumulation and an fp32 result. An
  fp16 result would round scores near 0.8 to steps of 0.0005, tying the near-neighbours of
  CLIP-like data; what is left is the rounding of the stored vectors and the query to fp16.
  On the CPU (and wherever that op is missing) an fp16 copy is multiplied after widening each
  chunk to fp32, which gives the same numbers (products of fp16 values are exact in fp32), so
  the CPU tests check the arithmetic the GPU does. fp32 is the CPU default.
- Rows in chunks: the scores of 64 queries against 10M vectors would be 2.5 GB of fp32. Each
  chunk of at most 2^20 rows (and 256 MB of scores) gives its own top-k; one more top-k over the
  chunks' winners (n_chunks x k per query) merges them.
- Exclusion is exact on the device: the excluded rows' scores are set to -inf before top-k, so
  no over-fetch is needed, and a score of -inf marks padding (stored scores are finite).
- Removal compacts: the last rows move into the holes, so the stored rows are always dense and
  a search is a plain product with no mask to apply. A removal copies as many rows as it removes.
  The row of each id is kept on the host in a sorted id array (O(n) per change, like VectorIndex's
  own id list; 240 MB of int64 at 10M).
- Storage grows by a quarter at a time (at least 1024 rows), so a stream of small adds does not
  copy the whole matrix each time; a bulk load calls `reserve` first and allocates once.
- Measured with benchmarks/gpu_search.py on the 2-core machine, which has no GPU: 512-d unit
  vectors, k=10, one thread each, ms per query (torch fp32 on the CPU against FAISS IndexFlatIP):

      n     data    torch batch 1  FAISS batch 1 | torch batch 64  FAISS batch 64 | recall@10
      100k  random      18.8           14.5      |      3.04           15.9       |   1.000
      100k  CLIP-like   16.1           12.8      |      2.05           15.4       |   1.000
      1M    random     149            111        |     47.5           127         |   1.000

  Single queries are no faster than FAISS on a CPU, so torch is never chosen there. The GPU's
  arithmetic (fp16 vectors, fp32 scores), run on the CPU by `dtype=torch.float16`, agrees with
  FAISS on recall@10 0.9995 (random, 100k), 1.000 (CLIP-like, 100k) and 0.9971 (random, 1M):
  the misses are near-ties, and random 512-d data, whose top scores lie close together, is the
  worst case. GPU timings at 1M and 10M are not measured yet: run the benchmark on a GPU
  machine (`--sizes 1000000 10000000`).
"""

from __future__ import annotations

import numpy as np
import torch

# Rows per chunk of a search: bounds the scores held at once and the fp32 widening of fp16.
_CHUNK_ROWS = 1 << 20
# Scores held at once per chunk, bytes (fp32): 64 queries x 2^20 rows.
_SCORE_BYTES = 256 << 20
# Vectors copied to the device per step when adding many (bounds the host-side fp32 staging).
_UPLOAD_ROWS = 1 << 20


class TorchExactSearch:
    """Exact top-k by inner product over int64-keyed vectors held on one torch device."""

    def __init__(self, dim: int, *, device: str | torch.device = "cuda",
                 dtype: torch.dtype | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim!r}")
        self.dim = int(dim)
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        self.dtype = dtype or (torch.float16 if on_gpu else torch.float32)
        self._vectors = torch.empty((0, self.dim), dtype=self.dtype, device=self.device)
        self._n = 0
        self._row_ids = np.empty(0, dtype=np.int64)  # id of each stored row
        self._sorted_ids = np.empty(0, dtype=np.int64)
        self._sorted_rows = np.empty(0, dtype=np.int64)  # row of each id in _sorted_ids
        # Whether torch.mm can return fp32 from fp16 inputs here; None until first tried.
        self._mm_out_fp32 = None if on_gpu and self.dtype != torch.float32 else False

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"TorchExactSearch(dim={self.dim}, n={self._n}, {self.device}, {self.dtype})"

    # -- changes -------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store vectors under ids; an id already present gets the new vector."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids repeated in one call")
        present, rows = self._rows_of(ids)
        if present.any():
            self._vectors[self._on_device(rows)] = self._on_device(vectors[present])
        new_ids, new_vectors = ids[~present], vectors[~present]
        if len(new_ids) == 0:
            return
        start, end = self._n, self._n + len(new_ids)
        if end > len(self._vectors):
            self.reserve(max(end, len(self._vectors) * 5 // 4, 1024))
        for s in range(0, len(new_ids), _UPLOAD_ROWS):
            part = np.ascontiguousarray(new_vectors[s:s + _UPLOAD_ROWS])
            self._vectors[start + s:start + s + len(part)].copy_(torch.from_numpy(part))
        self._n = end
        self._row_ids = np.concatenate([self._row_ids, new_ids])
        order = np.argsort(new_ids)
        at = np.searchsorted(self._sorted_ids, new_ids[order])
        self._sorted_ids = np.insert(self._sorted_ids, at, new_ids[order])
        self._sorted_rows = np.insert(self._sorted_rows, at, np.arange(start, end)[order])

    def remove(self, ids: np.ndarray) -> int:
        """Forget these ids; ids not present are ignored. Returns how many were removed."""
        ids = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        present, rows = self._rows_of(ids)
        if not present.any():
            return 0
        keep = self._n - len(rows)
        holes = np.sort(rows[rows < keep])
        tail = np.arange(keep, self._n)
        movers = tail[~np.isin(tail, rows)]  # as many as there are holes
        if len(holes):
            self._vectors[self._on_device(holes)] = self._vectors[self._on_device(movers)]
            self._row_ids[holes] = self._row_ids[movers]
        self._row_ids = self._row_ids[:keep]
        gone = np.searchsorted(self._sorted_ids, ids[present])
        self._sorted_ids = np.delete(self._sorted_ids, gone)
        self._sorted_rows = np.delete(self._sorted_rows, gone)
        if len(holes):
            self._sorted_rows[np.searchsorted(self._sorted_ids, self._row_ids[holes])] = holes
        self._n = keep
        return len(rows)

    def reserve(self, rows: int) -> None:
        """Make room for this many vectors at once (a bulk load: one allocation, not one per
        quarter of growth, each briefly holding the old and the new matrix)."""
        capacity = len(self._vectors)
        if rows <= capacity:
            return
        grown = torch.empty((rows, self.dim), dtype=self.dtype, device=self.device)
        grown[:self._n] = self._vectors[:self._n]
        self._vectors = grown

    # -- search --------------------------------------------------------------------------------

    @torch.inference_mode()
    def search(self, queries: np.ndarray, k: int, *,
               exclude: np.ndarray | list[int] | tuple[int, ...] = ()) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """The k stored vectors with the highest inner product with each query.

        Returns (scores, ids), (n_queries, k) float32 and int64, best first, padded with -inf /
        -1 when fewer than k vectors qualify. Excluded ids never appear, and rows stay k long
        as long as k other vectors exist.
        """
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        found = np.full((len(queries), k), -1, dtype=np.int64)
        if self._n == 0 or len(queries) == 0:
            return scores, found
        _, excluded = self._rows_of(np.asarray(list(exclude), dtype=np.int64))
        excluded = self._on_device(np.sort(excluded))
        q = self._on_device(queries)
        width = min(k, self._n)
        step = max(width, min(_CHUNK_ROWS, _SCORE_BYTES // (4 * len(queries))))
        best_scores, best_rows = [], []
        for start in range(0, self._n, step):
            end = min(self._n, start + step)
            chunk = self._scores(q, self._vectors[start:end])
            inside = excluded[(excluded >= start) & (excluded < end)]
            if len(inside):
                chunk[:, inside - start] = -torch.inf
            top = torch.topk(chunk, min(width, end - start), dim=1)
            best_scores.append(top.values)
            best_rows.append(top.indices + start)
        top_scores, top_rows = torch.cat(best_scores, 1), torch.cat(best_rows, 1)
        if len(best_scores) > 1:
            merged = torch.topk(top_scores, width, dim=1)
            top_scores, top_rows = merged.values, torch.gather(top_rows, 1, merged.indices)
        top_scores, top_rows = top_scores.cpu().numpy(), top_rows.cpu().numpy()
        real = np.isfinite(top_scores)
        found[:, :width] = np.where(real, self._row_ids[top_rows], -1)
        scores[:, :width] = np.where(real, top_scores, -np.inf)
        return scores, found

    # -- internals -----------------------------------------------------------------------------

    def _scores(self, q: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """q @ rows.T in fp32."""
        if self._mm_out_fp32 is not False:
            try:
                out = torch.mm(q, rows.T, out_dtype=torch.float32)
                self._mm_out_fp32 = True
                return out
            except (RuntimeError, TypeError, NotImplementedError):
                if self._mm_out_fp32:
                    raise
                self._mm_out_fp32 = False  # an older torch or a card without the kernel
        if self.dtype == torch.float32:
            return q @ rows.T
        return q.float() @ rows.float().T

    def _rows_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(whether each id is stored, the rows of those that are)."""
        if len(self._sorted_ids) == 0 or len(ids) == 0:
            return np.zeros(len(ids), dtype=bool), np.empty(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_ids, ids), len(self._sorted_ids) - 1)
        present = self._sorted_ids[at] == ids
        return present, self._sorted_rows[at[present]]

    def _on_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        dtype = self.dtype if tensor.is_floating_point() else tensor.dtype
        return tensor.to(self.device, dtype=dtype)
