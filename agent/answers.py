"""What the agent says back: the one line of what a turn was understood as, and the answers to
questions about the search ("what do you remember?", "why is 3 here?", "why no blue ones?",
"what's the difference between 2 and 3?").

Answers are read from the state only (the memory and the evidence of the page on screen), so
asking never changes the search. Everything is phrased with the library's vocabulary.
"""

from __future__ import annotations

from memory.cascade import QueryState, summary
from retrievers.rerank import SATISFIED

_ACKNOWLEDGE = {
    "thanks": "You're welcome. Say what to change, or 'none of these' for new ones.",
    "greeting": "Hello! Describe what you are looking for.",
    "ack": "OK. Say what to change, or 'none of these' for new ones.",
}


def acknowledge(kind: str | None) -> str:
    return _ACKNOWLEDGE.get(kind or "ack", _ACKNOWLEDGE["ack"])


def understood(turn: dict, propositions: list[dict], vocabulary) -> str:
    """One line of what a turn did: "started over · dress · red · not striped · text 'logo'".

    Free text (outside the vocabulary) is named as such, so a person sees what was not
    understood as a known attribute and can remove it."""
    parts: list[str] = []
    if turn.get("reset"):
        parts.append("started over")
    if turn.get("act") == "page" or turn.get("page"):
        parts.append(f"set aside {turn.get('shown', 0)} shown")
    if "remove" in turn:
        parts.append(f"removed {turn['remove']}")
    ranks = turn.get("ranks") or {}
    if ranks.get("liked"):
        parts.append("liked " + ", ".join(f"#{r}" for r in ranks["liked"]))
    if ranks.get("disliked"):
        parts.append("not " + ", ".join(f"#{r}" for r in ranks["disliked"]))
    if ranks.get("reference"):
        parts.append(f"like #{ranks['reference']}")
    for p in propositions:
        text, polarity = p["text"], p["polarity"]
        names_slot = vocabulary.slot_named(text) is not None
        known = p.get("relative") or names_slot or vocabulary.slot_of(text) is not None
        shown = text if known else f"text '{text}'"
        parts.append(shown if polarity > 0 else f"not {shown}" if polarity < 0
                     else f"any {text}" if names_slot else f"{text} is fine")
    return " · ".join(parts) if parts else "nothing new"


def answer_question(turn: dict, memory: QueryState, reply: dict, vocabulary,
                    decomposer) -> str:
    kind = turn.get("question")
    if kind == "memory":
        return f"So far: {summary(memory, vocabulary)}."
    if kind == "why":
        return _why(turn.get("about"), memory, reply)
    if kind == "compare":
        return _compare(turn.get("about"), turn.get("other"), memory, reply)
    if kind == "other":  # a question none of the readers can answer precisely
        return ("I can only answer questions about the search itself; so far: "
                f"{summary(memory, vocabulary)}.")
    return _why_not(turn.get("topic", ""), memory, vocabulary, decomposer)


def _why(rank: int | None, memory: QueryState, reply: dict) -> str:
    results = reply.get("results", [])
    if not rank or not 1 <= rank <= len(results):
        return "Which one? Ask 'why is 3 here?' with a number on screen."
    result = results[rank - 1]
    evidence = result.get("evidence") or {}
    if not evidence:
        if not memory.constraints:
            return (f"#{rank} is there because it is close to the images you pointed at "
                    "(no words in the search yet).")
        return f"#{rank} scored {result.get('score', 0):.2f} on your search as a whole."
    met = [label for label, p in evidence.items() if p >= SATISFIED]
    missed = [label for label, p in evidence.items() if p < SATISFIED]
    parts = []
    if met:
        parts.append("it matches " + ", ".join(f"{label} ({evidence[label]:.0%})"
                                               for label in met))
    if missed:
        parts.append("but probably not " + ", ".join(f"{label} ({evidence[label]:.0%})"
                                                     for label in missed))
    return f"#{rank}: " + "; ".join(parts) + "."


def _compare(first: int | None, second: int | None, memory: QueryState, reply: dict) -> str:
    """Where two results differ on what was asked, from their evidence."""
    results = reply.get("results", [])
    if not all(rank and 1 <= rank <= len(results) for rank in (first, second)):
        return "Which ones? Ask 'what's the difference between 2 and 3?' with numbers on screen."
    one = results[first - 1].get("evidence") or {}
    two = results[second - 1].get("evidence") or {}
    if not one or not two:
        return (f"#{first} and #{second} differ only in how close they are to the images you "
                "pointed at (no words in the search yet).")
    apart = [(label, one[label], two[label]) for label in one if label in two
             and (one[label] >= SATISFIED) != (two[label] >= SATISFIED)]
    if not apart:
        return (f"#{first} and #{second} agree on everything you asked for "
                f"({', '.join(one)}); #{min(first, second)} is a closer match overall.")
    return "; ".join(f"{label}: #{first} {'yes' if a >= SATISFIED else 'no'} ({a:.0%}), "
                     f"#{second} {'yes' if b >= SATISFIED else 'no'} ({b:.0%})"
                     for label, a, b in apart) + "."


def _why_not(topic: str, memory: QueryState, vocabulary, decomposer) -> str:
    asked = [p for p in decomposer(topic) if p.polarity > 0] if topic else []
    if not asked:
        return f"I don't know '{topic}' as something to look for; say it and I will add it."
    lines = []
    for p in asked:
        slot = vocabulary.slot_of(p.text)
        blocking = [c for c in memory.constraints
                    if (c.text == p.text and c.polarity < 0)
                    or (slot is not None and c.slot == slot and c.polarity > 0
                        and c.text != p.text)]
        if blocking:
            said = ", ".join(c.label for c in blocking)
            lines.append(f"you asked for {said}; say '{p.text}' to change it")
        elif any(c.text == p.text and c.polarity > 0 for c in memory.constraints):
            lines.append(f"{p.text} is in the search; none on this page fits it well, "
                         "say 'none of these' for more")
        else:
            lines.append(f"nothing asked for {p.text} yet; say '{p.text}' to add it")
    return "; ".join(lines).capitalize() + "."
