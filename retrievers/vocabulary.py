"""What words mean to one library: slots, their values, spellings and prompts, loaded from data.

A vocabulary is read from a JSON file by retrievers.vocabularies (the registry of shipped files,
the loader and its checks; the format is in docs/vocabulary.md). A library records which one it
reads text with, like its model. Nothing outside the data knows what a sleeve or a dog is.

Design decisions (carried over from the first, hard-coded lexicon, where they were measured on
the demo world):
- Slots exist for conflict resolution: two values of one slot cannot both hold ("red" then
  "blue"), values of different slots combine. Phrases outside the vocabulary have no slot and
  simply accumulate, so a vocabulary can stay modest.
- Longest match wins: "short" alone is a length, "short sleeves" a sleeve value.
- A slot may be `colored_by` another ("pattern" by "color"): a colour before one of the slot's
  *nouns* ("white stripes", "red polka dots") colours the pattern, so the phrase is one value of
  the pattern slot ("white striped"); a colour before an adjective ("red striped dress") is the
  thing's colour.
- Slots of kind "head" hold nouns that adjectives attach to (a garment, an animal, a vehicle): a
  phrase whose last word is a head value ("leather bag", "sports car") fills that slot, and the
  head in force is the noun every attribute prompt is phrased with ("long" -> "long dress"),
  because a bare adjective is a weak prompt for CLIP.
- Each slot's values (but those marked `"contrast": false`) are the alternatives a proposition
  is scored against ("blue dress" against "red dress", ...): a zero-shot classification whose
  softmax share is the proposition's probability.
- Every spelling belongs to one value: a repeated spelling is an error in the file, reported
  with both places, instead of one silently winning.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrievers.clip_tokens import whole_words

_ARTICLES = re.compile(r"^(the|a|an|any|its|their)\s+")


def _slot_run_start(merged: list[tuple[str, str | None]]) -> int:
    """Where the run of values of the last entry's slot begins: "white black" before "logo"."""
    slot, first = merged[-1][1], len(merged) - 1
    while first > 0 and merged[first - 1][1] == slot:
        first -= 1
    return first


class VocabularyError(ValueError):
    """A vocabulary cannot be found or read; the message names the file and the fix."""


@dataclass(frozen=True, kw_only=True)
class Value:
    value: str  # the canonical spelling ("gray")
    spellings: tuple[str, ...] = ()  # other spellings that mean it ("grey")
    nouns: tuple[str, ...] = ()  # spellings that are nouns ("stripes"); the first is the phrase form
    contrast: bool = True  # whether it is an alternative when other values are scored
    # broader values of the same slot it is a shade of: "mint green" is mint, "charcoal grey"
    # charcoal (a value said with its family is that value, not two)
    families: tuple[str, ...] = ()
    prompt: str | None = None  # its own prompt template, else the slot's


@dataclass(frozen=True, kw_only=True)
class Slot:
    name: str  # "color"
    # "head": its values are nouns the attributes attach to; "noun": nouns of their own (a
    # place), which an unknown word right before them describes ("a small bathroom")
    kind: str = "attribute"
    names: tuple[str, ...] = ()  # words that name the slot ("colour"), for "any colour"
    modifiers: tuple[str, ...] = ()  # words that shade a value and keep its slot ("light blue")
    place: str = "before"  # where a value goes in one noun phrase: "before" the head, or "with"
    prompt: str = "{value} {noun}"  # the encoder's prompt for a value; {noun}: the head in force
    colored_by: str | None = None  # the slot whose values colour this one's nouns ("color")
    colored_prompt: str = "{noun} with {color} {pattern}"  # prompt of a coloured value
    # whether a coloured value's colour is never its ground's (a pattern shows because it
    # contrasts): then the value is judged with the ground's colour in mind (`grounds`)
    ground_differs: bool = True
    negated_name: str | None = None  # what "no <slot name>" wants ("no pattern" -> "solid")
    # whether the attributes in force are phrased with this slot's value as their noun: false
    # for people, so a colour is never phrased as "black woman" (until a colour is bound to
    # the noun it was said with, "a woman in a red dress" would otherwise be "red woman")
    binds: bool = True
    values: tuple[Value, ...] = ()

    @property
    def contrast(self) -> tuple[str, ...]:
        return tuple(v.value for v in self.values if v.contrast)


@dataclass(frozen=True, kw_only=True)
class Comparative:
    """A change relative to an image on screen ("darker", "longer sleeves").

    `toward`/`away` are the two ends of its text direction ("dark"/"light"); with `slot` and
    `step`, the slot's values in file order are a scale, and the comparative also means a
    value `step` (+1 up, -1 down) from the image's own ("longer" than knee-length: long)."""

    name: str  # "longer sleeves"
    spellings: tuple[str, ...] = ()  # "sleeves are longer", "longer-sleeved"
    toward: str = ""
    away: str = ""
    slot: str | None = None
    step: int = 0


@dataclass(frozen=True, kw_only=True)
class Example:
    request: str  # what a person typed
    lines: tuple[str, ...]  # "+ dress", "- striped", "0 stripes"


@dataclass(frozen=True, kw_only=True, eq=False)  # compared and hashed by identity: one per file
class Vocabulary:
    name: str  # "photos", "demo", or the file's stem
    description: str = ""
    default_noun: str = "photo"  # the noun of attribute prompts when no head value is in force
    sentence_order: tuple[str, ...] = ()  # slot order inside one noun phrase
    who: str = "person"  # who is searching, for the language model's prompt ("shopper")
    phrases: str = ""  # what propositions look like, for the same prompt ("a colour, a garment")
    examples: tuple[Example, ...] = ()  # worked examples for the language model's prompt
    slots: tuple[Slot, ...] = ()
    comparatives: tuple[Comparative, ...] = ()  # changes relative to an image on screen
    source: str = ""  # the file it was read from
    _table: dict = field(default_factory=dict, repr=False, compare=False)
    # phrase -> (canonical, slot): a turn asks of the same words many times (the decomposer
    # reads each word for verbs, phrases, binding); bounded, since free text is unbounded
    _readings: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[str, tuple[str, str]] = {}
        for slot in self.slots:
            for value in slot.values:
                for spelling in dict.fromkeys((value.value, *value.spellings, *value.nouns)):
                    key = normalize(spelling)
                    if key in table and table[key] != (value.value, slot.name):
                        other, other_slot = table[key]
                        raise VocabularyError(
                            f"{self.source or self.name}: the spelling {spelling!r} means both "
                            f"{other!r} ({other_slot}) and {value.value!r} ({slot.name}); keep "
                            "it in one place")
                    table[key] = (value.value, slot.name)
        self._table.update(table)

    # -- the slots -----------------------------------------------------------------------------

    @property
    def slot_order(self) -> tuple[str, ...]:
        """Slot names in the order the memory lists them."""
        return tuple(s.name for s in self.slots)

    def slot(self, name: str | None) -> Slot | None:
        return self._slots.get(name) if name else None

    @functools.cached_property
    def _slots(self) -> dict[str, Slot]:
        return {s.name: s for s in self.slots}

    @functools.cached_property
    def heads(self) -> frozenset[str]:
        return frozenset(s.name for s in self.slots if s.kind == "head")

    @functools.cached_property
    def nouns(self) -> frozenset[str]:
        """The slots whose values are nouns: the heads and the "noun" slots (places)."""
        return self.heads | frozenset(s.name for s in self.slots if s.kind == "noun")

    @functools.cached_property
    def _names(self) -> dict[str, str]:
        out = {}
        for slot in self.slots:
            for name in (slot.name, *slot.names):
                out[normalize(name)] = slot.name
        return out

    @functools.cached_property
    def _nouns(self) -> dict[str, tuple[str, str]]:
        """Noun spelling -> (value, slot) for the slots that can be coloured."""
        return {normalize(n): (v.value, s.name) for s in self.slots if s.colored_by
                for v in s.values for n in v.nouns}

    @functools.cached_property
    def _values(self) -> dict[tuple[str, str], Value]:
        """(slot, canonical value) -> its Value."""
        return {(s.name, v.value): v for s in self.slots for v in s.values}

    @functools.cached_property
    def _max_words(self) -> int:
        return max((len(key.split()) for key in self._table), default=1)

    # -- typing slips --------------------------------------------------------------------------

    @functools.cached_property
    def _slips(self) -> tuple[frozenset[str], dict[str, set[str]]]:
        """The one-word spellings and slot names long enough to correct towards (6+ letters:
        shorter ones have too many real neighbours, "spots" and "sports"), and each one's
        variants with a letter missing."""
        words = frozenset(w for w in (*self._table, *self._names)
                          if len(w) >= 6 and " " not in w)
        missing: dict[str, set[str]] = {}
        for word in words:
            for i in range(len(word)):
                missing.setdefault(word[:i] + word[i + 1:], set()).add(word)
        return words, missing

    def respell(self, word: str) -> str:
        """The vocabulary word a typing slip stands for, else the word: "strped" -> "striped",
        "lenght" -> "length", "sleevless" -> "sleeveless". A slip is one letter left out
        (not a plural's s: "print" is not a slip of "prints") or two neighbours swapped, and
        it must point at exactly one word. A letter too many or a changed letter is as often
        another real word ("dessert"/"desert", "plaid"/"plain"), so those are left alone; so is
        a word CLIP's tokenizer knows whole, a real word though one letter from ours ("lower" is
        not "flower", "pants" not "plants"): on 31,071 corpus sentences this changed 225
        readings, nearly all such a word kept ("lower" 91 times, "pants" 38)."""
        words, missing = self._slips
        if (len(word) < 5 or word in words or word in self._table or not word.isalpha()
                or word in whole_words()):
            return word
        found = set(missing.get(word, ())) - {word + "s", word + "es"}
        found |= {word[:i] + word[i + 1] + word[i] + word[i + 2:]
                  for i in range(len(word) - 1)} & words
        return found.pop() if len(found) == 1 else word

    # -- reading a phrase ----------------------------------------------------------------------

    def canonical(self, text: str) -> str:
        """One spelling per meaning: "stripes" -> "striped", "grey" -> "gray"."""
        return self._analyse(text)[0]

    def slot_of(self, text: str) -> str | None:
        """The slot a phrase fills ("navy" -> "color"), or None outside the vocabulary."""
        return self._analyse(text)[1]

    def slot_named(self, text: str) -> str | None:
        """The slot a phrase names ("the colour" -> "color"), for "any color"."""
        return self._names.get(_ARTICLES.sub("", normalize(text)))

    def normalize(self, text: str) -> str:
        return normalize(text)

    def comparative_spellings(self) -> list[tuple[str, str]]:
        """(spelling, comparative name), longest first: a reader must take "shorter sleeves"
        before "shorter"."""
        found = [(normalize(s), c.name) for c in self.comparatives
                 for s in dict.fromkeys((c.name, *c.spellings))]
        return sorted(found, key=lambda pair: (-len(pair[0].split()), -len(pair[0])))

    def comparative(self, name: str) -> Comparative | None:
        return next((c for c in self.comparatives if c.name == name), None)

    def negated_name(self, slot: str | None) -> str | None:
        """The value "no <slot>" wants, when the vocabulary says ("no pattern" -> "solid")."""
        found = self.slot(slot)
        return found.negated_name if found else None

    def negative_spellings(self, cues: Iterable[str]) -> list[tuple[str, str]]:
        """(spelling, canonical) for spellings that begin with a negation cue ("no sleeves"),
        longest first: a decomposer must read them whole before it reads the negation."""
        cue_words = set(cues)
        found = [(s, value) for s, (value, _) in self._table.items()
                 if s.split()[0] in cue_words and len(s.split()) > 1]
        return sorted(found, key=lambda pair: -len(pair[0]))

    def colored(self, text: str) -> tuple[str, str, Slot] | None:
        """("white", "striped", pattern slot) for a coloured value "white striped", else None."""
        found = self._colored_parts(text)
        if found and self._values[(found[2].name, found[1])].nouns:
            return found
        return None

    def _colored_parts(self, phrase: str) -> tuple[str, str, Slot] | None:
        """(canonical colour, canonical value, slot) when `phrase` is a colour (up to three
        words, "light navy blue") before a spelling of a slot that colour colours."""
        words = phrase.split()
        for slot in self.slots:
            if not slot.colored_by:
                continue
            for n in (3, 2, 1):
                if len(words) <= n:
                    continue
                color = self._lookup_plain(" ".join(words[:n]), slot.colored_by)
                tail = self._table.get(" ".join(words[n:]))
                if color and tail and tail[1] == slot.name:
                    return color[0], tail[0], slot
        return None

    def _analyse(self, text: str) -> tuple[str, str | None]:
        found = self._readings.get(text)
        if found is None:
            if len(self._readings) > 20_000:
                self._readings.clear()
            found = self._readings[text] = self._analyse_uncached(text)
        return found

    def _analyse_uncached(self, text: str) -> tuple[str, str | None]:
        phrase = normalize(text)
        found = self._lookup(phrase)
        if found:
            return found
        words = phrase.split()
        # "cotton shirts" -> "cotton shirt": the head noun takes its canonical form and slot;
        # the longest head spelling ending the phrase, so "red fire hydrant" keeps one "fire"
        # "a small bathroom", "the sandy beaches": a place said with words of its own keeps
        # them as said (a place's spellings are broad: "hill" is countryside, "yard" garden)
        # and its slot, so other places are its rivals and a later place replaces it
        for start in range(1, len(words)):
            head = self._table.get(" ".join(words[start:]))
            if head and head[1] in self.heads:
                return " ".join([*words[:start], head[0]]), head[1]
            if head and head[1] in self.nouns:
                return phrase, head[1]
        return phrase, None

    def _lookup(self, phrase: str) -> tuple[str, str] | None:
        """(canonical, slot) of a spelling, a modified value, or a coloured value."""
        found = self._lookup_plain(phrase)
        if found:
            return found
        colored = self._colored_parts(phrase)
        return (f"{colored[0]} {colored[1]}", colored[2].name) if colored else None

    def _lookup_plain(self, phrase: str, only: str | None = None) -> tuple[str, str] | None:
        """A spelling, a modifier before a spelling of its slot ("light blue"), or a value
        before its family ("olive green": olive)."""
        found = self._table.get(phrase)
        if found is None:
            head, _, rest = phrase.partition(" ")
            inner = self._table.get(rest)
            slot = self.slot(inner[1]) if inner else None
            if slot is not None and head in slot.modifiers:
                found = (f"{head} {inner[0]}", slot.name)
            elif slot is not None:
                shade = self._table.get(head)
                if (shade is not None and shade[1] == slot.name
                        and inner[0] in self._values[(slot.name, shade[0])].families):
                    found = shade
        if found and only is not None and found[1] != only:
            return None
        return found

    def pieces(self, words: Sequence[str]) -> list[tuple[str, str | None]]:
        """(spelling, slot) by longest match of the vocabulary's spellings; (word, None) for
        words it does not know. A spelling may hold small words ("above the knee")."""
        pieces: list[tuple[str, str | None]] = []
        i = 0
        while i < len(words):
            for n in range(min(self._max_words + 1, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                found = self._lookup_plain(phrase)
                if found:
                    pieces.append((phrase, found[1]))
                    i += n
                    break
            else:
                pieces.append((words[i], None))
                i += 1
        return pieces

    def color_joins(self, text: str, joins: frozenset[str]) -> str:
        """The text with a colour after a value it colours, across one of `joins`, moved
        before it in the value's noun form, so that split() reads the pair whole: "stripes in
        white" -> "white stripes", "dotted with red" -> "red polka dots", and every colour of
        a list joined by "and" ("striped in black and white" -> "black stripes and white
        stripes"), unless a word after the last one makes it that word's ("... and white
        sleeves", which the vocabulary may not know: any word)."""
        pieces = self.pieces(normalize(text).split())
        out: list[str] = []
        i = 0
        while i < len(pieces):
            spelling, slot = pieces[i]
            listed = self._listed_before_pattern(pieces, i)
            if listed:
                colours, i, noun = listed
                out.append(" and ".join(f"{colour} {noun}" for colour in colours))
                continue
            own = self.slot(slot)
            if (own is not None and own.colored_by and i + 2 < len(pieces)
                    and pieces[i + 1][0] in joins and pieces[i + 1][1] is None
                    and pieces[i + 2][1] == own.colored_by):
                noun = self._noun_form(own, self._table[spelling][0])
                # "striped in black and white": every colour of the list is the pattern's
                colours, i, end = [pieces[i + 2][0]], i + 3, ""
                while i + 1 < len(pieces) and pieces[i][0] == "and" and not end:
                    colour = pieces[i + 1][0].rstrip(",.;:!?")
                    end = pieces[i + 1][0][len(colour):]  # punctuation ends the list
                    after = pieces[i + 2][0] if i + 2 < len(pieces) and not end else None
                    if (self._table.get(colour, (None, None))[1] != own.colored_by
                            or (after is not None and (pieces[i + 2][1] is not None
                                                       or after in self._nouns
                                                       or after in self._names))):
                        end = ""
                        break
                    colours.append(colour)
                    i += 2
                out.append(" and ".join(f"{colour} {noun}" for colour in colours) + end)
                continue
            out.append(spelling)
            i += 1
        return " ".join(out)

    def _listed_before_pattern(self, pieces: list[tuple[str, str | None]], i: int
                               ) -> tuple[list[str], int, str] | None:
        """A list of colours joined by "and" right before a pattern's value ("red and black
        striped"): its colours, the index after the value and the value's noun form; else
        None. A thing has one colour of its own, so several before a pattern are the
        pattern's; a single one ("red striped") stays as split() reads it."""
        slot = pieces[i][1]
        if slot is None:
            return None
        colours, j = [pieces[i][0]], i + 1
        while j + 1 < len(pieces) and pieces[j] == ("and", None) and pieces[j + 1][1] == slot:
            colours.append(pieces[j + 1][0])
            j += 2
        pattern = self.slot(pieces[j][1]) if j < len(pieces) and len(colours) > 1 else None
        if pattern is None or pattern.colored_by != slot:
            return None
        after = pieces[j + 1] if j + 1 < len(pieces) else None
        if (after is not None and after[1] is None and after[0] not in _LIST_ENDS
                and after[0] not in self._names):
            return None  # "a red and white checked towel": a compound noun the list is on
        return colours, j + 1, self._noun_form(pattern, self._table[pieces[j][0]][0])

    def colors_noun(self, slot: str, spelling: str) -> bool:
        """Whether values of `slot` colour this noun of another slot: "stripes", "polka dots"
        for colours (a pattern's adjective, "striped", is not such a noun)."""
        noun = self._nouns.get(spelling)
        return bool(noun) and self.slot(noun[1]).colored_by == slot

    def split(self, text: str, *, skip: frozenset[str] = frozenset(),
              bind: bool = False, subject: bool = False) -> list[str]:
        """Split an adjective stack into canonical phrases, head nouns first.

        "long navy dress" -> ["dress", "long", "navy"]; "white polka dots" -> ["white
        polka-dot"]; unknown words stay attached to what follows them, so an unknown compound
        ("leather strap", "sports car") is never cut apart. Words in `skip` (a language's
        function words: "on", "the", "beside") are dropped and end a phrase, so "boat on" or
        "coat beside" cannot form. With `bind`, attributes stay with the head noun they
        precede ("brown horse", "yellow coat"): for a request about several things.
        `subject`: the phrase names the thing searched for ("a sleeveless black top"), so its
        attributes are the thing's own even before a noun the vocabulary does not know; in a
        later phrase they belong to that noun ("a dress with a black belt").
        """
        runs: list[list[tuple[str, str | None]]] = [[]]
        for spelling, slot in self.pieces(normalize(text).split()):
            if slot is None and spelling in skip:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((spelling, slot))
        merged: list[tuple[str, str | None]] = []
        for run in runs:
            merged.extend(self._merge(run, bind, subject and run is runs[0]))
        # "sleeves down to the wrist": a slot's name beside one of its values adds nothing
        said = {slot for _, slot in merged if slot is not None}
        merged = [(s, slot) for s, slot in merged
                  if not (slot is None and self._names.get(s) in said)]
        if bind:  # several things: in the order said, the main subject first
            return [self.canonical(s) for s, _ in merged]
        heads = [self.canonical(s) for s, slot in merged if slot in self.heads]
        others = [self.canonical(s) for s, slot in merged if slot not in self.heads]
        return heads + others

    def _merge(self, run: list[tuple[str, str | None]], bind: bool,
               subject: bool = False) -> list[tuple[str, str | None]]:
        merged: list[tuple[str, str | None]] = []
        for at, (spelling, slot) in enumerate(run):
            if merged:
                last, last_slot = merged[-1]
                # a colour colours a following noun of a slot it colours: "white stripes";
                # each of the colours right before it: "black white stripes" is black stripes
                # and white stripes (neither is the colour of the whole thing)
                if last_slot and self.colors_noun(last_slot, spelling):
                    first = _slot_run_start(merged)
                    merged[first:] = [(f"{color} {spelling}", self._nouns[spelling][1])
                                      for color, _ in merged[first:]]
                    continue
                # "sleeves to the wrist": the slot's name before its own value adds nothing
                if (slot is not None and last_slot is None
                        and self._names.get(last) == slot):
                    merged[-1] = (spelling, slot)
                    continue
                # "floral print", "white striped pattern": the slot's own name adds nothing,
                # and it shows that a colour before the value colours the value
                if slot is None and last_slot and spelling in self.slot(last_slot).names:
                    before = merged[-2] if len(merged) > 1 else (None, None)
                    if before[1] and before[1] == self.slot(last_slot).colored_by:
                        merged[-2:] = [(f"{before[0]} {last}", last_slot)]
                    continue
                # an attribute before a noun it does not know belongs to that noun: "a black
                # belt" on a yellow dress is not a black dress (a noun: no head follows it,
                # else it is an adjective of that head, "shiny" in "shiny dress")
                if (slot is None and last_slot is not None and last_slot not in self.heads
                        and not subject
                        and all(later not in self.heads for _, later in run[at + 1:])):
                    # every value of that slot right before it ("white black logo"), but
                    # one coloured pattern ("red stripe, blue stripe running": the last)
                    first = (len(merged) - 1 if self.slot(last_slot).colored_by
                             else _slot_run_start(merged))
                    # and an unknown word before those values is that noun's too: "little
                    # black stars", "a big red bow" (read apart: little, black stars)
                    if first and merged[first - 1][1] is None \
                            and merged[first - 1][0] not in self._names:
                        first -= 1
                    said = [self._in_compound(s, s_slot) for s, s_slot in merged[first:]]
                    merged[first:] = [(" ".join([*said, spelling]), None)]
                    continue
                # an unknown word before a pattern's noun says what kind: "horizontal
                # stripes", "tiny dots" are one phrase, free text (not the pattern and a word)
                if (slot is not None and last_slot is None and last not in self._names
                        and spelling in self._nouns):
                    merged[-1] = (f"{last} {self.canonical(spelling)}", None)
                    continue
                # unknown words glue onto what follows ("leather" + "strap", "leather" + "bag"):
                # onto a noun, a value of a head or of a noun slot ("small" + "bathroom")
                if (last_slot is None and last not in self._names
                        and (slot is None or slot in self.nouns)):
                    merged[-1] = (f"{last} {spelling}", slot)
                    continue
                # two head values side by side are one compound, the last its noun: "coffee
                # table", "baby bear", "dress shirt" (a list would be "and"/","). On 31,071
                # corpus sentences it changed 282 readings, nearly all to the compound meant
                # ("dog bed", "wine bottle", "shirt dress"); dev set 300 -> 301 of 354
                if slot in self.heads and last_slot in self.heads:
                    merged[-1] = (f"{last} {spelling}", slot)
                    continue
                # a head value before a noun it does not know names a kind of that noun:
                # "mug rack", "street light" (the last word of the phrase is the noun)
                if (slot is None and last_slot in self.heads and at == len(run) - 1
                        and spelling not in self._names):
                    merged[-1] = (f"{last} {spelling}", None)
                    continue
            merged.append((spelling, slot))
        merged = self._glue_across(merged)
        if bind:
            merged = self._bind(merged)
        return merged

    def _glue_across(self, merged: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        """An unknown adjective before known attributes and a head belongs to the head: "a
        short shiny gray dress" is gray, short and a shiny dress (the attributes stay apart)."""
        out = list(merged)
        for i in range(len(out) - 2, -1, -1):
            spelling, slot = out[i]
            if slot is not None or spelling in self._names or " " in spelling:
                continue
            j = i + 1
            while j < len(out) and out[j][1] is not None and out[j][1] not in self.heads:
                j += 1
            if j > i + 1 and j < len(out) and out[j][1] in self.heads:
                out[j] = (f"{spelling} {out[j][0]}", out[j][1])
                del out[i]
        return out

    def _in_compound(self, spelling: str, slot: str | None) -> str:
        """How a value is written before a noun the vocabulary does not know: a colour by its
        canonical spelling ("grey rug" -> "gray rug"), any other value as said, since its
        meaning alone is not its meaning there ("ankle strap" is no "long strap", "street
        light" no "city street light", "wood burning oven" no "wooden burning oven"). Corpora:
        1,537 readings changed when every value was kept as said, nearly all to the words
        written (163 "ankle strap"s)."""
        return self.canonical(spelling) if slot in self.colour_slots else spelling

    @functools.cached_property
    def colour_slots(self) -> frozenset[str]:
        """The slots whose values colour another slot's ("color" colours the pattern)."""
        return frozenset(s.colored_by for s in self.slots if s.colored_by)

    def _bind(self, merged: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        """Attributes right before a head noun join it: [brown, horse] -> [brown horse]."""
        out: list[tuple[str, str | None]] = []
        pending: list[tuple[str, str]] = []  # attributes waiting for their noun, with slots
        for spelling, slot in merged:
            if slot in self.heads:
                words = [self.canonical(p) for p, _ in pending] + [self.canonical(spelling)]
                out.append((" ".join(words), slot))
                pending = []
            elif slot is not None:
                pending.append((spelling, slot))
            elif pending:  # an unknown noun takes the attributes before it: "yellow coat"
                out.append((" ".join([*(self._in_compound(p, p_slot) for p, p_slot in pending),
                                      spelling]), None))
                pending = []
            else:
                out.append((spelling, slot))
        out.extend(pending)
        return out

    # -- phrasing for the encoder --------------------------------------------------------------

    def head_of(self, wanted: Iterable[tuple[str, str | None]]) -> str | None:
        """The noun in force: the first wanted value of a head slot that binds attributes."""
        return next((text for text, slot in wanted
                     if slot in self.heads and self.slot(slot).binds), None)

    def alternatives(self, text: str, slot_name: str | None) -> list[str]:
        """The competing values of the same slot, in the same shape as `text`."""
        slot = self.slot(slot_name)
        if slot is None:
            return []
        colored = self.colored(text) if slot.colored_by else None
        if colored:  # a coloured value: vary either part, or have none of it
            color, value, _ = colored
            with_nouns = [v.value for v in slot.values if v.contrast and v.nouns]
            without = [v.value for v in slot.values if v.contrast and not v.nouns]
            return ([f"{c} {value}" for c in self.slot(slot.colored_by).contrast if c != color]
                    + [f"{color} {v}" for v in with_nouns if v != value] + without)
        rest, _, last = text.rpartition(" ")
        own = self._table.get(last)
        if (rest and own and own[1] == slot.name and rest not in slot.modifiers
                and self._table.get(text) is None):
            # a phrase around a value ("my dog", "cotton shirt"): vary the value, keep the rest
            return [f"{rest} {v}" for v in slot.contrast if v != own[0]]
        return [v for v in slot.contrast if v != text]

    def contrasts(self, text: str, slot_name: str | None, noun: str | None) -> list[str]:
        """The prompts a value is judged against: its alternatives in its slot, rendered."""
        return [self.render(a, slot_name, noun) for a in self.alternatives(text, slot_name)]

    def grounds(self, text: str, slot_name: str | None, noun: str | None
                ) -> tuple[tuple[str, str], ...]:
        """For a coloured value ("orange checked"), each colour the ground could be, as
        (the whole thing in that colour, the value in that colour): (("orange trousers",
        "trousers with orange checks"), ("white trousers", "trousers with white checks"), ...),
        the value's own colour first; () for any other value.

        Why: a pattern is seen because its colour differs from the ground's (no demo garment
        has both alike, 0 of 12,032 patterned ones), and a bi-encoder reads "trousers with
        orange checks" as much as orange trousers as trousers with orange checks: a white pair
        with orange checks is nearer "trousers with white checks" (0.556) than "... orange
        checks" (0.547), an orange pair with navy checks nearer "orange trousers" (0.603) than
        either. The colour slot's own reading of the ground is reliable (0.975 at top 1 in the
        demo's quality run), so the scorer weighs the value by it (rerank.ContrastScorer).
        Measured with the simulated shopper (200 episodes; Hits@10 at turns 5 / 10, found at
        top 1), against the rival it replaced ("orange dress with polka dots" among the
        value's alternatives): seed 0 0.86 / 0.99 / 0.985 -> 0.885 / 0.99 / 0.985, seed 2
        0.86 / 0.995 / 0.985 -> 0.89 / 0.995 / 0.985; with both, 0.88 and 0.89 at turn 5, and
        a white pair with orange checks still failed "orange checked" in its evidence."""
        slot = self.slot(slot_name)
        colored = (self.colored(text) if slot is not None and slot.colored_by
                   and slot.ground_differs else None)
        if not colored:
            return ()
        color, value, _ = colored
        colors = [color, *(c for c in self.slot(slot.colored_by).contrast if c != color)]
        return tuple((self.render(c, slot.colored_by, noun),
                      self.render(f"{c} {value}", slot.name, noun)) for c in colors)

    def render(self, text: str, slot_name: str | None, noun: str | None) -> str:
        """A prompt for one value, phrased with the head in force ("long" -> "long dress")."""
        slot = self.slot(slot_name)
        if slot is None:
            return text
        noun = noun or self.default_noun
        colored = self.colored(text) if slot.colored_by else None
        if colored:
            color, value, _ = colored
            return slot.colored_prompt.format(noun=noun, color=color,
                                              pattern=self._noun_form(slot, value))
        own = self._values.get((slot.name, text))
        return ((own and own.prompt) or slot.prompt).format(value=text, noun=noun)

    def render_sentence(self, wanted: Sequence[tuple[str, str | None]]) -> str:
        """All wanted values as one noun phrase ("long navy dress with white polka dots")."""
        by_slot: dict[str | None, list[str]] = {}
        for text, slot in wanted:
            by_slot.setdefault(slot, []).append(text)
        order = [*self.sentence_order, *(s for s in self.slot_order
                                         if s not in self.sentence_order)]
        before, heads, withs, colored = [], [], [], []
        for name in order:
            slot = self.slot(name)
            for text in by_slot.get(name, []):
                found = self.colored(text) if slot.colored_by else None
                if found:
                    colored.append(f"{found[0]} {self._noun_form(slot, found[1])}")
                elif slot.kind == "head":
                    heads.append(text)
                elif slot.place == "with":
                    withs.append(text)
                else:
                    before.append(text)
        phrase = " ".join(before + heads)
        if withs + colored:
            phrase += " with " + " and ".join(withs + colored)
        free = by_slot.get(None, [])
        return ", ".join([p for p in [phrase.strip(), *free] if p]) or "a photo"

    def _noun_form(self, slot: Slot, value: str) -> str:
        found = self._values.get((slot.name, value))
        return found.nouns[0] if found and found.nouns else value

    # -- for people ----------------------------------------------------------------------------

    def describe(self) -> str:
        """The vocabulary as a person reads it, for `rummage vocabulary show`."""
        lines = [f"vocabulary {self.name!r}: {self.description}".rstrip(": "),
                 f"  file: {self.source}" if self.source else ""]
        for slot in self.slots:
            kind = " (head nouns)" if slot.kind == "head" else ""
            lines.append(f"{slot.name}{kind}: {len(slot.values)} values; named by "
                         + ", ".join(dict.fromkeys((slot.name, *slot.names))))
            for value in slot.values:
                others = [s for s in dict.fromkeys((*value.spellings, *value.nouns))
                          if s != value.value]
                extra = f" = {', '.join(others)}" if others else ""
                mark = "" if value.contrast else "  (not contrasted)"
                lines.append(f"  {value.value}{extra}{mark}")
        return "\n".join(line for line in lines if line)


# words after a pattern's value that end a colour list's phrase (see _listed_before_pattern)
_LIST_ENDS = frozenset({"and", "or", "with", "in", "on", "but"})


def normalize(text: str) -> str:
    """Lowercase, single-spaced, without surrounding punctuation or quotes."""
    text = text.lower().replace("\u2019", "'").replace("\u2010", "-").replace("\u2013", "-")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t\n.,;:!?\"'()[]")
