"""Hostile image files, each made from nothing in a few milliseconds (never downloaded).

One row per kind of file a real or crafted folder may hold: a name, how to make it, and what
indexing must do with it (index it, or skip it with a reason starting with `reason`). A new
file type or a new attack is one more row; the test and the memory measurement read this table.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

INDEXED = None  # the `reason` of a file that must be indexed


@dataclass(frozen=True)
class Hostile:
    name: str  # the file name, under the folder being indexed
    make: Callable[[Path], None]
    reason: str | None  # the start of the skip reason, or INDEXED


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def grey_png(width: int, height: int, *, before_pixels: bytes = b"", color_type: int = 0,
             pixels: bytes | None = None, zlib_pixels: bytes | None = None) -> bytes:
    """A PNG written chunk by chunk, so its header, extra chunks and pixels can lie."""
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    if pixels is None:  # every row: filter byte 0, then mid-grey
        pixels = (b"\x00" + b"\x80" * width) * height
    if zlib_pixels is None:
        zlib_pixels = zlib.compress(pixels, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + before_pixels
            + png_chunk(b"IDAT", zlib_pixels) + png_chunk(b"IEND", b""))


def _text_bomb(kind: bytes) -> bytes:
    """A text chunk of 1 KB that inflates past PIL's MAX_TEXT_CHUNK."""
    inflated = zlib.compress(b"a" * (PngImagePlugin.MAX_TEXT_CHUNK + 1), 9)
    if kind == b"zTXt":  # keyword, NUL, method 0
        return png_chunk(kind, b"Comment\x00\x00" + inflated)
    return png_chunk(kind, b"Comment\x00\x01\x00\x00\x00" + inflated)  # iTXt: compressed


def _encoded(fmt: str, size=(64, 48), mode="RGB", **kw) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (30, 120, 200) if mode == "RGB" else 90).save(buffer, fmt, **kw)
    return buffer.getvalue()


def _first_half_of_noise(fmt: str) -> bytes:
    """Half of a noisy picture's file: a flat one compresses so well that half is all of it."""
    noise = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, fmt)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def _bad_crc(data: bytes) -> bytes:
    at = data.index(b"IHDR") + 4 + 13  # the IHDR checksum
    return data[:at] + bytes(b ^ 0xFF for b in data[at : at + 4]) + data[at + 4 :]


def _tiff_with_huge_header() -> bytes:
    """A little-endian TIFF whose one IFD claims 100000 x 100000 pixels and holds none."""
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 100_000),
               (279, 4, 1, 10)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def _gif_with_huge_screen() -> bytes:
    """A GIF whose screen and first frame claim 65535 x 65535 pixels."""
    data = bytearray(_encoded("GIF", size=(4, 4), mode="L"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    frame = data.index(b"\x2c")  # the image descriptor
    data[frame + 5 : frame + 9] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def _write(data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data())


def _symlink_to_itself(path: Path) -> None:
    path.symlink_to(path.name)


HOSTILE: list[Hostile] = [
    Hostile("ztxt-bomb.png", _write(lambda: grey_png(8, 8, before_pixels=_text_bomb(b"zTXt"))),
            "oversized text metadata"),
    Hostile("itxt-bomb.png", _write(lambda: grey_png(8, 8, before_pixels=_text_bomb(b"iTXt"))),
            "oversized text metadata"),
    Hostile("tall-1x100000.png", _write(lambda: grey_png(1, 100_000)), "extreme aspect ratio"),
    Hostile("wide-100000x1.png", _write(lambda: grey_png(100_000, 1)), "extreme aspect ratio"),
    Hostile("bomb-header.png", _write(lambda: grey_png(20_000, 20_000, pixels=b"\x00" * 100)),
            "too many pixels (decompression bomb)"),
    Hostile("over-budget.png",  # 30 MP of RGB claimed by a 1 KB file: 120 MB to decode
            _write(lambda: grey_png(6000, 5000, color_type=2, pixels=b"\x00" * 100)),
            "too large to decode"),
    Hostile("truncated.png", _write(lambda: _encoded("PNG", size=(300, 200))[:300]),
            "truncated image"),
    Hostile("truncated.jpg", _write(lambda: _encoded("JPEG", size=(300, 200))[:400]),
            "truncated image"),
    Hostile("truncated.webp", _write(lambda: _first_half_of_noise("WEBP")), "cannot decode"),
    Hostile("truncated.gif", _write(lambda: _first_half_of_noise("GIF")), "truncated image"),
    Hostile("truncated.tif", _write(lambda: _first_half_of_noise("TIFF")), "truncated image"),
    Hostile("not-zlib.png", _write(lambda: grey_png(8, 8, zlib_pixels=b"not zlib at all")),
            "cannot decode: broken data stream"),
    Hostile("bad-row-filter.png", _write(lambda: grey_png(8, 8, pixels=(b"\x09" + b"\x80" * 8) * 8)),
            "cannot decode: unrecognized data stream"),
    Hostile("bad-crc.png", _write(lambda: _bad_crc(_encoded("PNG"))), "not an image"),
    Hostile("empty.png", _write(lambda: b""), "empty file"),
    Hostile("text.jpg", _write(lambda: b"this is not an image\n"), "not an image"),
    Hostile("huge-header.tif", _write(_tiff_with_huge_header), "too many pixels"),
    Hostile("huge-screen.gif", _write(_gif_with_huge_screen), "too many pixels"),
    Hostile("loop.png", _symlink_to_itself, "symlink loop"),
    # Files that look odd but are pictures: they must be indexed.
    Hostile("\x1b[31mred\x1b[0m\nnew line\r\t.png", _write(lambda: _encoded("PNG")), INDEXED),
    Hostile("big.jpg", _write(lambda: _encoded("JPEG", size=(3000, 2000))), INDEXED),
    Hostile("panorama-40x1.png", _write(lambda: grey_png(4000, 100)), INDEXED),
    Hostile("small.webp", _write(lambda: _encoded("WEBP")), INDEXED),
    Hostile("small.tif", _write(lambda: _encoded("TIFF", compression="tiff_lzw")), INDEXED),
]


def make_hostile_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for item in HOSTILE:
        item.make(folder / item.name)
    return folder
