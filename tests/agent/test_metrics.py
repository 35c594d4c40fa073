"""Per-turn metrics on hand-made rank tables, where the right answer can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from agent.evaluation.metrics import (
    as_ranks,
    bootstrap,
    found_within,
    hits_at,
    mean_rank,
    median_rank,
    reached_by,
    summarize,
)

# Four episodes, three turns. Depth 100, so a target the agent did not return is rank 101.
RANKS = as_ranks([
    [1, 1, 1],
    [7, 3, 1],
    [None, 12, 4],
    [2, None, 9],
], depth=100)


def test_a_target_not_returned_counts_as_one_below_the_depth():
    assert RANKS[2, 0] == 101
    assert RANKS[3, 1] == 101


def test_hits_at_k_is_the_share_of_episodes_with_the_target_in_the_top_k():
    assert hits_at(RANKS, 1).tolist() == [0.25, 0.25, 0.5]
    assert hits_at(RANKS, 5).tolist() == [0.5, 0.5, 0.75]
    assert hits_at(RANKS, 10).tolist() == [0.75, 0.5, 1.0]


def test_mean_and_median_rank_per_turn():
    assert mean_rank(RANKS).tolist() == [(1 + 7 + 101 + 2) / 4, (1 + 3 + 12 + 101) / 4,
                                         (1 + 1 + 4 + 9) / 4]
    assert median_rank(RANKS).tolist() == [4.5, 7.5, 2.5]


def test_found_within_t_turns_never_goes_down_once_the_target_was_at_the_top():
    ranks = as_ranks([[1, 5, 6], [3, 1, 2], [4, 4, 4], [9, 9, 1]], depth=10)
    # episode 1 found on turn 1 (then lost it), episode 2 on turn 2, episode 4 on turn 3
    assert found_within(ranks).tolist() == [0.25, 0.5, 0.75]
    assert hits_at(ranks, 1).tolist() == [0.25, 0.25, 0.25]


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_episodes():
    rng = np.random.default_rng(3)
    small = rng.integers(1, 30, size=(40, 2))
    large = rng.integers(1, 30, size=(4000, 2))
    for ranks in (small, large):
        low, high = bootstrap(ranks, lambda r: hits_at(r, 10), seed=0)
        point = hits_at(ranks, 10)
        assert np.all(low <= point) and np.all(point <= high)
    small_width = np.subtract(*bootstrap(small, lambda r: hits_at(r, 10), seed=0)[::-1])
    large_width = np.subtract(*bootstrap(large, lambda r: hits_at(r, 10), seed=0)[::-1])
    assert np.all(large_width < small_width / 4)  # about 1/sqrt(100) as wide


def test_bootstrap_is_reproducible_for_a_seed():
    first = bootstrap(RANKS, mean_rank, seed=5)
    again = bootstrap(RANKS, mean_rank, seed=5)
    other = bootstrap(RANKS, mean_rank, seed=6)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not (np.array_equal(first[0], other[0]) and np.array_equal(first[1], other[1]))


def test_episodes_that_all_agree_have_no_uncertainty():
    ranks = as_ranks([[1, 1]] * 20, depth=100)
    low, high = bootstrap(ranks, lambda r: hits_at(r, 1))
    assert low.tolist() == [1.0, 1.0] and high.tolist() == [1.0, 1.0]


def test_summary_reports_every_metric_per_turn_with_its_interval():
    turns = summarize(RANKS, resamples=200)
    assert [t.turn for t in turns] == [1, 2, 3]
    third = turns[2]
    assert third.hits[1].value == 0.5 and third.hits[10].value == 1.0
    assert third.mean_rank.value == pytest.approx(3.75)
    assert third.median_rank.value == 2.5
    assert third.found.value == 0.5  # episodes 1 and 2 reached rank 1
    for metric in (*third.hits.values(), third.mean_rank, third.median_rank, third.found):
        assert metric.low <= metric.value <= metric.high
    exported = third.to_dict()
    assert exported["hits"]["5"]["value"] == 0.75
    assert set(exported) == {"turn", "hits", "mean_rank", "median_rank", "found_at_1_within",
                             "top_10_within"}


def test_top_10_by_turn_8_counts_targets_that_reached_the_first_page_in_time():
    # reached the top 10 on turn 3, on turn 8, on turn 9 (too late), and never
    rows = [[50, 30, 9, 40, 40, 40, 40, 40, 40], [60] * 7 + [10, 1], [20] * 8 + [2], [99] * 9]
    turns = summarize(as_ranks(rows, depth=100), resamples=200)
    assert [t.reached.value for t in turns] == [0, 0, 0.25, 0.25, 0.25, 0.25, 0.25, 0.5, 0.75]
    assert reached_by(turns) is turns[7].reached and reached_by(turns).value == 0.5
    assert turns[8].to_dict()["top_10_within"]["value"] == 0.75
    assert reached_by(turns[:7]) is None  # episodes of 7 turns cannot say
