"""The help screen: how to talk to rummage, and every key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# rummage

Describe what you are looking for and press **Enter**: *a red dress with long sleeves*.
Then refine it in words, using the numbers on the thumbnails:

- *make it blue* · *not striped* · *shorter*
- *not 2* · *like 4 but striped* · *more like 3*
- *start over*

## Keys

| key | where | does |
| --- | --- | --- |
| Enter | input | send the turn |
| 1 … 9, 0 | empty input or results | select result #1 … #10 |
| arrows | empty input or results | move the selection |
| l / d / m | results | like / dislike / "more like" the selected result |
| Enter, Space, p, click | results | preview the selected result (path, metadata) |
| x, Delete | memory panel | remove the highlighted constraint |
| Tab / Esc | anywhere | move focus / back to the input |
| ctrl+n | anywhere | start a new session |
| ctrl+o | anywhere | resume a past session |
| ? or F1 | not typing / anywhere | this help |
| q / ctrl+q | not typing / anywhere | quit |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss(None)", "Close")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 96;
        height: 90%;
        border: thick $accent;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)
