"""Pieces of the engine that read as rules: phrasing, alternatives, and a varied first page."""

from __future__ import annotations

import numpy as np

from agent.engine import alternatives, diversify, render, render_sentence
from memory.cascade import Constraint


def test_a_clearly_better_result_is_never_displaced_by_a_different_looking_one():
    looks = np.array([[1, 0], [1, 0], [0, 1]], np.float32)
    order = diversify(np.arange(3), np.array([10.0, 5.0, 4.0]), looks, k=3, weight=4.0,
                      margin=1.0)
    assert order.tolist() == [0, 1, 2]


def test_near_ties_are_spread_over_different_looks():
    # three look-alikes and one different picture, all equally good
    looks = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], np.float32)
    order = diversify(np.arange(4), np.array([3.0, 2.9, 2.8, 2.7]), looks, k=2, weight=4.0,
                      margin=1.0)
    assert order[:2].tolist() == [0, 3] and sorted(order.tolist()) == [0, 1, 2, 3]


def test_propositions_are_phrased_with_the_category_in_force():
    assert render("long", "length", "dress") == "long dress"
    assert render("long sleeves", "sleeves", "shirt") == "shirt with long sleeves"
    assert render("white striped", "pattern", "skirt") == "skirt with white stripes"
    assert render("leather strap", None, "bag") == "leather strap"


def test_alternatives_come_from_the_same_slot_in_the_same_shape():
    assert "red" in alternatives("blue", "color") and "blue" not in alternatives("blue", "color")
    coloured = alternatives("white striped", "pattern")
    assert "red striped" in coloured and "white checked" in coloured and "solid" in coloured
    assert alternatives("leather strap", None) == []


def test_one_sentence_for_the_first_stage_query():
    wanted = [Constraint(text=t, said=t, polarity=1, slot=s, turn=1)
              for t, s in [("dress", "category"), ("navy", "color"), ("long", "length"),
                           ("white polka-dot", "pattern"), ("short sleeves", "sleeves")]]
    assert render_sentence(wanted) == ("long navy dress with short sleeves and white polka dots")
