"""Past sessions (agent.sessions(), newest first): pick one to resume it."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal import printable


class SessionsScreen(ModalScreen[str | None]):
    """Dismissed with the chosen session id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close")]

    DEFAULT_CSS = """
    SessionsScreen {
        align: center middle;
    }
    SessionsScreen > Vertical {
        width: 80%;
        max-width: 100;
        height: 70%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    SessionsScreen .title {
        text-style: bold;
        margin-bottom: 1;
    }
    SessionsScreen OptionList {
        height: 1fr;
        border: none;
    }
    """

    def __init__(self, sessions: list[Any], current_id: str | None) -> None:
        super().__init__()
        self.sessions = sessions
        self.current_id = current_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Resume a session  (Enter resumes, Esc closes)", classes="title")
            options = OptionList(*[self._option(info) for info in self.sessions], id="sessions")
            if not self.sessions:
                options.add_option(Option("No past sessions yet.", disabled=True))
            yield options
            yield Footer()

    def _option(self, info: Any) -> Option:
        here = "  (this one)" if info.id == self.current_id else ""
        turns = f"{info.turns} turn" + ("" if info.turns == 1 else "s")
        created = str(info.created)[:16].replace("T", " ")  # ISO time, to the minute
        label = Content.assemble((printable(info.title or "(untitled)"), "bold"), here, "\n",
                                 (f"{info.id} · {created} · {turns}", "$text-muted"))
        return Option(label, id=info.id)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
