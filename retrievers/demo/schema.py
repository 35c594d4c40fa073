"""The demo world's schema, written once: attribute keys, values, and how people phrase them.

Used by the world generator (which attributes a garment has), the training captions, the
simulated shopper, the quality script, the scripted demo and the tests. The agent itself never
reads this module: it reads the demo *vocabulary* (vocabulary.json beside this file), whose
canonical spellings `vocabulary_value` maps an item's meta to ("knee" -> "knee-length").

It also holds the orders a shopper compares along (length, sleeves, and each colour's lightness
and colourfulness), so "longer" or "darker" can be checked against the ground truth.

Two phrasings, on purpose:
- `CAPTIONS` are the words the demo model was trained on (train.py); changing them changes what
  a retrained checkpoint knows, so they stay as the committed model saw them.
- `SHOPPER` are the simulated user's words. They include words the model never saw in training
  ("blouse", "midi", "navy blue", "with no sleeves") so the evaluation measures the agent on
  phrasings it was not fitted to, and they drop training-only ones ("button-up shirt").
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORY, COLOR, PATTERN, PATTERN_COLOR, SLEEVES, LENGTH = (
    "category", "color", "pattern", "pattern_color", "sleeves", "length")
# The six attribute keys of an item's meta, in the order a shopper tends to mention them
# (meta also holds "split", which is bookkeeping, not an attribute).
KEYS: tuple[str, ...] = (CATEGORY, COLOR, PATTERN, PATTERN_COLOR, SLEEVES, LENGTH)

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    CATEGORY: ("t-shirt", "shirt", "sweater", "jacket", "dress", "skirt", "trousers", "shorts"),
    COLOR: ("black", "white", "gray", "red", "orange", "yellow",
            "green", "blue", "navy", "purple", "pink", "brown"),
    PATTERN: ("solid", "striped", "polka-dot", "checked"),
    SLEEVES: ("sleeveless", "short", "long"),
    LENGTH: ("short", "knee", "long"),
}
ATTRIBUTES[PATTERN_COLOR] = ATTRIBUTES[COLOR]
SOLID = "solid"
TOPS = ("t-shirt", "shirt", "sweater", "jacket")
HAS_SLEEVES = (*TOPS, "dress")
HAS_LENGTH = ("dress", "skirt")
PLURAL = ("trousers", "pants", "shorts")  # nouns that take no article

# meta value -> the demo vocabulary's canonical spelling, where the two differ
_VOCABULARY_VALUES = {
    SLEEVES: {"short": "short sleeves", "long": "long sleeves"},
    LENGTH: {"knee": "knee-length"},
}


def vocabulary_value(key: str, value: str) -> str:
    """The demo vocabulary's spelling of a meta value: (sleeves, "long") -> "long sleeves"."""
    return _VOCABULARY_VALUES.get(key, {}).get(value, value)


# -- comparatives: how one garment relates to another along an order --------------------------
# A shopper says "longer" or "darker" of the target next to a garment on screen. Length and
# sleeves are ordered by how much they cover; colours by how light and how colourful they are
# as the world draws them: CIELAB L* and chroma C*ab (D65) of world.RGB, rounded (a test checks
# them against the drawing colours, so a repainted world cannot leave this table stale).
LENGTH_ORDER: dict[str, int] = {"short": 0, "knee": 1, "long": 2}
SLEEVE_ORDER: dict[str, int] = {"sleeveless": 0, "short": 1, "long": 2}
LIGHTNESS: dict[str, int] = {
    "black": 10, "navy": 17, "brown": 35, "purple": 36, "red": 44, "blue": 50, "gray": 54,
    "green": 54, "orange": 67, "pink": 73, "yellow": 88, "white": 98,
}
COLORFULNESS: dict[str, int] = {
    "black": 1, "white": 1, "gray": 0, "red": 79, "orange": 79, "yellow": 82, "green": 66,
    "blue": 70, "navy": 50, "purple": 75, "pink": 42, "brown": 37,
}
# How far apart two colours must be before a person calls one plainly darker (L*) or more
# colourful (C*ab) than the other: navy is darker than blue (33), red is not darker than blue (6).
LIGHTNESS_STEP = 15
COLORFULNESS_STEP = 30
# The comparatives a shopper uses, by what they compare; one per group makes sense at a time.
COMPARATIVE_GROUPS: dict[str, tuple[str, ...]] = {
    "lightness": ("darker", "lighter", "brighter"),
    "colorfulness": ("more colorful", "less colorful"),
    LENGTH: ("longer", "shorter"),
    SLEEVES: ("longer sleeves", "shorter sleeves"),
}
COMPARATIVES: tuple[str, ...] = tuple(c for group in COMPARATIVE_GROUPS.values() for c in group)


def relative(target: dict, other: dict) -> tuple[str, ...]:
    """The comparatives true of `target` next to `other`, in COMPARATIVES order: what a person
    holding `target` in mind asks of `other` ("longer", "darker"). "brighter" only when the
    target is both plainly lighter and no less colourful, so it holds under either reading."""
    out: set[str] = set()
    for key, order, more, less in ((LENGTH, LENGTH_ORDER, "longer", "shorter"),
                                   (SLEEVES, SLEEVE_ORDER, "longer sleeves", "shorter sleeves")):
        if target.get(key) in order and other.get(key) in order:
            step = order[target[key]] - order[other[key]]
            if step:
                out.add(more if step > 0 else less)
    mine, theirs = target.get(COLOR), other.get(COLOR)
    if mine in LIGHTNESS and theirs in LIGHTNESS:
        light = LIGHTNESS[mine] - LIGHTNESS[theirs]
        vivid = COLORFULNESS[mine] - COLORFULNESS[theirs]
        if light >= LIGHTNESS_STEP:
            out.add("lighter")
            if vivid >= 0:
                out.add("brighter")
        elif light <= -LIGHTNESS_STEP:
            out.add("darker")
        if vivid >= COLORFULNESS_STEP:
            out.add("more colorful")
        elif vivid <= -COLORFULNESS_STEP:
            out.add("less colorful")
    return tuple(c for c in COMPARATIVES if c in out)


def differing(meta: dict, target: dict) -> list[str]:
    """The keys of `target`'s attributes that `meta` does not match."""
    return [key for key in KEYS if meta.get(key) != target.get(key)]


@dataclass(frozen=True, kw_only=True)
class Phrasing:
    """Words for each attribute value; a tuple is a choice (repeats weigh a word more)."""

    nouns: dict[str, tuple[str, ...]]  # category -> its nouns
    color_words: dict[str, tuple[str, ...]]  # colours with more than one spelling
    pattern_adjectives: dict[str, tuple[str, ...]]  # "striped", "plain"
    pattern_nouns: dict[str, tuple[str, ...]]  # "stripes", "polka dots" (for "white stripes")
    sleeve_adjectives: dict[str, tuple[str, ...]]  # before the noun: "long-sleeved"
    sleeve_clauses: dict[str, tuple[str, ...]]  # after it: "long sleeves", "with no sleeves"
    length_words: dict[str, tuple[str, ...]]  # "knee-length", "maxi"

    def color(self, value: str) -> tuple[str, ...]:
        return self.color_words.get(value, (value,))


CAPTIONS = Phrasing(
    nouns={
        "t-shirt": ("t-shirt", "tee", "t-shirt"),
        "shirt": ("shirt", "button-up shirt", "shirt"),
        "sweater": ("sweater", "jumper", "pullover"),
        "jacket": ("jacket", "jacket", "coat"),
        "dress": ("dress",),
        "skirt": ("skirt",),
        "trousers": ("trousers", "pants", "trousers"),
        "shorts": ("shorts",),
    },
    color_words={"gray": ("gray", "grey")},
    pattern_adjectives={
        "solid": ("solid", "plain", "solid-colored"),
        "striped": ("striped", "stripy"),
        "polka-dot": ("polka-dot", "polka dot", "dotted", "spotted"),
        "checked": ("checked", "checkered", "plaid"),
    },
    pattern_nouns={
        "striped": ("stripes",),
        "polka-dot": ("polka dots", "dots", "spots"),
        "checked": ("checks", "check pattern"),
    },
    sleeve_adjectives={
        "sleeveless": ("sleeveless",),
        "short": ("short-sleeved", "short sleeved"),
        "long": ("long-sleeved", "long sleeved"),
    },
    sleeve_clauses={
        "sleeveless": ("no sleeves", "without sleeves"),
        "short": ("short sleeves",),
        "long": ("long sleeves",),
    },
    length_words={
        "short": ("short", "mini"),
        "knee": ("knee-length", "knee length"),
        "long": ("long", "maxi", "floor-length", "ankle-length"),
    },
)

SHOPPER = Phrasing(
    nouns={
        "t-shirt": ("t-shirt", "tee", "T-shirt"),
        "shirt": ("shirt", "blouse"),
        "sweater": ("sweater", "jumper", "pullover"),
        "jacket": ("jacket", "coat"),
        "dress": ("dress",),
        "skirt": ("skirt",),
        "trousers": ("trousers", "pants"),
        "shorts": ("shorts",),
    },
    color_words={"gray": ("gray", "grey"), "navy": ("navy", "navy blue")},
    pattern_adjectives={
        "solid": ("plain", "solid", "solid-colored", "plain"),
        "striped": ("striped", "stripy"),
        "polka-dot": ("polka-dot", "dotted", "spotted"),
        "checked": ("checked", "checkered", "plaid"),
    },
    pattern_nouns={
        "striped": ("stripes",),
        "polka-dot": ("polka dots", "dots", "spots"),
        "checked": ("checks",),
    },
    sleeve_adjectives=CAPTIONS.sleeve_adjectives,
    sleeve_clauses={
        "sleeveless": ("with no sleeves", "without sleeves", "sleeveless"),
        "short": ("with short sleeves", "short sleeves"),
        "long": ("with long sleeves", "long sleeves"),
    },
    length_words={
        "short": ("short", "mini"),
        "knee": ("knee-length", "knee length", "midi"),
        "long": ("long", "maxi", "floor-length"),
    },
)


def describe(meta: dict) -> str:
    """Attributes as a person reads them: "navy striped (white) dress, long sleeves, knee"."""
    parts = [meta.get(COLOR, "?")]
    if meta.get(PATTERN) and meta[PATTERN] != SOLID:
        parts.append(f"{meta[PATTERN]} ({meta.get(PATTERN_COLOR)})")
    parts.append(meta.get(CATEGORY, "?"))
    text = " ".join(parts)
    if meta.get(SLEEVES):
        text += ", " + vocabulary_value(SLEEVES, meta[SLEEVES])
    if meta.get(LENGTH):
        text += f", {meta[LENGTH]} length"
    return text


def script_for(meta: dict) -> list[str]:
    """What a person says, turn by turn, to find this garment (the scripted demo's turns)."""
    category = meta[CATEGORY]
    turns = [f"a {category}" if category not in PLURAL else category]
    turns.append(f"make it {meta[COLOR]}")
    if meta[PATTERN] == SOLID:
        turns.append("plain, no pattern")
    else:
        noun = SHOPPER.pattern_nouns[meta[PATTERN]][0]
        turns.append(f"with {meta[PATTERN_COLOR]} {noun}")
    if meta.get(SLEEVES):
        turns.append(vocabulary_value(SLEEVES, meta[SLEEVES]))
    if meta.get(LENGTH):
        turns.append(vocabulary_value(LENGTH, meta[LENGTH]))
    return turns
