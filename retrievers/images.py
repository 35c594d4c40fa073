"""Find image files under a folder and decode them safely, whatever a real folder holds.

Every problem with one file becomes a `BadImage` with a short reason that the library records;
nothing here is fatal to an indexing run. Decisions:
- The pixel limit is checked from the header, before any pixel is decoded, so a decompression
  bomb costs nothing. PIL's own bomb check is turned into an error for the same reason.
- Any exception PIL raises on a file is a skip with a one-line reason: crafted files make it
  raise ValueError (a PNG text chunk over MAX_TEXT_CHUNK, before any pixel), SyntaxError,
  struct.error, EOFError, zlib errors; one such PNG used to stop every `rummage index` run.
- One file's memory is bounded from its header, before decoding (MAX_DECODE_BYTES, 100 MiB):
  JPEGs are decoded at 1/2-1/8 scale (`draft`) when larger than needed, every image is then
  box-reduced (`reduce`) to a short side of WORK_SIDE-2x that, and the model's own resize works
  on that. The budget counts the decoded pixels as PIL stores them plus the copies made on the
  way (decode_cost), so a 24 MP RGB PNG passes and a 30 MP one is refused.
- Aspect ratios over MAX_ASPECT (50:1) are refused: the model scales the *short* side up to its
  input size, so a 471-byte 1x100000 PNG became 224 x 22.4 million pixels (20 GB); at 50:1 and
  a 512 px model the resize stays under 60 MB. Panoramas (up to ~10:1) and long screenshots
  (1170x20000 is 17:1) are far inside it.
  Measured (files from tests/retrievers/hostile_files.py; decode + a 224 px open_clip transform,
  peak RSS over the imports, one process per file): a 24 MP RGB PNG 183 -> 92 MB; the 1x100000
  PNG ~20 GB (not run; 1.9 GB at the demo model's 64 px) -> 0 MB, refused from its header; the
  zTXt PNG: ValueError -> 0 MB, skipped. Indexing 40 photos with the demo model, alone and with
  each of those files added: peak RSS 1036 MB plain, 1027 with the zTXt PNG, 1033 with the
  1x100000 PNG (2948 MB before), 1042 with all of HOSTILE's files (crashed before).
- Truncated files are refused (PIL's LOAD_TRUNCATED_IMAGES stays off): a half-grey image would
  otherwise be indexed as if it were the picture.
- 16-bit greyscale is scaled to 8 bits, not clipped (PIL's plain convert clips to white).
- Transparent images are laid on white, which is how viewers and catalogues show them.
- Animated images use their first frame; EXIF orientation is applied, and the stored width and
  height are those of the picture as a person sees it.
- Directories are walked once by their real path, so symlink loops end; only regular files
  (after following links) are read, so a FIFO named .jpg cannot hang the run.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
MAX_PIXELS = 100_000_000  # 100 megapixels: above any camera photo, below a bomb's size
MAX_DECODE_BYTES = 100 * 2**20  # one file's pixels and their copies, see above
MAX_ASPECT = 50  # longest side over shortest, see above
WORK_SIDE = 512  # decoded images are shrunk to a short side of 512-1023: above any CLIP input


class BadImage(Exception):
    """One file that cannot be indexed; str(error) is the reason a person reads."""


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    path: Path  # as found under the root (not resolved: the user's own name for it)
    size: int  # bytes
    mtime: float  # seconds since the epoch
    problem: str | None = None  # why it cannot even be opened (broken link, loop, not a file)


def walk_images(root: Path) -> Iterator[FileEntry]:
    """Every file with an image extension under root, sorted, each directory visited once."""
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError:
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(path)
                continue
            if path.suffix.lower() not in EXTENSIONS:
                continue
            yield _file_entry(path)
        stack.extend(reversed(subfolders))


def _file_entry(path: Path) -> FileEntry:
    try:
        info = path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            problem = "symlink loop"
        elif path.is_symlink():
            problem = "broken symlink"
        else:
            problem = f"cannot stat: {e.strerror}"
        return FileEntry(path=path, size=0, mtime=0.0, problem=problem)
    if not stat.S_ISREG(info.st_mode):
        return FileEntry(path=path, size=info.st_size, mtime=info.st_mtime, problem="not a file")
    return FileEntry(path=path, size=info.st_size, mtime=info.st_mtime)


@dataclass(frozen=True, kw_only=True)
class Decoded:
    image: Image.Image  # RGB, upright, shrunk so its short side is WORK_SIDE to twice that
    width: int  # of the picture as a person sees it (upright, full size)
    height: int
    sha256: str


def decode(path: Path, max_pixels: int = MAX_PIXELS) -> Decoded:
    """Hash and decode one file into an upright RGB image, or raise BadImage.

    Any exception from the decoder becomes a BadImage: a crafted file can make PIL raise
    almost anything (ValueError, SyntaxError, struct.error, EOFError, zlib.error, ...).
    """
    try:
        handle = path.open("rb")
    except PermissionError as e:
        raise BadImage("permission denied") from e
    except OSError as e:
        raise BadImage(f"unreadable: {e.strerror or e}") from e
    with handle, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            digest = _sha256(handle)
            # Not `with Image.open(...)`: closing would free the pixels an RGB result shares.
            return _decode_within_budget(Image.open(handle), digest, max_pixels)
        except BadImage:
            raise
        except UnidentifiedImageError as e:
            raise BadImage("not an image") from e
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise BadImage("too many pixels (decompression bomb)") from e
        except MemoryError as e:
            raise BadImage("out of memory while decoding") from e
        except Exception as e:  # whatever a crafted file makes PIL raise
            raise BadImage(_reason(e)) from e


def _sha256(handle) -> str:
    """The file's digest, read in chunks (a large file is never held whole), rewound."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    if not size:
        raise BadImage("empty file")
    handle.seek(0)
    return digest.hexdigest()


def _decode_within_budget(image: Image.Image, digest: str, max_pixels: int) -> Decoded:
    width, height = image.size  # from the header: nothing decoded yet
    if width * height > max_pixels:
        raise BadImage(f"too many pixels: {width}x{height} > {max_pixels:,}")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise BadImage(f"extreme aspect ratio: {width}x{height} (over {MAX_ASPECT}:1)")
    image.seek(0)  # animated: the first frame
    image.draft(None, (WORK_SIDE, WORK_SIDE))  # JPEG: decode at 1/2 to 1/8 scale
    cost = decode_cost(image)
    if cost > MAX_DECODE_BYTES:
        raise BadImage(f"too large to decode: {width}x{height} {image.mode} needs "
                       f"{cost >> 20} MiB (limit {MAX_DECODE_BYTES >> 20} MiB)")
    image.load()
    turn = _orientation(image)
    source_mode = image.mode
    small = _shrink(image)
    if turn is not None:
        small = small.transpose(turn)
        if turn in _SWAPS_SIDES:
            width, height = height, width
    return Decoded(image=to_rgb(small, source_mode=source_mode), width=width, height=height,
                   sha256=digest)


_TRANSPOSE = {  # EXIF orientation -> the turn that makes the picture upright (as ImageOps)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = {Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270,
                Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90}


def _orientation(image: Image.Image) -> Image.Transpose | None:
    try:
        return _TRANSPOSE.get(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF: the picture itself is still good
        return None


# PIL's `reduce` refuses these modes; they are converted at full size first (the budget
# counts that copy): palettes to RGB(A), 16-bit grey to 32-bit, 1-bit to 8-bit.
_UNREDUCIBLE = {"1": "L", "P": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I"}


def bytes_per_pixel(mode: str) -> int:
    """What PIL stores a pixel in: 1 byte for 8-bit grey, palettes and 1-bit, 2 for 16-bit
    grey, 4 for everything else (RGB too is stored in 4)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def decode_cost(image: Image.Image) -> int:
    """Peak bytes of decoding an opened (not yet loaded) image, from its header: its pixels
    at full size, the copy that makes them reducible, and to_rgb's copies of the shrunk
    image (none for RGB; an RGBA copy, its alpha mask and the RGB result at worst)."""
    pixels = image.width * image.height
    cost = pixels * bytes_per_pixel(image.mode)
    factor = _shrink_factor(image.size)
    if factor > 1 and image.mode in _UNREDUCIBLE:
        cost += pixels * bytes_per_pixel(_UNREDUCIBLE[image.mode])
    if image.mode != "RGB":
        cost += pixels // factor**2 * 9
    return cost


def _shrink_factor(size: tuple[int, int]) -> int:
    return max(1, min(size) // WORK_SIDE)


def _shrink(image: Image.Image) -> Image.Image:
    """The image box-reduced by a whole factor, its short side kept at least WORK_SIDE.

    The model resizes again (bicubic) to its own side; reducing first is what PIL's own
    `resize(reducing_gap=...)` does, and it drops the full-size buffer before any copy.
    """
    factor = _shrink_factor(image.size)
    if factor == 1:
        return image
    if image.mode in _UNREDUCIBLE:
        opaque = image.mode == "P" and "transparency" not in image.info
        image = image.convert("RGB" if opaque else _UNREDUCIBLE[image.mode])
    return image.reduce(factor)


APPEARANCE_SIDE = 8  # the appearance descriptor is an 8x8 colour layout: 192 numbers
# Its scale: two random pictures of the demo library lie as far apart (median squared distance
# 1.07) as they did under the unit descriptor it replaced (1.08), so the weights of image
# feedback, tuned at that scale (agent/engine.py, retrievers/rerank.py), keep their meaning.
APPEARANCE_SCALE = 0.42
# a look's numbers are 8-bit colours times this: what the file beside the index stores them as
APPEARANCE_STEP = np.float32(APPEARANCE_SCALE / 255.0)


def appearance(image: Image.Image) -> np.ndarray:
    """The picture's colour layout: 8x8 RGB in [0, 1], times APPEARANCE_SCALE.

    CLIP embeddings describe what is in a picture; two garments with the same attributes can
    embed almost identically even when one is on a dark background and turned aside. "More like
    #3" also means *looks* like #3, so image feedback compares this descriptor too, by distance
    (retrievers/rerank.py's `likeness`).

    The colours are kept as they are, as MPEG-7's colour layout keeps its DC terms. The former
    descriptor removed the mean and scaled to unit length, which threw away how light or dark
    the picture is overall (a garment on a black ground against the same one on white). Among
    demo twins (same attributes, 150 pages of 10 against a target), its rank correlation with
    the simulated shopper's pixel distance was 0.59, and it named the same closest picture
    for 55 % of pages; this one 0.93 and 73 %. In `rummage eval` (200 episodes, Hits@10 at
    turn 5) that took seeds 0 / 2 from 0.885 / 0.89 to 0.92 / 0.92 and held-out seed 1 from
    0.855 to 0.935.
    """
    small = image.convert("RGB").resize((APPEARANCE_SIDE, APPEARANCE_SIDE), Image.BOX)
    return np.asarray(small, np.float32).ravel() * APPEARANCE_STEP


def _reason(error: BaseException) -> str:
    """One short line: PIL's messages can be long, multi-line, or empty (struct.error)."""
    text = " ".join(str(error).split())
    if "truncated" in text.lower():
        return "truncated image"
    if "MAX_TEXT_CHUNK" in text or "MAX_TEXT_MEMORY" in text:
        return "oversized text metadata (PNG text chunk over PIL's limit)"
    text = text or type(error).__name__
    return f"cannot decode: {text[:117] + '...' if len(text) > 120 else text}"


def to_rgb(image: Image.Image, *, source_mode: str | None = None) -> Image.Image:
    """RGB as a viewer shows it; `source_mode` is the file's own mode when the image was
    converted before (16-bit grey shrunk as 32-bit is still scaled from 16 bits)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)  # exact for 16 bits, half float64's size
        sixteen = (source_mode or mode).startswith("I;16")
        top = 65535.0 if sixteen or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("RGBA", "LA", "PA") or image.mode == "RGBA":
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if mode == "RGB" else image.convert("RGB")  # RGB: no copy (callers own it)
