"""A larger view of one result: the image, its path, size, score, how it meets each constraint
(✓/✗ and the reranker's probability; met at 0.5, see retrievers/rerank.py) and its metadata."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from agent.terminal import printable
from tui.thumbnails import ImageMode, cells_per_pixel_row, image_widget_class


class PreviewScreen(ModalScreen[str | None]):
    """Dismissed with None, or with "like" / "dislike" / "more" to act on the image shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter,space,p", "dismiss(None)", "Close"),
        Binding("l", "dismiss('like')", "Like"),
        Binding("d", "dismiss('dislike')", "Dislike"),
        Binding("m", "dismiss('more')", "More like this"),
    ]

    DEFAULT_CSS = """
    PreviewScreen {
        align: center middle;
    }
    PreviewScreen > Vertical {
        width: 90%;
        height: 90%;
        border: thick $accent;
        background: $surface;
    }
    PreviewScreen Horizontal {
        height: 1fr;
    }
    PreviewScreen #preview-image {
        width: 1fr;
        height: 100%;
        align: center middle;
    }
    PreviewScreen #details {
        width: 40;
        padding: 0 1;
        border-left: vkey $panel-lighten-2;
    }
    """

    def __init__(self, result: Any, info: Any, image, mode: ImageMode) -> None:
        super().__init__()
        self.result = result
        self.info = info
        self.image = image  # a PIL image (decoded off the UI thread), or None
        self.mode = mode

    def compose(self) -> ComposeResult:
        with Vertical():
            with Horizontal():
                with Vertical(id="preview-image"):
                    image_class = image_widget_class(self.mode)
                    if image_class is not None and self.image is not None:
                        yield image_class(self.image, id="big")
                    else:
                        yield Static("(no image)")
                with VerticalScroll(id="details"):
                    yield Static(self._details())
            yield Footer()

    def _details(self) -> Content:
        info, result = self.info, self.result
        parts: list[str | tuple[str, str]] = [(f"#{result.rank}", "bold $accent"),
                                              f"   image {result.id}\n\n"]
        parts += [("path\n", "$text-muted"), f"{printable(info.path)}\n\n"]
        parts += [("size\n", "$text-muted"), f"{info.width} × {info.height}\n\n"]
        parts += [("score\n", "$text-muted"), f"{result.score:.3f}\n\n"]
        if result.evidence:
            parts.append(("constraints\n", "$text-muted"))
            for label, probability in result.evidence.items():
                parts += [("✓ ", "bold $text-success") if result.meets(label)
                          else ("✗ ", "bold $text-error"), f"{printable(label)} ",
                          (f"{probability:.2f}\n", "$text-muted")]
            parts.append("\n")
        for key, value in sorted((info.meta or {}).items()):
            if value is None:
                value = "—"
            elif not isinstance(value, str):
                value = json.dumps(value)
            parts += [(f"{printable(key)}: ", "$text-muted"), f"{printable(value)}\n"]
        return Content.assemble(*parts)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_image()

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit_image)

    def _fit_image(self) -> None:
        """The largest square that fits the left pane (textual-image would stretch otherwise)."""
        big = next(iter(self.query("#big")), None)
        if big is None:  # no image to show
            return
        pane = self.query_one("#preview-image")
        width, height = pane.content_size
        aspect = cells_per_pixel_row(self.mode)
        image_w = max(4, min(width, int(height * aspect)))
        big.styles.width = image_w
        big.styles.height = max(2, round(image_w / aspect))
