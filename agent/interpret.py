"""Read one chat turn: which shown results it points at, whether it starts over, what text is left.

When is a number a reference to a shown result (rank 1..shown) and not part of the request
("a 2-piece suit", "size 10 shoes")? A number is a reference when
- it is written "#3", "no. 3", or follows "image", "result", "picture", "photo", "pic", "number",
  "option" ("image 3");
- it is an ordinal word or numeral (first..tenth, 1st..10th, "last") after "the" or before
  "one"/"image"/"result"/... ("the third one", "not the first");
- it is a bare number right after a cue that only makes sense for results ("not 2", "no to 1",
  "like 4", "more like 4", "I like 2", "similar to 3", "hate 5", ...), or right before a verdict
  ("2 is wrong", "3 looks good") or before "but" at the start of a clause ("4 but blue");
- it is joined by "and", "or", "nor" or a comma to a reference ("not 1, 3 or 5");
- or the whole turn is nothing but numbers, connectives and filler ("3", "2 and 5 please").
Every other number is text. A hyphen glues a number to its word ("2-piece"), so it never refers.

A negative rank ("#-1", "no. -2", "the -1st one", or a bare "-2" that is no quantity: "not -2",
but not "-5 degrees") is never read as the rank without its sign: the turn is answered with
UnknownReference, which names the ranks on the page (`negative_reference`).

What a reference means follows from its cue: negative cues and verdicts dislike; "like N but
<text>" / "N but <text>" / "N is close but <text>" (a good verdict, then "but") makes N the
reference image for a composed query (it is then not also counted as liked); everything else
likes. The third was read as a like plus the text until two people labelling moves for us
(tests/data/moves_dev_{b,c}.jsonl) both read it as the second; with it, evaluation seeds 0 / 2 /
1 (Hits@10 at turn 5) 0.85 / 0.86 / 0.84 -> 0.86 / 0.86 / 0.845, the rest unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LAST = -1  # "the last one": the rank is the number of results shown

ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
}


class UnknownReference(ValueError):
    """The turn points at a result rank that is not on screen."""

    def __init__(self, rank: int, shown: int):
        self.rank = rank
        self.shown = shown
        if shown <= 0:
            message = (f"No results are shown yet, so there is no #{rank}: "
                       "describe what you are looking for first.")
        elif rank < 1:
            message = (f"There is no #{rank}: the page shows #1 only." if shown == 1 else
                       f"There is no #{rank}: the page shows #1–#{shown}.")
        elif shown == 1:
            message = f"There is no #{rank}: only 1 result is shown."
        else:
            message = f"There is no #{rank}: only {shown} results are shown."
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class Turn:
    text: str  # the request left once references, their cues and filler are removed
    liked: tuple[int, ...] = ()  # 1-based ranks pointed at positively, in the order said
    disliked: tuple[int, ...] = ()  # 1-based ranks pointed at negatively
    reference: int | None = None  # rank of the image to modify with `text` ("like 4 but green")
    reset: bool = False  # "start over" / "new search: ...": forget the conversation first


_TOKEN = re.compile(
    r"#\s*\d+|no\.\s*\d+|\d+(?:st|nd|rd|th)\b|\d+(?:\.\d+)?(?:-?[a-z][\w-]*)?|"
    r"[a-z]+(?:['\u2019-][a-z]+)*|"
    r"[,;:.!?&/]",
    re.IGNORECASE,
)
# "#-1", "no. -2", or a "-2" standing alone (not the "-1" of "3-1", "2.5-1" or "-1.5")
_NEGATIVE = re.compile(r"(?:#|\bno\.)\s*-\s*(\d+)|(?<![\w.#-])-(\d+)(?:st|nd|rd|th)?(?![\w.-])",
                       re.IGNORECASE)
_MARKERS = ("image", "result", "picture", "photo", "pic", "number", "option", "item", "img")
# words that may follow an ordinal that names a result ("the third one", "the last image")
AFTER_ORDINAL = ("one", "ones", *_MARKERS, *(m + "s" for m in _MARKERS))
# The image a comparative is measured against: "longer sleeves than 3" changes 3.
_COMPARED_CUES = ("than", "compared to", "compared with", "relative to")
_NEGATIVE_CUES = (
    "not", "no", "no to", "not like", "less like", "nothing like", "unlike", "don't like",
    "do not like", "dont like", "dislike", "hate", "remove", "drop", "hide", "exclude",
    "without", "skip", "not you", "get rid of", "lose", "no more like", "not more like",
    "none like", "not a fan of", "not keen on", "not sure about", "don't love", "dont love",
    "hated", "i hated", "disliked", "i disliked",
)
_POSITIVE_CUES = (
    "like", "more like", "i like", "i love", "love", "similar to", "closer to", "yes to", "yes",
    "keep", "same as", "more of", "i want", "want", "prefer", "i prefer", "pick", "choose",
    "liked", "i liked", "loved", "i loved", "along the lines of", "more along the lines of",
    *_COMPARED_CUES,
)
_REFERENCE_CUES = ("like", "more like", "i like", "similar to", "closer to", "same as", "just like")
# Words that may follow a bare-number reference; any other word makes the number a quantity
# ("not 3 buttons", "like 2 pockets").
_AFTER_BARE = frozenset({
    "but", "with", "only", "except", "in", "is", "are", "looks", "look", "seems", "was", "and",
    "or", "nor", "please", "too", "though", "also", "either", "instead", "anymore", "then", "a",
    "lot", "more", "much", "better", "best", "so", "because", "since", "as", "the", "not", "it",
    "at", "all", "here", "there", "one", "ones", "isn't", "aren't", "doesn't", "pls", "plz", "r",
    "thx", "thanks", "ty", "tho", "now", "again", "without", "minus", "lol",
})
# what follows a reference whose image is to be changed: "like 4 but green", "like 4 in red",
# "like 4 without the stripes", "same as 2 only darker"
_LIKE_AFTER = ("but", "with", "only", "except", "in", "without", "minus")
# what makes a bare number opening a clause such a reference: "4 but blue", "6 without the
# people" ("4 in red" or "3 with pockets" could be quantities)
_BARE_CHANGE = ("but", "without", "minus", "except", "only")
_VERDICTS_BAD = ("wrong", "bad", "off", "terrible", "awful", "ugly", "not it", "not right",
                 "no good", "not good", "not what i want", "too far", "dreadful", "horrible",
                 "hideous", "rubbish", "nasty", "gross", "all wrong", "not correct",
                 "incorrect", "all off", "minging", "naff", "dire", "grim", "crap", "meh",
                 "nowhere near", "not even close", "not close", "way off", "miles off",
                 # a "no" as a noun: "2 is a definite no", "6's a no"
                 "a no", "a definite no", "a hard no", "a big no", "a firm no", "a no-go",
                 "a no go", "a nope", "not for me")
_VERDICTS_GOOD = ("good", "great", "close", "closer", "nice", "right", "perfect", "it",
                  "better", "lovely", "almost it", "the one", "spot on", "fine", "so close",
                  "very close", "really close", "nearly there", "almost there", "gorgeous",
                  "beautiful", "nearly perfect", "almost perfect", "the closest", "closest",
                  "the closest so far", "closest so far", "the best", "the best so far",
                  "my favourite", "my favorite", "my fave")
# "r": "2 and 3 r ugly"; "s": what is left of "6's a no" (the apostrophe is not a token)
_VERBS = ("is", "are", "looks", "look", "seems", "was", "r", "s")
_CONNECT = (",", "and", "or", "nor", "&", "/")
_FILLER = frozenset({
    "i", "please", "pls", "plz", "the", "ones", "one", "those", "these", "them", "ok", "okay",
    "yes", "thanks", "thx", "ty",
})
_RESET = re.compile(
    r"^\s*(?:(?:ok|okay|actually|please|hmm|no|right|so)[\s,]+)*(?:let'?s\s+)?"
    r"(?:start\s+(?:over|again|afresh|anew|fresh|from\s+scratch)|fresh\s+start|"
    r"(?:new|next|another|different)\s+search|reset|restart|begin\s+again|from\s+scratch|"
    r"forget\s+(?:everything|all)"
    r"(?:\s+so\s+far)?|clear\s+(?:everything|all))\b(?:\s*(?:with|:|,|-|\.)\s*)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Token:
    text: str  # lowercased
    start: int
    end: int


@dataclass
class _Group:
    """Consecutive rank mentions joined by connectives, with the token span they cover."""
    ranks: list[int]
    first: int  # token index of the first mention
    last: int  # token index of the last mention (after its "one"/"image")
    definite: bool  # at least one mention can only be a reference (#3, the third one)


def negative_reference(text: str) -> int | None:
    """The negative rank a turn points at ("#-1", "not -2" give -1, -2), else None."""
    for match in _NEGATIVE.finditer(text):
        if match.group(1):
            return -int(match.group(1))
        following = _TOKEN.search(text, match.end())
        after = following.group().lower() if following else ""
        if not after[:1].isalpha() or after in _AFTER_BARE:  # "-5 degrees" is a quantity
            return -int(match.group(2))
    return None


def interpret(text: str, shown: int) -> Turn:
    """Split a turn into rank references and free text; see the module docstring for the rules."""
    negative = negative_reference(text)
    if negative is not None:
        raise UnknownReference(negative, shown)
    reset = False
    match = _RESET.match(text)
    if match:
        reset, text = True, text[match.end():]
    tokens = [_Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    words = [t.text for t in tokens]
    groups = _groups(words)
    removed: set[int] = set()
    liked: list[int] = []
    disliked: list[int] = []
    reference: int | None = None
    pending: list[tuple[_Group, int, int]] = []  # (group, polarity, cue start)
    # "a shirt with number 16 on it": a marker word before a number no result has is text
    # and so is an ordinal no page reaches ("the 19th century")
    def spelled_out(g: _Group) -> bool:
        first = words[g.first + (words[g.first] == "the")]
        return first in _MARKERS or _ordinal_numeral(first) is not None

    groups = [g for g in groups
              if not (spelled_out(g) and all(r > max(shown, 10) for r in g.ranks))]
    for group in groups:
        cue, cue_start = _cue(words, group.first)
        verdict, verdict_end = _verdict(words, group.last)
        clause_start = group.first == 0 or words[group.first - 1] in (",", ";", ".", "!", "?")
        but_after = group.last + 1 < len(words) and words[group.last + 1] in _BARE_CHANGE
        if not (group.definite or cue or verdict or (clause_start and but_after)):
            continue
        if not group.definite and not verdict and _quantity(words, group.last):
            continue
        polarity = -1 if cue in _NEGATIVE_CUES or verdict == "bad" else 1
        pending.append((group, polarity, cue_start))
        removed.update(range(cue_start, verdict_end + 1))
        single = len(group.ranks) == 1
        following = group.last + 1
        if words[following:following + 2] == [",", "but"]:  # "more like #2, but lighter"
            removed.add(following)
            following += 1
        after = words[following] if following < len(words) else ""
        if cue in _COMPARED_CUES and single and reference is None:
            reference = group.ranks[0]
            pending[-1] = (group, 0, cue_start)
        elif (polarity > 0 and single and reference is None and after in _LIKE_AFTER
                and not verdict and (cue in _REFERENCE_CUES or not cue)):
            reference = group.ranks[0]
            if after in ("but", "except"):  # "like 2 except with long sleeves": a change
                removed.add(following)
            pending[-1] = (group, 0, cue_start)
        elif (verdict == "good" and single and reference is None and not cue
              and words[verdict_end + 1:verdict_end + 2] in (["but"], ["just"])):
            # "6 is close but plain", "4 is lovely but in pink": the image to change, as
            # "like 6 but plain" says it
            reference = group.ranks[0]
            removed.add(verdict_end + 1)
            pending[-1] = (group, 0, cue_start)
    if not pending:
        # Only numbers and filler: "3", "2 and 5 please" are picks, not a request.
        leftover = [w for w in words if w not in _FILLER and w not in _CONNECT]
        bare = [g for g in groups if not _quantity(words, g.last)]
        if bare and all(_inside(i, bare) for i, w in enumerate(words) if w in leftover):
            for group in bare:
                pending.append((group, 1, group.first))
                removed.update(range(group.first, group.last + 1))
            removed.update(i for i, w in enumerate(words) if w in _FILLER or w in _CONNECT)
    for group, polarity, _ in pending:
        group.ranks = [(shown or 1) if rank == _LAST else rank for rank in group.ranks]
        for rank in group.ranks:
            if not 1 <= rank <= shown:
                raise UnknownReference(rank, shown)
        if polarity == 0:
            reference = group.ranks[0]
        target = liked if polarity > 0 else disliked if polarity < 0 else None
        if target is not None:
            target.extend(r for r in group.ranks if r not in target)
    return Turn(
        text=_leftover(text, tokens, removed),
        liked=tuple(r for r in liked if r not in disliked and r != reference),
        disliked=tuple(disliked),
        reference=reference,
        reset=reset,
    )


def _mention(words: list[str], i: int) -> tuple[int | None, int, bool]:
    """(rank, index of the mention's last token, definite) for a mention starting at i."""
    word = words[i]
    after = words[i + 1] if i + 1 < len(words) else ""
    before = words[i - 1] if i > 0 else ""
    if word.startswith(("#", "no.")):
        return int(re.sub(r"\D", "", word)), i, True
    if word in _MARKERS and after.isdigit():
        return int(after), i + 1, True
    ordinal = ORDINALS.get(word) or _ordinal_numeral(word)
    if word == "last":
        ordinal = _LAST
    if ordinal is not None:
        end = i + 1 if after in AFTER_ORDINAL else i
        return ordinal, end, before == "the" or end > i
    if word.isdigit():
        return int(word), i, False
    return None, i, False


def _quantity(words: list[str], last: int) -> bool:
    """Whether the word after a bare number makes it a count ("3 buttons"), not a rank."""
    after = words[last + 1] if last + 1 < len(words) else ""
    return after[:1].isalpha() and after not in _AFTER_BARE


def _ordinal_numeral(word: str) -> int | None:
    match = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", word)
    return int(match.group(1)) if match else None


def _groups(words: list[str]) -> list[_Group]:
    groups: list[_Group] = []
    i = 0
    while i < len(words):
        rank, end, definite = _mention(words, i)
        # an ordinal on its own ("first communion") is text, unless it joins a list
        if rank is None or ((words[i] in ORDINALS or words[i] == "last") and not definite):
            i += 1
            continue
        group = _Group(ranks=[rank], first=i, last=end, definite=definite)
        j = end + 1
        while j + 1 < len(words) and words[j] in _CONNECT:
            k = j + 1 + (words[j + 1] == "the")
            if k >= len(words):
                break
            more, more_end, more_definite = _mention(words, k)
            if more is None:
                break
            group.ranks.append(more)
            group.last, group.definite = more_end, group.definite or more_definite
            j = more_end + 1
        if group.first > 0 and words[group.first - 1] == "the":
            group.first -= 1
        groups.append(group)
        i = group.last + 1
    return groups


def _cue(words: list[str], first: int) -> tuple[str | None, int]:
    """The cue phrase right before a group (longest first) and where it starts."""
    best: tuple[str | None, int] = (None, first)
    for cue in (*_NEGATIVE_CUES, *_POSITIVE_CUES):
        cue_words = cue.split()
        start = first - len(cue_words)
        longer = best[0] is None or len(cue_words) > len(best[0].split())
        if start >= 0 and words[start:first] == cue_words and longer:
            best = (cue, start)
    cue, start = best
    # "I'd like 2 pockets" wants pockets; "I like 2" points at a result
    if cue in ("like", "want") and start > 0 and words[start - 1] in ("would", "i'd", "we'd"):
        return None, first
    if cue is not None and start > 0 and words[start - 1] in ("i", "we"):
        start -= 1
    return best[0], start


def _verdict(words: list[str], last: int) -> tuple[str | None, int]:
    """("good" | "bad", index of its last word) for "2 is wrong", "3 looks good", else None."""
    i = last + 1
    if i < len(words) and words[i] in ("isn't", "aren't", "doesn't", "isnt", "arent", "doesnt"):
        more = words[i + 1] if i + 1 < len(words) else ""
        return "bad", i + (more in ("it", "right", "good", "great", "close", "work"))
    if i < len(words) and words[i] in _VERBS:
        for phrases, kind in ((_VERDICTS_BAD, "bad"), (_VERDICTS_GOOD, "good")):
            for phrase in sorted(phrases, key=len, reverse=True):
                phrase_words = phrase.split()
                if words[i + 1:i + 1 + len(phrase_words)] == phrase_words:
                    return kind, i + len(phrase_words)
        if words[i + 1:i + 2] == ["not"]:
            return "bad", i + 1
    return None, last


def _inside(i: int, groups: list[_Group]) -> bool:
    return any(g.first <= i <= g.last for g in groups)


def _leftover(text: str, tokens: list[_Token], removed: set[int]) -> str:
    """The original text without the removed tokens, tidied at the seams."""
    pieces, cursor = [], 0
    for index, token in enumerate(tokens):
        if index in removed:
            pieces.append(text[cursor:token.start])
            cursor = token.end
    pieces.append(text[cursor:])
    out = re.sub(r"\s+", " ", "".join(pieces))
    out = re.sub(r"\s+([,;.!?])", r"\1", out)
    out = re.sub(r"([,;])(?:\s*[,;])+", r"\1", out)
    # an apostrophe whose word went with a reference ("6's a no"): not a token, so left alone
    out = re.sub(r"(?:^|(?<=\s))['\u2019]+(?=[\s,;.!?]|$)", "", out)
    edge = r"(?:[\s,;:.!?&/-]|\b(?:and|or|but|nor|then|please)\b)"
    previous = None
    while previous != out:
        previous = out
        out = re.sub(rf"^{edge}+", "", out)
        out = re.sub(rf"{edge}+$", "", out)
    return out.strip()
