"""The demo world: a seeded catalogue of procedurally drawn garments with known attributes.

Every garment is drawn from its attributes alone, so the attributes are the ground truth a
search can be scored against. A "look" (pose, scale, offset, background, lighting, pattern
phase) is drawn from its own seed: the catalogue uses one look per item, training draws the same
garment under fresh looks. Shapes are polygons in a canonical frame (x right, y down, both in
[-1, 1]) rasterised at twice the output size and box-filtered down, so edges and patterns stay
crisp at 64 px without a slow resampling filter.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from retrievers.demo.schema import ATTRIBUTES, HAS_LENGTH, HAS_SLEEVES, TOPS

SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))

# sRGB fill colours, chosen so that the lighting jitter below never makes neighbours
# (navy/blue/purple, gray/white/black, orange/brown/red) meet.
RGB: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 30),
    "white": (250, 250, 248),
    "gray": (128, 128, 128),
    "red": (205, 28, 32),
    "orange": (245, 135, 20),
    "yellow": (248, 220, 40),
    "green": (30, 150, 55),
    "blue": (45, 115, 235),
    "navy": (22, 32, 105),
    "purple": (125, 45, 170),
    "pink": (245, 150, 195),
    "brown": (120, 70, 30),
}
# Solid is the most common pattern, as in real catalogues; the rest share the remainder.
PATTERN_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
PATTERN_PERIOD = 0.26  # canonical units per stripe/dot/check cycle (about 7-8 px at 64 px)


@dataclass(frozen=True)
class Item:
    """One garment of the catalogue: its position and its attributes (plus its split)."""

    index: int
    meta: dict


def sample_items(n: int = 20000, seed: int = 0) -> list[Item]:
    """n garments; the same (n, seed) always gives the same items.

    Item i's attributes do not depend on n (a bigger catalogue extends a smaller one); its split
    does, since the split is an exact 80/10/10 of the n items.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    metas = [_sample_meta(rng) for _ in range(n)]
    # An exact 80/10/10 split by a seeded permutation, so every split is present even for small n.
    order = rng.permutation(n)
    bounds = np.cumsum([round(share * n) for _, share in SPLITS])
    for rank, index in enumerate(order):
        metas[index]["split"] = SPLITS[min(int(np.searchsorted(bounds, rank, "right")), 2)][0]
    return [Item(index=i, meta=meta) for i, meta in enumerate(metas)]


def _sample_meta(rng: np.random.Generator) -> dict:
    category = _pick(rng, ATTRIBUTES["category"])
    color = _pick(rng, ATTRIBUTES["color"])
    pattern = ATTRIBUTES["pattern"][rng.choice(4, p=PATTERN_WEIGHTS)]
    pattern_color = None
    if pattern != "solid":
        pattern_color = _pick(rng, tuple(c for c in ATTRIBUTES["color"] if c != color))
    sleeves = _pick(rng, ATTRIBUTES["sleeves"]) if category in HAS_SLEEVES else None
    length = _pick(rng, ATTRIBUTES["length"]) if category in HAS_LENGTH else None
    return {
        "category": category, "color": color, "pattern": pattern,
        "pattern_color": pattern_color, "sleeves": sleeves, "length": length,
    }


def _pick(rng: np.random.Generator, values: tuple[str, ...]) -> str:
    return values[int(rng.integers(len(values)))]


# --- drawing -----------------------------------------------------------------------------------

_CATALOGUE_LOOK = 0x10C  # the look_seed that draw(item) uses for the catalogue picture

Point = tuple[float, float]


def draw(item: Item, size: int = 64, look_seed: int | None = None) -> Image.Image:
    """The garment as an RGB picture of size x size pixels.

    look_seed None is the item's catalogue picture; any other value shows the same garment
    under another pose, scale, offset, background and lighting (training augmentation).
    """
    meta = item.meta
    look = np.random.default_rng([item.index, _CATALOGUE_LOOK if look_seed is None else look_seed])
    big = 2 * size
    angle = math.radians(look.uniform(-8, 8))
    scale = big / 2 * look.uniform(0.84, 0.98)
    cx = big / 2 * (1 + look.uniform(-0.07, 0.07))
    cy = big / 2 * (1 + look.uniform(-0.07, 0.07))
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale

    def to_px(points: list[Point]) -> list[Point]:
        return [(cx + cos * x - sin * y, cy + sin * x + cos * y) for x, y in points]

    body, holes, trims = _shapes(meta)
    mask = Image.new("L", (big, big), 0)
    pen = ImageDraw.Draw(mask)
    for polygon in body:
        pen.polygon(to_px(polygon), fill=255)
    for polygon in holes:
        pen.polygon(to_px(polygon), fill=0)

    fill = np.array(RGB[meta["color"]], np.float32)
    shade = _color(_shade(fill))
    canvas = Image.fromarray(_background(look, big), "RGB")
    canvas.paste(_color(fill), mask=mask)
    if meta["pattern"] != "solid":
        # Canonical coordinates of every pixel, so patterns turn and scale with the garment.
        xs, ys = _grid(big)
        dx, dy = xs - cx, ys - cy
        phase_u, phase_v = look.uniform(0, PATTERN_PERIOD, 2)
        u = (cos * dx + sin * dy) / scale**2 + phase_u
        v = (-sin * dx + cos * dy) / scale**2 + phase_v
        marks = Image.fromarray(_pattern(meta["pattern"], u, v).astype(np.uint8) * 255, "L")
        canvas.paste(RGB[meta["pattern_color"]], mask=ImageChops.multiply(marks, mask))
    if trims:
        trim = Image.new("L", (big, big), 0)
        pen = ImageDraw.Draw(trim)
        for polygon in trims:
            pen.polygon(to_px(polygon), fill=255)
        canvas.paste(shade, mask=ImageChops.multiply(trim, mask))
    canvas.paste(shade, mask=_edge(mask))

    small = np.asarray(canvas.reduce(2), dtype=np.float32)
    small = small * look.uniform(0.93, 1.07)  # lighting
    small += look.normal(0, 2.0, small.shape).astype(np.float32)  # sensor noise
    return Image.fromarray(np.clip(small + 0.5, 0, 255).astype(np.uint8), "RGB")


@functools.cache
def _grid(big: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32)
    return xs, ys


def _color(rgb: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(c + 0.5) for c in np.clip(rgb, 0, 255))
    return r, g, b


def _background(look: np.random.Generator, big: int) -> np.ndarray:
    # Light neutral tints with a gentle vertical gradient: clearly not a garment colour.
    base = look.uniform(182, 222) + look.uniform(-7, 7, 3)
    ramp = np.linspace(-1, 1, big, dtype=np.float32)[:, None, None] * look.uniform(-8, 8)
    column = np.clip(base.astype(np.float32) + ramp, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(column, (big, big, 3)))


def _shade(fill: np.ndarray) -> np.ndarray:
    # Seams and trims in a darker tone of the fill, so they never read as another colour;
    # black gets a lighter tone instead so its outline still shows.
    return fill * 0.55 if fill.mean() > 60 else fill + 45


def _edge(mask: Image.Image) -> Image.Image:
    # An outline two half-pixels wide, so a white garment still stands off a light background.
    inside = np.asarray(mask) > 127
    core = inside.copy()
    core[1:] &= inside[:-1]
    core[:-1] &= inside[1:]
    core[:, 1:] &= inside[:, :-1]
    core[:, :-1] &= inside[:, 1:]
    return Image.fromarray((inside & ~core).astype(np.uint8) * 255, "L")


def _pattern(pattern: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    p = PATTERN_PERIOD
    if pattern == "striped":
        return (v % p) < 0.45 * p
    if pattern == "polka-dot":
        # A staggered grid of dots: every other row shifted by half a period.
        row = np.floor(v / p)
        du = ((u + 0.5 * p * (row % 2)) % p) - p / 2
        dv = (v % p) - p / 2
        return du * du + dv * dv < (0.27 * p) ** 2
    if pattern == "checked":
        return (np.floor(u / (0.8 * p)) + np.floor(v / (0.8 * p))) % 2 == 0
    raise ValueError(f"unknown pattern {pattern!r}; expected one of {ATTRIBUTES['pattern']}")


def _mirror(points: list[Point]) -> list[Point]:
    return [(-x, y) for x, y in points]


def _both(points: list[Point]) -> list[list[Point]]:
    return [points, _mirror(points)]


def _shapes(meta: dict) -> tuple[list[list[Point]], list[list[Point]], list[list[Point]]]:
    """Body polygons, holes cut out of the body, and trim polygons drawn in a darker tone."""
    category = meta["category"]
    if category in TOPS:
        return _top(category, meta["sleeves"])
    if category == "dress":
        return _dress(meta["sleeves"], meta["length"])
    if category == "skirt":
        return _skirt(meta["length"])
    return _legs(category)


def _sleeves(sleeves: str, shoulder: Point, armpit: Point) -> list[list[Point]]:
    (sx, sy), (ax, ay) = shoulder, armpit
    if sleeves == "short":
        arm = [(sx, sy), (sx + 0.36, sy + 0.24), (sx + 0.22, sy + 0.45), (ax, ay)]
    elif sleeves == "long":
        arm = [(sx, sy), (sx + 0.42, sy + 1.2), (sx + 0.22, sy + 1.26), (ax, ay + 0.05)]
    else:
        return []
    return _both(arm)


def _top(category: str, sleeves: str) -> tuple[list, list, list]:
    hem = {"t-shirt": 0.62, "shirt": 0.72, "sweater": 0.6, "jacket": 0.8}[category]
    top, half = -0.72, 0.4
    if sleeves == "sleeveless":
        # A tank top: narrow straps and deep armholes.
        body = [(-0.2, top), (-0.12, top), (0, -0.6), (0.12, top), (0.2, top), (half, -0.3),
                (half, hem), (-half, hem), (-half, -0.3)]
        shoulder = (0.2, top)
    else:
        body = [(-half, top), (half, top), (half, hem), (-half, hem)]
        shoulder = (half, top)
    polygons = [body, *_sleeves(sleeves, shoulder, (half, -0.3))]
    holes, trims = [], []
    if category == "t-shirt":
        holes.append(_ellipse(0, top, 0.15, 0.12))
    elif category == "shirt":
        holes.append([(-0.12, top - 0.01), (0.12, top - 0.01), (0, -0.58)])
        trims += _both([(-0.02, -0.58), (-0.14, top), (-0.24, top + 0.02), (-0.16, -0.5)])
        trims.append([(-0.02, -0.58), (0.02, -0.58), (0.02, hem), (-0.02, hem)])
    elif category == "sweater":
        holes.append([(-0.14, top - 0.01), (0.14, top - 0.01), (0, -0.4)])
        trims.append([(-half, hem - 0.13), (half, hem - 0.13), (half, hem), (-half, hem)])
        if sleeves == "long":
            trims += _both([(0.66, 0.38), (0.84, 0.32), (0.84 + 0.02, 0.54), (0.62, 0.54)])
    elif category == "jacket":
        # Open front: a gap down the middle, lapels and two pockets.
        holes.append([(-0.1, top - 0.01), (0.1, top - 0.01), (0.045, hem + 0.01),
                      (-0.045, hem + 0.01)])
        trims += _both([(-0.1, top), (-0.2, top), (-0.25, -0.35), (-0.07, -0.15)])
        trims += _both([(-0.33, 0.38), (-0.15, 0.38), (-0.15, 0.46), (-0.33, 0.46)])
    return polygons, holes, trims


def _dress(sleeves: str, length: str) -> tuple[list, list, list]:
    top, waist, half = -0.8, -0.25, 0.28
    hem, flare = {"short": (0.15, 0.48), "knee": (0.52, 0.6), "long": (0.96, 0.7)}[length]
    if sleeves == "sleeveless":
        bodice = [(-0.16, top), (-0.09, top), (0, -0.7), (0.09, top), (0.16, top),
                  (half, -0.48), (half * 0.85, waist), (-half * 0.85, waist), (-half, -0.48)]
        shoulder = (0.16, top)
    else:
        bodice = [(-half, top), (half, top), (half * 0.85, waist), (-half * 0.85, waist)]
        shoulder = (half, top)
    skirt = [(-half * 0.85, waist), (half * 0.85, waist), (flare, hem), (-flare, hem)]
    polygons = [bodice, skirt, *_sleeves(sleeves, shoulder, (half, -0.45))]
    holes = [_ellipse(0, top, 0.12, 0.1)] if sleeves != "sleeveless" else []
    trims = [[(-half * 0.87, waist - 0.04), (half * 0.87, waist - 0.04),
              (half * 0.87, waist + 0.04), (-half * 0.87, waist + 0.04)]]
    return polygons, holes, trims


def _skirt(length: str) -> tuple[list, list, list]:
    waist, half = -0.62, 0.32
    hem, flare = {"short": (-0.02, 0.5), "knee": (0.42, 0.6), "long": (0.92, 0.7)}[length]
    band = [(-half, waist), (half, waist), (half, waist + 0.1), (-half, waist + 0.1)]
    return [[(-half, waist), (half, waist), (flare, hem), (-flare, hem)]], [], [band]


def _legs(category: str) -> tuple[list, list, list]:
    if category == "trousers":
        waist, half, hem, outer, inner, crotch = -0.8, 0.38, 0.96, 0.42, 0.07, -0.3
    else:
        waist, half, hem, outer, inner, crotch = -0.45, 0.44, 0.18, 0.58, 0.12, -0.08
    body = [(-half, waist), (half, waist), (outer, hem), (inner, hem), (0, crotch),
            (-inner, hem), (-outer, hem)]
    band = [(-half, waist), (half, waist), (half * 1.01, waist + 0.1), (-half * 1.01, waist + 0.1)]
    return [body], [], [band]


def _ellipse(x: float, y: float, rx: float, ry: float, n: int = 16) -> list[Point]:
    return [(x + rx * math.cos(2 * math.pi * k / n), y + ry * math.sin(2 * math.pi * k / n))
            for k in range(n)]


# --- the catalogue on disk ---------------------------------------------------------------------


def write_catalogue(
    root: Path,
    n: int = 20000,
    seed: int = 0,
    size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[str, dict]]:
    """Write root/images/NNNNN.png and root/catalogue.jsonl; pictures already there are kept."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    items = sample_items(n, seed)
    for done, item in enumerate(items, 1):
        relative = f"images/{item.index:05d}.png"
        target = root / relative
        if not target.exists():
            # Write then rename, so a killed run never leaves a truncated picture behind.
            partial = target.with_suffix(".tmp")
            draw(item, size).save(partial, format="PNG", compress_level=1)
            partial.replace(target)
        rows.append((relative, item.meta))
        if progress is not None:
            progress(done, n)
    lines = "".join(json.dumps({"path": path, "meta": meta}) + "\n" for path, meta in rows)
    (root / "catalogue.jsonl").write_text(lines)
    return rows
