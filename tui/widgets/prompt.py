"""The input box: Enter sends a turn; in an empty box, digits and arrows pick a result instead."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.widgets import Input

from tui.messages import GridKeyFromPrompt, TurnSubmitted

GRID_KEYS = {*"0123456789", "left", "right", "up", "down"}


class Prompt(Input):
    """Where turns are typed ("a red dress", "not 2", "like 4 but striped")."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.focus('results')", "Results", show=False)]

    DEFAULT_CSS = """
    Prompt {
        border: tall $panel-lighten-2;
    }
    Prompt:focus {
        border: tall $accent;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="Describe what you want · digits pick a result · ? help",
                         **kwargs)
        self.results_shown = False  # the app sets it: with no results, a digit is just a digit

    async def _on_key(self, event: events.Key) -> None:
        # Only while the box is empty: "not 2" must still be typeable, but a lone "4" or an
        # arrow has nothing to edit, so it goes to the grid (which takes the focus).
        if self.results_shown and not self.value and event.key in GRID_KEYS:
            event.stop()
            event.prevent_default()
            self.post_message(GridKeyFromPrompt(event.key))

    @on(Input.Submitted)
    def _send(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            self.clear()
            self.post_message(TurnSubmitted(text))
