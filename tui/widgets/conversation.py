"""The conversation: what the user said and, under each, the agent's one-line answer.

Each turn is one ExchangeView created when the user presses Enter, with its answer filled in
later; that keeps "you said / it answered" pairs in order even when several turns were typed
while the library was still loading.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from agent.terminal import printable


class ExchangeView(Vertical):
    """One turn: the user's words, then the summary of the constraints in force (or a problem),
    and the reply's notice when no result meets every constraint."""

    DEFAULT_CSS = """
    ExchangeView {
        height: auto;
        margin-bottom: 1;
    }
    ExchangeView > .said-row {
        height: auto;
    }
    ExchangeView .marker {
        width: 2;
        color: $accent;
        text-style: bold;
    }
    ExchangeView .said {
        width: 1fr;
    }
    ExchangeView > .reply {
        padding-left: 2;  /* a hanging indent: long answers wrap under themselves */
    }
    ExchangeView > .reply.-empty {
        display: none;
    }
    """

    def __init__(self, said: str, *, user_style: str = "bold", state: str = "") -> None:
        super().__init__()
        self.said = said
        self.user_style = user_style
        self.state = state  # e.g. "queued", shown until the answer arrives
        self.summary: str | None = None
        self.problem: str | None = None
        self.notice: str | None = None
        self.count: int | None = None
        self._error = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="said-row"):
            yield Static("›", classes="marker")
            yield Static(Content.styled(printable(self.said), self.user_style), classes="said")
        yield Static(classes="reply")

    def on_mount(self) -> None:
        self._refresh_reply()

    def set_state(self, state: str) -> None:
        self.state = state
        self._refresh_reply()

    def show_reply(self, reply: Any) -> None:
        self.state = ""
        self.summary = reply.summary
        self.problem = reply.message
        self.notice = reply.notice
        self.count = len(reply.results)
        self._refresh_reply()

    def show_error(self, error: str) -> None:
        self.state = ""
        self.problem = error
        self._error = True
        self._refresh_reply()

    def _refresh_reply(self) -> None:
        text = self.reply_text()
        for reply in self.query(".reply").results(Static):  # none yet before compose: on_mount
            reply.update(text)
            reply.set_class(not text.plain, "-empty")

    def reply_text(self) -> Content:
        parts: list[str | tuple[str, str]] = []
        if self.state:
            parts.append((self.state, "italic $text-muted"))
        elif self.problem:
            parts.append((f"! {printable(self.problem)}", "bold $text-error" if self._error else "$text-warning"))
        elif self.summary is not None:
            parts.append((printable(self.summary) or "(no constraints)", "$text-success"))
            if self.count is not None:
                parts.append((f" · {self.count} results", "$text-muted"))
            if self.notice:
                parts.append((f"\n{printable(self.notice)}", "$text-warning"))
        return Content.assemble(*parts)


class Conversation(VerticalScroll):
    """The scrolling log of exchanges and notes; keeps the newest in view."""

    DEFAULT_CSS = """
    Conversation {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    Conversation > .note {
        color: $text-muted;
        height: auto;
        margin-bottom: 1;
    }
    Conversation > .error-note {
        color: $error;
        height: auto;
        margin-bottom: 1;
    }
    """

    can_focus = False

    def compose(self) -> ComposeResult:
        yield from ()

    def add_exchange(self, said: str, *, state: str = "", user_style: str = "bold") -> ExchangeView:
        view = ExchangeView(said, state=state, user_style=user_style)
        self.mount(view)
        self.scroll_end(animate=False)
        return view

    def add_note(self, text: str, *, error: bool = False) -> Static:
        note = Static(Content(printable(text)), classes="error-note" if error else "note")
        self.mount(note)
        self.scroll_end(animate=False)
        return note

    async def clear(self) -> None:
        await self.remove_children()

    def show_history(self, history: list[Any]) -> None:
        """Restore a resumed session's turns (agent.api.Exchange: text, reply), oldest first."""
        for exchange in history:
            view = ExchangeView(exchange.text)
            view.show_reply(exchange.reply)
            self.mount(view)
        self.scroll_end(animate=False)
