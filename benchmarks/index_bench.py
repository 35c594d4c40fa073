"""Benchmark of VectorIndex: exact vs IVF build time, query time and recall on CLIP-like data.

Run: python benchmarks/index_bench.py [--sizes 100000 1000000] [--dim 512] [--queries 200]
The data imitate CLIP embeddings: a Gaussian mixture (one cluster per --per-cluster vectors) in
a 64-d latent space, projected to --dim, plus isotropic noise and a direction shared by all, then
normalised. With the defaults a query's nearest neighbour has cosine ~0.8, random pairs ~0.33, and
a cluster spans several IVF lists, so neighbours straddle list boundaries as on real data.
Queries are fresh draws from the same mixture, not stored vectors. Recall@k is measured against
the exact index; "pool" recall is recall@--pool, the candidate list the reranker sees.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from retrievers.index import IndexConfig, VectorIndex


class ClipLikeData:
    """Draws CLIP-like unit vectors; see the module docstring for the shape of the data."""

    def __init__(
        self,
        dim: int,
        clusters: int,
        rng: np.random.Generator,
        *,
        latent: int = 64,
        within: float = 1.0,
        noise: float = 0.3,
        shared: float = 0.7,
    ) -> None:
        self.rng = rng
        self.projection = rng.standard_normal((latent, dim), dtype=np.float32) / np.sqrt(latent)
        self.centres = rng.standard_normal((clusters, latent), dtype=np.float32)
        common = rng.standard_normal(dim, dtype=np.float32)
        self.shared = shared * common / np.linalg.norm(common)
        self.within, self.noise = within, noise

    def draw(self, n: int, chunk: int = 100_000) -> np.ndarray:
        """n unit vectors, made in chunks to bound peak memory."""
        latent, dim = self.projection.shape
        out = np.empty((n, dim), dtype=np.float32)
        for start in range(0, n, chunk):
            m = min(n, start + chunk) - start
            which = self.rng.integers(0, len(self.centres), size=m)
            z = self.centres[which] + self.within * self.rng.standard_normal(
                (m, latent), dtype=np.float32
            )
            x = z @ self.projection + self.noise / np.sqrt(dim) * self.rng.standard_normal(
                (m, dim), dtype=np.float32
            )
            x = x / np.linalg.norm(x, axis=1, keepdims=True) + self.shared
            out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def per_query_ms(
    index: VectorIndex, queries: np.ndarray, k: int, single: int
) -> tuple[float, float]:
    """(median ms of one-at-a-time queries, ms per query when all are sent as one batch)."""
    index.search(queries[0], k)  # warm-up
    times = []
    for q in queries[:single]:
        start = time.perf_counter()
        index.search(q, k)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    index.search(queries, k)
    batched = (time.perf_counter() - start) / len(queries)
    return float(np.median(times) * 1e3), batched * 1e3


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size


def bench_size(n: int, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    world = ClipLikeData(args.dim, max(1, n // args.per_cluster), rng)
    data = world.draw(n)
    queries = world.draw(args.queries)
    ids = np.arange(n, dtype=np.int64) * 3 + 7  # row ids, deliberately not positions
    single = min(args.queries, args.single)
    row: dict = {"n": n, "dim": args.dim, "queries": args.queries, "k": args.k}

    start = time.perf_counter()
    exact = VectorIndex.build(ids, data, config=IndexConfig(exact_threshold=n, use_gpu=False))
    row["exact_build_s"] = time.perf_counter() - start
    row["exact_single_ms"], row["exact_batch_ms"] = per_query_ms(exact, queries, args.k, single)
    _, truth = exact.search(queries, args.pool)
    del exact

    config = IndexConfig(exact_threshold=1, use_gpu=False)
    start = time.perf_counter()
    approx = VectorIndex.build(ids, data, config=config)
    row["ivf_build_s"] = time.perf_counter() - start
    row["nlist"] = config.nlist_for(n)
    row["nprobe"] = []
    for nprobe in args.nprobe:
        # Private access on purpose: the sweep needs nprobe changed without rebuilding.
        approx._index.nprobe = nprobe
        single_ms, batch_ms = per_query_ms(approx, queries, args.k, single)
        _, found = approx.search(queries, args.pool)
        row["nprobe"].append(
            {
                "nprobe": nprobe,
                "single_ms": single_ms,
                "batch_ms": batch_ms,
                "recall_at_k": recall(found[:, : args.k], truth[:, : args.k]),
                "recall_at_pool": recall(found, truth),
            }
        )
    return row


def print_row(row: dict, pool: int) -> None:
    n = row["n"]
    print(
        f"\nn={n:,} dim={row['dim']}  exact: build {row['exact_build_s']:.1f} s, "
        f"single {row['exact_single_ms']:.2f} ms, batched {row['exact_batch_ms']:.2f} ms/query"
    )
    print(f"IVF{row['nlist']},Flat: build (train + add) {row['ivf_build_s']:.1f} s")
    print(
        f"  {'nprobe':>6} {'single ms':>10} {'batch ms/q':>11} "
        f"{'recall@' + str(row['k']):>10} {'recall@' + str(pool):>12}"
    )
    for r in row["nprobe"]:
        print(
            f"  {r['nprobe']:>6} {r['single_ms']:>10.2f} {r['batch_ms']:>11.3f} "
            f"{r['recall_at_k']:>10.3f} {r['recall_at_pool']:>12.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--single", type=int, default=50, help="how many of the queries to also time one at a time"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--pool", type=int, default=1000, help="candidate-pool size whose recall is also reported"
    )
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument(
        "--per-cluster", type=int, default=1000, help="vectors per cluster of the mixture"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-out/index_bench.json"))
    args = parser.parse_args(argv)

    result = {
        "machine": {
            "platform": platform.platform(),
            "faiss": faiss.__version__,
            "threads": faiss.omp_get_max_threads(),
        },
        "defaults": dataclasses.asdict(IndexConfig()),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "sizes": [],
    }
    run_sizes(args.sizes, lambda n: bench_size(n, args), lambda row: print_row(row, args.pool),
              result, args.out)
    print(f"\nwrote {args.out}")
    return 0


def run_sizes(sizes, bench, show, result: dict, out: Path) -> None:
    """Measure each size in turn, print its row, and rewrite the JSON after each one, so a
    run stopped part way (a large size out of time or memory) keeps what it measured."""
    for n in sizes:
        row = bench(n)
        show(row)
        result["sizes"].append(row)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
