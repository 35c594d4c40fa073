"""The grid of result thumbnails, each numbered with the rank a user types ("not 2", "like 4").

Under each thumbnail a compact mark per constraint in force, in memory-panel order: ✓ when the
reranker judged the image to meet it (probability >= 0.5, see retrievers/rerank.py), ✗ when not.
The preview spells them out with their probabilities.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Static

from tui.messages import FeedbackRequested, PreviewRequested
from tui.thumbnails import ImageMode, ThumbnailCache, cells_per_pixel_row, image_widget_class

TILE_CHROME_W = 2  # left + right border
TILE_CHROME_H = 3  # top + bottom border, and the rank line
MARKS_H = 1  # the line of ✓/✗ marks under the image, when the results carry evidence
GUTTER = 1  # columns between tiles
MIN_IMAGE_W = 6


def tile_geometry(width: int, height: int, count: int, aspect: float = 2.0,
                  chrome_h: int = TILE_CHROME_H) -> tuple[int, int, int]:
    """(columns, image width, image height) in cells for count square tiles in width x height.

    Tries every column count for the largest images that fit without scrolling, then, among
    those nearly as large, takes the fewest rows: 2 rows of 5 read better than 3 rows of 4.
    aspect is cell height / cell width (2 for half cells): a square image w cells wide is
    w / aspect cells tall. chrome_h is the rows of a tile that are not image.
    """
    sizes: dict[int, int] = {}
    for columns in range(1, max(count, 1) + 1):
        rows = math.ceil(max(count, 1) / columns)
        by_width = (width - (columns - 1) * GUTTER) // columns - TILE_CHROME_W
        by_height = math.floor((height // rows - chrome_h) * aspect)
        sizes[columns] = min(by_width, by_height)
    best_w = max(sizes.values())
    if best_w < MIN_IMAGE_W:  # too small to fit: keep the images readable and let the grid scroll
        columns = max(1, (width + GUTTER) // (MIN_IMAGE_W + TILE_CHROME_W + GUTTER))
        return columns, MIN_IMAGE_W, max(1, round(MIN_IMAGE_W / aspect))
    near = [c for c, w in sizes.items() if w >= 0.8 * best_w]
    columns = min(near, key=lambda c: (math.ceil(count / c), -sizes[c]))
    image_w = sizes[columns]
    return columns, image_w, max(1, round(image_w / aspect))


def marks(result: Any) -> Content:
    """✓✓✗: one mark per constraint, green when met, red when not."""
    return Content.assemble(*[("✓", "$text-success") if result.meets(label)
                              else ("✗", "$text-error") for label in result.evidence])


class ResultTile(Widget):
    """One result: its rank, its thumbnail and its marks. Clicking it selects it (again: opens
    the preview)."""

    DEFAULT_CSS = """
    ResultTile {
        width: auto;
        height: auto;
        border: round $panel-lighten-2;
        padding: 0;
    }
    ResultTile.-selected {
        border: heavy $accent;
    }
    ResultTile .rank {
        width: 100%;
        height: 1;
        color: $text-muted;
        text-style: bold;
    }
    ResultTile.-selected .rank {
        color: $accent;
    }
    ResultTile .missing {
        content-align: center middle;
        color: $text-disabled;
    }
    ResultTile .marks {
        width: 100%;
        height: 1;
    }
    """

    def __init__(self, result: Any, thumbnail, mode: ImageMode, size: tuple[int, int]) -> None:
        super().__init__()
        self.result = result
        self._thumbnail = thumbnail
        self._mode = mode
        self._image_size = size

    def compose(self) -> ComposeResult:
        yield Label(f"#{self.result.rank}", classes="rank")
        image_class = image_widget_class(self._mode)
        if image_class is None or self._thumbnail is None:
            yield Static("no image", classes="missing")
        else:
            yield image_class(self._thumbnail, classes="image")
        if self.result.evidence:
            yield Label(marks(self.result), classes="marks")

    def on_mount(self) -> None:
        self.resize_image(*self._image_size)

    def resize_image(self, width: int, height: int) -> None:
        self._image_size = (width, height)  # applied again on mount if not composed yet
        for child in self.query(".image, .missing"):
            child.styles.width = width
            child.styles.height = height
        for line in self.query(".rank, .marks"):
            line.styles.width = width

    def on_click(self, event: events.Click) -> None:
        event.stop()
        grid = self.query_ancestor(ResultsGrid)
        grid.focus()
        if grid.selected_result is self.result:
            grid.post_message(PreviewRequested(self.result))
        else:
            grid.select_rank(self.result.rank)


class ResultsGrid(Grid, can_focus=True):
    """The current page of results; digits and arrows select, keys act on the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(d), f"select_rank({d or 10})", show=False) for d in range(10)],
        Binding("left", "move(-1, 0)", show=False),
        Binding("right", "move(1, 0)", show=False),
        Binding("up", "move(0, -1)", show=False),
        Binding("down", "move(0, 1)", show=False),
        Binding("l", "feedback('like')", "Like"),
        Binding("d", "feedback('dislike')", "Dislike"),
        Binding("m", "feedback('more')", "More like this"),
        Binding("enter,space,p", "preview", "Preview"),
        Binding("escape,slash,i", "app.focus('prompt')", "Type", show=False),
    ]

    DEFAULT_CSS = """
    ResultsGrid {
        grid-gutter: 0 1;
        grid-rows: auto;
        height: 1fr;
        overflow-y: auto;
        padding: 0 1;
    }
    ResultsGrid:focus {
        background: $boost;
    }
    ResultsGrid .empty {
        column-span: 10;
        width: 100%;
        color: $text-muted;
        padding: 1 2;
    }
    """

    selected: reactive[int | None] = reactive(None)  # index into results

    def __init__(self, cache: ThumbnailCache, mode: ImageMode, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache = cache
        self.mode = mode
        self.results: list[Any] = []
        self._geometry = (5, 12, 6)
        self._empty_text = "Describe what you are looking for, and press Enter."

    def compose(self) -> ComposeResult:
        yield Static(self._empty_text, classes="empty")

    @property
    def selected_result(self) -> Any | None:
        if self.selected is None or self.selected >= len(self.results):
            return None
        return self.results[self.selected]

    async def show(self, results: list[Any]) -> None:
        """Replace the page; the selection stays on the same rank when there still is one."""
        self.results = list(results)
        await self.remove_children()
        self._relayout()
        _, image_w, image_h = self._geometry
        tiles = [
            ResultTile(r, self.cache.get(r.id, r.path), self.mode, (image_w, image_h))
            for r in self.results
        ]
        if tiles:
            await self.mount_all(tiles)
        else:
            await self.mount(Static("No results.", classes="empty"))
        if self.selected is not None:
            self.selected = min(self.selected, len(self.results) - 1) if self.results else None
        self._paint_selection()

    def select_rank(self, rank: int) -> None:
        for index, result in enumerate(self.results):
            if result.rank == rank:
                self.selected = index
                return
        if self.results:
            self.app.notify(f"There is no #{rank} on this page.", severity="warning")

    def watch_selected(self) -> None:
        self._paint_selection()

    def _paint_selection(self) -> None:
        for index, tile in enumerate(self.query(ResultTile)):
            tile.set_class(index == self.selected, "-selected")
            if index == self.selected:
                self.scroll_to_widget(tile, animate=False)

    def action_select_rank(self, rank: int) -> None:
        self.select_rank(rank)

    def action_move(self, dx: int, dy: int) -> None:
        if not self.results:
            return
        if self.selected is None:
            self.selected = 0
            return
        columns = self._geometry[0]
        target = self.selected + dx + dy * columns
        self.selected = max(0, min(len(self.results) - 1, target))

    def action_feedback(self, kind: str) -> None:
        if (result := self._need_selection()) is not None:
            self.post_message(FeedbackRequested(kind, result))  # type: ignore[arg-type]

    def action_preview(self) -> None:
        if (result := self._need_selection()) is not None:
            self.post_message(PreviewRequested(result))

    def _need_selection(self) -> Any | None:
        result = self.selected_result
        if result is None:
            message = "Pick a result first: a digit or the arrows." if self.results else "No results yet."
            self.app.notify(message, severity="warning")
        return result

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()

    def _relayout(self) -> None:
        width, height = self.content_size
        if not width or not height:
            return
        count = len(self.results) or 10
        chrome_h = TILE_CHROME_H + (MARKS_H if any(r.evidence for r in self.results) else 0)
        self._geometry = tile_geometry(width, height, count, cells_per_pixel_row(self.mode),
                                       chrome_h)
        columns, image_w, image_h = self._geometry
        self.styles.grid_size_columns = columns
        self.styles.grid_columns = f"{image_w + TILE_CHROME_W}"
        for tile in self.query(ResultTile):
            tile.resize_image(image_w, image_h)

    @on(events.Focus)
    def _select_first_on_focus(self) -> None:
        if self.selected is None and self.results:
            self.selected = 0
