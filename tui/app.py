"""The terminal chat: `make_app(...)` builds it (the CLI and the tests), `run_chat(...)` runs it.

The app is the only place that talks to the Agent, always through its JobQueue (tui/jobs.py);
widgets post messages (tui/messages.py) and show what the jobs bring back.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer

from agent.terminal import printable
from retrievers.home import rummage_home
from tui.jobs import Apply, Job, JobQueue, one_line
from tui.messages import (
    ConstraintRemovalRequested,
    FeedbackRequested,
    GridKeyFromPrompt,
    PreviewRequested,
    TurnSubmitted,
)
from tui.screens.help import HelpScreen
from tui.screens.preview import PreviewScreen
from tui.screens.sessions import SessionsScreen
from tui.thumbnails import ImageMode, ThumbnailCache, load_square
from tui.widgets.conversation import Conversation
from tui.widgets.memory_panel import MemoryPanel
from tui.widgets.prompt import Prompt
from tui.widgets.results import ResultsGrid
from tui.widgets.status import StatusLine

if TYPE_CHECKING:  # the agent's contract; the agent itself loads in a worker, after the screen
    from agent.contract import ChatAgent, ChatSession

PREVIEW_PIXELS = 512


def default_open_agent(library: str, home: Path | None, progress: Callable | None = None):
    """Agent.open with its model and index loaded, building the demo library on first use.

    progress(stage) -> update(done, total), as retrievers.demo.tour.ensure_demo_library takes it.
    """
    from agent import Agent

    if library == "demo" and home is not None:
        from retrievers.demo.tour import ensure_demo_library

        ensure_demo_library(home, progress=progress)
    agent = Agent.open(library, home=home)
    agent.warm_up()
    return agent


class RummageApp(App[int]):
    """rummage chat: conversation and memory on the left, numbered results on the right."""

    CSS_PATH = "app.tcss"
    TITLE = "rummage"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "quit", "Quit", show=False),  # reaches the app only when not typing
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("ctrl+n", "new_session", "New session"),
        Binding("ctrl+o", "sessions", "Sessions"),
    ]

    def __init__(
        self,
        library: str,
        session_id: str | None = None,
        home: Path | None = None,
        *,
        open_agent: Callable[[], ChatAgent] | None = None,
        images: ImageMode = "auto",
    ) -> None:
        super().__init__()
        self.library = library
        self.home = home
        self.requested_session = session_id
        self._open_agent = open_agent or (
            lambda: default_open_agent(library, home, progress=self._build_progress))
        self.images = images
        self.cache = ThumbnailCache()
        self.agent: ChatAgent | None = None
        self.session: ChatSession | None = None
        self.load_error: str | None = None
        self.jobs = JobQueue(self, self._set_activity)

    # ---- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="side"):
                yield Conversation(id="conversation")
                yield MemoryPanel(id="memory")
            yield ResultsGrid(self.cache, self.images, id="results")
        yield Prompt(id="prompt")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Prompt).focus()
        status = self.query_one(StatusLine)
        status.library = self.library
        self.query_one(MemoryPanel).show([])
        grid = self.query_one(ResultsGrid)
        grid.border_title = "Results"
        grid.loading = True
        self.jobs.put(Job(self._load, "loading the library and its model…",
                          on_error=self._load_failed, name="load"))

    @property
    def busy(self) -> bool:
        """True while a job runs or waits (the tests wait for this to turn False)."""
        return self.jobs.busy

    def _report(self, problem: str) -> None:
        """Where a job without a better place shows its problem: the conversation, and a toast."""
        self.query_one(Conversation).add_note(problem, error=True)
        self._toast(problem, "Something went wrong")

    def _toast(self, problem: str, title: str) -> None:
        """An error toast; its text is plain (no markup: it may quote a name or the person)."""
        self.notify(printable(problem), title=title, severity="error", markup=False)

    def _need_session(self):
        if self.session is None:
            raise RuntimeError(f"The library is not loaded: {self.load_error or 'still loading'}")
        return self.session

    def _prewarm(self, results) -> None:
        for result in results:
            self.cache.get(result.id, result.path)

    # ---- loading and sessions -----------------------------------------------------------

    def _load(self) -> Apply:
        agent = self._open_agent()
        note = None
        try:
            session = (agent.session(self.requested_session) if self.requested_session
                       else agent.new_session())
        except Exception as exc:  # noqa: BLE001 - NoSuchSession: say so, carry on in a new one
            note = f"{one_line(exc)} Started a new session instead."
            session = agent.new_session()
        state = self._read_session(session)

        async def apply() -> None:
            self.agent = agent
            status = self.query_one(StatusLine)
            status.library = agent.library_name
            status.image_count = agent.size
            status.model = agent.model_label
            self.query_one(ResultsGrid).loading = False
            await self._show_session(session, *state, keep_pending=True)
            for line in [*agent.notices, *([note] if note else [])]:
                self.query_one(Conversation).add_note(printable(line))

        return apply

    def _build_progress(self, stage: str) -> Callable[[int, int], None]:
        """Progress of building the demo library, shown in the status line (from the worker)."""
        shown = [-1]

        def update(done: int, total: int) -> None:
            percent = 100 * done // max(total, 1)
            if percent != shown[0]:  # each hop to the UI thread costs; one per percent is plenty
                shown[0] = percent
                text = f"building the demo library: {stage} {percent}%"
                self.call_from_thread(self._set_activity, text)

        return update

    def _set_activity(self, text: str) -> None:
        self.query_one(StatusLine).activity = text

    def _load_failed(self, problem: str) -> None:
        self.load_error = problem
        grid = self.query_one(ResultsGrid)
        grid.loading = False
        self.query_one(Conversation).add_note(f"Could not open the library: {problem}", error=True)
        self._toast(problem, "Could not open the library")

    def _read_session(self, session) -> tuple[list, list, Any]:
        """History, memory and last reply, read in the worker thread (they may touch SQLite)."""
        last = session.last_reply
        if last is not None:
            self._prewarm(last.results)
        return list(session.history), list(session.memory), last

    async def _show_session(self, session, history, memory, last, *, keep_pending=False) -> None:
        self.session = session
        self.query_one(StatusLine).session_id = session.id
        conversation = self.query_one(Conversation)
        if not keep_pending:
            await conversation.clear()
        conversation.show_history(history)
        self.query_one(MemoryPanel).show(memory)
        grid = self.query_one(ResultsGrid)
        grid.selected = None
        await self._show_results(last)

    def action_new_session(self) -> None:
        def run() -> Apply:
            if self.agent is None:
                raise RuntimeError(f"The library is not loaded: {self.load_error or 'still loading'}")
            session = self.agent.new_session()

            async def apply() -> None:
                await self._show_session(session, [], [], None)
                self.query_one(Conversation).add_note(f"New session {session.id}.")

            return apply

        self.jobs.put(Job(run, "starting a new session…", self._report, name="new-session"))
        self.query_one(Prompt).focus()

    def action_sessions(self) -> None:
        def run() -> Apply:
            if self.agent is None:
                raise RuntimeError(f"The library is not loaded: {self.load_error or 'still loading'}")
            infos = self.agent.sessions()

            def apply() -> None:
                current = self.session.id if self.session is not None else None
                self.push_screen(SessionsScreen(infos, current), self._resume)

            return apply

        self.jobs.put(Job(run, "listing sessions…", self._report, name="sessions"))

    def _resume(self, session_id: str | None) -> None:
        if not session_id or (self.session is not None and session_id == self.session.id):
            return

        def run() -> Apply:
            session = self.agent.session(session_id)
            state = self._read_session(session)

            async def apply() -> None:
                await self._show_session(session, *state)
                self.query_one(Conversation).add_note(f"Resumed session {session.id}.")

            return apply

        self.jobs.put(Job(run, "resuming…", self._report, name="resume"))
        self.query_one(Prompt).focus()

    # ---- turns --------------------------------------------------------------------------

    def _turn(self, said: str, call: Callable[[Any], Any], *, user_style: str = "bold") -> None:
        conversation = self.query_one(Conversation)
        waiting = "waiting for the library…" if self.session is None else ""
        view = conversation.add_exchange(said, state=waiting, user_style=user_style)

        def run() -> Apply:
            session = self._need_session()
            reply = call(session)
            memory = list(session.memory)
            self._prewarm(reply.results)

            async def apply() -> None:
                view.show_reply(reply)
                await self._show_results(reply)
                self.query_one(MemoryPanel).show(memory)
                conversation.scroll_end(animate=False)

            return apply

        def failed(problem: str) -> None:
            view.show_error(problem)
            self._toast(problem, "That turn failed")

        self.jobs.put(Job(run, "searching…", failed, on_start=lambda: view.set_state("searching…"),
                          name="turn"))

    async def _show_results(self, reply) -> None:
        results = reply.results if reply is not None else []
        grid = self.query_one(ResultsGrid)
        await grid.show(results)
        summary = reply.summary if reply is not None and results else ""
        # a Content, not a str: a str title is read as markup, and the summary is the person's words
        grid.border_title = Content(printable(f"Results · {summary}" if summary else "Results"))
        self.query_one(Prompt).results_shown = bool(results)

    @on(TurnSubmitted)
    def _on_turn(self, message: TurnSubmitted) -> None:
        self._turn(message.text, lambda session: session.say(message.text))

    @on(FeedbackRequested)
    def _on_feedback(self, message: FeedbackRequested) -> None:
        result = message.result
        if message.kind == "like":
            self._turn(f"like #{result.rank}", lambda s: s.like(result.id), user_style="italic")
        elif message.kind == "dislike":
            self._turn(f"not #{result.rank}", lambda s: s.dislike(result.id), user_style="italic")
        else:
            text = f"more like {result.rank}"
            self._turn(text, lambda s: s.say(text))

    @on(ConstraintRemovalRequested)
    def _on_remove(self, message: ConstraintRemovalRequested) -> None:
        item = message.item
        self._turn(f"forget “{item.label}”", lambda s: s.remove_constraint(item.index),
                   user_style="italic")

    @on(GridKeyFromPrompt)
    def _on_grid_key(self, message: GridKeyFromPrompt) -> None:
        grid = self.query_one(ResultsGrid)
        grid.focus()
        if message.key.isdigit():
            grid.select_rank(int(message.key) or 10)
        else:
            dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[message.key]
            grid.action_move(dx, dy)

    # ---- preview and help ---------------------------------------------------------------

    @on(PreviewRequested)
    def _on_preview(self, message: PreviewRequested) -> None:
        result = message.result

        def run() -> Apply:
            if self.agent is None:
                raise RuntimeError("The library is not loaded.")
            info = self.agent.image(result.id)
            try:
                image = load_square(str(info.path), PREVIEW_PIXELS)
            except Exception:  # noqa: BLE001 - an unreadable file: details without a picture
                image = None

            def apply() -> None:
                def closed(action: str | None) -> None:
                    if action:
                        self.post_message(FeedbackRequested(action, result))  # type: ignore[arg-type]

                self.push_screen(PreviewScreen(result, info, image, self.images), closed)

            return apply

        self.jobs.put(Job(run, "opening…", self._report, name="preview"))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        # Closing under a running turn would pull its connections away; the process is ending
        # anyway in that case.
        if self.agent is not None and self.jobs.current is None:
            with contextlib.suppress(Exception):  # closing is best effort on the way out
                self.agent.close()


def make_app(
    library: str = "demo",
    session_id: str | None = None,
    home: Path | None = None,
    *,
    open_agent: Callable[[], ChatAgent] | None = None,
    images: ImageMode = "auto",
) -> RummageApp:
    """The one factory: the CLI runs what it returns, the tests drive it with Pilot.

    open_agent replaces Agent.open (tests pass a fake or an already opened Agent); images picks
    the renderer ("auto", "halfcell", "unicode", "none").
    """
    return RummageApp(library, session_id, home, open_agent=open_agent, images=images)


def run_chat(library: str = "demo", session_id: str | None = None, home: Path | None = None,
             *, images: ImageMode = "auto") -> int:
    """`rummage chat`: run the app in this terminal until the user quits.

    Returns the exit status: 0, or 1 when the library could not be opened (the app said why).
    """
    app = make_app(library, session_id, home or rummage_home(), images=images)
    app.run()
    return 1 if app.load_error else app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.app", description=run_chat.__doc__)
    parser.add_argument("--library", default="demo", help="library name or folder (default: demo)")
    parser.add_argument("--session", default=None, help="resume this session id")
    parser.add_argument("--home", type=Path, default=None, help="data folder ($RUMMAGE_HOME)")
    parser.add_argument("--images", default="auto", choices=["auto", "halfcell", "unicode", "none"])
    args = parser.parse_args(argv)
    return run_chat(args.library, args.session, args.home, images=args.images)


if __name__ == "__main__":
    sys.exit(main())
