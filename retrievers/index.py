"""A vector index of L2-normalised embeddings keyed by library row id (FAISS, inner product).

The interface is kept narrow (add, remove, search, vectors, ids, save, load) so that a
distributed engine such as Milvus can implement it later without the callers changing.

Design decisions:
- Layout by size. Up to `exact_threshold` vectors the index is exact (`IDMap2,Flat`); above it,
  `IVF{nlist},Flat` trained on the data itself. HNSW was rejected: 0.78-0.90 recall@10 on
  near-tied CLIP-like data (shared/FACTS.md), and faiss HNSW cannot remove ids. IVF,Flat
  stores full vectors, so within the probed lists it is exact and recall depends on nprobe only.
  The layout follows the size as it changes: an exact index that grows past the threshold is
  rebuilt as IVF inside the `add` that crosses it; an IVF index is rebuilt as exact below half
  the threshold, and retrained when it has grown so much that its nlist is half what the rule
  asks for. The halves are hysteresis, so an index near a boundary does not flip back and forth.
- Measured with benchmarks/index_bench.py: 512-d CLIP-like clustered unit vectors, 200 fresh
  queries, faiss-cpu 1.15.1, 2 CPU cores shared with other jobs (load 3-4: timings pessimistic):

      n     exact build  single  batched | IVF nlist  build  nprobe 8    16     32     128
      100k       0.2 s   10 ms   4.1 ms  |      1265   9 s   r@10 0.907 0.998  1.000  1.000
                                         |                   ms   0.15  0.16   0.28   0.95
      1M         4.7 s  147 ms    56 ms  |      4000 162 s   r@10 0.992 0.997  0.998  1.000
                                         |                   ms   0.30  0.49   0.81   2.62

  So exact single queries pass 10 ms at 100k vectors: that is the threshold. nprobe 32 keeps
  recall@10 >= 0.998 with margin (0.907 at nprobe 8 on 100k) for under 1 ms. Recall of a
  1000-candidate pool is lower at nprobe 32 (0.935 at 100k, 0.881 at 1M; 0.955 at nprobe 128):
  a caller that needs the whole top-1000 should raise nprobe.
- Re-measured with the pools at one thread (retrievers/threads.py; the table above ran faiss's
  OpenMP and OpenBLAS pools two-wide, fighting torch's and numpy's for 2 cores). Exact single
  queries, 512-d unit vectors, median of 50, both settings in one run on a loaded machine:

      n          20k     100k    200k    400k
      1 thread   3.6 ms  17 ms   66 ms   135 ms
      2 threads  36 ms   84 ms   131 ms  252 ms

  The same run put the old 100k two-thread query at 84 ms (10 ms quiet, so this run was ~8x
  slow): one thread at 200k (66 ms) is still faster than what the old threshold accepted, so
  the threshold is 200k. Indexes already IVF between 100k and 200k stay IVF until they fall
  below half of it (the hysteresis above); nothing is rebuilt because of the change.
- `exclude` is done by over-fetching k + (number of excluded ids present) and filtering, not with
  a faiss IDSelector: it is exact, works unchanged on GPU indexes (not all of which take
  selectors), and the ids people exclude in a conversation are few.
- The CPU index is the single source of truth. On a GPU machine a copy for searching is made
  lazily at the first search, so vectors/save never touch the GPU and `save` always writes the
  CPU form (files are the same whichever backend searched them).
- Search backends (`search_backend`): "faiss-gpu" where faiss has a GPU build and sees a GPU;
  else "torch-cuda" where torch sees CUDA (retrievers/torch_search.py: fp16 vectors on the GPU,
  matrix product and top-k); else "faiss-cpu". `use_gpu` keeps its meaning for all of them (None:
  the first that the machine has; True: a GPU one or an error; False: the CPU), and
  `search_backend` in the config insists on one ("torch-cpu" runs the torch code on the CPU, for
  tests and comparisons). The choice waits for the first search, and it asks torch only where
  an NVIDIA driver is installed (retrievers/search_backend.py), so a CPU-only search never imports
  torch (1.1 s) and an `index` run that searches nothing never does either.
- The faiss-gpu copy is remade after each change (index_cpu_to_gpu); searches asking for more
  than faiss's GPU limit of 2048 results use the CPU index. The torch copy is kept level instead:
  add and remove are forwarded to it (a copy of the changed rows), and a change of layout keeps
  it (same vectors). It is exact whatever the layout, so an IVF library searched on a GPU through
  torch gets exact results rather than nprobe's, with no limit on k; and `exclude` is applied on
  the device (scores set to -inf), not by over-fetching. Should forwarding a change fail (out of
  GPU memory), the copy is dropped and rebuilt at the next search.
- Our own sorted id array answers `ids()`, `__contains__` and `__len__` in O(log n) without
  walking IVF inverted lists; it is rebuilt from the index on `load`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from retrievers import search_backend as backends
from retrievers.atomic_file import replacing

if TYPE_CHECKING:
    from retrievers.torch_search import TorchExactSearch

# faiss GPU k-selection handles at most this many results per query.
_GPU_MAX_K = 2048
# Stored vectors must be unit length within this tolerance; fp16 encoders land within 1e-3.
_NORM_TOLERANCE = 1e-2
# Below this many training points per list faiss warns on stderr and k-means gets noisy.
_MIN_POINTS_PER_LIST = 39
# Vectors read back from the CPU index per step when the torch copy is made (bounds the fp32
# staging on the host: 2 GB at 512-d, not 20 GB for 10M vectors).
_COPY_ROWS = 1 << 20


class VectorIndexError(ValueError):
    """Bad input to a VectorIndex, or an index file that cannot be used; says what to do."""

    def __init__(self, problem: str, *, value: object = None, fix: str = "") -> None:
        self.problem = problem
        self.value = value
        self.fix = fix
        super().__init__(f"{problem}. {fix}" if fix else problem)


@dataclass(frozen=True)
class IndexConfig:
    # Above this many vectors the index is approximate (IVF); at or below, exact: with one
    # thread an exact query at 200k costs less than one at 100k did with two (docstring).
    exact_threshold: int = 200_000
    # IVF list count = this × sqrt(n), the usual FAISS rule (about 4000 lists at 1M vectors).
    nlist_per_sqrt_n: float = 4.0
    # IVF lists probed per query; 32 gives recall@10 0.998-1.0 on clustered data up to 1M.
    nprobe: int = 32
    # k-means trains on at most this many sampled vectors per list (faiss's default is 256).
    # At 200k x 512, 64 halves the build (26 s vs 55 s) with the same recall (1.000 at
    # nprobe 32, 0.922 vs 0.923 for a 1000 pool); 39 saves only 3 s more.
    train_points_per_list: int = 64
    # Search on a GPU: None = when faiss or torch sees one (RUMMAGE_GPU=0 says never);
    # True = require one; False = never.
    use_gpu: bool | None = None
    # One of backends.NAMES to insist on (an error where it is missing); None = by use_gpu.
    search_backend: str | None = None

    def __post_init__(self) -> None:
        for name in ("exact_threshold", "nprobe", "train_points_per_list"):
            if getattr(self, name) < 1:
                raise VectorIndexError(
                    f"IndexConfig.{name} must be >= 1, got {getattr(self, name)!r}",
                    value=getattr(self, name),
                )
        if self.nlist_per_sqrt_n <= 0:
            raise VectorIndexError(
                f"IndexConfig.nlist_per_sqrt_n must be > 0, got {self.nlist_per_sqrt_n!r}",
                value=self.nlist_per_sqrt_n,
            )
        backend = self.search_backend
        if backend is not None and backend not in backends.NAMES:
            raise VectorIndexError(
                f"IndexConfig.search_backend must be one of {backends.NAMES}, got {backend!r}",
                value=backend,
            )
        wants_gpu = backend is not None and backends.on_gpu(backend)
        if backend is not None and self.use_gpu is not None and self.use_gpu != wants_gpu:
            raise VectorIndexError(
                f"IndexConfig.search_backend={backend!r} contradicts use_gpu={self.use_gpu}",
                value=backend,
                fix="set one of the two",
            )

    def relayout(self, nlist: int, n: int) -> bool:
        """Whether an index of nlist lists (0: exact) is rebuilt on reaching n vectors."""
        wanted = self.nlist_for(n)
        if nlist == 0:
            return wanted > 0
        return n < self.exact_threshold // 2 or (wanted > 0 and nlist * 2 < wanted)

    def nlist_for(self, n: int) -> int:
        """IVF lists for n vectors; 0 means the exact layout."""
        if n <= self.exact_threshold:
            return 0
        by_rule = round(self.nlist_per_sqrt_n * math.sqrt(n))
        return max(1, min(by_rule, n // _MIN_POINTS_PER_LIST))


class VectorIndex:
    """Inner-product search over unit vectors, each stored under an int64 id (a library row)."""

    def __init__(self, dim: int, *, config: IndexConfig = IndexConfig()) -> None:
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise VectorIndexError(f"dim must be a positive integer, got {dim!r}", value=dim)
        self.dim = int(dim)
        self.config = config
        self._index = _exact_index(self.dim)
        self._ids = np.empty(0, dtype=np.int64)
        self._gpu_index = None
        self._gpu_resources = None
        self._torch_copy: TorchExactSearch | None = None
        # Asked for explicitly: fail now, not at the first search.
        explicit = config.use_gpu or config.search_backend is not None
        self._backend = _resolve_backend(config) if explicit else None

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, *, config: IndexConfig = IndexConfig()
    ) -> VectorIndex:
        """An index of these vectors, exact or IVF (trained on them) by their number."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise VectorIndexError(
                f"vectors must be a 2-d array (n, dim), got shape {vectors.shape}",
                value=vectors.shape,
            )
        index = cls(vectors.shape[1], config=config)
        ids, vectors = index._check_pairs(ids, vectors)
        index._rebuild(ids, vectors)
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store vectors under ids; an id already present gets the new vector.

        The add that takes the index past `exact_threshold` rebuilds it as IVF: k-means on a
        sample, then every vector re-added (9 s at 100k x 512 on 2 busy cores, 160 s at 1M).
        """
        ids, vectors = self._check_pairs(ids, vectors)
        if len(ids) == 0:
            return
        self._drop(ids)
        self._index.add_with_ids(vectors, ids)
        # A sorted merge is O(n); union1d would sort everything again on every batch.
        new = np.sort(ids)
        self._ids = np.insert(self._ids, np.searchsorted(self._ids, new), new)
        self._forward("add", ids, vectors)
        self._changed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Forget these ids; ids not present are ignored. Returns how many were removed."""
        removed = self._drop(ids_array(ids))
        if removed:
            self._changed()
        return removed

    # -- reading -------------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, *, exclude: Collection[int] = (),
        vectors: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """The k stored vectors with the highest inner product with each query.

        Returns (scores, ids), both (n_queries, k), best first; rows are padded with -inf / -1
        when fewer than k vectors qualify. Excluded ids never appear, and rows stay k long as
        long as k other vectors exist. With vectors=True a third array holds the found vectors,
        (n_queries, k, dim), zeros where padded: on the CPU they are read by the search itself
        (FAISS `search_and_reconstruct`: 0.42 ms for k=400 at 1M images where searching, then
        reading them by id, took 0.34 + 0.45 ms), since a rerank needs them next.
        """
        queries = self._check_queries(queries)
        scores, found = empty_answer(len(queries), k)
        k = scores.shape[1]
        if len(self._ids) == 0 or len(queries) == 0:
            return with_vectors(self, scores, found) if vectors else (scores, found)
        excluded = self._present(ids_array(exclude)) if len(exclude) else np.empty(0, np.int64)
        if self.search_backend.startswith("torch"):
            scores, found = self._torch_searcher().search(queries, k, exclude=excluded)
            return with_vectors(self, scores, found) if vectors else (scores, found)
        fetch = min(k + len(excluded), len(self._ids))
        searcher = self._searcher(fetch)
        raw_vectors = None
        if vectors and searcher is self._index:
            raw_scores, raw_ids, raw_vectors = searcher.search_and_reconstruct(queries, fetch)
        else:
            raw_scores, raw_ids = searcher.search(queries, fetch)
        if len(excluded):
            # `excluded` is sorted (np.unique): one binary search per found id; np.isin sorted
            # both arrays, 63 us against 9 for 430 found and 30 excluded
            at = np.minimum(np.searchsorted(excluded, raw_ids), len(excluded) - 1)
            drop = excluded[at] == raw_ids
            raw_ids[drop] = -1
            # A stable sort on "dropped" moves survivors to the front and keeps their order.
            order = np.argsort(drop, axis=1, kind="stable")
            rows = np.arange(len(order))[:, None]
            raw_ids, raw_scores = raw_ids[rows, order], raw_scores[rows, order]
            if raw_vectors is not None:
                # whole rows by two index arrays: take_along_axis built an index per element
                # and cost 0.3 ms for 430 candidates of 128 dimensions
                raw_vectors = raw_vectors[rows, order]
        width = min(k, fetch)
        found[:, :width] = raw_ids[:, :width]
        scores[:, :width] = np.where(found[:, :width] >= 0, raw_scores[:, :width], -np.inf)
        if not vectors:
            return scores, found
        if raw_vectors is None:
            return with_vectors(self, scores, found)
        out = np.zeros((len(queries), k, self.dim), np.float32)
        out[:, :width] = raw_vectors[:, :width]
        out[found < 0] = 0
        return scores, found, out

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, (n, dim) float32, in the order asked."""
        ids = ids_array(ids)
        missing = ids[~self._has(ids)]
        if len(missing):
            raise VectorIndexError(
                f"ids not in the index: {_preview(missing)}",
                value=missing,
                fix="ask only for ids from ids()",
            )
        if len(ids) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    def ids(self) -> np.ndarray:
        """Every stored id, ascending."""
        return self._ids.copy()

    @property
    def kind(self) -> str:
        """The layout in use now: "exact" or "ivf"."""
        return "exact" if isinstance(self._index, faiss.IndexIDMap2) else "ivf"

    @property
    def nlist(self) -> int:
        """The IVF lists it was trained with; 0 for the exact layout."""
        return 0 if self.kind == "exact" else int(self._index.nlist)

    @property
    def search_backend(self) -> str:
        """What searches run on: "faiss-cpu", "faiss-gpu", "torch-cuda" or "torch-cpu" (see the
        module docstring). Decided at the first search or the first time this is read."""
        if self._backend is None:
            self._backend = _resolve_backend(self.config)
        return self._backend

    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU."""
        return backends.on_gpu(self.search_backend)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, row_id: object) -> bool:
        if not isinstance(row_id, (int, np.integer)):
            return False
        return bool(self._has(np.array([row_id], dtype=np.int64))[0])

    def __repr__(self) -> str:
        return f"VectorIndex(dim={self.dim}, n={len(self)}, kind={self.kind!r})"

    # -- files ---------------------------------------------------------------------------------

    def save(self, path: Path) -> str:
        """Write the index to path atomically: a crash leaves the old file or the new one.

        Returns the sha256 of the bytes written, hashed as they are written rather than read
        back (0.08-0.1 s for the 108 MB file of 200k 128-d vectors)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with replacing(path) as f:

            def write(chunk: bytes) -> int:
                digest.update(chunk)
                return f.write(chunk)

            writer = faiss.PyCallbackIOWriter(write)
            faiss.write_index(self._index, writer)
            del writer  # flushes its last chunk
        return digest.hexdigest()

    @classmethod
    def load(cls, path: Path, *, config: IndexConfig = IndexConfig()) -> VectorIndex:
        """Read an index written by `save`; config sets the search and growth behaviour."""
        path = Path(path)
        if not path.is_file():
            raise VectorIndexError(
                f"no index file at {path}",
                value=path,
                fix="build the library first (rummage index ...)",
            )
        try:
            stored = faiss.read_index(str(path))
        except RuntimeError as e:
            raise VectorIndexError(
                f"{path} is not a readable FAISS index",
                value=path,
                fix="delete it and rebuild the library",
            ) from e
        if isinstance(stored, faiss.IndexIDMap2):
            ids = faiss.vector_to_array(stored.id_map).astype(np.int64)
        elif isinstance(stored, faiss.IndexIVFFlat):
            ids = _ivf_ids(stored)
            stored.nprobe = config.nprobe
        else:
            raise VectorIndexError(
                f"{path} holds a {type(stored).__name__}, not an index written by VectorIndex",
                value=path,
                fix="delete it and rebuild the library",
            )
        if stored.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise VectorIndexError(
                f"{path} does not use inner product",
                value=path,
                fix="delete it and rebuild the library",
            )
        index = cls(stored.d, config=config)
        index._index = stored
        index._ids = np.sort(ids)
        return index

    # -- internals -----------------------------------------------------------------------------

    def _rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with a fresh index of the layout the size calls for."""
        nlist = self.config.nlist_for(len(ids))
        if nlist == 0:
            index = _exact_index(self.dim)
        else:
            index = faiss.index_factory(self.dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
            sample = min(len(vectors), nlist * self.config.train_points_per_list)
            index.cp.max_points_per_centroid = self.config.train_points_per_list
            # A seeded sample keeps builds reproducible.
            pick = np.random.default_rng(0).choice(len(vectors), size=sample, replace=False)
            index.train(vectors[np.sort(pick)])
            # Hashtable direct map: reconstruct and remove_ids by arbitrary int64 id.
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = self.config.nprobe
        if len(ids):
            index.add_with_ids(vectors, ids)
        self._index = index
        self._ids = np.sort(ids)
        self._gpu_index = None  # the torch copy stays: a new layout holds the same vectors

    def _changed(self) -> None:
        self._gpu_index = None
        if self.config.relayout(self.nlist, len(self._ids)):
            self._rebuild(self._ids, self._index.reconstruct_batch(self._ids))

    def _drop(self, ids: np.ndarray) -> int:
        present = self._present(ids)
        if len(present) == 0:
            return 0
        self._index.remove_ids(present)
        self._ids = np.delete(self._ids, np.searchsorted(self._ids, present))
        self._gpu_index = None
        self._forward("remove", present)
        return len(present)

    def _forward(self, change: str, *args: np.ndarray) -> None:
        """Apply a change to the torch copy too, if there is one."""
        if self._torch_copy is None:
            return
        try:
            getattr(self._torch_copy, change)(*args)
        except RuntimeError:  # out of GPU memory, most likely: the next search rebuilds it
            self._torch_copy = None

    def _torch_searcher(self) -> TorchExactSearch:
        if self._torch_copy is None:
            from retrievers.torch_search import TorchExactSearch

            device = "cuda" if self.search_backend == "torch-cuda" else "cpu"
            copy = TorchExactSearch(self.dim, device=device)
            copy.reserve(len(self._ids))
            for start in range(0, len(self._ids), _COPY_ROWS):
                ids = self._ids[start:start + _COPY_ROWS]
                copy.add(ids, self._index.reconstruct_batch(ids))
            self._torch_copy = copy
        return self._torch_copy

    def _has(self, ids: np.ndarray) -> np.ndarray:
        if len(self._ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        at = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return self._ids[at] == ids

    def _present(self, ids: np.ndarray) -> np.ndarray:
        return np.unique(ids[self._has(ids)])

    def _searcher(self, k: int):
        if self.search_backend != "faiss-gpu" or k > _GPU_MAX_K:
            return self._index
        if self._gpu_index is None:
            if self._gpu_resources is None:
                self._gpu_resources = faiss.StandardGpuResources()
            gpu = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self._index)
            if self.kind == "ivf":
                faiss.GpuParameterSpace().set_index_parameter(gpu, "nprobe", self._index.nprobe)
            self._gpu_index = gpu
        return self._gpu_index

    def _check_pairs(self, ids, vectors) -> tuple[np.ndarray, np.ndarray]:
        return check_pairs(ids, vectors, self.dim)

    def _check_queries(self, queries) -> np.ndarray:
        return check_queries(queries, self.dim)


def _resolve_backend(config: IndexConfig) -> str:
    gpus = faiss.get_num_gpus() if hasattr(faiss, "StandardGpuResources") else 0
    wanted = config.search_backend
    if wanted is None:
        chosen = backends.choose(config.use_gpu, env=backends.gpu_env(), faiss_gpus=gpus,
                                driver=backends.driver_present(),
                                torch_cuda=backends.torch_sees_cuda)
        if chosen is not None:
            return chosen
        problem = "use_gpu=True but neither faiss nor torch sees a CUDA GPU"
    elif wanted == "faiss-gpu" and gpus == 0:
        problem = "search_backend='faiss-gpu' but faiss sees no GPU"
    elif wanted == "torch-cuda" and not backends.torch_sees_cuda():
        problem = "search_backend='torch-cuda' but torch sees no CUDA GPU"
    else:
        return wanted
    raise VectorIndexError(
        problem,
        value=config,
        fix="install faiss-gpu-cu12 (or a CUDA build of torch) on a CUDA 12 machine, or leave "
        "use_gpu=None to pick automatically",
    )


def _exact_index(dim: int) -> faiss.Index:
    return faiss.index_factory(dim, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT)


def _ivf_ids(index: faiss.IndexIVF) -> np.ndarray:
    lists = index.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(index.nlist)
        if lists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)


def ids_array(ids) -> np.ndarray:
    """Row ids as a 1-d int64 array, from any sequence or set of ints."""
    if isinstance(ids, (set, frozenset)) or not hasattr(ids, "__len__"):
        ids = list(ids)
    arr = np.atleast_1d(np.asarray(ids))
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise VectorIndexError(
            f"ids must be a 1-d sequence of integers, got {arr.dtype} with shape {arr.shape}",
            value=arr,
            fix="pass library row ids as ints",
        )
    return arr.astype(np.int64, copy=False)


def _finite(x: np.ndarray, name: str) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.number):
        raise VectorIndexError(f"{name} must be numeric, got dtype {x.dtype}", value=x.dtype)
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise VectorIndexError(
            f"{name} row {int(np.flatnonzero(bad)[0])} has NaN or inf "
            f"values ({int(bad.sum())} such rows)",
            value=np.flatnonzero(bad),
            fix="check the encoder output for this image or text",
        )
    return x


def with_vectors(index, scores: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, ...]:
    """(scores, found) with the found ids' vectors read by id, zeros where padded: the
    `search(vectors=True)` of a backend that cannot read them while searching."""
    out = np.zeros((*found.shape, index.dim), np.float32)
    real = found >= 0
    if real.any():
        out[real] = index.vectors(found[real])
    return scores, found, out


def _preview(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:limit].tolist())
    return f"[{shown}{', ...' if len(values) > limit else ''}] ({len(values)} in all)"


def check_pairs(ids, vectors, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """ids and vectors as every store takes them: int64 ids >= 0, each once, and finite unit
    vectors of width dim, renormalised exactly; else a VectorIndexError saying what is wrong."""
    ids = ids_array(ids)
    vectors = _rows(vectors, dim, "vectors", f"(n, {dim})",
                    f"use the encoder this index was built with ({dim}-d)")
    if len(ids) != len(vectors):
        raise VectorIndexError(
            f"{len(ids)} ids for {len(vectors)} vectors",
            value=(len(ids), len(vectors)),
            fix="pass one id per vector",
        )
    if np.any(ids < 0):
        raise VectorIndexError(
            f"ids must be >= 0 (-1 marks padding), got {_preview(ids[ids < 0])}",
            value=ids[ids < 0],
        )
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) != len(ids):
        raise VectorIndexError(
            f"ids repeated in one call: {_preview(unique[counts > 1])}",
            value=unique[counts > 1],
            fix="pass each id once",
        )
    vectors = _finite(vectors, "vectors")
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1) > _NORM_TOLERANCE)
    if len(bad):
        raise VectorIndexError(
            f"vectors must be L2-normalised; id {ids[bad[0]]} has norm {norms[bad[0]]:.4g}",
            value=ids[bad],
            fix="divide each vector by np.linalg.norm(v)",
        )
    # Renormalising exactly keeps self-similarity at 1.0 for vectors that came from fp16.
    return ids, np.ascontiguousarray(vectors / norms[:, None], dtype=np.float32)


def empty_answer(n: int, k) -> tuple[np.ndarray, np.ndarray]:
    """What every store's search of n queries for k results starts from, once k is checked:
    (n, k) scores of -inf and ids of -1, the padding left where fewer than k qualify."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise VectorIndexError(f"k must be a positive integer, got {k!r}", value=k)
    return (np.full((n, int(k)), -np.inf, dtype=np.float32),
            np.full((n, int(k)), -1, dtype=np.int64))


def check_queries(queries, dim: int) -> np.ndarray:
    """Queries as every store takes them: (n, dim) finite float32."""
    queries = _rows(queries, dim, "queries", f"({dim},) or (n, {dim})",
                    f"encode queries with the model this index was built with ({dim}-d)")
    return np.ascontiguousarray(_finite(queries, "queries"), dtype=np.float32)


def _rows(x, dim: int, name: str, shape: str, fix: str) -> np.ndarray:
    """x as a 2-d array of rows of width dim (one row may come as a 1-d array)."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2 or x.shape[1] != dim:
        raise VectorIndexError(f"{name} must have shape {shape}, got {x.shape}", value=x.shape,
                               fix=fix)
    return x
