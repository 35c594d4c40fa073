"""The labelled development set (tests/data/dialogue_dev.jsonl, sentences from real crowd-written
corpora plus written conversational moves; see tests/data/README.md) read end to end.

Issue 10 asks for >= 95% of sentences read exactly as labelled. This test holds the rate
measured when the set was labelled and the reader last changed, so that no change makes it
worse unnoticed; raise FLOOR whenever the rate goes up. The rate and the misses are printed
by `python -m tests.agent.test_dev_set [--held-out | --moves-a ... --moves-d | --requests |
--mixed | --mixed-held-out]`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.decompose import decompose
from agent.understand import understand
from retrievers.vocabularies import load_vocabulary

DEV_SET = Path(__file__).parent.parent / "data" / "dialogue_dev.jsonl"
# Labelled the same way from other sentences after the rules were tuned on DEV_SET, and never
# tuned on: its rate is the honest one (tests/data/README.md)
HELD_OUT = Path(__file__).parent.parent / "data" / "dialogue_heldout.jsonl"
FLOOR = 0.95  # measured 0.952 (337 of 354) on 2026-12-03
SIGN = {1: "+", -1: "-", 0: "0"}


def read(line: dict, vocabularies: dict) -> dict:
    turn = understand(line["text"], 10)
    found = (decompose(turn.text, vocabularies[line["vocabulary"]])
             if turn.act == "refine" and turn.text else [])
    return {"act": turn.act, "liked": sorted(turn.liked), "disliked": sorted(turn.disliked),
            "reference": turn.reference, "found": turn.found,
            "propositions": sorted(SIGN[p.polarity] + p.text for p in found if not p.relative),
            "relative": sorted(p.text for p in found if p.relative)}


def labelled(line: dict) -> dict:
    return {"act": line["act"], "liked": sorted(line["liked"]),
            "disliked": sorted(line["disliked"]), "reference": line["reference"],
            "found": line["found"], "propositions": sorted(line["propositions"]),
            "relative": sorted(line["relative"])}


def misses(path: Path = DEV_SET) -> tuple[int, list[tuple[dict, dict]]]:
    vocabularies = {name: load_vocabulary(name) for name in ("demo", "photos")}
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]
    wrong = [(line, read(line, vocabularies)) for line in lines
             if read(line, vocabularies) != labelled(line)]
    return len(lines), wrong


def test_the_set_covers_every_move_and_both_vocabularies():
    lines = [json.loads(text) for text in DEV_SET.read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 300
    assert {line["act"] for line in lines} == {"refine", "page", "undo", "found", "question",
                                               "chat"}
    assert {line["vocabulary"] for line in lines} == {"demo", "photos"}


HELD_OUT_FLOOR = 0.73  # measured 0.738 (96 of 130) on 2026-12-03; never tuned on


def test_the_held_out_set_reads_at_least_as_well_as_last_measured():
    total, wrong = misses(HELD_OUT)
    assert total >= 100
    assert (total - len(wrong)) / total >= HELD_OUT_FLOOR


# Conversational moves written by four people who never read the code (tests/data/README.md),
# each measured before the rules were tuned on it (a: 71, b: 52, c: 59 of 100 at 7e0176d;
# d: 46 at f51e0f5)
DATA = Path(__file__).parent.parent / "data"
MOVES = [DATA / f"moves_dev_{part}.jsonl" for part in "abcd"]
MOVES_FLOOR = 0.91  # measured 0.922 (369 of 400) on 2026-12-03


def test_the_moves_sets_read_at_least_as_well_as_last_measured():
    read_right = total = 0
    for path in MOVES:
        count, wrong = misses(path)
        read_right, total = read_right + count - len(wrong), total + count
    assert total == 400
    assert read_right / total >= MOVES_FLOOR


# Requests written by a fifth outsider (constructions: a colour on a pattern, landmarks,
# negation scope, frames, two objects, comparatives, revocations): 77 of 100 at f51e0f5
REFINE = DATA / "refine_dev_e.jsonl"
REFINE_FLOOR = 0.90  # measured 0.91 on 2026-12-03


# A mixed set written by a sixth outsider after the rules above were changed, and measured
# once before it was tuned on: 66 of 100 with the code of f51e0f5, 79 at a03bae2 (held out
# then); tuned on since (rank verdicts "a definite no", "6's a no", "the closest so far";
# "along the lines of 4"; a greeting before a frame; address words; found and page phrasings)
MIXED = DATA / "mixed_heldout_f.jsonl"
MIXED_FLOOR = 0.92  # measured 0.92 on 2026-12-03

# A mixed set written by a seventh outsider for this, read once with the rules tuned on every
# set above and never tuned on: its rate is the honest one for phrasings no rule was made for
MIXED_HELD_OUT = DATA / "mixed_heldout_g.jsonl"
MIXED_HELD_OUT_FLOOR = 0.80  # measured 0.81 (81 of 100) on 2026-12-03, once


@pytest.mark.parametrize("path, floor", [(REFINE, REFINE_FLOOR), (MIXED, MIXED_FLOOR),
                                         (MIXED_HELD_OUT, MIXED_HELD_OUT_FLOOR)],
                         ids=["requests e", "mixed f", "mixed held out g"])
def test_each_outsider_set_reads_at_least_as_well_as_last_measured(path, floor):
    total, wrong = misses(path)
    assert total == 100
    assert (total - len(wrong)) / total >= floor


def test_the_development_set_reads_at_least_as_well_as_last_measured():
    total, wrong = misses()
    assert (total - len(wrong)) / total >= FLOOR, [w[0]["text"] for w in wrong[:20]]


if __name__ == "__main__":
    import sys

    moves = {f"--moves-{path.stem[-1]}": path for path in MOVES}
    moves |= {"--requests": REFINE, "--mixed": MIXED, "--mixed-held-out": MIXED_HELD_OUT}
    chosen = (HELD_OUT if "--held-out" in sys.argv
              else next((moves[a] for a in sys.argv if a in moves), DEV_SET))
    total, wrong = misses(chosen)
    for line, got in wrong:
        want = labelled(line)
        print(line["id"], repr(line["text"]),
              {k: (want[k], got[k]) for k in want if want[k] != got[k]})
    print(f"{total - len(wrong)}/{total} exact = {(total - len(wrong)) / total:.3f}")
