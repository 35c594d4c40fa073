"""One writer per session at a time, across threads and processes.

A turn reads the session's checkpoint, runs the graph, writes a checkpoint and appends a row
to the store. Two processes doing that at once on one session (two `rummage ask --session S`
loops) both read the same checkpoint and the later write wins: measured before this lock,
2 loops x 20 turns all exited 0 and 20 turns were kept. Holding this lock for the whole turn
makes the second writer wait its turn; both land, in order.

Why a lock file with `flock` and not a SQLite transaction: the turn spans two files
(checkpoints.db and library.db) and a model call, and a write transaction held that long would
block every other session of the library; a lock per session blocks only that session. The
kernel drops a `flock` when its process dies (even by SIGKILL), so a crashed turn never leaves
a session locked. Locks are per open file, so two threads of one process exclude each other
too. POSIX only (fcntl), like the rest of the terminal tool.

The wait is bounded (`RUMMAGE_SESSION_WAIT` seconds, default 30): past it, `SessionBusy` says so
in one line and nothing was written.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memory.store import StoreError

DEFAULT_WAIT = 30.0  # seconds; a turn takes well under one, a cold first turn a few


class SessionBusy(StoreError):
    def __init__(self, session_id: str, waited: float):
        self.session_id, self.waited = session_id, waited
        super().__init__(f"Session {session_id!r} is busy: another turn in it did not finish "
                         f"within {waited:g} s; nothing was changed, try again "
                         "(RUMMAGE_SESSION_WAIT sets the wait)")


def session_wait() -> float:
    try:
        return max(0.0, float(os.environ.get("RUMMAGE_SESSION_WAIT", DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


def lock_path(folder: Path, session_id: str) -> Path:
    """The lock file of a session: named by a hash, since an id is whatever a user typed."""
    digest = hashlib.sha1(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return folder / "locks" / f"{digest}.lock"


@contextmanager
def session_lock(folder: Path, session_id: str, wait: float | None = None) -> Iterator[None]:
    """Hold the session's lock for the block; wait up to `wait` seconds, then SessionBusy."""
    wait = session_wait() if wait is None else wait
    path = lock_path(folder, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SessionBusy(session_id, wait) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
