"""Exact search in torch (retrievers/torch_search.py) against FAISS's exact CPU search, on the
same vectors: median ms per query for single queries and batches of 64, and top-k agreement.

    python benchmarks/gpu_search.py [--sizes 1000000 10000000] [--device cuda] [--json PATH]

Vectors are seeded random 512-d unit vectors (--data random), or CLIP-like clustered ones from
benchmarks/index_bench.py (--data clip); they are made in chunks and handed to both searchers
chunk by chunk, so the host holds FAISS's fp32 copy (20 GB at 10M x 512) and one chunk, never a
second full copy. FAISS is an IndexFlatIP at --threads threads (1, as a conversational turn
runs: retrievers/threads.py); torch runs on --device (cuda when torch sees it, else cpu) in
fp16 on CUDA and fp32 on the CPU unless --dtype says otherwise. Agreement is recall@k of
torch's top-k against FAISS's, over every query timed: random 512-d data is the worst case for
it (the top scores of random vectors lie close together, so fp16 rounding can swap neighbours).
Timing: a warm-up search each, then the median of --single one-query searches and of --batches
searches of --batch queries (divided by the batch size). On CUDA a search ends when its results
are back on the host, so the timings include the transfer.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.index_bench import ClipLikeData, run_sizes
from retrievers.threads import use_threads
from retrievers.torch_search import TorchExactSearch

CHUNK = 1 << 20


def random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_searchers(n: int, args: argparse.Namespace) -> tuple[faiss.Index, TorchExactSearch,
                                                              np.ndarray, dict]:
    """FAISS and torch holding the same n vectors (ids = positions), queries, build times."""
    rng = np.random.default_rng(args.seed)
    world = ClipLikeData(args.dim, max(1, n // 1000), rng) if args.data == "clip" else None

    def draw(m: int) -> np.ndarray:
        return world.draw(m) if world else random_unit(rng, m, args.dim)

    flat = faiss.IndexFlatIP(args.dim)
    search = TorchExactSearch(args.dim, device=args.device, dtype=args.torch_dtype)
    search.reserve(n)
    times = {"faiss_add_s": 0.0, "torch_add_s": 0.0}
    for start in range(0, n, CHUNK):
        part = draw(min(CHUNK, n - start))
        began = time.perf_counter()
        flat.add(part)
        times["faiss_add_s"] += time.perf_counter() - began
        began = time.perf_counter()
        search.add(np.arange(start, start + len(part)), part)
        if search.device.type == "cuda":
            torch.cuda.synchronize()
        times["torch_add_s"] += time.perf_counter() - began
    queries = draw(args.single + args.batches * args.batch)
    return flat, search, queries, times


def median_ms(run, batches: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    """Median ms per query over these batches, and what each batch found."""
    run(batches[0])  # warm-up: kernels, BLAS buffers, the device's clocks
    per_query, found = [], []
    for batch in batches:
        began = time.perf_counter()
        found.append(run(batch))
        per_query.append((time.perf_counter() - began) / len(batch))
    return statistics.median(per_query) * 1e3, found


def bench_size(n: int, args: argparse.Namespace) -> dict:
    flat, search, queries, times = make_searchers(n, args)
    singles = [queries[i:i + 1] for i in range(args.single)]
    batched = [queries[args.single + i * args.batch:args.single + (i + 1) * args.batch]
               for i in range(args.batches)]
    row = {"n": n, "dim": args.dim, "k": args.k, "data": args.data, **times}
    hits = total = 0
    for name, batches in (("batch1", singles), (f"batch{args.batch}", batched)):
        row[f"torch_{name}_ms"], got = median_ms(lambda q: search.search(q, args.k)[1], batches)
        row[f"faiss_{name}_ms"], want = median_ms(lambda q: flat.search(q, args.k)[1], batches)
        for g, w in zip(got, want):
            hits += sum(len(np.intersect1d(a, b)) for a, b in zip(g, w))
            total += w.size
    row[f"recall_at_{args.k}"] = hits / total
    if search.device.type == "cuda":
        row["gpu_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return row


def print_row(row: dict, args: argparse.Namespace) -> None:
    b = f"batch{args.batch}"
    print(f"{row['n']:>11,} {row['torch_batch1_ms']:>9.3f} {row['faiss_batch1_ms']:>9.3f} "
          f"{row[f'torch_{b}_ms']:>11.4f} {row[f'faiss_{b}_ms']:>11.4f} "
          f"{row[f'recall_at_{args.k}']:>10.4f} {row['torch_add_s']:>8.1f} "
          f"{row['faiss_add_s']:>8.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["float16", "float32"], default=None,
                        help="torch storage (default: float16 on cuda, float32 on cpu)")
    parser.add_argument("--data", choices=["random", "clip"], default="random")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--single", type=int, default=20, help="one-query searches timed")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=3, help="batches timed")
    parser.add_argument("--threads", type=int, default=1, help="FAISS/BLAS (and torch CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("bench-out/gpu_search.json"))
    args = parser.parse_args(argv)
    args.torch_dtype = getattr(torch, args.dtype) if args.dtype else None
    use_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)

    machine = {"platform": platform.platform(), "torch": torch.__version__,
               "faiss": faiss.__version__, "threads": args.threads, "device": args.device}
    if args.device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name(args.device)
    result = {"machine": machine,
              "args": {k: str(v) if isinstance(v, (Path, torch.dtype)) else v
                       for k, v in vars(args).items()},
              "sizes": []}
    print(f"torch on {args.device} ({args.dtype or 'default dtype'}) vs FAISS IndexFlatIP at "
          f"{args.threads} thread(s); {args.dim}-d {args.data} unit vectors; ms per query")
    print(f"{'n':>11} {'torch b1':>9} {'faiss b1':>9} {'torch b' + str(args.batch):>11} "
          f"{'faiss b' + str(args.batch):>11} {'recall@' + str(args.k):>10} {'torch +s':>8} "
          f"{'faiss +s':>8}")
    run_sizes(args.sizes, lambda n: bench_size(n, args), lambda row: print_row(row, args),
              result, args.json)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
