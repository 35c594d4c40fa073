"""How many threads torch, faiss and BLAS run: one each for a conversational turn, every core
for bulk embedding; RUMMAGE_THREADS=N sets both.

Why one thread for a turn: torch (libgomp), faiss (its own libgomp and OpenBLAS) and numpy's
OpenBLAS each kept a pool as wide as the machine, and a turn alternates between them, so on 2
cores the pools' spinning workers took the cores from each other. Measured on the 2-core
machine with benchmarks/turn_bench.py (10 sessions, interleaved runs, ms): whole turn
median/p95 86/542 and 79/1194 by default, 20/36 and 28/44 with every pool at 1 thread; an exact
search of 20k vectors went from 43 to 0.8 ms (the issue's numbers). A turn's matrices are small
(a few hundred rows), so a second thread has nothing to win back.

Why both an environment variable and calls: OpenBLAS (numpy's and faiss's) and libgomp read
OMP_NUM_THREADS/OPENBLAS_NUM_THREADS once, when they load. The CLI calls `limit_before_imports`
before anything imports numpy; `use_threads` resizes the loaded pools at run time, for Python
API users who imported numpy first: torch.set_num_threads, and threadpoolctl for the BLAS and
OpenMP pools of numpy and faiss. Measured (turn_bench.py, 10 sessions, 3 interleaved rounds, ms
median/p95): setting only torch and faiss.omp_set_num_threads at run time left numpy's and
faiss's OpenBLAS at 2 threads and gave 34/71, 19/58, 44/228 against main's 44/251, 51/159,
75/717; the environment variables (all pools) gave 20/36 and 28/44. A variable the user set
(OMP_NUM_THREADS...) is left as it is, unless RUMMAGE_THREADS is set too.

Why every core for indexing: the image encoder's batches are large convolutions and matrix
products that do scale (one thread per core; `bulk_threads`), and nothing else runs meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

THREADS_ENV = "RUMMAGE_THREADS"  # a whole number: the threads of every pool, for all work
POOL_ENVS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _override() -> int | None:
    try:
        value = int(os.environ.get(THREADS_ENV, ""))
    except ValueError:
        return None
    return value if value >= 1 else None


def interactive_threads() -> int:
    """Threads per pool for a search or a turn."""
    return _override() or 1


def bulk_threads() -> int:
    """Threads for embedding many images."""
    return _override() or os.cpu_count() or 1


def limit_before_imports() -> None:
    """Size the OpenMP/BLAS pools for interactive work; to be called before numpy, faiss or
    torch is imported (they read these variables once, when they load)."""
    threads = str(interactive_threads())
    for name in POOL_ENVS:
        if _override() is not None or name not in os.environ:
            os.environ[name] = threads


def use_threads(threads: int) -> None:
    """Resize the pools of what is loaded now: torch's (only if already imported: importing
    torch to set its threads would cost a search 1.7 s), and every BLAS/OpenMP library loaded
    (numpy's and faiss's OpenBLAS, faiss's libgomp) through threadpoolctl."""
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    threadpool_limits(limits=threads)


@contextlib.contextmanager
def threads_for_bulk() -> Iterator[None]:
    """Every core while the block runs (indexing), then back to the interactive count."""
    use_threads(bulk_threads())
    try:
        yield
    finally:
        use_threads(interactive_threads())
