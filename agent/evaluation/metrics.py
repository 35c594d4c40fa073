"""Per-turn retrieval metrics over a table of target ranks, with bootstrap confidence intervals.

The input is one integer matrix: a row per episode, a column per turn, each cell the 1-based rank
of the target in that turn's reply. The agent returns only its top `depth` results, so a target
outside them is written as `depth + 1` ("somewhere below the list"): Hits@k never counts it, and
mean and median rank treat it as rank depth + 1, which makes the mean a lower bound whenever
targets go missing (the median is exact while fewer than half are missing).

Intervals are percentile bootstraps over episodes (the unit that was sampled), computed for all
turns at once from the same resamples, with a fixed seed so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

HITS_AT = (1, 5, 10)
# "Top 10 by turn 8": the share of episodes whose target reached the first page (the top 10)
# on turn 8 or earlier; the headline figure of the page-down user, reported for every user.
REACHED_TOP, REACHED_BY = 10, 8


@dataclass(frozen=True)
class Estimate:
    value: float  # the statistic on all episodes
    low: float  # lower end of the 95% bootstrap interval
    high: float  # upper end

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True, kw_only=True)
class TurnMetrics:
    turn: int  # 1-based
    hits: dict[int, Estimate]  # k -> share of episodes with the target in the top k
    mean_rank: Estimate  # misses count as depth + 1
    median_rank: Estimate
    found: Estimate  # share of episodes whose target was at rank 1 on this turn or earlier
    reached: Estimate  # share whose target was in the top REACHED_TOP on this turn or earlier

    def to_dict(self) -> dict:
        return {
            "turn": self.turn,
            "hits": {str(k): e.to_dict() for k, e in self.hits.items()},
            "mean_rank": self.mean_rank.to_dict(),
            "median_rank": self.median_rank.to_dict(),
            "found_at_1_within": self.found.to_dict(),
            f"top_{REACHED_TOP}_within": self.reached.to_dict(),
        }


def reached_by(metrics: Sequence[TurnMetrics], turn: int = REACHED_BY) -> Estimate | None:
    """"Top 10 by turn 8": the share of episodes whose target was in the top 10 on `turn` or
    earlier; None when the episodes were shorter than that."""
    return metrics[turn - 1].reached if len(metrics) >= turn else None


def as_ranks(rows: Sequence[Sequence[int | None]], depth: int) -> np.ndarray:
    """Episodes x turns int matrix; None (target not returned) becomes depth + 1."""
    return np.array([[depth + 1 if r is None else int(r) for r in row] for row in rows],
                    dtype=np.int64).reshape(len(rows), -1)


# -- statistics: each maps an (..., episodes, turns) array to (..., turns) ------------------


def hits_at(ranks: np.ndarray, k: int) -> np.ndarray:
    return (np.asarray(ranks) <= k).mean(axis=-2)


def mean_rank(ranks: np.ndarray) -> np.ndarray:
    return np.asarray(ranks).mean(axis=-2)


def median_rank(ranks: np.ndarray) -> np.ndarray:
    return np.median(np.asarray(ranks), axis=-2)


def found_within(ranks: np.ndarray, k: int = 1) -> np.ndarray:
    """Share of episodes whose target reached the top k on this turn or any earlier one."""
    reached = np.maximum.accumulate(np.asarray(ranks) <= k, axis=-1)
    return reached.mean(axis=-2)


def bootstrap(ranks: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *,
              resamples: int = 1000, level: float = 0.95, seed: int = 0,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of `statistic` per turn, resampling episodes with replacement."""
    ranks = np.asarray(ranks)
    episodes = ranks.shape[0]
    if episodes == 0:
        nan = np.full(ranks.shape[1:], np.nan)
        return nan, nan
    rng = np.random.default_rng(seed)
    values = []
    # In chunks, so 1000 resamples of 10,000 episodes do not hold one huge array.
    chunk = max(1, 2_000_000 // max(1, ranks.size))
    for start in range(0, resamples, chunk):
        picks = rng.integers(0, episodes, size=(min(chunk, resamples - start), episodes))
        values.append(statistic(ranks[picks]))
    samples = np.concatenate(values, axis=0)
    tail = (1 - level) / 2 * 100
    return np.percentile(samples, tail, axis=0), np.percentile(samples, 100 - tail, axis=0)


def summarize(ranks: np.ndarray, *, ks: Sequence[int] = HITS_AT, resamples: int = 1000,
              seed: int = 0) -> list[TurnMetrics]:
    """Every metric for every turn, each with its 95% interval."""
    ranks = np.asarray(ranks)

    def estimate(statistic) -> list[Estimate]:
        value = statistic(ranks)
        low, high = bootstrap(ranks, statistic, resamples=resamples, seed=seed)
        return [Estimate(float(v), float(lo), float(hi)) for v, lo, hi in zip(value, low, high)]

    hits = {k: estimate(lambda r, k=k: hits_at(r, k)) for k in ks}
    means, medians, found = estimate(mean_rank), estimate(median_rank), estimate(found_within)
    reached = estimate(lambda r: found_within(r, REACHED_TOP))
    return [
        TurnMetrics(turn=t + 1, hits={k: hits[k][t] for k in ks}, mean_rank=means[t],
                    median_rank=medians[t], found=found[t], reached=reached[t])
        for t in range(ranks.shape[1])
    ]
