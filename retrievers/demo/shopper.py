"""The demo world's simulated shopper: holds a target garment and reacts to each page shown.

The protocol of chat-based retrieval papers (ChatIR, PlugIR, FashionNTM): the user opens with a
partial description (one or two attributes) and then gives one piece of feedback per turn, chosen
by looking at the results the way a person would: say an attribute not yet said, correct one the
top result gets wrong, reject wrong results ("not 1 or 3"), point at the closest one ("more
like 3 but with long sleeves"), compare the target with it ("like 3 but darker", "longer"), turn
the whole page down when nothing on it is close ("none of these"), take back a turn that made
things worse ("undo"), and say so once the target is on top ("that's it, 1"). Once every
attribute is said, only image feedback is left.

Two users, chosen by `policy`:
- "default": the mixed user above.
- "page-down": states every attribute of the target at once, then only turns pages down ("show
  me others") until the target is on the page, and then says which one it is. It measures how
  well the agent honours a full description and a page rejection ("top 10 by turn 8").

Design decisions:
- Everything the user says is true of the target: corrections name the target's value (and
  negate a value the target does not have), pointers never point away from it, rejections never
  reject it, a page is never turned down with the target on it, a comparative holds along its
  order (schema.relative), and "found" names the target's rank. The simulator reads the ground
  truth (item meta, pixel looks), never the agent's memory.
- Each kind of feedback has many phrasings and the noun phrase builder varies word order and
  synonyms, so a score cannot come from tuning the agent to one template. The style comes from
  crowd-written feedback (FashionIQ's relative captions: "is darker and has longer sleeves",
  "has no sleeves"; multi-turn FashionIQ), rewritten, never copied, plus question frames ("could
  you show me ones with stripes") and "pls". Frames of the old kinds (describe, missing,
  correct, reject, point) are ones the interpreter and rule decomposer read as intended, checked
  in the tests; frames that need the dialogue-act reader ("do you have it darker?", "nope",
  "undo") are used only by the new kinds (page, undo, compare, found), whose tests run against
  `agent.understand` once it exists.
- "Closest" is counted in attributes first (fewest differing keys): a person with the target in
  mind sees at a glance which result has the wrong sleeves. Among results equally close in
  attributes, the one that *looks* most like the target wins (`looks`: the pixel distance of
  the two pictures, what a person compares), then the higher rank. Without it, every twin of the
  target (same attributes, other pose and background) would be "closest" and image feedback
  could never single the target out, which is the only way to find it in the demo world.
- Turning the page down: offered when nothing shown is close, counted in what the user has
  already said: every result gets one of those attributes wrong, so the agent was told and
  still missed. Once everything is said it is offered on any page without the target (less
  often): attribute twins are close, yet none is the one, and the next page may hold it. The
  page's images count as rejected (the agent sets them aside).
- Undo: offered, half the time (people do not always bother), when the last turn made the page
  clearly worse than the one it answered: the target was on that page and is gone, or neither
  page has it and the closest result now gets more attributes wrong. Only turns that changed the
  constraints (missing, correct, point, compare, reject) are undone; undoing a page turn would
  bring back a page the user said no to. The undone turn's attributes count as unsaid again and
  its rejections as not made (the agent restores its memory too); a later turn that says the
  same attributes is not undone again, so a user cannot loop on one move.
- A comparative compares the target with the closest result along an order (length, sleeves,
  colour lightness and colourfulness: schema.relative), one or two at a time from different
  groups, and never counts as saying the attribute: "longer" than knee-length names no value
  (than short it could be knee-length or long). It points at that result ("like 3 but
  longer") or, when that result is the top one, may be bare ("longer"), since the agent applies
  a bare comparative to the top result.
- Found: the default user says it only at rank 1 (the protocol's goal; until then pointing at
  the target moves it up), the page-down user as soon as the target is on its page (its measure
  is the top 10, and turning down a page that holds the target would be a lie). The runner ends
  the episode there.
- Each utterance carries what it means (`rank`, `relative`) beside its words, so tests check
  the truth of a move without parsing the text.
- The random stream is a `random.Random` seeded by a string (stable across runs and Python
  versions), one per episode; two agents given the same pages get the same words.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrievers.demo.schema import COMPARATIVE_GROUPS, SHOPPER, relative
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.schema import PLURAL as PLURAL_NOUNS

ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                 "ninth", "tenth")
POLICIES = ("default", "page-down")

OPENINGS = ("{np}", "{np}", "I'm looking for {np}", "show me {np}", "I want {np}",
            "looking for {np}", "{np} please", "find me {np}", "I need {np}", "{np} pls",
            "could you show me {np}", "can you find me {np}", "I'd like {np}", "need {np}",
            "can I see {np}", "I would like {np}", "I want to find {np}", "hmm, {np}",
            "can you show me {np}?", "I'm looking for {np} please", "show me {np} please",
            "ok so {np}")
# Frames for one more attribute; {v} is the bare value phrase, {w} its "with"/"in" form.
MISSING = ("{w}", "{v}", "{v} please", "also {v}", "it's {v}", "oh, and {w}",
           "I want it {w}", "{w} please", "and {w}", "{v} pls", "could you show me ones {w}",
           "can I see it {w}?", "preferably {w}", "ideally {v}", "I'd like it {w}",
           "something {w}", "it should be {v}", "is {v}", "make it {w}", "and {v} please",
           "can you make it {w}?", "oh, {v} too", "I'd prefer {v}")
MISSING_CATEGORY = ("{v}", "I'm looking for {v}", "it should be {v}", "{v} please", "it's {v}",
                    "make it {v}", "{v} pls", "can I see {v}?", "show me {v}", "I want {v}",
                    "could you show me {v}")
# FashionIQ's "has ...": sleeves and patterns are had ("has no sleeves", "has white stripes").
MISSING_HAS = ("has {h}", "it has {h}", "one that has {h}")
# Frames for a correction; {right} is the target's value, {wrong} the one the result shows.
CORRECTIONS = ("no, {right}", "{right}, not {wrong}", "not {wrong}, {right}",
               "it should be {right}, not {wrong}", "{right} instead of {wrong}",
               "no, I want {right}", "{right} please, not {wrong}", "not {wrong}! {right}",
               "no, {right} please", "it's {right}, not {wrong}", "no no, {right}",
               "it needs to be {right}", "can you make it {right}, not {wrong}?",
               "{right}, not {wrong} pls", "not {wrong}, I want {right}",
               "should be {right} not {wrong}", "I want {right}, not {wrong}",
               "is {right}, not {wrong}", "no, it should be {right}", "no, it's {right}",
               "{right} instead of {wrong} please", "make it {right}, not {wrong}",
               # a change, as CIRR's crowd writes it ("replace the dog with a cat")
               "change it from {wrong} to {right}", "replace {wrong} with {right}",
               "switch from {wrong} to {right}", "{wrong} should be changed to {right}")
CORRECTIONS_COLOR = ("no, I want it in {right}", "in {right}, not {wrong}",
                     "could you show me ones in {right}, not {wrong}", "{right} pls, not {wrong}")
REJECT_ONE = ("not {r}", "no to {r}", "{r} is wrong", "#{r} isn't it", "not the {o} one",
              "remove {r}", "{r} is not it", "not #{r}", "definitely not {r}", "not {r} please",
              "drop {r}", "hide {r}", "get rid of {r}", "I don't like {r}", "{r} is no good",
              "{r} is not right", "{r} isn't right", "{r} is wrong too", "not the {o} one pls")
REJECT_MANY = ("not {or_}", "{and_} are wrong", "no to {or_}", "remove {and_}", "{and_} are off",
               "not {and_}", "drop {and_}", "get rid of {and_}", "{and_} are not it",
               "{and_} aren't it", "I don't like {or_}", "lose {and_}", "not {or_} please",
               "hide {and_}", "{and_} are no good", "definitely not {or_}")
POINT_BUT = ("more like {r} but {mod}", "like {r} but {mod}", "similar to {r} but {mod}",
             "{r} but {mod}", "closer to {r}, but {mod}", "more like #{r} but {mod}",
             "same as {r} but {mod}", "like {r} only {mod}", "like {r} but {mod} pls",
             "I like {r} but {mod}", "something like {r} but {mod}", "the {o} one but {mod}",
             "just like {r} but {mod}", "{r} is close but {mod}")
POINT = ("more like {r}", "{r} is close", "I like {r}", "{r} looks good", "similar to {r}",
         "more like #{r}", "the {o} one is close", "{r} is nice", "{r} is closer",
         "{r} is almost it", "more of {r}", "{r} is better", "I prefer {r}", "keep {r}",
         "more like {r} please", "the {o} one is better", "yes to {r}", "{r} is great")

# -- the kinds the dialogue-act reader (agent.understand) is taught --------------------------
PAGE = ("none of these", "show me others", "keep looking", "nope", "something else",
        "different ones please", "none of these please", "nope, none of these",
        "none of these, show me others", "show me other ones", "keep looking please",
        "nope, keep looking", "something else please", "different ones pls", "show me others pls",
        "none of those", "none of them", "hmm, none of these", "no, none of these",
        "none of these are it", "not these, something else", "nope, something else",
        "could you show me others?", "can you show me different ones?", "show me different ones",
        "none of these, keep looking", "nope. show me others", "something else pls",
        "different ones", "none of these are right", "keep looking, none of these",
        "no, keep looking", "nah, something else", "show me some others")
UNDO = ("undo", "go back", "take that back", "undo that", "undo please", "go back please",
        "oops, undo", "no, go back", "take that back please", "hmm, undo that",
        "can you undo that?", "could we go back?", "let's go back", "that was worse, undo",
        "that made it worse, go back", "undo, it was better before", "ugh, go back",
        "go back one step", "undo pls", "no wait, take that back", "undo that please",
        "go back, that was better")
FOUND = ("that's it, {r}", "#{r} is the one", "that's it! {r}", "{r} is the one",
         "found it, {r}", "it's {r}!", "yes! {r} is it", "{r}, that's the one",
         "that's the one, {r}", "#{r}, found it", "perfect, {r} is it", "{r} is exactly it",
         "that's it, #{r}", "got it: {r}", "{r} is the one I wanted", "the {o} one, that's it",
         "yes, #{r} is the one", "{r}! that's it")
# Comparative words: `adjective` forms follow "make it", "something", "but"; `clause` forms are
# FashionIQ's headless predicates ("is darker", "has longer sleeves") and also follow "but".
COMPARATIVE_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "darker": ("darker", "a bit darker", "darker in colour", "a little darker", "slightly darker",
               "darker in color", "a darker colour", "a darker color", "much darker"),
    "lighter": ("lighter", "a bit lighter", "lighter in colour", "a little lighter",
                "slightly lighter", "lighter in color", "a lighter colour", "a lighter color",
                "much lighter"),
    "brighter": ("brighter", "a bit brighter", "brighter in colour", "a brighter colour",
                 "a little brighter", "brighter in color"),
    "more colorful": ("more colorful", "more colourful", "a bit more colorful",
                      "a little more colourful", "much more colorful"),
    "less colorful": ("less colorful", "less colourful", "a bit less colorful",
                      "a little less colourful"),
    "longer": ("longer", "a bit longer", "a little longer", "much longer", "slightly longer"),
    "shorter": ("shorter", "a bit shorter", "a little shorter", "much shorter",
                "slightly shorter"),
    "longer sleeves": ("with longer sleeves", "longer sleeves", "with sleeves that are longer"),
    "shorter sleeves": ("with shorter sleeves", "shorter sleeves",
                        "with sleeves that are shorter"),
}
COMPARATIVE_CLAUSES: dict[str, tuple[str, ...]] = {
    "darker": ("is darker", "is a bit darker", "is darker in color", "is a darker colour"),
    "lighter": ("is lighter", "is a bit lighter", "is lighter in colour", "is a lighter color"),
    "brighter": ("is brighter", "is a brighter color", "is brighter in colour"),
    "more colorful": ("is more colorful", "is more colourful", "is a bit more colorful"),
    "less colorful": ("is less colorful", "is less colourful", "is a bit less colourful"),
    "longer": ("is longer", "is a bit longer", "is a little longer"),
    "shorter": ("is shorter", "is a bit shorter", "is a little shorter"),
    "longer sleeves": ("has longer sleeves", "the sleeves are longer", "sleeves are longer"),
    "shorter sleeves": ("has shorter sleeves", "the sleeves are shorter", "sleeves are shorter"),
}
# A comparative on its own applies to the top result; {a} takes an adjective form, {c} a clause.
COMPARE_BARE = ("{a}", "{a} please", "{a} pls", "make it {a}", "something {a}",
                "do you have it {a}?", "could you show me something {a}", "hmm, {a}",
                "{c}", "I'd like it {a}", "can I see it {a}?", "{a}, please", "same but {a}",
                "do you have one {a}?", "ideally {a}", "{c} please")
COMPARE_POINTER = ("like {r} but {x}", "more like {r} but {x}", "{r} but {x}",
                   "similar to {r} but {x}", "same as {r} but {x}", "closer to {r} but {x}",
                   "the {o} one but {x}", "#{r} but {x}", "like #{r} but {x}",
                   "like {r} only {x}", "something like {r} but {x}", "I like {r} but {x}",
                   "more like {r} but {x} pls", "just like {r} but {x}",
                   "like {r} but {x} please", "more like #{r}, but {x}")
# Turns that change the constraints, and so may be undone.
UNDOABLE = frozenset({"missing", "correct", "point", "compare", "reject"})


@dataclass(frozen=True)
class Utterance:
    text: str  # what the user types
    # "describe", "missing", "correct", "reject", "point", "restate", "page", "undo", "compare",
    # "found"
    kind: str
    rank: int | None = None  # the result it is about: pointed at, compared with, found
    relative: tuple[str, ...] = ()  # comparatives true of the target next to that result


@dataclass(frozen=True)
class _Page:
    """What the user took in from a page: where the target is, how close the closest result is."""

    target_rank: int | None
    distance: int  # fewest of the target's attributes any shown result gets wrong

    def worse_than(self, before: _Page) -> bool:
        """Clearly worse: the target left the page, or the closest result got further away."""
        if self.target_rank is not None:
            return False
        return before.target_rank is not None or self.distance > before.distance


@dataclass(frozen=True)
class _Step:
    """One thing the user said and what it answered, so that it can be taken back."""

    kind: str
    page: _Page | None  # the page it answered (None for the opening)
    said: frozenset[str]  # attribute keys said before it
    rejected: frozenset[int]  # images rejected before it
    added: frozenset[str] = field(default=frozenset())  # keys it said for the first time


class UserSimulator:
    """One episode's shopper: `opening()` first, then `respond(shown)` after each reply."""

    def __init__(self, target_id: int, meta: Mapping, seed: int | str = 0, *, page: int = 10,
                 looks: Callable[[int], float] | None = None, policy: str = "default"):
        if policy not in POLICIES:
            raise ValueError(f"unknown simulated user {policy!r}; expected one of "
                             f"{', '.join(POLICIES)}")
        self.target_id = target_id
        self.looks = looks  # image id -> how different it looks from the target (smaller: closer)
        self.meta = dict(meta)
        self.page = page  # how many results the user looks at (the first page)
        self.policy = policy
        self.rng = random.Random(f"rummage-simulator:{seed}")
        self.keys = [k for k in ATTRIBUTE_KEYS if self.meta.get(k) is not None]
        self.said: set[str] = set()  # attribute keys already said
        self.rejected: set[int] = set()  # ids already rejected: no need to say it twice
        self._steps: list[_Step] = []  # what was said, turn by turn, for undo
        self._undone: set[str] = set()  # keys of undone turns: not undone a second time
        self._last = ""  # the kind of the last utterance

    # -- the turns --------------------------------------------------------------------------

    def opening(self) -> Utterance:
        """The first turn: one or two of the target's attributes in a noun phrase (every one of
        them for the page-down user)."""
        before = frozenset(self.said)
        if self.policy == "page-down":
            keys = list(self.keys)
        else:
            keys = self._opening_keys()
        text = self.rng.choice(OPENINGS).format(np=self._noun_phrase(keys))
        return self._record(Utterance(text, "describe"), None, before, frozenset(self.rejected))

    def _opening_keys(self) -> list[str]:
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
        return keys

    def respond(self, shown: Sequence[tuple[int, Mapping]]) -> Utterance:
        """Feedback on the results shown: (id, meta) pairs in rank order."""
        shown = list(shown)[: self.page]
        said, rejected = frozenset(self.said), frozenset(self.rejected)
        page = self._look(shown) if shown else None
        if self.policy == "page-down":
            utterance = self._page_down(shown, page)
        else:
            utterance = self._mixed(shown, page)
        self._last = utterance.kind
        if utterance.kind == "undo":
            return utterance  # _undo took the last step back instead of adding one
        return self._record(utterance, page, said, rejected)

    def _mixed(self, shown, page: _Page | None) -> Utterance:
        """The default user: any kind of feedback, weighed by what the page shows."""
        unsaid = [k for k in self.keys if k not in self.said]
        if page is None:
            if unsaid:
                return self._missing(unsaid)
            return Utterance(self._noun_phrase(self.keys), "restate")
        target_rank = page.target_rank
        if target_rank == 1:
            return self._found(1)
        if target_rank is not None:
            above = self._rejectable(shown[: target_rank - 1])
            if above and self.rng.random() < 0.3:
                return self._reject(shown, above)
            return self._point(shown, target_rank, [])
        if self._should_undo(page):
            return self._undo()
        wrong = self._wrong_keys(shown[0][1])
        closest = self._closest(shown)
        comparatives = relative(self.meta, shown[closest - 1][1])
        options: list[tuple[str, float]] = []
        if unsaid:
            options += [("missing", 3.0), ("point", 1.5)]
            if wrong:
                options.append(("correct", 2.0 if set(wrong) & self.said else 1.0))
        else:
            options.append(("point", 2.0))  # everything is said: only image feedback is left
        if self._rejectable(shown):
            options.append(("reject", 1.0 if unsaid else 2.0))
        if comparatives:
            options.append(("compare", 1.0 if unsaid else 1.5))
        if self._nothing_close(shown):
            options.append(("page", 1.0 if unsaid else 2.0))
        elif not unsaid:
            options.append(("page", 1.0))
        kind = self.rng.choices([k for k, _ in options], [w for _, w in options])[0]
        if kind == "missing":
            return self._missing(unsaid)
        if kind == "correct":
            return self._correct(shown[0][1], wrong)
        if kind == "reject":
            return self._reject(shown, self._rejectable(shown))
        if kind == "compare":
            return self._compare(closest, comparatives)
        if kind == "page":
            return self._turn_page(shown)
        return self._point(shown, closest, self._differing(shown[closest - 1][1]))

    def _page_down(self, shown, page: _Page | None) -> Utterance:
        """The page-down user: everything was said at the start; now only pages are turned,
        until the target is on the page."""
        if page is None:
            return Utterance(self._noun_phrase(self.keys), "restate")
        if page.target_rank is not None:
            return self._found(page.target_rank)
        return self._turn_page(shown)

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
        if key == "category":
            frame = self.rng.choice(MISSING_CATEGORY)
        elif keys[0] in ("sleeves", "pattern") and self.rng.random() < 0.2 and \
                (self.meta["pattern"] != "solid" or keys[0] == "sleeves"):
            has = _has_form(self.meta, keys, self.rng)
            return Utterance(self.rng.choice(MISSING_HAS).format(h=has), "missing")
        else:
            frame = self.rng.choice(MISSING)
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
            frame = self.rng.choice(CORRECTIONS_COLOR)
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
            return Utterance(frame.format(r=rank, o=ORDINAL_WORDS[rank - 1]), "point", rank)
        unsaid = [k for k in differing if k not in self.said]
        key = self.rng.choice(unsaid or differing)
        keys = ["pattern", "pattern_color"] if key in ("pattern", "pattern_color") else [key]
        keys = [k for k in keys if k in self.keys]
        modification = self._value(keys, form=self.rng.choice(("bare", "with")))
        frame = self.rng.choice(POINT_BUT)
        return Utterance(frame.format(r=rank, o=ORDINAL_WORDS[rank - 1], mod=modification),
                         "point", rank)

    def _compare(self, rank: int, comparatives: Sequence[str]) -> Utterance:
        """"like 3 but darker", or a bare "longer" about the top result."""
        groups: dict[str, list[str]] = {}
        for name in comparatives:
            group = next(g for g, names in COMPARATIVE_GROUPS.items() if name in names)
            groups.setdefault(group, []).append(name)
        picked = self.rng.sample(sorted(groups), min(len(groups), self.rng.choice((1, 1, 2))))
        chosen = [self.rng.choice(groups[group]) for group in picked]
        adjective = " and ".join(self.rng.choice(COMPARATIVE_ADJECTIVES[c]) for c in chosen)
        clause = " and ".join(self.rng.choice(COMPARATIVE_CLAUSES[c]) for c in chosen)
        if rank == 1 and self.rng.random() < 0.6:
            text = self.rng.choice(COMPARE_BARE).format(a=adjective, c=clause)
        else:
            x = adjective if self.rng.random() < 0.6 else clause
            text = self.rng.choice(COMPARE_POINTER).format(r=rank, o=ORDINAL_WORDS[rank - 1], x=x)
        order = {name: i for i, name in enumerate(comparatives)}
        return Utterance(text, "compare", rank, tuple(sorted(chosen, key=order.__getitem__)))

    def _turn_page(self, shown) -> Utterance:
        self.rejected.update(image_id for image_id, _ in shown)
        return Utterance(self.rng.choice(PAGE), "page")

    def _found(self, rank: int) -> Utterance:
        return Utterance(self.rng.choice(FOUND).format(r=rank, o=ORDINAL_WORDS[rank - 1]),
                         "found", rank)

    def _undo(self) -> Utterance:
        """Take the last turn back: what it said counts as unsaid, what it rejected as kept."""
        step = self._steps.pop()
        self.said, self.rejected = set(step.said), set(step.rejected)
        self._undone |= step.added
        return Utterance(self.rng.choice(UNDO), "undo")

    def _should_undo(self, page: _Page) -> bool:
        if not self._steps or self._last == "undo":  # an undo is not itself undone
            return False
        last = self._steps[-1]
        return (last.kind in UNDOABLE and last.page is not None and page.worse_than(last.page)
                and not last.added & self._undone and self.rng.random() < 0.5)

    def _record(self, utterance: Utterance, page: _Page | None, said: frozenset[str],
                rejected: frozenset[int]) -> Utterance:
        self._steps.append(_Step(kind=utterance.kind, page=page, said=said, rejected=rejected,
                                 added=frozenset(self.said - said)))
        return utterance

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

    def _look(self, shown) -> _Page:
        target_rank = next((r for r, (i, _) in enumerate(shown, 1) if i == self.target_id), None)
        return _Page(target_rank, min(len(self._differing(meta)) for _, meta in shown))

    def _nothing_close(self, shown) -> bool:
        """Every result gets wrong an attribute the user has already said (and so the target,
        which gets none wrong, is not among them)."""
        return bool(self.said) and all(set(self._differing(meta)) & self.said
                                       for _, meta in shown)

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


def _has_form(meta: Mapping, keys: Sequence[str], rng: random.Random) -> str:
    """What a garment "has": "no sleeves", "long sleeves", "white stripes", "dots"."""
    if keys[0] == "sleeves":
        return rng.choice([c.removeprefix("with ") for c in SHOPPER.sleeve_clauses[meta["sleeves"]]
                           if c.startswith("with ")])
    noun = rng.choice(SHOPPER.pattern_nouns[meta["pattern"]])
    if "pattern_color" in keys and meta.get("pattern_color"):
        return f"{_color(meta['pattern_color'], rng)} {noun}"
    return noun


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
