"""Decoded thumbnails, cached per session, and the textual-image widget that draws them.

Decoding a photo is the slow part of showing a page of results (tens of milliseconds for a large
JPEG), and the same images come back turn after turn, so each one is decoded once into a small
square PIL image and kept in an LRU keyed by image id. The cache is filled from the worker thread
that ran the turn, so the UI thread only ever finds hits.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import Literal

from PIL import Image, ImageOps

# textual-image asks the terminal for its cell size and graphics support when it is imported,
# which is impossible once Textual owns the terminal: importing it here, at import time of the
# app, is what makes Kitty/Sixel detection work.
from textual_image.widget import HalfcellImage, UnicodeImage
from textual_image.widget import Image as AutoImage

ImageMode = Literal["auto", "halfcell", "unicode", "none"]
# Letterbox colour: the dark background most terminal themes use, so padding is invisible.
PAD = (18, 18, 18)


def image_widget_class(mode: ImageMode):
    """The textual-image widget for a mode, or None to draw no images ("none").

    "auto" is Kitty/Sixel where the terminal has them and half-cell characters otherwise; tests
    name "halfcell" explicitly because under Pilot "auto" falls back to grayscale Unicode.
    """
    return {"auto": AutoImage, "halfcell": HalfcellImage, "unicode": UnicodeImage}.get(mode)


def cells_per_pixel_row(mode: ImageMode) -> float:
    """Cell height / cell width, so that a square image stays square: 2.0 for half cells."""
    if mode == "auto":
        from textual_image._terminal import get_cell_size

        with contextlib.suppress(Exception):  # no terminal to ask: assume the usual 1:2 cell
            cell = get_cell_size()
            if cell.width and cell.height:
                return cell.height / cell.width
    return 2.0


def load_square(path: str, size: int) -> Image.Image:
    """The image at path, at most size x size, letterboxed to a square (never stretched)."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((size, size))
    side = max(image.size)  # small images stay small: the renderer scales them anyway
    if image.width == image.height:
        return image
    square = Image.new("RGB", (side, side), PAD)
    square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return square


class ThumbnailCache:
    """An LRU of square PIL thumbnails keyed by image id; thread-safe; failures cached as None."""

    def __init__(self, capacity: int = 512, size: int = 96) -> None:
        self.capacity = capacity
        self.size = size
        self._items: OrderedDict[int, Image.Image | None] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0  # how many times an image was actually decoded (tests read it)

    def get(self, image_id: int, path: str) -> Image.Image | None:
        with self._lock:
            if image_id in self._items:
                self._items.move_to_end(image_id)
                return self._items[image_id]
        try:
            thumbnail: Image.Image | None = load_square(path, self.size)
        except Exception:  # noqa: BLE001 - a missing or broken file: an empty tile, no crash
            thumbnail = None
        with self._lock:
            self.decoded += 1
            self._items[image_id] = thumbnail
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return thumbnail

    def peek(self, image_id: int) -> Image.Image | None:
        """The cached thumbnail, without decoding (None when absent or unreadable)."""
        with self._lock:
            return self._items.get(image_id)

    def __len__(self) -> int:
        return len(self._items)
