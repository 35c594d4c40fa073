"""Captions for demo-world garments: many phrasings of all or some of an item's attributes.

Each caption comes with the attributes it mentions, so training can tell which other images a
caption also fits ("something blue" fits every blue item). Phrasings cover what people type in
the chat: full descriptions in varied word orders, and fragments ("striped", "knee-length").
"""

from __future__ import annotations

import random

from retrievers.demo.schema import CAPTIONS as WORDS
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.schema import PLURAL

FILLERS = ("something", "something", "item", "garment", "clothing", "")


def caption(meta: dict, rng: random.Random, *, partial: bool | None = None) -> tuple[str, dict]:
    """A random description of the item and the attributes it mentions.

    partial=None picks full or partial at random; a partial caption mentions a random non-empty
    subset of the attributes (a pattern colour only together with its pattern).
    """
    known = [key for key in ATTRIBUTE_KEYS if meta.get(key) is not None]
    if partial is None:
        partial = rng.random() < 0.5
    if partial:
        candidates = [key for key in known if key != "pattern_color"]
        count = min(len(candidates), rng.choice((1, 1, 1, 2, 2, 3)))
        keys = set(rng.sample(candidates, count))
        if "pattern" in keys and meta["pattern"] != "solid" and rng.random() < 0.5:
            keys.add("pattern_color")
    else:
        keys = set(known)
    mentioned = {key: meta[key] for key in ATTRIBUTE_KEYS if key in keys}
    if not partial:
        # A full caption pins every attribute down, nulls included (a solid item has no
        # pattern colour, trousers have no sleeves).
        mentioned = {key: meta.get(key) for key in ATTRIBUTE_KEYS}
    return _phrase(meta, keys, rng), mentioned


def full_description(meta: dict) -> str:
    """The one canonical phrasing of every attribute, used to score retrieval quality."""
    words = []
    if meta["pattern"] == "solid":
        words.append("plain")
    if meta.get("length"):
        words.append(WORDS.length_words[meta["length"]][0])
    words += [meta["color"], meta["category"]]
    clauses = []
    if meta.get("sleeves"):
        clauses.append(WORDS.sleeve_clauses[meta["sleeves"]][0])
    if meta["pattern"] != "solid":
        clauses.append(f"{meta['pattern_color']} {WORDS.pattern_nouns[meta['pattern']][0]}")
    text = " ".join(words)
    if clauses:
        text += " with " + " and ".join(clauses)
    return text if meta["category"] in PLURAL else _article(text)


def _phrase(meta: dict, keys: set[str], rng: random.Random) -> str:
    category = meta["category"]
    pattern = meta["pattern"]
    adjectives: list[str] = []  # before the noun
    clauses: list[str] = []  # after it, joined with "with"

    if "color" in keys:
        color = rng.choice(WORDS.color(meta["color"]))
        adjectives.append(color)
    if "pattern" in keys:
        if "pattern_color" in keys:
            pattern_color = rng.choice(WORDS.color(meta["pattern_color"]))
            clauses.append(f"{pattern_color} {rng.choice(WORDS.pattern_nouns[pattern])}")
        elif pattern != "solid" and rng.random() < 0.3:
            clauses.append(rng.choice(WORDS.pattern_nouns[pattern]))
        else:
            adjectives.insert(rng.randrange(len(adjectives) + 1),
                              rng.choice(WORDS.pattern_adjectives[pattern]))
    if "length" in keys:
        word = rng.choice(WORDS.length_words[meta["length"]])
        if rng.random() < 0.7:
            adjectives.insert(0, word)
        else:
            clauses.append(f"{word} length" if "length" not in word else word)
    if "sleeves" in keys:
        if rng.random() < 0.5:
            adjectives.insert(0, rng.choice(WORDS.sleeve_adjectives[meta["sleeves"]]))
        else:
            clauses.append(rng.choice(WORDS.sleeve_clauses[meta["sleeves"]]))
    rng.shuffle(clauses)

    noun = rng.choice(WORDS.nouns[category]) if "category" in keys else rng.choice(FILLERS)
    if not noun and clauses:
        noun = "something"
    style = rng.random()
    if "category" in keys and adjectives and "color" in keys and style < 0.15:
        # "dress in red", "t-shirt, navy": the colour after the noun.
        adjectives.remove(color)
        head = " ".join([*adjectives, noun])
        text = f"{head} in {color}" if rng.random() < 0.5 else f"{head}, {color}"
    elif noun == "something" and adjectives:
        text = f"{noun} {' '.join(adjectives)}"  # "something blue"
    else:
        text = " ".join([*adjectives, noun]).strip()
        if noun in ("item", "garment"):
            text = _article(text)
    if clauses:
        joiner = rng.choice((" with ", ", ", " with "))
        text = text + joiner + rng.choice((" and ", ", ")).join(clauses) if text else \
            "with " + " and ".join(clauses)
    if "category" in keys and category not in PLURAL and rng.random() < 0.5:
        text = _article(text)
    return text.strip(" ,")


def _article(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text
