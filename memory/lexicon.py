"""The attribute vocabulary: which slot a phrase fills and its one canonical spelling.

Slots exist for conflict resolution: two values in one slot cannot both hold ("red" then "blue"),
values in different slots combine. Phrases outside the vocabulary have no slot and simply
accumulate, so the vocabulary can stay modest and general-purpose.

Design decisions:
- "short"/"long" alone are a length; followed by "sleeves" they are sleeves. Longest match wins.
- A colour before a pattern *noun* ("white stripes", "red polka dots") is the pattern's colour,
  so the whole phrase is one pattern value ("white striped"); a colour before a pattern
  *adjective* ("red striped dress") is the garment's colour. `split` keeps that distinction.
- A phrase whose head noun is a known category ("leather bag", "sports car") fills the
  category slot, so "dress" later still replaces it.
- Synonyms collapse to the demo world's spelling where one exists (mini→short, maxi→long,
  midi→knee-length, coat→jacket) because that is what retrieval and conflict checks compare.
"""

from __future__ import annotations

import re

SLOT_ORDER = ("category", "color", "pattern", "sleeves", "length")

# canonical value → spellings that mean it (the canonical spelling is included implicitly)
_COLORS: dict[str, tuple[str, ...]] = {
    "black": (), "white": (), "gray": ("grey",), "red": (), "orange": (), "yellow": (),
    "green": (), "blue": (), "navy": ("navy blue", "navy-blue"), "purple": ("violet",),
    "pink": (), "brown": (), "beige": (), "teal": (), "maroon": (), "burgundy": (),
    "cream": (), "ivory": (), "tan": (), "khaki": (), "olive": (), "turquoise": (),
    "gold": ("golden",), "silver": (), "lavender": (), "magenta": (), "cyan": (),
    "coral": (), "mint": (), "lilac": (), "mustard": (), "charcoal": (),
}
_SHADES = ("light", "dark", "pale", "bright", "deep", "pastel")

_PATTERNS: dict[str, tuple[str, ...]] = {
    "solid": ("plain", "solid-colored", "solid colored", "single-colored"),
    "striped": ("stripes", "stripe", "stripy", "stripey", "pinstriped", "pinstripes"),
    "polka-dot": ("polka dots", "polka dot", "polka-dots", "polka-dotted", "dotted", "dots",
                  "spotted", "spots", "dot"),
    "checked": ("checkered", "chequered", "checks", "check", "plaid", "gingham", "tartan"),
    "floral": ("flowery", "flowers", "flowered"),
}
# Spellings that are nouns: a colour in front of them colours the pattern, not the garment.
PATTERN_NOUNS = frozenset({
    "stripes", "stripe", "pinstripes", "polka dots", "polka dot", "polka-dot", "polka-dots",
    "dots", "dot", "spots", "checks", "check", "flowers",
})

_SLEEVES: dict[str, tuple[str, ...]] = {
    "sleeveless": ("no sleeves", "without sleeves", "strapless"),
    "short sleeves": ("short sleeve", "short-sleeved", "short sleeved", "short-sleeve"),
    "long sleeves": ("long sleeve", "long-sleeved", "long sleeved", "long-sleeve"),
}
_LENGTHS: dict[str, tuple[str, ...]] = {
    "short": ("mini", "cropped"),
    "knee-length": ("knee length", "knee", "midi", "knee-high"),
    "long": ("maxi", "floor-length", "floor length", "ankle-length", "ankle length"),
}
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "t-shirt": ("tee", "tshirt", "t shirt", "tee shirt", "tees", "tshirts", "t-shirts",
                "t shirts"),
    "shirt": ("blouse", "blouses", "shirts", "button-down"),
    "sweater": ("jumper", "pullover", "jumpers", "sweaters", "pullovers", "sweatshirt",
                "hoodie", "cardigan"),
    "jacket": ("coat", "jackets", "coats", "blazer"),
    "dress": ("gown", "dresses", "frock"),
    "skirt": ("skirts",),
    "trousers": ("pants", "jeans", "slacks", "chinos"),
    "shorts": (),
    "shoes": ("shoe", "sneakers", "trainers", "boots", "sandals", "heels"),
    "bag": ("bags", "handbag", "purse", "backpack", "tote"),
    "hat": ("hats", "cap", "beanie"),
    "dog": ("dogs", "puppy"),
    "cat": ("cats", "kitten"),
    "car": ("cars",),
    "bicycle": ("bike", "bikes", "bicycles"),
    "flower": (),
    "tree": ("trees",),
    "house": ("houses",),
}

# Words that name a slot itself, for "any color" / "forget the length".
_SLOT_NAMES = {
    "color": "color", "colour": "color", "colors": "color", "colours": "color",
    "pattern": "pattern", "patterns": "pattern", "print": "pattern",
    "sleeves": "sleeves", "sleeve": "sleeves", "sleeve length": "sleeves",
    "length": "length", "hem": "length", "hemline": "length",
    "category": "category", "type": "category", "kind": "category", "garment": "category",
}


def _table(slot: str, groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    out = {}
    for value, spellings in groups.items():
        for spelling in (value, *spellings):
            out[spelling] = (value, slot)
    return out


_LEXICON: dict[str, tuple[str, str]] = {
    **_table("pattern", _PATTERNS),
    **_table("category", _CATEGORIES),
    **_table("color", _COLORS),
    **_table("sleeves", _SLEEVES),
    **_table("length", _LENGTHS),
}
_MAX_WORDS = max(len(key.split()) for key in _LEXICON)


def normalize(text: str) -> str:
    """Lowercase, single-spaced, without surrounding punctuation or quotes."""
    text = text.lower().replace("\u2019", "'").replace("\u2010", "-").replace("\u2013", "-")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t\n.,;:!?\"'()[]")


def _lookup(phrase: str) -> tuple[str, str] | None:
    """(canonical, slot) for a phrase of the vocabulary, a shaded colour, or a coloured pattern."""
    if phrase in _LEXICON:
        return _LEXICON[phrase]
    words = phrase.split()
    if len(words) >= 2:
        head, rest = words[0], " ".join(words[1:])
        if head in _SHADES and _LEXICON.get(rest, ("", ""))[1] == "color":
            return f"{head} {_LEXICON[rest][0]}", "color"
        color = _color_prefix(words)
        if color is not None:
            shade_words, value = color
            tail = " ".join(words[shade_words:])
            # any pattern spelling, so that canonical("white striped") is itself
            if _LEXICON.get(tail, ("", ""))[1] == "pattern":
                return f"{value} {_LEXICON[tail][0]}", "pattern"
    return None


def _color_prefix(words: list[str]) -> tuple[int, str] | None:
    """How many leading words spell a colour, and which: ["light", "blue", "dots"] → (2, ...)."""
    for n in (3, 2, 1):
        found = _lookup_plain(" ".join(words[:n])) if len(words) > n else None
        if found and found[1] == "color":
            return n, found[0]
    return None


def _lookup_plain(phrase: str) -> tuple[str, str] | None:
    if phrase in _LEXICON:
        return _LEXICON[phrase]
    head, _, rest = phrase.partition(" ")
    if head in _SHADES and _LEXICON.get(rest, ("", ""))[1] == "color":
        return f"{head} {_LEXICON[rest][0]}", "color"
    return None


def _analyse(text: str) -> tuple[str, str | None]:
    """(canonical spelling, slot) of a phrase; slot None outside the vocabulary."""
    phrase = normalize(text)
    found = _lookup(phrase)
    if found:
        return found
    words = phrase.split()
    # "cotton shirts" → "cotton shirt": the head noun takes its canonical form and its slot.
    if len(words) >= 2:
        head = _LEXICON.get(words[-1])
        if head and head[1] == "category":
            return " ".join([*words[:-1], head[0]]), "category"
    return phrase, None


def canonical(text: str) -> str:
    """One spelling per meaning: "stripes" → "striped", "grey" → "gray", "tee" → "t-shirt"."""
    return _analyse(text)[0]


def slot_of(text: str) -> str | None:
    """The slot a phrase fills ("navy" → "color"), or None for phrases outside the vocabulary."""
    return _analyse(text)[1]


def slot_named(text: str) -> str | None:
    """The slot a phrase names ("the colour" → "color"), for revocations like "any color"."""
    phrase = normalize(text)
    phrase = re.sub(r"^(the|a|any|its|their)\s+", "", phrase)
    return _SLOT_NAMES.get(phrase)


def is_pattern_noun(text: str) -> bool:
    return normalize(text) in PATTERN_NOUNS


def split(text: str) -> list[str]:
    """Split an adjective stack into attribute phrases, head noun first.

    "long navy dress" → ["dress", "long", "navy"]; "white polka dots" → ["white polka-dot"];
    "brown leather strap" → ["brown", "leather strap"]; unknown words stay attached to what
    follows them, so an unknown compound ("leather strap", "sports car") is never cut apart.
    Results are canonical.
    """
    words = normalize(text).split()
    pieces: list[tuple[str, str | None]] = []  # (spelling, slot) — slot None for unknown words
    i = 0
    while i < len(words):
        for n in range(min(_MAX_WORDS + 1, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            found = _lookup_plain(phrase)
            if found:
                pieces.append((phrase, found[1]))
                i += n
                break
        else:
            pieces.append((words[i], None))
            i += 1
    merged: list[tuple[str, str | None]] = []
    for spelling, slot in pieces:
        if merged:
            last, last_slot = merged[-1]
            # a colour colours a following pattern noun: "white stripes" is one value
            if last_slot == "color" and spelling in PATTERN_NOUNS:
                merged[-1] = (f"{last} {spelling}", "pattern")
                continue
            # unknown words glue onto what follows ("leather" + "strap", "leather" + "bag")
            if last_slot is None and slot in (None, "category"):
                merged[-1] = (f"{last} {spelling}", slot)
                continue
        merged.append((spelling, slot))
    heads = [canonical(s) for s, slot in merged if slot == "category"]
    others = [canonical(s) for s, slot in merged if slot != "category"]
    return heads + others
