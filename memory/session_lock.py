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
a session locked; the lock itself is retrievers/file_lock.py, shared with the index rebuilds.

The wait is bounded (`RUMMAGE_SESSION_WAIT` seconds, default 30): past it, `SessionBusy` says so
in one line and nothing was written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from memory.store import StoreError
from retrievers.file_lock import exclusive, waiting_time


class SessionBusy(StoreError):
    def __init__(self, session_id: str, waited: float):
        self.session_id, self.waited = session_id, waited
        super().__init__(f"Session {session_id!r} is busy: another turn in it did not finish "
                         f"within {waited:g} s; nothing was changed, try again "
                         "(RUMMAGE_SESSION_WAIT sets the wait)")


def lock_path(folder: Path, session_id: str) -> Path:
    """The lock file of a session: named by a hash, since an id is whatever a user typed."""
    digest = hashlib.sha1(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return folder / "locks" / f"{digest}.lock"


@contextmanager
def session_lock(folder: Path, session_id: str, wait: float | None = None) -> Iterator[None]:
    """Hold the session's lock for the block; wait up to `wait` seconds, then SessionBusy."""
    wait = waiting_time() if wait is None else wait
    path = lock_path(folder, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        try:
            held.enter_context(exclusive(path, wait))
        except TimeoutError:
            raise SessionBusy(session_id, wait) from None
        yield
