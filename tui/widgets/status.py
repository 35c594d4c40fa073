"""The status line: which library, how big, which model, which session, and what is going on."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from agent.terminal import printable


class StatusLine(Static):
    """One line above the key footer. Text only (no spinner), so screenshots are stable."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 100%;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    library: reactive[str] = reactive("")
    image_count: reactive[int | None] = reactive(None)
    model: reactive[str] = reactive("")
    session_id: reactive[str] = reactive("")
    activity: reactive[str] = reactive("")  # "loading the library…", "searching…", ""

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = [(printable(self.library) or "…", "bold $text")]
        if self.image_count is not None:
            parts.append(f" · {self.image_count:,} images")
        if self.model:
            parts.append(f" · {printable(self.model)}")
        if self.session_id:
            parts.append(f" · session {self.session_id}")
        if self.activity:
            parts += ["  ", (f"● {self.activity}", "bold $text-warning")]
        return Content.assemble(*parts)
