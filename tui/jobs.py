"""The agent's work queue: jobs run one at a time in a thread worker, applied on the UI thread.

Every call into the agent (loading, turns, feedback, sessions, previews) is a Job: the UI never
blocks, a Session is never used from two threads at once, and turns typed while the library is
still loading simply wait their turn. A job's run() happens in the worker thread and returns an
apply() that updates the widgets on the UI thread, in the order the jobs were queued; anything
either raises becomes a one-line problem for the job's on_error, never a crash.
"""

from __future__ import annotations

import contextlib
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import App

Apply = Callable[[], Awaitable[None] | None]


@dataclass
class Job:
    """Work for the agent thread: run() there, then its returned apply() on the UI thread."""

    run: Callable[[], Apply]
    activity: str  # shown in the status line while it runs
    on_error: Callable[[str], None]  # shows the problem where the user looks for the answer
    on_start: Callable[[], None] = lambda: None
    name: str = "job"


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class JobQueue:
    """FIFO of Jobs for one app; on_activity gets each running job's activity ("" when idle)."""

    def __init__(self, app: App, on_activity: Callable[[str], None]) -> None:
        self.app = app
        self.on_activity = on_activity
        self._waiting: deque[Job] = deque()
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._waiting)

    def put(self, job: Job) -> None:
        self._waiting.append(job)
        self._next()

    def _next(self) -> None:
        if self.current is not None:
            return
        if not self._waiting:
            self.on_activity("")
            return
        job = self.current = self._waiting.popleft()
        self.on_activity(job.activity)
        job.on_start()
        self.app.run_worker(lambda: self._work(job), thread=True, group="agent",
                            exit_on_error=False, name=job.name)

    def _work(self, job: Job) -> None:
        """In the worker thread: run the job, then hand the outcome to the UI thread."""
        try:
            apply, error = job.run(), None
        except Exception as exc:  # noqa: BLE001 - a bug below must not take the chat down
            apply, error = None, exc
        with contextlib.suppress(RuntimeError):  # the app is closing: nobody to tell
            self.app.call_from_thread(self._finish, job, apply, error)

    async def _finish(self, job: Job, apply: Apply | None, error: BaseException | None) -> None:
        try:
            if apply is None:
                job.on_error(one_line(error))
            else:
                outcome = apply()
                if inspect.isawaitable(outcome):
                    await outcome
        except Exception as exc:  # noqa: BLE001 - nor a reply the widgets cannot show
            job.on_error(one_line(exc))
        finally:
            self.current = None
            self._next()
