"""The memory panel: the constraints in force, one a line, each removable with a key."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agent.terminal import printable
from tui.messages import ConstraintRemovalRequested


class MemoryPanel(OptionList):
    """Lists agent.api.MemoryItem labels ("blue", "not checked"); x / Delete removes one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x,delete,backspace", "remove", "Remove constraint"),
        Binding("escape,slash,i", "app.focus('prompt')", "Type", show=False),
    ]

    DEFAULT_CSS = """
    MemoryPanel {
        height: auto;
        max-height: 40%;
        min-height: 3;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    MemoryPanel:focus {
        border: round $accent;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list[Any] = []
        self.border_title = "Memory"

    def show(self, items: list[Any]) -> None:
        """Replace the list; the highlight stays on the same line when it still exists."""
        highlighted = self.highlighted
        self.items = list(items)
        self.clear_options()
        if not self.items:
            self.add_option(Option(Content.styled("nothing remembered yet", "$text-muted"),
                                   disabled=True))
            self.border_subtitle = ""
            return
        self.add_options(Option(self._label(item)) for item in self.items)
        self.border_subtitle = f"{len(self.items)} in force"
        if highlighted is not None:
            self.highlighted = min(highlighted, len(self.items) - 1)

    @staticmethod
    def _label(item: Any) -> Content:
        style = "$text-error" if getattr(item, "polarity", 1) < 0 else "$text-success"
        return Content.assemble(("− " if item.polarity < 0 else "+ ", style), printable(item.label))

    def action_remove(self) -> None:
        if not self.items:
            self.app.notify("Nothing to remove: the memory is empty.", severity="warning")
            return
        index = self.highlighted if self.highlighted is not None else len(self.items) - 1
        self.post_message(ConstraintRemovalRequested(self.items[index]))
