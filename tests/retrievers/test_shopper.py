"""The simulated shopper's conversational moves, checked against the ground truth alone.

Turning a page down, taking a turn back, comparing the target with a result ("longer",
"darker") and saying it is found: each is said only when it is true of the target and of the
page shown. Whether the agent reads these words as meant is checked in
tests/agent/test_evaluation.py (against agent.understand, the dialogue-act reader).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pytest

from retrievers.demo.schema import (
    COLORFULNESS,
    COMPARATIVES,
    LIGHTNESS,
    relative,
)
from retrievers.demo.shopper import (
    COMPARATIVE_ADJECTIVES,
    COMPARATIVE_CLAUSES,
    FOUND,
    ORDINAL_WORDS,
    PAGE,
    UNDO,
    UNDOABLE,
    UserSimulator,
)
from retrievers.demo.world import RGB, sample_items

ITEMS = sample_items(2000)
DRESS = {"category": "dress", "color": "navy", "pattern": "solid", "pattern_color": None,
         "sleeves": "long", "length": "long"}
FAR = {"category": "shorts", "color": "yellow", "pattern": "checked", "pattern_color": "red",
       "sleeves": None, "length": None}  # wrong in every attribute a dress has


def distance(meta: dict, target: dict) -> int:
    """How many of the target's attributes a result gets wrong (pattern and its colour are one)."""
    keys = [k for k in ("category", "color", "sleeves", "length") if target.get(k) is not None]
    wrong = sum(meta.get(k) != target[k] for k in keys)
    pattern = (meta.get("pattern"), meta.get("pattern_color"))
    return wrong + (pattern != (target["pattern"], target.get("pattern_color")))


def dialogue(user: UserSimulator, target_id: int, target_meta: dict, page_seed: int,
             pages: int = 8, show_target: float = 0.15):
    """(utterance, page it answered) pairs against random pages, the target now and then."""
    rng = random.Random(page_seed)
    out = [(user.opening(), [])]
    for _ in range(pages):
        shown = [(i.index, i.meta) for i in rng.sample(ITEMS, 10) if i.index != target_id]
        if rng.random() < show_target:
            shown.insert(rng.randrange(len(shown)), (target_id, target_meta))
        out.append((user.respond(shown), shown))
    return out


def mentions(text: str) -> list[int]:
    """The result ranks a text names, as digits or ordinal words ("the third one")."""
    words = re.findall(r"\d+|[a-z]+", text)
    return [int(w) if w.isdigit() else ORDINAL_WORDS.index(w) + 1
            for w in words if w.isdigit() or w in ORDINAL_WORDS]


def far_page(count: int = 10, start: int = -100) -> list[tuple[int, dict]]:
    return [(start - i, dict(FAR)) for i in range(count)]


# -- the orders comparatives are read along ---------------------------------------------------


def cielab(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """CIELAB L* and chroma C*ab of an sRGB colour (D65)."""
    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = map(linear, rgb)
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           0.0193 * r + 0.1192 * g + 0.9505 * b)
    x, y, z = (v / n for v, n in zip(xyz, (0.95047, 1.0, 1.08883)))

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, math.hypot(500 * (f(x) - f(y)), 200 * (f(y) - f(z)))


def test_the_lightness_table_is_the_lightness_of_the_colours_the_world_draws():
    assert set(LIGHTNESS) == set(COLORFULNESS) == set(RGB)
    for color, rgb in RGB.items():
        lightness, chroma = cielab(rgb)
        assert abs(LIGHTNESS[color] - lightness) <= 1, color
        assert abs(COLORFULNESS[color] - chroma) <= 1, color


def test_comparatives_hold_along_their_orders():
    knee = {**DRESS, "length": "knee"}
    assert relative(DRESS, knee) == ("longer",)
    assert relative(knee, DRESS) == ("shorter",)
    assert relative({**DRESS, "sleeves": "sleeveless"}, DRESS) == ("shorter sleeves",)
    assert relative(DRESS, {**DRESS, "sleeves": "short"}) == ("longer sleeves",)
    assert relative(DRESS, {**DRESS, "color": "blue"}) == ("darker",)  # navy next to blue
    assert relative({**DRESS, "color": "yellow"}, {**DRESS, "color": "brown"}) == (
        "lighter", "brighter", "more colorful")
    assert relative({**DRESS, "color": "pink"}, {**DRESS, "color": "red"}) == (
        "lighter", "less colorful")  # paler, not brighter
    assert relative({**DRESS, "color": "red"}, {**DRESS, "color": "gray"}) == ("more colorful",)
    assert relative({**DRESS, "color": "red"}, {**DRESS, "color": "blue"}) == ()  # too close
    skirt = {**DRESS, "category": "skirt", "sleeves": None}
    t_shirt = {**DRESS, "category": "t-shirt", "length": None, "sleeves": "long"}
    assert relative(skirt, t_shirt) == relative(t_shirt, skirt) == ()  # nothing to compare
    assert relative(DRESS, DRESS) == ()


# -- the moves, as stories --------------------------------------------------------------------


def test_a_user_shown_nothing_close_turns_the_page_down():
    target = next(i for i in ITEMS if i.meta["category"] == "dress"
                  and i.meta["color"] == "navy")
    wrong_color = [(i.index, i.meta) for i in ITEMS if i.meta["color"] != "navy"][:10]
    fitting = [(i.index, i.meta) for i in ITEMS if i.meta["category"] == "dress"
               and i.meta["color"] == "navy" and i.index != target.index][:1]
    kinds, kinds_with_a_fit = Counter(), Counter()
    for seed in range(120):
        user = UserSimulator(target.index, target.meta, seed=seed)
        user.said.update({"category", "color"})  # "a navy dress", yet no page shows one
        utterance = user.respond(wrong_color)
        kinds[utterance.kind] += 1
        if utterance.kind == "page":
            assert utterance.text in PAGE
            assert {i for i, _ in wrong_color} <= user.rejected  # the page is set aside
        user = UserSimulator(target.index, target.meta, seed=seed)
        user.said.update({"category", "color"})
        kinds_with_a_fit[user.respond(fitting + wrong_color[:9]).kind] += 1
    assert kinds["page"] >= 10
    assert kinds_with_a_fit["page"] == 0  # one result is as asked: no reason to turn the page


def test_a_turn_that_made_things_worse_is_undone():
    target = next(i for i in ITEMS if i.meta["category"] == "dress")
    near = (-1, {**target.meta, "color": "green" if target.meta["color"] != "green" else "red"})
    before_page = [near, *far_page(9)]  # one result is one attribute off
    undone = 0
    for seed in range(200):
        user = UserSimulator(target.index, target.meta, seed=seed)
        user.opening()
        said_before, rejected_before = set(user.said), set(user.rejected)
        turn = user.respond(before_page)
        if turn.kind not in UNDOABLE:
            continue
        # the same page again is not worse: nothing to take back
        same = UserSimulator(target.index, target.meta, seed=seed)
        same.opening()
        same.respond(before_page)
        assert same.respond(before_page).kind != "undo"
        # a page of results wrong in everything is
        reply = user.respond(far_page(10, start=-200))
        if reply.kind != "undo":
            continue
        undone += 1
        assert reply.text in UNDO
        assert user.said == said_before and user.rejected == rejected_before, turn
        assert user.respond(far_page(10, start=-300)).kind != "undo"  # no undo of an undo
    assert undone >= 15


def test_comparatives_point_the_way_to_the_target():
    target = next(i for i in ITEMS if i.meta["category"] == "dress"
                  and i.meta["length"] == "long" and i.meta["sleeves"] == "long")
    knee = {**target.meta, "length": "knee"}
    seen = Counter()
    for seed in range(150):
        for rank in (3, 1):
            user = UserSimulator(target.index, target.meta, seed=seed)
            page = far_page(9)
            page.insert(rank - 1, (-1, knee))  # the closest result is knee-length
            utterance = user.respond(page)
            if utterance.kind != "compare":
                continue
            assert utterance.relative == ("longer",) and utterance.rank == rank, utterance
            assert "longer" in utterance.text and "short" not in utterance.text, utterance
            ranks = mentions(utterance.text)
            assert ranks in ([rank], []) and (ranks or rank == 1), utterance
            seen["bare" if not ranks else f"at {rank}"] += 1
    assert seen["at 3"] >= 10 and seen["at 1"] >= 3 and seen["bare"] >= 3, seen


def test_the_page_down_user_states_everything_then_only_turns_pages():
    for index, item in enumerate(ITEMS[:100]):
        user = UserSimulator(item.index, item.meta, seed=index, policy="page-down")
        opening = user.opening()
        assert opening.kind == "describe" and set(user.said) == set(user.keys)
        for utterance, shown in dialogue(user, item.index, item.meta, page_seed=index)[1:]:
            ids = [i for i, _ in shown]
            if item.index in ids:
                assert utterance.kind == "found" and utterance.rank == ids.index(item.index) + 1
            else:
                assert utterance.kind == "page" and utterance.text in PAGE
    user = UserSimulator(7, DRESS, policy="page-down")
    user.opening()
    assert user.respond([]).kind == "restate"


def test_everything_the_user_says_is_still_true_of_the_target():
    kinds = Counter()
    for policy in ("default", "page-down"):
        for index, item in enumerate(ITEMS[:150]):
            user = UserSimulator(item.index, item.meta, seed=index, policy=policy)
            said = dialogue(user, item.index, item.meta, page_seed=index, show_target=0.25)
            for step, (utterance, shown) in enumerate(said):
                kinds[utterance.kind] += 1
                ids = [i for i, _ in shown]
                if utterance.kind == "page":
                    assert item.index not in ids, utterance
                elif utterance.kind == "found":
                    assert ids[utterance.rank - 1] == item.index, utterance
                    assert policy == "page-down" or utterance.rank == 1, utterance
                elif utterance.kind == "compare":
                    true = relative(item.meta, shown[utterance.rank - 1][1])
                    assert utterance.relative and set(utterance.relative) <= set(true), \
                        (utterance, true)
                elif utterance.kind == "undo":
                    before = said[step - 1][1]  # the page the undone turn answered
                    assert item.index not in ids, utterance
                    assert item.index in [i for i, _ in before] or \
                        min(distance(m, item.meta) for _, m in shown) > \
                        min(distance(m, item.meta) for _, m in before), utterance
                elif utterance.kind in ("reject", "point"):
                    assert item.index not in user.rejected
    assert {"page", "found", "compare", "undo"} <= set(kinds), kinds


def test_comparatives_name_what_they_mean():
    for name in COMPARATIVES:
        for text in COMPARATIVE_ADJECTIVES[name] + COMPARATIVE_CLAUSES[name]:
            words = name.replace("colorful", "colo").split()
            assert all(w in text for w in words), (name, text)
            others = [o for o in COMPARATIVES if o != name and not set(o.split()) & set(words)]
            assert not any(re.search(rf"\b{o}\b", text) for o in others), (name, text)


def test_the_new_moves_have_many_phrasings():
    assert len(set(PAGE)) >= 30 and len(set(UNDO)) >= 20 and len(set(FOUND)) >= 15
    texts: dict[str, set[str]] = {}
    for policy in ("default", "page-down"):
        for index, item in enumerate(ITEMS[:150]):
            user = UserSimulator(item.index, item.meta, seed=index, policy=policy)
            for utterance, _ in dialogue(user, item.index, item.meta, page_seed=index,
                                         show_target=0.3):
                texts.setdefault(utterance.kind, set()).add(utterance.text)
    counts = {kind: len(texts.get(kind, ())) for kind in ("page", "undo", "compare", "found")}
    assert counts["page"] >= 25 and counts["undo"] >= 15 and counts["compare"] >= 40 \
        and counts["found"] >= 15, counts


def test_an_unknown_user_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="default, page-down"):
        UserSimulator(1, DRESS, policy="impatient")
