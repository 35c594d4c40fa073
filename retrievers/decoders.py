"""Turns image files into the encoder's inputs, in file order: in two threads, or in worker
processes running ahead of the encoder.

Why worker processes on a GPU: preparing a 640x480 JPEG for ViT-B-32 (hash, decode, resize,
normalise, the colour `appearance` descriptor) costs one core 5.9 ms (fp32) to 6.2 ms (fp16),
i.e. ~165 images/s per core, measured with one torch thread; the anchor for a GPU is ~1,500
images/s for ViT-B-32 on an RTX 3080 and several times that on an H100. Two threads in one
interpreter (the GIL holds Python's share of each image) cannot feed that; one process per core
but one can come close (the parent keeps a core to stack batches, drive the GPU and write
SQLite), hence `workers_for`'s GPU default of cpu_count - 1, up to MAX_GPU_WORKERS. Workers run
up to two batches ahead, so the next batch is decoded while the GPU embeds this one.

What crosses from a worker: the preprocessed pixels as a numpy array (fp16 when the encoder runs
in fp16; the CPU's fp16 cast rounds as the GPU's would, so the vectors are the same), the
descriptor, the file's digest and size; never the decoded picture. Measured on the 2-core
machine (3x224x224 arrays through a 2-worker pool, 3,000 each): numpy pickles as raw bytes,
1,850-2,060 fp16 or 850-1,090 fp32 arrays/s (~600 MB/s either way, so fp16 doubles the rate);
torch tensors go through torch's shared-memory files, 150 tensors/s. That pipe is the ceiling a
GPU run meets first if a fast GPU outruns it: shared-memory slabs would be the next step.

Why threads stay the CPU default (DEFAULT_CPU_WORKERS): the encoder itself wants the cores, so
processes move the same work elsewhere and pay a start-up. Measured on the 2-core machine,
benchmarks/index_throughput.py --images 200 --demo-images 1000 --workers 0 2 --rounds 3, each run
in a fresh process, interleaved, medians of images/s, threads vs 2 processes: 1,000 demo PNGs
696 vs 152, 200 JPEGs with the demo model 265 vs 36, with ViT-B-32 14.2 vs 11.0. The processes'
first batch came ~5 s later (starting the forkserver: torch and open_clip imported once); after
it, demo PNGs went 812 vs 639 images/s and ViT-B-32 16.1 vs 17.9, but over 3-4 batches that
rate flatters a window that was filled during the start-up. On 1,000 JPEGs (--images 1000
--rounds 2) threads still won: ViT-B-32 15.8 vs 14.2 images/s (after the first batch 16.2 vs
15.8), the demo model 318 vs 113.
Threads decode a batch while the encoder waits, as before this module: overlapping them with the
encoder's own threads on 2 cores cost 11-15% (in-process A/B against the code before, 5
interleaved rounds, images/s: demo PNGs 639 vs 717, JPEGs 209 vs 247); in lock-step they are
level with it (698 vs 700, 268 vs 245).

Why "forkserver" (or "spawn" where there is none), never "fork": the parent runs torch's OpenMP
pool and SQLite; a fork copies locks held by threads that do not exist in the child. The
forkserver imports torch and open_clip once and each worker is a fork of that quiet process:
a worker's own memory is ~15 MB (RSS 468 MB, nearly all shared with the forkserver), and a
second run in the same process starts its workers in 0.06 s instead of 4.2-4.5 s. The pool is
started before the model loads, so on a GPU machine the two overlap. A script that indexes
with workers must run under `if __name__ == "__main__":`, as for any spawned process.

Why a crash is contained: a decoder that segfaults or is killed (a crafted file, the kernel's
OOM killer) breaks the whole process pool. The files whose results were lost are then decoded
one at a time in a fresh pool; the one that breaks it again is skipped with the reason "crashed
the decoder", and the run goes on. A fresh pool that cannot even take the model's preprocessing
means the workers cannot work at all: the run stops with one line naming the fix
(RUMMAGE_INDEX_WORKERS=0), and no file is blamed.

RUMMAGE_INDEX_WORKERS=N sets the number of worker processes (0: decode in two threads); the
`workers` argument of `Indexer`/`Library.index_folder` wins over it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice

import numpy as np

from retrievers.encoders import EncoderError
from retrievers.images import BadImage, FileEntry, appearance, decode

WORKERS_ENV = "RUMMAGE_INDEX_WORKERS"  # a whole number: decoding processes; 0 = threads
DECODE_THREADS = 2  # the thread path: one decoding while the other waits on the disk
DEFAULT_CPU_WORKERS = 0  # threads: on a CPU they beat processes (see above)
MAX_GPU_WORKERS = 32  # ~165 JPEGs/s each, ~15 MB of its own: enough for several thousand/s
CRASHED = "crashed the decoder (worker process died)"


class DecodingFailed(EncoderError):
    """The decoding workers could not run at all (not one file's fault). An EncoderError, so
    the CLI shows it as one line: decoding feeds the encoder."""


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """One file made ready for the encoder, or the reason it cannot be."""

    entry: FileEntry
    pixels: object = None  # the preprocessed tensor (numpy while it crosses from a process)
    look: np.ndarray | None = None  # the appearance descriptor
    sha256: str = ""
    width: int = 0  # of the picture as a person sees it
    height: int = 0
    reason: str | None = None  # why the file is skipped; None when it is ready


def workers_for(device: str, workers: int | None = None) -> int:
    """Decoding processes for an indexing run on `device`: the argument, else
    RUMMAGE_INDEX_WORKERS, else 0 (threads) on a CPU and one per core but one on a GPU."""
    if workers is not None:
        return max(0, int(workers))
    try:
        value = int(os.environ.get(WORKERS_ENV, ""))
    except ValueError:
        value = -1
    if value >= 0:
        return value
    if not device.startswith("cuda"):
        return DEFAULT_CPU_WORKERS
    # One core stays with the parent: it stacks batches, drives the GPU and writes SQLite.
    return max(1, min((os.cpu_count() or 2) - 1, MAX_GPU_WORKERS))


def prepare(entry: FileEntry, preprocess: Callable, max_pixels: int, half: bool) -> Prepared:
    """Decode, preprocess and describe one file; a problem with the file becomes its reason."""
    try:
        decoded = decode(entry.path, max_pixels)
        pixels = preprocess(decoded.image)
        if half:
            pixels = pixels.half()
        look = appearance(decoded.image)
    except BadImage as e:
        return Prepared(entry=entry, reason=str(e))
    except MemoryError:
        return Prepared(entry=entry, reason="out of memory while preparing the image")
    return Prepared(entry=entry, pixels=pixels, look=look, sha256=decoded.sha256,
                    width=decoded.width, height=decoded.height)


def _prepare_to_ship(entry: FileEntry, preprocess: Callable, max_pixels: int,
                     half: bool) -> Prepared:
    """`prepare` in a worker: the tensor as a numpy array, which pickles as its raw bytes
    (torch's own reduction would move each small tensor through a shared-memory file)."""
    prepared = prepare(entry, preprocess, max_pixels, half)
    if prepared.pixels is None:
        return prepared
    return Prepared(**{**prepared.__dict__, "pixels": prepared.pixels.numpy()})


def _ping(preprocess: Callable | None = None) -> bool:
    """Nothing; with the transform, it proves that a worker can unpickle it."""
    return True


def _start_worker() -> None:
    import open_clip  # noqa: F401 - unpickling its transforms imports it; do it while idle
    import torch

    # Every worker is one decoder: torch's default pool per process would oversubscribe.
    torch.set_num_threads(1)


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Ignored once a forkserver runs (it is one per process); workers then import these.
    context.set_forkserver_preload(["torch", "open_clip", "retrievers.decoders"])
    return context


class Decoders:
    """Prepares files for the encoder: `start()`, load the model, then
    `for batch in decoders.batches(entries, 64, model.preprocess, half=...)`."""

    def __init__(self, *, workers: int, max_pixels: int, window: int = 128):
        self.workers = workers  # 0: threads in this process
        self.max_pixels = max_pixels
        self.window = max(1, window)  # files in flight, at most
        self.preprocess: Callable | None = None
        self.half = False
        self._started: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the worker processes now, without waiting for them: their start-up (importing
        torch and open_clip, seconds) overlaps with loading the model."""
        if self.workers > 0 and self._started is None:
            self._started = self._pool(self.workers)
            for _ in range(self.workers):
                self._started.submit(_ping)

    def close(self) -> None:
        """Stop workers that were started but never used."""
        if self._started is not None:
            self._started.shutdown(wait=False, cancel_futures=True)
            self._started = None

    def batches(self, entries: Sequence[FileEntry], size: int, preprocess: Callable, *,
                half: bool) -> Iterator[list[Prepared]]:
        """The entries' results in order, `size` at a time. Threads decode a batch while the
        encoder waits (see the module docstring); processes run up to `window` files ahead."""
        self.preprocess, self.half = preprocess, half
        if self.workers <= 0:
            with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
                for start in range(0, len(entries), size):
                    yield list(pool.map(self._prepare, entries[start : start + size]))
            return
        prepared = self.prepared(entries)
        try:
            while batch := list(islice(prepared, size)):
                yield batch
        finally:
            prepared.close()  # stops the workers now, also when a batch failed

    def _prepare(self, entry: FileEntry) -> Prepared:
        return prepare(entry, self.preprocess, self.max_pixels, self.half)

    def prepared(self, entries: Iterable[FileEntry]) -> Iterator[Prepared]:
        """Every entry's result from worker processes, in the order given, prepared up to
        `window` files ahead."""
        todo = iter(entries)
        while True:
            pool, self._started = self._started or self._pool(self.workers), None
            lost: list = []  # entries, and results that came back before the break
            try:
                yield from self._in_order(pool, todo, _prepare_to_ship, lost)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            if not lost:
                return
            yield from self._one_by_one(lost)

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                                   initializer=_start_worker)

    def _in_order(self, pool: Executor, todo: Iterator[FileEntry], work,
                  lost: list | None = None) -> Iterator[Prepared]:
        """Results in order; on a broken process pool, what was in flight goes to `lost` in
        order (the entries whose results were lost, and results that had come back), and this
        returns, leaving the rest of `todo` untouched."""
        flight: deque[tuple[FileEntry, Future]] = deque()

        def fill() -> None:
            while len(flight) < self.window:
                entry = next(todo, None)
                if entry is None:
                    return
                try:
                    future = pool.submit(work, entry, self.preprocess, self.max_pixels,
                                         self.half)
                except BrokenProcessPool as e:  # broke since the last result: lost like those
                    future = Future()
                    future.set_exception(e)
                flight.append((entry, future))

        fill()
        while flight:
            entry, future = flight[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                if lost is None:
                    raise
                # Futures that finished before the break still hold their results.
                for entry, future in flight:
                    lost.append(entry if _broken(future) else future.result())
                return
            flight.popleft()
            yield self._received(result)
            fill()

    def _one_by_one(self, lost: list) -> Iterator[Prepared]:
        """The results lost with a broken pool, each file alone in a fresh pool, so that the
        file that breaks it is the one skipped."""
        pool = None
        try:
            for item in lost:
                if isinstance(item, Prepared):
                    yield self._received(item)
                    continue
                if pool is None:
                    pool = self._pool(1)
                    try:  # a pool that cannot take the transform: no file is to blame
                        pool.submit(_ping, self.preprocess).result()
                    except BrokenProcessPool as e:
                        raise DecodingFailed(
                            "Decoding worker processes cannot start or cannot load the model's "
                            "preprocessing (a script must index under "
                            f"`if __name__ == '__main__':`); set {WORKERS_ENV}=0 to decode in "
                            "threads") from e
                try:
                    result = pool.submit(_prepare_to_ship, item, self.preprocess,
                                         self.max_pixels, self.half).result()
                except BrokenProcessPool:
                    pool.shutdown(wait=True)
                    pool = None
                    yield Prepared(entry=item, reason=CRASHED)
                    continue
                yield self._received(result)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    @staticmethod
    def _received(result: Prepared) -> Prepared:
        if isinstance(result.pixels, np.ndarray):
            import torch

            return Prepared(**{**result.__dict__, "pixels": torch.from_numpy(result.pixels)})
        return result


def _broken(future: Future) -> bool:
    return not future.done() or future.cancelled() or future.exception() is not None
