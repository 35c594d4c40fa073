"""Runs simulated-user episodes through agent variants and collects the target's rank per turn.

Design decisions:
- One Agent is opened once and every ablation is an `agent.variant(...)` of it, so the model,
  the index and the rows are loaded once however many agents are compared.
- Every agent sees the same episodes: the same targets, and a simulator seeded per episode from
  (seed, episode index). Dialogues still differ between agents after the first turn, because the
  simulated user reacts to what each agent shows; that is the point of a multi-turn protocol.
- The rank of the target is only known within the results a reply returns, so each variant is
  asked for `depth` results (default 100) and a target outside them counts as rank depth + 1
  (see metrics). The simulated user looks at the first `page` of them, like a person would.
- Sessions are throwaway (`persist=False`) and each episode's checkpoints are deleted when it
  ends: the in-memory checkpointer would otherwise keep every turn of every episode.
- The metas of the whole library are read once, so the simulator never queries SQLite per turn.
- Two simulated users (`EvalConfig.user`): "default", the mixed user of the protocol, and
  "page-down", who states every attribute at once and then only turns pages down; its headline
  figure is "top 10 by turn 8" (metrics.reached_by), reported for both.
- When the user says it has found the target ("that's it, 1"), the episode ends: the user stops
  talking and the page stays, so the rank is carried forward to the last turn (as a finished
  scripted dialogue keeps its last rank) and the words are kept in the dialogue. The found turn
  is not sent to the agent: its reply could not change what the user already has.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from agent.evaluation.metrics import (
    REACHED_BY,
    REACHED_TOP,
    TurnMetrics,
    as_ranks,
    reached_by,
    summarize,
)
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.shopper import POLICIES as USERS
from retrievers.demo.shopper import Pictures, UserSimulator

# Ablation name -> AgentConfig changes; "full" is the agent as shipped.
ABLATIONS: dict[str, dict] = {
    "full": {},
    "single": {"memory": False},  # each turn alone: only the last turn counts
    "concat": {"concat": True},  # all turns' text joined into one query
    "no-decompose": {"decompose": False},  # memory of whole turns, not propositions
    "no-rerank": {"rerank": False},  # the first-stage FAISS order is final
}


class EvaluationError(Exception):
    """An evaluation cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    episodes: int = 100  # simulated dialogues per agent
    turns: int = 10  # user turns per dialogue (the first is the opening description)
    seed: int = 0  # picks the targets and seeds every episode's simulator
    page: int = 10  # results the simulated user looks at each turn
    depth: int = 100  # results asked of the agent per turn; a target below counts as depth + 1
    user: str = "default"  # the simulated user: one of USERS ("default", "page-down")


@dataclass(kw_only=True)
class Episode:
    index: int  # position in the run; with the seed it fixes the simulator's random stream
    target: int  # image id
    ranks: list[int | None] = field(default_factory=list)  # per turn; None = below depth
    dialogue: list[str] = field(default_factory=list)  # what the user said, turn by turn
    kinds: list[str] = field(default_factory=list)  # kind of each utterance (see simulator)
    messages: list[str] = field(default_factory=list)  # problems the agent reported, if any
    found_at: int | None = None  # the turn on which the user said it found the target


@dataclass(kw_only=True)
class AgentRun:
    name: str
    changes: dict  # the AgentConfig changes of this variant
    depth: int
    episodes: list[Episode]
    seconds: float  # wall time of all its episodes

    def ranks(self) -> np.ndarray:
        return as_ranks([e.ranks for e in self.episodes], self.depth)

    def metrics(self, *, resamples: int = 1000, seed: int = 0) -> list[TurnMetrics]:
        return summarize(self.ranks(), resamples=resamples, seed=seed)

    def to_dict(self, metrics: Sequence[TurnMetrics], *,
                paths: Mapping[int, str] | None = None) -> dict:
        """JSON-ready: the variant, its speed, its per-turn metrics and every dialogue."""
        turns = sum(len(e.ranks) for e in self.episodes)
        reached = reached_by(metrics)
        return {
            "agent": self.name,
            "config": self.changes,
            "seconds": round(self.seconds, 3),
            "seconds_per_turn": round(self.seconds / turns, 5) if turns else None,
            f"top_{REACHED_TOP}_by_turn_{REACHED_BY}": reached.to_dict() if reached else None,
            "metrics": [m.to_dict() for m in metrics],
            "episodes": [
                {**asdict(e), **({"path": paths.get(e.target)} if paths else {})}
                for e in self.episodes
            ],
        }


def pick_targets(metas: Mapping[int, dict], count: int, seed: int = 0) -> list[int]:
    """`count` test-split items with demo-world attributes, drawn without replacement while the
    split lasts (then the draw starts again over a fresh permutation)."""
    pool = sorted(i for i, m in metas.items()
                  if m.get("split") == "test" and m.get("category") and m.get("color"))
    if not pool:
        raise EvaluationError(
            "This library has no test-split images with demo-world attributes "
            "(meta 'split' == 'test'); evaluate the demo library (`rummage demo` builds it)."
        )
    rng = random.Random(f"rummage-targets:{seed}")
    out: list[int] = []
    while len(out) < count:
        out.extend(rng.sample(pool, min(len(pool), count - len(out))))
    return out


def run_episode(variant, index: int, target: int, metas: Mapping[int, dict],
                config: EvalConfig, pictures: Pictures | None = None) -> Episode:
    """One dialogue of `config.turns` user turns with one agent variant."""
    meta = {k: metas[target].get(k) for k in ATTRIBUTE_KEYS}
    user = UserSimulator(target, meta, seed=f"{config.seed}:{index}", page=config.page,
                         looks=pictures.distance_to(target) if pictures else None,
                         policy=config.user)
    episode = Episode(index=index, target=target)
    session = variant.new_session()
    try:
        utterance = user.opening()
        for turn in range(config.turns):
            episode.dialogue.append(utterance.text)
            episode.kinds.append(utterance.kind)
            if utterance.kind == "found":  # the user is done: the page stays as it was
                episode.found_at = turn + 1
                episode.ranks += [episode.ranks[-1]] * (config.turns - turn)
                break
            reply = session.say(utterance.text)
            if reply.message:
                episode.messages.append(reply.message)
            ids = [r.id for r in reply.results]
            episode.ranks.append(ids.index(target) + 1 if target in ids else None)
            if turn + 1 < config.turns:
                utterance = user.respond([(i, metas.get(i, {})) for i in ids[: config.page]])
    finally:
        forget_session(variant, session.id)
    return episode


def evaluate(agent, names: Sequence[str], config: EvalConfig, *,
             progress: Callable[[int, int], None] | None = None) -> list[AgentRun]:
    """Run the same episodes through each named ablation of `agent` (see ABLATIONS)."""
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise EvaluationError(f"Unknown agent {unknown[0]!r}; choose from {', '.join(ABLATIONS)}")
    if config.episodes < 1 or config.turns < 1:
        raise EvaluationError("Episodes and turns must be at least 1 "
                              f"(got {config.episodes} episodes, {config.turns} turns)")
    if config.depth < config.page:
        raise EvaluationError(f"The depth ({config.depth}) must be at least the page the user "
                              f"looks at ({config.page})")
    if config.user not in USERS:
        raise EvaluationError(f"Unknown simulated user {config.user!r}; choose from "
                              f"{', '.join(USERS)}")
    metas = agent.library.metadata()  # every image's meta, read once
    pictures = Pictures(agent.library.paths())
    targets = pick_targets(metas, config.episodes, config.seed)
    total, done = len(names) * len(targets), 0
    runs = []
    for name in names:
        variant = agent.variant(k=max(config.depth, config.page), page=config.page,
                                **ABLATIONS[name])
        started = time.perf_counter()
        episodes = []
        for index, target in enumerate(targets):
            episodes.append(run_episode(variant, index, target, metas, config, pictures))
            done += 1
            if progress is not None:
                progress(done, total)
        runs.append(AgentRun(name=name, changes=dict(ABLATIONS[name]), depth=config.depth,
                             episodes=episodes, seconds=time.perf_counter() - started))
    return runs


def forget_session(variant, session_id: str) -> None:
    """Drop a finished episode's checkpoints, so thousands of episodes do not pile up."""
    variant.forget(session_id)
