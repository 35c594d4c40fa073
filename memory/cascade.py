"""The cascaded memory of a conversation: each turn is written on top of what earlier turns left.

Pure functions over frozen state, so the graph can checkpoint any state and tests need no I/O.

Design decisions:
- Conflicts are settled by slot (the library's vocabulary, passed in as a `Lexicon`): a new
  positive value replaces the positive values of *earlier* turns in its slot ("red" then
  "blue" → blue). Values of one slot said in the same turn all stay ("red and white") because
  the user said them together.
- A replacement takes the place of the constraint it replaces, so the memory panel does not
  reshuffle when the user changes one attribute.
- Negatives never fade and are only removed by the user (a revocation, the opposite positive,
  the memory panel). A "not checked" said once is a promise the user expects kept on every
  later page; positives, in contrast, get refined turn after turn, so older ones weigh less.
- Liking an image of the page shown is also a *choice*: that one rather than the others beside
  it (PicHunter's user model, Cox et al. 2000). The memory keeps each choice with the rivals
  it was made over (`Choice`), so the reranker can prefer images nearer the pick than to
  what was passed over, not merely near the pick. A choice stays when the picked image is
  later rejected ("3 is close", then "not 1" once it is on top: close, but not the one); a
  reset forgets choices with the rest of the search. Pointing with a change ("like 3 but
  green") is not recorded as a choice: the person picked 3 *despite* a difference, and
  recording it cost Hits@10 at turn 5 (seeds 0 / 2: 0.85 / 0.86 -> 0.80 / 0.80 at the same
  weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol


class BadPolarity(ValueError):
    def __init__(self, text: str, polarity: int):
        self.text, self.polarity = text, polarity
        super().__init__(
            f"Proposition {text!r} has polarity {polarity!r}: use +1 (wanted), -1 (not wanted) "
            "or 0 (revoke)."
        )


class NoSuchConstraint(LookupError):
    def __init__(self, wanted: str | int, existing: Sequence[str]):
        self.wanted, self.existing = wanted, tuple(existing)
        listed = ", ".join(existing) if existing else "none"
        super().__init__(f"No constraint {wanted!r} in memory; the constraints are: {listed}.")


class PropositionLike(Protocol):
    text: str
    polarity: int


class Lexicon(Protocol):
    """What the memory needs of a vocabulary (retrievers.vocabulary.Vocabulary is one); a
    Protocol rather than an import keeps memory free of any one world's words."""

    slot_order: tuple[str, ...]
    heads: frozenset[str]  # slots that name the thing itself (garment, animal), not a property

    def normalize(self, text: str) -> str: ...
    def canonical(self, text: str) -> str: ...
    def slot_of(self, text: str) -> str | None: ...
    def slot_named(self, text: str) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class Constraint:
    text: str  # canonical phrase ("striped")
    said: str  # the user's words ("stripy")
    polarity: int  # +1 wanted, -1 not wanted
    slot: str | None  # vocabulary slot, None when outside the vocabulary
    turn: int  # turn that said it; fading counts from here

    def weight(self, now_turn: int, decay: float = 0.85, floor: float = 0.5) -> float:
        """How much this constraint counts at `now_turn`: negatives 1; positives fade to floor."""
        if self.polarity < 0:
            return 1.0
        return max(floor, decay ** max(0, now_turn - self.turn))

    @property
    def label(self) -> str:
        return self.text if self.polarity > 0 else f"not {self.text}"


@dataclass(frozen=True, kw_only=True)
class Reference:
    image_id: int  # the image to modify
    text: str  # the modification ("in green")
    turn: int
    relative: tuple[str, ...] = ()  # comparatives applied to it ("darker", "longer sleeves")


@dataclass(frozen=True, kw_only=True)
class Choice:
    """An image the person liked out of a page, and the images beside it that they did not."""

    picked: int
    over: tuple[int, ...]  # the rest of the page it was picked from


@dataclass(frozen=True, kw_only=True)
class QueryState:
    turn: int = 0  # turns applied so far; keeps counting across resets
    constraints: tuple[Constraint, ...] = ()  # in force, in panel order
    liked: tuple[int, ...] = ()  # image ids, oldest first
    disliked: tuple[int, ...] = ()  # image ids; the retriever never returns them
    reference: Reference | None = None  # persists until a new reference or a reset
    shown: tuple[int, ...] = ()  # image ids of the last reply, rank order (rank 1 first)
    passed: tuple[int, ...] = ()  # image ids set aside by "none of these": not shown again
    choices: tuple[Choice, ...] = ()  # likes made out of a shown page, oldest first

    def to_dict(self) -> dict:
        return {
            "turn": self.turn,
            "constraints": [
                {"text": c.text, "said": c.said, "polarity": c.polarity, "slot": c.slot,
                 "turn": c.turn}
                for c in self.constraints
            ],
            "liked": list(self.liked),
            "disliked": list(self.disliked),
            "reference": None if self.reference is None else {
                "image_id": self.reference.image_id, "text": self.reference.text,
                "turn": self.reference.turn, "relative": list(self.reference.relative),
            },
            "shown": list(self.shown),
            "passed": list(self.passed),
            "choices": [{"picked": c.picked, "over": list(c.over)} for c in self.choices],
        }

    @classmethod
    def from_dict(cls, data: dict) -> QueryState:
        ref = data.get("reference")
        return cls(
            turn=int(data.get("turn", 0)),
            constraints=tuple(Constraint(**c) for c in data.get("constraints", ())),
            liked=tuple(int(i) for i in data.get("liked", ())),
            disliked=tuple(int(i) for i in data.get("disliked", ())),
            reference=None if ref is None else Reference(
                image_id=ref["image_id"], text=ref["text"], turn=ref["turn"],
                relative=tuple(ref.get("relative", ()))),
            shown=tuple(int(i) for i in data.get("shown", ())),
            passed=tuple(int(i) for i in data.get("passed", ())),
            choices=tuple(Choice(picked=int(c["picked"]), over=tuple(int(i) for i in c["over"]))
                          for c in data.get("choices", ())),
        )


def apply_turn(
    state: QueryState,
    *,
    vocabulary: Lexicon,
    propositions: Sequence[PropositionLike] = (),
    liked: Sequence[int] = (),
    disliked: Sequence[int] = (),
    reference: int | None = None,
    reference_text: str = "",
    reset: bool = False,
    passed: Sequence[int] = (),
    relative: Sequence[str] = (),
    ages: bool = True,
) -> QueryState:
    """The state after one more turn. Ids are image ids (ranks are mapped by the caller);
    `passed` are the images of a page the user turned down ("none of these"). A liked image
    that is on the page shown (`state.shown`) is recorded as a choice over the rest of it.

    `ages=False` for a turn that says nothing about the thing (a page turned down, a pick):
    what was said before keeps its weight. Positives fade so that newer words count more
    than older ones; a person paging through results has not said anything newer."""
    turn = state.turn + 1 if ages else state.turn
    # A reset forgets the search, not the rejections: a disliked image never comes back in
    # the session ("never shown again" is what a person was promised when they said "not 2").
    base = (QueryState(turn=state.turn, shown=state.shown, disliked=state.disliked)
            if reset else state)
    constraints = list(base.constraints)
    for proposition in propositions:
        constraints = _remember(constraints, proposition, turn, vocabulary)
    liked_ids, disliked_ids = list(base.liked), list(base.disliked)
    over = tuple(i for i in state.shown if i not in liked)  # the page but what was picked
    choices = base.choices + (tuple(Choice(picked=image_id, over=over)
                                    for image_id in dict.fromkeys(liked)
                                    if image_id in state.shown) if over else ())
    for image_id in liked:
        _move(image_id, into=liked_ids, out_of=disliked_ids)
    for image_id in disliked:
        _move(image_id, into=disliked_ids, out_of=liked_ids)
    ref = base.reference
    if reference is not None:
        ref = Reference(image_id=reference, text=reference_text.strip(), turn=turn,
                        relative=tuple(relative))
        # pointing at an image to build on takes back an earlier "not that one"
        if reference in disliked_ids:
            disliked_ids.remove(reference)
    # A passed-over image is only "not this page": one the user now likes or builds on is back.
    keep = set(liked_ids) | ({reference} if reference is not None else set())
    passed_ids = [i for i in (*base.passed, *passed) if i not in keep]
    return replace(
        base, turn=turn, constraints=tuple(constraints), liked=tuple(liked_ids),
        disliked=tuple(disliked_ids), reference=ref, passed=tuple(dict.fromkeys(passed_ids)),
        choices=choices,
    )


def _remember(constraints: list[Constraint], proposition: PropositionLike,
              turn: int, vocabulary: Lexicon) -> list[Constraint]:
    polarity = proposition.polarity
    if polarity not in (-1, 0, 1):
        raise BadPolarity(proposition.text, polarity)
    text = vocabulary.canonical(proposition.text)
    if polarity == 0:
        slot = vocabulary.slot_named(text)
        if slot is not None:
            return [c for c in constraints if c.slot != slot]
        return [c for c in constraints if not _same_thing(c, text, vocabulary)]
    new = Constraint(
        text=text, said=getattr(proposition, "said", "") or proposition.text,
        polarity=polarity, slot=vocabulary.slot_of(text), turn=turn,
    )
    rebound = _rebind(constraints, new, turn, vocabulary)
    if rebound is not None:
        return rebound
    # the same text replaces itself whatever its polarity: "not red" then "red" → red
    doomed = [i for i, c in enumerate(constraints) if c.text == text]
    if polarity > 0 and new.slot is not None:
        doomed += [i for i, c in enumerate(constraints)
                   if c.polarity > 0 and c.slot == new.slot and c.turn < turn]
    if not doomed:
        return [*constraints, new]
    place = min(doomed)
    kept = [c for i, c in enumerate(constraints) if i not in doomed]
    kept.insert(place - sum(1 for i in doomed if i < place), new)
    return kept


def _rebind(constraints: list[Constraint], new: Constraint, turn: int,
            vocabulary: Lexicon) -> list[Constraint] | None:
    """"make it green" after "a girl in a yellow coat beside a grey car": with no bare colour
    to replace, the value changes in the first phrase that holds one (the main subject, named
    first): "yellow coat" becomes "green coat" and "gray car" stays. None when this does not
    apply (a bare value of the slot exists, or no earlier phrase holds one)."""
    if new.polarity <= 0 or new.slot is None or " " in new.text:
        return None
    if any(c.slot == new.slot and c.polarity > 0 for c in constraints):
        return None
    for i, c in enumerate(constraints):
        # a phrase about a thing ("yellow coat", "gray car"), never a property that holds a
        # colour of its own ("white striped" is the stripes' colour, not the garment's)
        bound = c.slot is None or c.slot in vocabulary.heads
        if (c.polarity <= 0 or c.turn >= turn or not bound
                or vocabulary.canonical(c.text) != c.text):
            continue
        words = c.text.split()
        hits = [j for j, w in enumerate(words) if vocabulary.slot_of(w) == new.slot]
        if len(words) > 1 and hits:
            words[hits[0]] = new.text
            text = " ".join(words)
            return [*constraints[:i], replace(c, text=text, said=text, turn=turn),
                    *constraints[i + 1:]]
    return None


def _same_thing(constraint: Constraint, text: str, vocabulary: Lexicon) -> bool:
    """Whether revoking `text` covers this constraint: "stripes" covers "white striped" too."""
    if constraint.text == text:
        return True
    return constraint.text.endswith(" " + text) and constraint.slot == vocabulary.slot_of(text)


def _move(image_id: int, *, into: list[int], out_of: list[int]) -> None:
    if image_id in out_of:
        out_of.remove(image_id)
    if image_id not in into:
        into.append(image_id)


def weights(state: QueryState, decay: float = 0.85, floor: float = 0.5) -> dict[str, float]:
    """Weight of each constraint in force, by text (see Constraint.weight)."""
    return {c.text: c.weight(state.turn, decay, floor) for c in state.constraints}


PASSED = "passed over"  # the memory panel's image-level entry: "10 passed over"


def passed_label(state: QueryState) -> str | None:
    return f"{len(state.passed)} {PASSED}" if state.passed else None


def remove_constraint(state: QueryState, text_or_index: str | int,
                      vocabulary: Lexicon) -> QueryState:
    """Drop one constraint, as the user does from the memory panel: by position or by text.

    Text matches the canonical text or the label ("not checked"), with synonyms ("stripes").
    The entry after the constraints, when there is one, is the pages passed over ("10 passed
    over"): removing it lets those images come back.
    """
    constraints = state.constraints
    labels = [c.label for c in constraints] + ([passed_label(state)] if state.passed else [])
    if state.passed and (text_or_index == len(constraints) or (
            isinstance(text_or_index, str)
            and vocabulary.normalize(text_or_index).endswith(PASSED))):
        return replace(state, passed=())
    if isinstance(text_or_index, int):
        if not 0 <= text_or_index < len(constraints):
            raise NoSuchConstraint(text_or_index, labels)
        index = text_or_index
    else:
        wanted = vocabulary.normalize(text_or_index)
        polarity = None
        if wanted.startswith("not "):
            polarity, wanted = -1, wanted[4:]
        wanted = vocabulary.canonical(wanted)
        matches = [i for i, c in enumerate(constraints)
                   if c.text == wanted and (polarity is None or c.polarity == polarity)]
        if not matches:
            raise NoSuchConstraint(text_or_index, labels)
        index = matches[0]
    return replace(state, constraints=constraints[:index] + constraints[index + 1:])


def record_shown(state: QueryState, ids: Sequence[int]) -> QueryState:
    """Remember what the last reply showed, so the next turn's "#3" can be resolved."""
    return replace(state, shown=tuple(int(i) for i in ids))


def summary(state: QueryState, vocabulary: Lexicon) -> str:
    """One line of what is in force: "car · blue · not red · 2 disliked", in slot order."""
    order = {slot: i for i, slot in enumerate(vocabulary.slot_order)}
    positives = sorted((c for c in state.constraints if c.polarity > 0),
                       key=lambda c: order.get(c.slot, len(order)))
    parts = [c.text for c in positives]
    parts += [c.label for c in state.constraints if c.polarity < 0]
    if state.reference is not None:
        ref = state.reference
        change = ", ".join(ref.relative) or ref.text
        parts.append(f"like img {ref.image_id}" + (f" + {change}" if change else ""))
    if state.liked:
        parts.append(f"{len(state.liked)} liked")
    if state.disliked:
        parts.append(f"{len(state.disliked)} disliked")
    if state.passed:
        parts.append(passed_label(state))
    return " · ".join(parts) if parts else "no constraints yet"
