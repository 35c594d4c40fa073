"""Find image files under a folder and decode them safely, whatever a real folder holds.

Every problem with one file becomes a `BadImage` with a short reason that the library records;
nothing here is fatal to an indexing run. Decisions:
- The pixel limit is checked from the header, before any pixel is decoded, so a decompression
  bomb costs nothing. PIL's own bomb check is turned into an error for the same reason.
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
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
MAX_PIXELS = 100_000_000  # 100 megapixels: above any camera photo, below a bomb's size


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
    import stat

    if not stat.S_ISREG(info.st_mode):
        return FileEntry(path=path, size=info.st_size, mtime=info.st_mtime, problem="not a file")
    return FileEntry(path=path, size=info.st_size, mtime=info.st_mtime)


@dataclass(frozen=True, kw_only=True)
class Decoded:
    image: Image.Image  # RGB, upright
    width: int
    height: int
    sha256: str


def decode(path: Path, max_pixels: int = MAX_PIXELS) -> Decoded:
    """Read, hash and decode one file into an upright RGB image, or raise BadImage."""
    try:
        data = path.read_bytes()
    except PermissionError as e:
        raise BadImage("permission denied") from e
    except OSError as e:
        raise BadImage(f"unreadable: {e.strerror or e}") from e
    if not data:
        raise BadImage("empty file")
    digest = hashlib.sha256(data).hexdigest()
    import io

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as e:
            raise BadImage("not an image") from e
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise BadImage("too many pixels (decompression bomb)") from e
        except OSError as e:
            raise BadImage(_reason(e)) from e
        width, height = image.size
        if width * height > max_pixels:
            raise BadImage(f"too many pixels: {width}x{height} > {max_pixels:,}")
        try:
            image.seek(0)  # animated: the first frame
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = to_rgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise BadImage("too many pixels (decompression bomb)") from e
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise BadImage(_reason(e)) from e
    return Decoded(image=rgb, width=rgb.width, height=rgb.height, sha256=digest)


APPEARANCE_SIDE = 8  # the appearance descriptor is an 8x8 colour layout: 192 numbers


def appearance(image: Image.Image) -> np.ndarray:
    """A unit vector of the picture's colour layout (8x8 RGB, mean removed).

    CLIP embeddings describe what is in a picture; two garments with the same attributes can
    embed almost identically even when one is on a dark background and turned aside. "More like
    #3" also means *looks* like #3, so image feedback compares this descriptor too.
    """
    small = image.convert("RGB").resize((APPEARANCE_SIDE, APPEARANCE_SIDE), Image.BOX)
    v = np.asarray(small, np.float32).ravel() / 255.0
    v -= v.mean()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-6 else np.zeros_like(v)


def _reason(error: BaseException) -> str:
    return "truncated image" if "truncated" in str(error).lower() else f"cannot decode: {error}"


def to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("RGBA", "LA", "PA") or image.mode == "RGBA":
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
