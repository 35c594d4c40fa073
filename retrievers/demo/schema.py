"""The demo world's schema, written once: attribute keys, values, and how people phrase them.

Used by the world generator (which attributes a garment has), the training captions, the
simulated shopper, the quality script, the scripted demo and the tests. The agent itself never
reads this module: it reads the demo *vocabulary* (vocabulary.json beside this file), whose
canonical spellings `vocabulary_value` maps an item's meta to ("knee" -> "knee-length").

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
