"""Scripted dialogues from a JSONL file: one `{"id", "target", "turns"}` object per line.

A target is an image id (a JSON integer, or a string of digits) or a path relative to the
library root ("images/00012.png"); an absolute path inside the library works too. Lines that
cannot be used (not JSON, a missing key, a target the library does not hold) are reported with
their line number and skipped, so one typo does not cost the whole file; a target no file
system can look up (a name too long, a NUL byte) is such a line too, not an error of the file.

Dialogues may have different lengths. For the per-turn summary a finished dialogue keeps its last
rank on later turns (the user stopped talking, the page stays), so every turn averages over all
scenarios.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.evaluation.runner import Episode, forget_session


@dataclass(frozen=True, kw_only=True)
class Scenario:
    id: str
    target: int  # image id, resolved
    turns: tuple[str, ...]
    line: int  # 1-based line number in the file


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def parse_scenarios(lines: Iterable[str], resolve: Callable[[object], int | None],
                    ) -> tuple[list[Scenario], list[BadLine]]:
    """Scenarios from JSONL lines, and the lines that had to be skipped (blank lines are not)."""
    good: list[Scenario] = []
    bad: list[BadLine] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            bad.append(BadLine(number, f"not valid JSON ({e.msg})"))
            continue
        if not isinstance(data, dict):
            bad.append(BadLine(number, "expected a JSON object with target and turns"))
            continue
        missing = [key for key in ("target", "turns") if key not in data]
        if missing:
            bad.append(BadLine(number, f"missing key {' and '.join(map(repr, missing))}"))
            continue
        turns = data["turns"]
        if (not isinstance(turns, list) or not turns
                or not all(isinstance(t, str) and t.strip() for t in turns)):
            bad.append(BadLine(number, "turns must be a non-empty list of non-empty strings"))
            continue
        target = resolve(data["target"])
        if target is None:
            shown = repr(data["target"])
            shown = shown if len(shown) <= 80 else f"{shown[:80]}… ({len(shown)} characters)"
            bad.append(BadLine(number, f"unknown target {shown}: no such image id "
                                       "or path in the library"))
            continue
        scenario_id = str(data.get("id", f"line {number}"))
        if scenario_id in seen:
            bad.append(BadLine(number, f"duplicate id {scenario_id!r}"))
            continue
        seen.add(scenario_id)
        good.append(Scenario(id=scenario_id, target=target, turns=tuple(turns), line=number))
    return good, bad


def read_scenarios(path: Path, resolve: Callable[[object], int | None],
                   ) -> tuple[list[Scenario], list[BadLine]]:
    with open(path, encoding="utf-8") as f:
        return parse_scenarios(f, resolve)


def target_resolver(ids: Iterable[int], paths: dict[int, str], root: Path | None,
                    ) -> Callable[[object], int | None]:
    """Maps a scenario's target (id, digits, relative or absolute path) to an image id."""
    known = set(ids)
    by_path = {p: i for i, p in paths.items()}

    def resolve(target: object) -> int | None:
        if isinstance(target, bool):
            return None
        if isinstance(target, int):
            return target if target in known else None
        if not isinstance(target, str) or not target.strip():
            return None
        text = target.strip()
        if text.isdigit():
            return int(text) if int(text) in known else None
        candidates = [Path(text)]
        if root is not None and not Path(text).is_absolute():
            candidates.insert(0, root / text)
        for candidate in candidates:
            found = by_path.get(str(candidate))
            if found is None:
                found = by_path.get(_resolved(candidate))
            if found is not None:
                return found
        return None

    return resolve


def _resolved(path: Path) -> str | None:
    """The path with its links resolved, or None where it does not exist or cannot be looked
    up at all (a name over the system's limit, a NUL byte): that is one unknown target."""
    try:
        return str(path.resolve()) if path.exists() else None
    except (OSError, ValueError):
        return None


def run_scenario(variant, scenario: Scenario) -> Episode:
    """Say every turn of a scenario in one fresh session; the target's rank after each."""
    episode = Episode(index=scenario.line, target=scenario.target)
    session = variant.new_session()
    try:
        for text in scenario.turns:
            reply = session.say(text)
            ids = [r.id for r in reply.results]
            episode.dialogue.append(text)
            episode.kinds.append("scripted")
            if reply.message:
                episode.messages.append(reply.message)
            episode.ranks.append(ids.index(scenario.target) + 1 if scenario.target in ids
                                 else None)
    finally:
        forget_session(variant, session.id)
    return episode


def padded_ranks(episodes: list[Episode]) -> list[list[int | None]]:
    """Each dialogue's ranks carried forward to the longest dialogue's length."""
    longest = max((len(e.ranks) for e in episodes), default=0)
    return [e.ranks + [e.ranks[-1]] * (longest - len(e.ranks)) for e in episodes]
