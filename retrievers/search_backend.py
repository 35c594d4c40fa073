"""Which backend a VectorIndex searches with, from what this machine has; whether torch sees a
CUDA GPU is answered without importing torch where the machine plainly has no NVIDIA driver.

Why a probe before torch: `import torch` costs about 1.1 s, and a text search on a CPU-only
machine imports no torch at all (the text tower is numpy; tests/agent/test_cold_start.py), so
asking `torch.cuda.is_available()` on every library open would undo that. The driver leaves
files behind that cost a `stat` to look for: /proc/driver/nvidia/version and /dev/nvidiactl on
Linux, libcuda under /usr/lib/wsl on WSL 2, nvcuda.dll on Windows. Only where one exists is
torch imported and asked; a driver without a working CUDA (a too-old driver, a CPU-only torch)
then still answers no, after the import.

RUMMAGE_GPU, read here because a library opens its index deep below the CLI with the default
`IndexConfig` (as retrievers/threads.py reads RUMMAGE_THREADS): "0" keeps searches off every GPU
unless the code asks for one (IndexConfig.use_gpu=True); "1" asks torch even when no driver
file is found (a driver installed somewhere unusual). CUDA_VISIBLE_DEVICES set to "" or "-1"
hides every GPU from CUDA, so it answers no without the import as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

GPU_ENV = "RUMMAGE_GPU"  # "0": no GPU unless asked for in code; "1": ask torch regardless
# The CPU index, faiss's GPU copy of it, a torch copy on CUDA, or the torch code on the CPU.
NAMES = ("faiss-cpu", "faiss-gpu", "torch-cuda", "torch-cpu")


def gpu_env() -> bool | None:
    """What RUMMAGE_GPU says: False (off), True (look harder) or None (not set, or unclear)."""
    return {"0": False, "1": True}.get(os.environ.get(GPU_ENV, "").strip())


def driver_present() -> bool:
    """Whether an NVIDIA driver seems installed and CUDA may see a device (no torch import)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    if sys.platform == "win32":
        system = Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists()
    marks = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/usr/lib/wsl/lib/libcuda.so.1")
    return any(Path(mark).exists() for mark in marks)


def torch_sees_cuda() -> bool:
    """torch.cuda.is_available(), importing torch (about 1.1 s the first time)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def choose(
    use_gpu: bool | None,
    *,
    env: bool | None,
    faiss_gpus: int,
    driver: bool,
    torch_cuda: Callable[[], bool],
) -> str | None:
    """The search backend for use_gpu on a machine with these facts; None where use_gpu=True
    cannot be met. env is RUMMAGE_GPU's word, driver whether an NVIDIA driver is installed;
    torch_cuda is only called where a GPU is wanted and may exist (it imports torch)."""
    if use_gpu is False or (use_gpu is None and env is False):
        return "faiss-cpu"
    if faiss_gpus > 0:
        return "faiss-gpu"
    if (use_gpu or env or driver) and torch_cuda():
        return "torch-cuda"
    return None if use_gpu else "faiss-cpu"


def on_gpu(backend: str) -> bool:
    return backend in ("faiss-gpu", "torch-cuda")
