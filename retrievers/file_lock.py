"""An exclusive lock on a file, across threads and processes: `flock`, released by the kernel
when its holder dies (even by SIGKILL), so a crash never leaves anything locked.

Locks belong to an open file, so two opens in one process exclude each other too. Where fcntl
is missing (Windows) there is no lock, and racing writers behave as they did without one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_ENV = "RUMMAGE_SESSION_WAIT"  # how long a process waits for another's lock, seconds
DEFAULT_WAIT = 30.0  # a turn takes well under one second, a cold first turn a few


def waiting_time() -> float:
    """How long to wait for a lock another rummage process holds (a session's, a Milvus Lite
    file's): RUMMAGE_SESSION_WAIT seconds, 30 unless it says otherwise."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


@contextmanager
def exclusive(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the lock on `path` (created if missing) for the block. `wait`: None waits as long
    as it takes; else at most that many seconds, then TimeoutError."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline, delay = time.monotonic() + wait, 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"{path} stayed locked for {wait:g} s") from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
