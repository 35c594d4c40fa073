"""Split a request into simple propositions, each wanted (+1), not wanted (-1) or revoked (0).

Divide and conquer as in NDCR: "a long navy dress with white polka dots, not checked" is easier
to score as dress ∧ long ∧ navy ∧ white polka-dot ∧ ¬checked than as one sentence.

The rule decomposer, in order:
1. Whole-sentence idioms are rewritten first ("anything but X" → "not X", "X instead of Y" →
   "X, not Y"), and so are the vocabulary's spellings that begin with a negation word ("no
   sleeves" means "sleeveless" in the demo world's): read word by word, their "no" would negate.
2. The text is cut into chunks at commas, semicolons, full stops and "but". A chunk that is a
   revocation ("stripes are fine", "forget the color", "any color", "I don't mind checks")
   yields polarity-0 propositions.
3. Inside a chunk, a negation cue ("not", "no", "without", "avoid", "nothing", "don't want",
   ...) makes what follows negative, through "and"/"or"/"nor", until a new clause begins
   ("with", "that", "which", "has", "is", "but"). A negation does not cross a comma, except in
   a list that ends in "or"/"nor" ("no stripes, dots or checks").
4. Each phrase left between the cue and connective words loses its filler words and is split
   into attributes by the library's vocabulary (head noun first); unknown phrases stay whole.
   A negated slot name wants what the vocabulary says it means ("no pattern" → solid, when
   the vocabulary says so), not a negation of nothing.

The words of the rules are English, not any one world's: what is a colour or a dog comes from
the vocabulary (retrievers.vocabulary) the decomposer is built with.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from retrievers.vocabulary import Vocabulary, normalize


@dataclass(frozen=True, kw_only=True)
class Proposition:
    text: str  # canonical short phrase ("navy", "white polka-dot", "short sleeves")
    polarity: int  # +1 wanted, -1 not wanted, 0 revoke an earlier constraint on this text/slot
    said: str = field(default="", compare=False)  # the user's own words, for the memory panel


class Decomposer(Protocol):
    def __call__(self, text: str) -> list[Proposition]: ...


# --- vocabulary of the rules -----------------------------------------------------------------

_NEGATIONS = (
    "do not want", "don't want", "dont want", "do not like", "don't like", "dont like",
    "would rather not have", "rather not have", "rather not", "not a fan of", "no more",
    "not", "no", "without", "avoid", "nothing", "neither", "nor", "never", "none", "less",
    "except", "minus", "isn't", "aren't", "shouldn't be", "mustn't be", "hate",
)
# Words that open a new clause: a negation before them has ended.
_CLAUSE_OPENERS = frozenset({"with", "that", "which", "who", "has", "have", "having", "is",
                             "are", "but", "also", "plus"})
_CONNECTIVES = frozenset({"and", "or", "&", "as", "well"})
_FILLER = frozenset({
    "i", "i'd", "i'm", "id", "im", "we", "we'd", "want", "wants", "wanted", "would", "like",
    "love", "prefer", "looking", "look", "for", "find", "show", "me", "give", "get", "need",
    "needs", "see", "make", "it", "its", "it's", "they", "them", "something", "anything", "one",
    "ones", "some", "a", "an", "the", "please", "pls", "maybe", "perhaps", "in", "of", "kind",
    "sort", "more", "very", "really", "quite", "bit", "little", "just", "only", "instead",
    "now", "again", "too", "actually", "rather", "be", "should", "must", "to", "can", "could",
    "you", "try", "how", "what", "about", "let's", "lets", "made", "same", "thing", "things",
    "stuff", "preferably", "ideally", "definitely", "color", "colour", "colored", "coloured",
})
# (pattern, whether the target must name a slot): "any color" revokes, "any dress" does not
_REVOCATIONS = (
    (r"(?P<x>.+?) (?:is|are) (?:fine|ok|okay|alright|all right|allowed|acceptable|good)"
     + r"(?: too| after all| again| by me| with me)?", False),
    (r"(?P<x>.+?) (?:doesn't|does not|don't|do not) matter(?: to me)?", False),
    (r"(?:i )?(?:don't|do not|dont) (?:mind|care about|care for) (?P<x>.+)", False),
    (r"(?:forget|never mind|nevermind|ignore|drop|undo) (?:about )?(?P<x>.+)", False),
    (r"no preference (?:on|for|about) (?P<x>.+)", False),
    (r"(?:any|whatever) (?P<x>.+?)(?: is| are)?(?: fine| ok| okay| will do| works| goes)?", True),
)
# Chunks that say nothing to remember ("I don't care", "whatever").
_NOISE = re.compile(
    r"(?:i )?(?:don't|do not|dont) (?:care|mind)|whatever|(?:it )?doesn't matter|no preference|"
    r"thanks|thank you|ok|okay|hmm+|please"
)
_LEAD_IN = re.compile(
    r"^(?:(?:actually|oh|ok|okay|well|hmm+|also|and|sorry|wait|so|on second thought|now|then|"
    r"yes|yeah|no wait)\b[ ,]*)+"
)
# Rewrites applied before chunking; each keeps the meaning but makes the rules simpler.
_IDIOMS = (
    (r"\banything but\b", "not"),
    (r"\b(?:instead of|rather than|other than)\b", "not"),
)


# --- the rule decomposer -----------------------------------------------------------------------


def decompose(text: str, vocabulary: Vocabulary) -> list[Proposition]:
    """Rule-based decomposition of English: see the module docstring for the rules."""
    clean = normalize(text)
    for pattern, replacement in (*_IDIOMS, *_negative_spellings(vocabulary)):
        clean = re.sub(pattern, replacement, clean)
    chunks = _chunks(clean)
    out: list[Proposition] = []
    carried = False  # a negation carried over a comma into a list ending in "or"/"nor"
    for index, (separator, chunk) in enumerate(chunks):
        chunk = _LEAD_IN.sub("", chunk).strip()
        if not chunk:
            continue
        revoked = _revocation(chunk, vocabulary)
        if revoked is not None:
            out.extend(revoked)
            carried = False
            continue
        start = -1 if carried and separator == "," else 1
        found, ends_negative = _clause(chunk, start, vocabulary)
        out.extend(found)
        carried = ends_negative and _list_ends_in_or(chunks[index + 1:])
    return _dedupe(out)


class RuleDecomposer:
    """The default decomposer: English rules and a library's vocabulary, no model."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary

    def __call__(self, text: str) -> list[Proposition]:
        return decompose(text, self.vocabulary)


@functools.lru_cache(maxsize=8)
def _negative_spellings(vocabulary: Vocabulary) -> tuple[tuple[str, str], ...]:
    """Rewrites of the vocabulary's spellings that begin with a negation cue, longest first."""
    cues = {cue.split()[0] for cue in _NEGATIONS}
    return tuple((rf"\b{re.escape(spelling)}\b", value)
                 for spelling, value in vocabulary.negative_spellings(cues))


def _chunks(text: str) -> list[tuple[str, str]]:
    """(separator before it, chunk) pairs, cut at punctuation and "but"."""
    parts = re.split(r"\s*([,;.!?]|\bbut\b)\s*", text)
    out = [("", parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]
    return [(separator, chunk) for separator, chunk in out if chunk.strip()]


def _list_ends_in_or(rest: list[tuple[str, str]]) -> bool:
    for separator, chunk in rest:
        if separator != ",":
            return False
        words = chunk.split()
        if "or" in words or "nor" in words:
            return True
        if any(word in _CLAUSE_OPENERS or word in ("not", "no") for word in words):
            return False
    return False


def _revocation(chunk: str, vocabulary: Vocabulary) -> list[Proposition] | None:
    """Polarity-0 propositions when the chunk revokes something, [] for noise, else None."""
    if _NOISE.fullmatch(chunk):
        return []
    for pattern, slot_only in _REVOCATIONS:
        match = re.fullmatch(pattern, chunk)
        if not match:
            continue
        target = match.group("x").strip()
        slot = vocabulary.slot_named(target)
        if slot is not None:
            return [Proposition(text=slot, polarity=0, said=chunk)]
        if slot_only:
            continue
        phrases = [p for p in re.split(r"\s*\b(?:and|or|nor|&)\b\s*", target) if p]
        found = [text for phrase in phrases for text in _attributes(phrase, vocabulary)]
        if found:
            return [Proposition(text=text, polarity=0, said=chunk) for text in found]
    return None


def _clause(chunk: str, polarity: int,
            vocabulary: Vocabulary) -> tuple[list[Proposition], bool]:
    """Propositions of one chunk and whether it ended inside a negation."""
    words = chunk.split()
    out: list[Proposition] = []
    phrase: list[str] = []
    negated_phrases = 0

    def flush() -> None:
        nonlocal negated_phrases
        said = " ".join(phrase)
        instead = vocabulary.negated_name(vocabulary.slot_named(said)) if polarity < 0 else None
        if instead:
            # "no pattern" wants a plain thing; a negated slot name would match nothing.
            out.append(Proposition(text=instead, polarity=1, said=said))
            negated_phrases += 1
            phrase.clear()
            return
        for text in _attributes(said, vocabulary):
            out.append(Proposition(text=text, polarity=polarity, said=said))
            negated_phrases += polarity < 0
        phrase.clear()

    i = 0
    while i < len(words):
        cue = _negation_at(words, i)
        if cue:
            flush()
            polarity, negated_phrases = -1, 0
            i += cue
            continue
        word = words[i]
        if word in _CLAUSE_OPENERS:
            flush()
            # "nothing with stripes": the negation has not been used yet, so it still holds
            if polarity < 0 and negated_phrases:
                polarity = 1
        elif word in _CONNECTIVES:
            flush()
        else:
            phrase.append(word)
        i += 1
    flush()
    return out, polarity < 0


def _negation_at(words: list[str], i: int) -> int:
    """How many words a negation cue starting at words[i] spans (0: none)."""
    for cue in _NEGATIONS:
        cue_words = cue.split()
        if words[i:i + len(cue_words)] == cue_words:
            return len(cue_words)
    return 0


def _attributes(phrase: str, vocabulary: Vocabulary) -> list[str]:
    words = [w for w in phrase.split() if w not in _FILLER]
    if not words:
        return []
    return vocabulary.split(" ".join(words))


def _dedupe(found: list[Proposition]) -> list[Proposition]:
    seen: set[tuple[str, int]] = set()
    out = []
    for proposition in found:
        key = (proposition.text, proposition.polarity)
        if key not in seen:
            seen.add(key)
            out.append(proposition)
    return out


# --- a language model as decomposer --------------------------------------------------------

PROMPT = """\
Split the {who}'s request into short propositions, one per line.
Start each line with + for something wanted, - for something not wanted, 0 for something the
{who} no longer cares about. Use short phrases: {slots}, a detail.

{examples}Request: {{text}}
"""


def prompt_for(vocabulary: Vocabulary) -> str:
    """The instruction and worked examples for a language model, in the vocabulary's words.

    `{text}` is left in it and replaced (not str.format-ted) by the request, so examples and
    custom prompts may hold braces."""
    examples = "".join(f"Request: {e.request}\n" + "".join(f"{line}\n" for line in e.lines)
                       + "\n" for e in vocabulary.examples)
    return PROMPT.format(who=vocabulary.who, slots=vocabulary.phrases or "a thing, a colour",
                         examples=examples)


_LINE = re.compile(r"^(?:\d+[.)]\s*|[*\u2022]\s+)?(\+1|-1|\+|-|\u2212|0|not\b)\s*[:.)]?\s*(.+)$",
                   re.IGNORECASE)
_POLARITY = {"+1": 1, "+": 1, "-1": -1, "-": -1, "\u2212": -1, "not": -1, "0": 0}


class LLMDecomposer:
    """Prompts a text generator for "+ navy" / "- checked" / "0 stripes" lines.

    Any output without a single such line (a refusal, chatter, an empty string) falls back to
    the rule decomposer, so a weak model can make answers better but never empty.
    """

    def __init__(self, generate: Callable[[str], str], vocabulary: Vocabulary,
                 prompt: str | None = None, fallback: Decomposer | None = None):
        self.generate = generate
        self.vocabulary = vocabulary
        self.prompt = prompt or prompt_for(vocabulary)
        self.fallback = fallback or RuleDecomposer(vocabulary)

    def __call__(self, text: str) -> list[Proposition]:
        parsed = parse_lines(self.generate(self.prompt.replace("{text}", text)),
                             self.vocabulary)
        return parsed if parsed else self.fallback(text)

    @classmethod
    def from_pretrained(cls, model_path: str, vocabulary: Vocabulary, *,
                        max_new_tokens: int = 64, **kwargs) -> LLMDecomposer:
        """A decomposer over a local or hub text-generation model, loaded on first use."""
        pipe = None

        def generate(prompt: str) -> str:
            nonlocal pipe
            if pipe is None:
                from transformers import pipeline  # heavy: only when an LLM is really used

                pipe = pipeline("text-generation", model=model_path)
            result = pipe(prompt, max_new_tokens=max_new_tokens, do_sample=False,
                          return_full_text=False)
            return result[0]["generated_text"]

        return cls(generate, vocabulary, **kwargs)


def parse_lines(output: str, vocabulary: Vocabulary) -> list[Proposition]:
    """Propositions from "+ navy" lines; stops where the model starts a new request."""
    out: list[Proposition] = []
    for raw in output.splitlines():
        line = raw.strip().strip("`")
        if line.lower().startswith(("request:", "text:", "input:")):
            break
        match = _LINE.match(line)
        if not match:
            continue
        text = vocabulary.canonical(match.group(2).strip(" \"'"))
        if text:
            out.append(Proposition(text=text, polarity=_POLARITY[match.group(1).lower()],
                                   said=match.group(2).strip()))
    return _dedupe(out)
