"""Pieces of the engine that read as rules: phrasing, alternatives, and a varied first page."""

from __future__ import annotations

import numpy as np

from agent.engine import diversify
from retrievers.vocabularies import load_vocabulary

DEMO = load_vocabulary("demo")
render, alternatives, render_sentence = DEMO.render, DEMO.alternatives, DEMO.render_sentence


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


def test_propositions_are_phrased_with_the_head_noun_in_force():
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
    wanted = [("dress", "category"), ("navy", "color"), ("long", "length"),
              ("white polka-dot", "pattern"), ("short sleeves", "sleeves")]
    assert render_sentence(wanted) == ("long navy dress with short sleeves and white polka dots")


class WordEncoder:
    """A deterministic text encoder: a prompt's vector is the sum of one axis per animal it
    names (so "brown dog" and "dog" point the same way), unit length."""

    def __init__(self, animals):
        self.axes = {name: i for i, name in enumerate(animals)}
        self.dim = len(animals) + 1
        self.logit_scale = 20.0

    def encode_texts(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                if word in self.axes:
                    out[row, self.axes[word]] = 1.0
            out[row, -1] = 0.1  # a shared "photo" direction
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_on_a_photo_library_a_dog_is_told_from_a_cat_by_contrast_with_other_animals():
    from types import SimpleNamespace

    from agent.engine import Engine
    from memory.cascade import Constraint, QueryState

    photos = load_vocabulary("photos")
    encoder = WordEncoder(photos.slot("animal").contrast)
    library = SimpleNamespace(text_encoder=encoder, vocabulary=photos)
    engine = Engine(library)
    state = QueryState(turn=1, constraints=(
        Constraint(text="dog", said="a dog", polarity=1, slot="animal", turn=1),))
    [criterion] = engine.criteria(state)
    assert criterion.text == "dog"
    assert {"cat", "horse", "cow"} <= set(criterion.alternatives)
    assert not set(criterion.alternatives) & {"t-shirt", "shirt", "dress"}
    # two pictures: a cat, and a dog (each mostly its own axis, a little of the other)
    dog, cat = encoder.axes["dog"], encoder.axes["cat"]
    pictures = np.zeros((2, encoder.dim), np.float32)
    pictures[0, [cat, dog]] = [0.9, 0.3]
    pictures[1, [dog, cat]] = [0.9, 0.3]
    pictures /= np.linalg.norm(pictures, axis=1, keepdims=True)
    scores = engine.rerank(state, np.array([1, 2]), np.zeros(2, np.float32), pictures, pictures)
    assert scores[1] > scores[0]  # the dog picture wins
    state_cat = QueryState(turn=1, constraints=(
        Constraint(text="cat", said="a cat", polarity=1, slot="animal", turn=1),))
    scores = engine.rerank(state_cat, np.array([1, 2]), np.zeros(2, np.float32), pictures,
                           pictures)
    assert scores[0] > scores[1]  # and the cat picture wins a search for a cat


def test_a_page_that_meets_no_request_in_full_is_told_in_the_vocabularys_words():
    from types import SimpleNamespace

    from agent.engine import Engine
    from memory.cascade import Constraint, QueryState

    engine = Engine(SimpleNamespace(vocabulary=DEMO))

    def state(*said):
        return QueryState(turn=1, constraints=tuple(
            Constraint(text=text.removeprefix("not "), said=text, turn=1,
                       polarity=-1 if text.startswith("not ") else 1,
                       slot=DEMO.slot_of(text.removeprefix("not "))) for text in said))

    request = state("skirt", "navy", "checked", "not striped")
    near_misses = [[0.99, 0.2, 0.98, 0.9], [0.99, 0.9, 0.3, 0.9]]
    assert engine.unmatched_notice(request, near_misses) == (
        "No navy checked skirt, not striped; closest first.")
    assert engine.unmatched_notice(request, [*near_misses, [0.9, 0.5, 0.7, 0.6]]) is None
    assert engine.unmatched_notice(state("not striped"), [[0.1]]) == (
        "No item, not striped; closest first.")
    assert engine.unmatched_notice(state(), [[], []]) is None  # nothing asked, nothing missed
    assert engine.unmatched_notice(request, []) is None  # no evidence (no rerank): no verdict


def test_the_varied_page_never_repeats_a_result_even_when_every_score_is_minus_infinity():
    looks = np.eye(5, dtype=np.float32)
    page = diversify(np.arange(5), np.full(5, -np.inf), looks, k=5, weight=0.3, margin=1.0)
    assert sorted(page.tolist()) == [0, 1, 2, 3, 4]
