"""The demo world's simulated shopper: holds a target garment and reacts to each page shown.

The protocol of chat-based retrieval papers (ChatIR, PlugIR, FashionNTM): the user opens with a
partial description (one or two attributes) and then gives one piece of feedback per turn, chosen
by looking at the results the way a person would: say an attribute not yet said, correct one the
top result gets wrong, reject wrong results ("not 1 or 3"), or point at the closest one ("more
like 3 but with long sleeves"). Once every attribute is said, only image feedback is left.

Design decisions:
- Everything the user says is true of the target: corrections name the target's value (and
  negate a value the target does not have), pointers never point away from it, rejections never
  reject it. The simulator reads the ground truth (item meta), never the agent's memory.
- Each kind of feedback has many phrasings and the noun phrase builder varies word order and
  synonyms, so a score cannot come from tuning the agent to one template. Every phrasing is
  checked against the interpreter and the rule decomposer in the tests.
- "Closest" is counted in attributes first (fewest differing keys): a person with the target in
  mind sees at a glance which result has the wrong sleeves. Among results equally close in
  attributes, the one that *looks* most like the target wins (`looks`: the pixel distance of
  the two pictures, what a person compares), then the higher rank. Without it, every twin of the
  target (same attributes, other pose and background) would be "closest" and image feedback
  could never single the target out, which is the only way to find it in the demo world.
- The random stream is a `random.Random` seeded by a string (stable across runs and Python
  versions), one per episode; two agents given the same pages get the same words.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.schema import PLURAL as PLURAL_NOUNS
from retrievers.demo.schema import SHOPPER

ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                 "ninth", "tenth")

OPENINGS = ("{np}", "{np}", "I'm looking for {np}", "show me {np}", "I want {np}",
            "looking for {np}", "{np} please", "find me {np}", "I need {np}")
# Frames for one more attribute; {v} is the bare value phrase, {w} its "with"/"in" form.
MISSING = ("{w}", "{v}", "{v} please", "also {v}", "it's {v}", "oh, and {w}",
           "I want it {w}", "{w} please", "and {w}")
# Frames for a correction; {right} is the target's value, {wrong} the one the result shows.
CORRECTIONS = ("no, {right}", "{right}, not {wrong}", "not {wrong}, {right}",
               "it should be {right}, not {wrong}", "{right} instead of {wrong}",
               "no, I want {right}", "{right} please, not {wrong}", "not {wrong}! {right}")
REJECT_ONE = ("not {r}", "no to {r}", "{r} is wrong", "#{r} isn't it", "not the {o} one",
              "remove {r}", "{r} is not it", "not #{r}")
REJECT_MANY = ("not {or_}", "{and_} are wrong", "no to {or_}", "remove {and_}", "{and_} are off",
               "not {and_}")
POINT_BUT = ("more like {r} but {mod}", "like {r} but {mod}", "similar to {r} but {mod}",
             "{r} but {mod}", "closer to {r}, but {mod}", "more like #{r} but {mod}",
             "same as {r} but {mod}")
POINT = ("more like {r}", "{r} is close", "I like {r}", "{r} looks good", "similar to {r}",
         "more like #{r}", "the {o} one is close", "{r} is nice")


@dataclass(frozen=True)
class Utterance:
    text: str  # what the user types
    kind: str  # "describe", "missing", "correct", "reject", "point", "restate"


class UserSimulator:
    """One episode's shopper: `opening()` first, then `respond(shown)` after each reply."""

    def __init__(self, target_id: int, meta: Mapping, seed: int | str = 0, *, page: int = 10,
                 looks: Callable[[int], float] | None = None):
        self.target_id = target_id
        self.looks = looks  # image id -> how different it looks from the target (smaller: closer)
        self.meta = dict(meta)
        self.page = page  # how many results the user looks at (the first page)
        self.rng = random.Random(f"rummage-simulator:{seed}")
        self.keys = [k for k in ATTRIBUTE_KEYS if self.meta.get(k) is not None]
        self.said: set[str] = set()  # attribute keys already said
        self.rejected: set[int] = set()  # ids already rejected: no need to say it twice

    # -- the turns --------------------------------------------------------------------------

    def opening(self) -> Utterance:
        """The first turn: one or two of the target's attributes, in a noun phrase."""
        mentionable = [k for k in self.keys if k != "pattern_color"]
        count = min(len(mentionable), self.rng.choice((1, 2, 2)))
        # category leads more often than not, as in real search boxes
        weights = [3 if k == "category" else 1 for k in mentionable]
        keys: list[str] = []
        while len(keys) < count:
            key = self.rng.choices(mentionable, weights)[0]
            if key not in keys:
                keys.append(key)
        # "something with white dots": the pattern's colour comes with it, still one attribute
        if keys == ["pattern"] and "pattern_color" in self.keys and self.rng.random() < 0.5:
            keys.append("pattern_color")
        text = self.rng.choice(OPENINGS).format(np=self._noun_phrase(keys))
        return Utterance(text, "describe")

    def respond(self, shown: Sequence[tuple[int, Mapping]]) -> Utterance:
        """Feedback on the results shown: (id, meta) pairs in rank order."""
        shown = list(shown)[: self.page]
        unsaid = [k for k in self.keys if k not in self.said]
        if not shown:
            if unsaid:
                return self._missing(unsaid)
            return Utterance(self._noun_phrase(self.keys), "restate")
        target_rank = next((r for r, (i, _) in enumerate(shown, 1) if i == self.target_id), None)
        if target_rank is not None:
            above = self._rejectable(shown[: target_rank - 1])
            if above and self.rng.random() < 0.3:
                return self._reject(shown, above)
            return self._point(shown, target_rank, [])
        wrong = self._wrong_keys(shown[0][1])
        options: list[tuple[str, float]] = []
        if unsaid:
            options += [("missing", 3.0), ("point", 1.5)]
            if wrong:
                options.append(("correct", 2.0 if set(wrong) & self.said else 1.0))
        else:
            options.append(("point", 2.0))  # everything is said: only image feedback is left
        if self._rejectable(shown):
            options.append(("reject", 1.0 if unsaid else 2.0))
        kind = self.rng.choices([k for k, _ in options], [w for _, w in options])[0]
        if kind == "missing":
            return self._missing(unsaid)
        if kind == "correct":
            return self._correct(shown[0][1], wrong)
        if kind == "reject":
            return self._reject(shown, self._rejectable(shown))
        closest = self._closest(shown)
        return self._point(shown, closest, self._differing(shown[closest - 1][1]))

    # -- feedback of each kind --------------------------------------------------------------

    def _missing(self, unsaid: list[str]) -> Utterance:
        key = self.rng.choice(unsaid)
        if key == "pattern_color" or (key == "pattern" and "pattern_color" in unsaid
                                      and self.rng.random() < 0.6):
            keys = ["pattern", "pattern_color"]
        else:
            keys = [key]
        value = self._value(keys, form="bare")
        with_form = self._value(keys, form="with")
        frame = self.rng.choice(MISSING)
        if key == "category":
            frame = self.rng.choice(("{v}", "I'm looking for {v}", "it should be {v}",
                                     "{v} please", "it's {v}", "make it {v}"))
        return Utterance(frame.format(v=value, w=with_form), "missing")

    def _correct(self, shown_meta: Mapping, wrong: list[str]) -> Utterance:
        said = [k for k in wrong if k in self.said]
        key = self.rng.choice(said or wrong)
        keys = ["pattern", "pattern_color"] if key in ("pattern", "pattern_color") else [key]
        keys = [k for k in keys if k in self.keys]
        right = self._value(keys, form="bare")
        wrong_text = _phrase(shown_meta, keys, self.rng, article=key == "category")
        frame = self.rng.choice(CORRECTIONS)
        if key == "color" and self.rng.random() < 0.3:
            frame = self.rng.choice(("no, I want it in {right}", "in {right}, not {wrong}"))
        return Utterance(frame.format(right=right, wrong=wrong_text), "correct")

    def _reject(self, shown, ranks: list[int]) -> Utterance:
        chosen = sorted(self.rng.sample(ranks, min(len(ranks), self.rng.choice((1, 1, 2, 3)))))
        self.rejected.update(shown[rank - 1][0] for rank in chosen)
        if len(chosen) == 1:
            rank = chosen[0]
            text = self.rng.choice(REJECT_ONE).format(r=rank, o=ORDINAL_WORDS[rank - 1])
        else:
            head = ", ".join(map(str, chosen[:-1]))
            text = self.rng.choice(REJECT_MANY).format(
                or_=f"{head} or {chosen[-1]}", and_=f"{head} and {chosen[-1]}")
        return Utterance(text, "reject")

    def _point(self, shown, rank: int, differing: list[str]) -> Utterance:
        if not differing:
            frame = self.rng.choice(POINT)
            return Utterance(frame.format(r=rank, o=ORDINAL_WORDS[rank - 1]), "point")
        unsaid = [k for k in differing if k not in self.said]
        key = self.rng.choice(unsaid or differing)
        keys = ["pattern", "pattern_color"] if key in ("pattern", "pattern_color") else [key]
        keys = [k for k in keys if k in self.keys]
        modification = self._value(keys, form=self.rng.choice(("bare", "with")))
        return Utterance(self.rng.choice(POINT_BUT).format(r=rank, mod=modification), "point")

    # -- reading the page -------------------------------------------------------------------

    def _wrong_keys(self, meta: Mapping) -> list[str]:
        """Attributes a shown item has but with another value than the target's: the ones a
        correction can name ("navy, not blue"); a skirt's missing sleeves cannot be corrected."""
        return [k for k in self._differing(meta) if meta.get(k) is not None]

    def _differing(self, meta: Mapping) -> list[str]:
        """The target's attributes that a shown item does not have (including ones it lacks)."""
        out = []
        for key in self.keys:
            if key == "pattern_color":
                continue
            if key == "pattern":
                if (meta.get("pattern"), meta.get("pattern_color")) != \
                        (self.meta["pattern"], self.meta.get("pattern_color")):
                    out.append("pattern")
            elif meta.get(key) != self.meta[key]:
                out.append(key)
        return out

    def _rejectable(self, shown) -> list[int]:
        """Ranks of shown results the user would reject: wrong on an attribute already said, or,
        once everything is said, anything but the target."""
        everything_said = all(k in self.said for k in self.keys)
        out = []
        for rank, (image_id, meta) in enumerate(shown, 1):
            if image_id == self.target_id or image_id in self.rejected:
                continue
            if everything_said or set(self._differing(meta)) & self.said:
                out.append(rank)
        return out[:5]  # a person looks at the top of the page first

    def _closest(self, shown) -> int:
        def distance(rank_item):
            rank, (image_id, meta) = rank_item
            look = self.looks(image_id) if self.looks is not None else 0.0
            return (len(self._differing(meta)), look, rank)

        return min(enumerate(shown, 1), key=distance)[0]

    # -- phrasing ---------------------------------------------------------------------------

    def _value(self, keys: list[str], form: str) -> str:
        self.said.update(keys)
        return _phrase(self.meta, keys, self.rng, form=form, article=True)

    def _noun_phrase(self, keys: list[str]) -> str:
        self.said.update(keys)
        return noun_phrase(self.meta, keys, self.rng)


def noun_phrase(meta: Mapping, keys: Sequence[str], rng: random.Random) -> str:
    """A description of the item that mentions exactly `keys`: "a long navy dress with white
    polka dots", "something plain", "shorts in grey"."""
    keys = set(keys)
    before: list[str] = []  # adjectives before the noun
    after: list[str] = []  # "with ..." clauses and "in <colour>"
    if "length" in keys:
        before.append(rng.choice(SHOPPER.length_words[meta["length"]]))
    if "sleeves" in keys:
        if rng.random() < 0.5:
            before.append(rng.choice(SHOPPER.sleeve_adjectives[meta["sleeves"]]))
        else:
            after.append(rng.choice(SHOPPER.sleeve_clauses[meta["sleeves"]]))
    color = _color(meta["color"], rng) if "color" in keys else None
    pattern_word = None
    if "pattern" in keys:
        if "pattern_color" in keys and meta.get("pattern_color"):
            nouns = SHOPPER.pattern_nouns[meta["pattern"]]
            after.append(f"with {_color(meta['pattern_color'], rng)} {rng.choice(nouns)}")
        elif meta["pattern"] != "solid" and rng.random() < 0.3:
            after.append(f"with {rng.choice(SHOPPER.pattern_nouns[meta['pattern']])}")
        else:
            pattern_word = rng.choice(SHOPPER.pattern_adjectives[meta["pattern"]])
    has_noun = "category" in keys
    noun = rng.choice(SHOPPER.nouns[meta["category"]]) if has_noun else None
    if color and has_noun and rng.random() < 0.2:
        after.insert(0, f"in {color}")
        color = None
    middle = [w for w in (color, pattern_word) if w]
    rng.shuffle(middle)
    if not has_noun and not before + middle:
        text = "something"  # "something with long sleeves"
    elif not has_noun and rng.random() < 0.5:
        text = "something " + " ".join(before + middle)  # "something navy"
    else:
        words = " ".join([*before, *middle, noun or "one"])
        text = _article(words) if noun not in PLURAL_NOUNS else words
    if after:
        text += " " + rng.choice((" and ", ", ")).join(after).lstrip()
    return text


def _phrase(meta: Mapping, keys: Sequence[str], rng: random.Random, *, form: str = "bare",
            article: bool = False) -> str:
    """The values of `keys` on their own, without a noun: "navy", "long sleeves", "a skirt",
    "white polka dots". form="with" gives the form that follows a noun: "in navy"."""
    key = keys[0]
    if key == "category":
        noun = rng.choice(SHOPPER.nouns[meta["category"]])
        return _article(noun) if article and noun not in PLURAL_NOUNS else noun
    if key == "color":
        color = _color(meta["color"], rng)
        return f"in {color}" if form == "with" else color
    if key in ("pattern", "pattern_color"):
        if meta.get("pattern_color") and "pattern_color" in keys:
            text = f"{_color(meta['pattern_color'], rng)} {rng.choice(SHOPPER.pattern_nouns[meta['pattern']])}"
            return f"with {text}" if form == "with" else text
        if meta["pattern"] != "solid" and form == "with":
            return f"with {rng.choice(SHOPPER.pattern_nouns[meta['pattern']])}"
        return rng.choice(SHOPPER.pattern_adjectives[meta["pattern"]])
    if key == "sleeves":
        if form == "with":
            return rng.choice(SHOPPER.sleeve_clauses[meta["sleeves"]])
        return rng.choice(SHOPPER.sleeve_adjectives[meta["sleeves"]] + SHOPPER.sleeve_clauses[meta["sleeves"]][-1:])
    if key == "length":
        return rng.choice(SHOPPER.length_words[meta["length"]])
    raise KeyError(f"unknown attribute {key!r}; expected one of {ATTRIBUTE_KEYS}")


def _color(value: str, rng: random.Random) -> str:
    return rng.choice(SHOPPER.color(value))


def _article(text: str) -> str:
    return ("an " if text[0].lower() in "aeiou" else "a ") + text


class Pictures:
    """What the simulated user sees: each picture's pixels, read once, compared as a person would
    compare two pictures side by side (mean squared difference of the RGB pixels at 32 px)."""

    def __init__(self, paths: Mapping[int, str], side: int = 32):
        self.paths = paths
        self.side = side
        self._pixels: dict[int, np.ndarray] = {}

    def pixels(self, image_id: int) -> np.ndarray:
        if image_id not in self._pixels:
            from PIL import Image

            with Image.open(self.paths[image_id]) as image:
                small = image.convert("RGB").resize((self.side, self.side), Image.BILINEAR)
            self._pixels[image_id] = np.asarray(small, np.float32) / 255.0
        return self._pixels[image_id]

    def distance_to(self, target: int) -> Callable[[int], float]:
        def distance(image_id: int) -> float:
            return float(np.mean((self.pixels(image_id) - self.pixels(target)) ** 2))

        return distance
