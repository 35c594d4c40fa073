"""Soft logic over propositions: every wanted thing must hold, no unwanted thing may."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retrievers.rerank import (
    ContrastScorer,
    Criterion,
    CrossEncoderReranker,
    ImageTerms,
    RerankWeights,
    SoftLogicReranker,
    likeness,
)

WORDS = ["red", "blue", "green", "dress", "skirt", "striped", "solid", "leather"]


class WordEncoder:
    """A deterministic fake: a text is the unit sum of its known words' axes."""

    def encode_texts(self, texts):
        return np.stack([embed(t.split()) for t in texts])


def embed(words) -> np.ndarray:
    v = np.zeros(len(WORDS), np.float32)
    for w in words:
        if w in WORDS:
            v[WORDS.index(w)] = 1
    return v / max(np.linalg.norm(v), 1e-6)


ITEMS = {
    "red dress": embed(["red", "dress"]),
    "blue dress": embed(["blue", "dress"]),
    "red striped dress": embed(["red", "striped", "dress"]),
    "red skirt": embed(["red", "skirt"]),
    "blue striped skirt": embed(["blue", "striped", "skirt"]),
}
NAMES = list(ITEMS)
VECTORS = np.stack(list(ITEMS.values()))


def ranking(criteria, images=None, first_stage=None, **weights):
    reranker = SoftLogicReranker(ContrastScorer(WordEncoder(), temperature=10.0),
                                 RerankWeights(**weights))
    scores = reranker.scores(VECTORS, criteria, images or ImageTerms(), first_stage)
    return [NAMES[i] for i in np.argsort(-scores, kind="stable")]


def wanted(text, *alternatives):
    return Criterion(text=text, polarity=1, alternatives=alternatives)


def test_every_wanted_proposition_must_hold():
    order = ranking([wanted("red", "blue", "green"), wanted("dress", "skirt")])
    assert set(order[:2]) == {"red dress", "red striped dress"}
    assert order[-1] == "blue striped skirt"


def test_not_striped_sinks_the_striped_ones():
    order = ranking([wanted("red", "blue", "green"),
                     Criterion(text="striped", polarity=-1, alternatives=("solid",))])
    assert order[:2] == ["red dress", "red skirt"]
    assert order[-1] == "blue striped skirt"  # wrong on both counts


def test_a_proposition_without_alternatives_still_counts():
    order = ranking([Criterion(text="skirt", polarity=1)])
    assert set(order[:2]) == {"red skirt", "blue striped skirt"}


def test_disliked_image_pushes_its_lookalikes_down_and_liked_pulls():
    images = ImageTerms(disliked=ITEMS["red dress"][None], liked=ITEMS["blue dress"][None])
    assert ranking([], images, liked=1.0, disliked=4.0)[-1] == "red dress"
    assert ranking([], images, liked=4.0, disliked=1.0)[:2] == ["blue dress",
                                                                "blue striped skirt"]


def test_weights_let_older_wishes_count_less():
    new_blue = [Criterion(text="red", polarity=1, weight=0.2, alternatives=("blue",)),
                Criterion(text="blue", polarity=1, weight=1.0, alternatives=("red",))]
    assert ranking(new_blue)[0] in {"blue dress", "blue striped skirt"}


def test_cross_encoder_loads_local_weights_and_scores_pairs(tiny_blip, tmp_path):
    for name, color in [("red.png", (255, 0, 0)), ("blue.png", (0, 0, 255))]:
        Image.new("RGB", (40, 40), color).save(tmp_path / name)
    scorer = CrossEncoderReranker.from_pretrained(str(tiny_blip), device="cpu")
    paths = [str(tmp_path / "red.png"), str(tmp_path / "blue.png"), str(tmp_path / "gone.png")]
    criteria = [wanted("a red dress"), wanted("blue")]
    probs = scorer.probabilities(np.zeros((3, 4)), criteria, paths)
    assert probs.shape == (2, 3) and np.all((probs > 0) & (probs < 1))
    # The same combination rule takes the cross-encoder's probabilities.
    scores = SoftLogicReranker(scorer).scores(np.zeros((3, 4)), criteria, paths=paths)
    assert np.all(np.isfinite(scores))


def test_the_evidence_says_how_far_each_image_meets_each_proposition():
    reranker = SoftLogicReranker(ContrastScorer(WordEncoder(), temperature=10.0))
    criteria = [wanted("red", "blue", "green"),
                Criterion(text="striped", polarity=-1, alternatives=("solid",))]
    scores, evidence = reranker.scores_with_evidence(VECTORS, criteria)
    assert evidence.shape == (len(NAMES), 2)
    assert np.array_equal(scores, reranker.scores(VECTORS, criteria))  # the same, computed once
    row = dict(zip(NAMES, evidence))
    assert row["red dress"][0] > 0.5 > row["blue dress"][0]  # red, and not red
    # an unwanted proposition's evidence is that the image is free of it: 1 - p(striped)
    assert row["red dress"][1] >= 0.5 > row["red striped dress"][1]
    probs = ContrastScorer(WordEncoder(), temperature=10.0).probabilities(VECTORS, criteria)
    assert np.allclose(evidence[:, 1], 1 - probs[1], atol=1e-4)
    # the best-scored image is the one that meets both
    assert NAMES[int(np.argmax(scores))] in {"red dress", "red skirt"}
    assert SoftLogicReranker(ContrastScorer(WordEncoder())).scores_with_evidence(
        VECTORS, [])[1].shape == (len(NAMES), 0)


def test_a_coloured_pattern_is_read_with_the_ground_in_mind():
    # an encoder that binds loosely: a picture is its ground colour (twice), its stripes'
    # colour and its words, and "dress with red stripes" is near anything red
    def picture(ground, stripes):
        v = 2 * embed([ground]) + embed([stripes]) + embed(["striped", "dress"])
        return v / np.linalg.norm(v)

    images = np.stack([picture("blue", "red"), picture("red", "blue")])
    stripes = {c: f"dress with {c} striped" for c in ("red", "blue", "green")}
    plain = Criterion(text=stripes["red"], polarity=1,
                      alternatives=(stripes["blue"], stripes["green"]))
    grounded = Criterion(text=plain.text, polarity=1, alternatives=plain.alternatives,
                         grounds=tuple((f"{c} dress", stripes[c]) for c in stripes))
    scorer = ContrastScorer(WordEncoder(), temperature=10.0)
    fooled, read = scorer.probabilities(images, [plain, grounded])
    # alone, the red dress with blue stripes looks the more "red-striped" of the two
    assert fooled[1] > 0.5 > fooled[0]
    # read against its ground, the blue dress has the red stripes; a red ground has none
    assert read[0] > 0.5
    assert read[1] < 0.1


def test_rejecting_one_image_that_fits_pushes_its_lookalikes_not_every_one_that_fits():
    # four pictures: three red dresses (two with one look, one with another) and a blue dress;
    # the person asked for red and says "not 1" of a red dress: its look is wrong, not red
    look_a, look_b = np.eye(2, dtype=np.float32)

    def picture(words, look):
        v = np.concatenate([embed(words), 0.8 * look])
        return v / np.linalg.norm(v)

    class PaddedEncoder:
        def encode_texts(self, texts):
            return np.stack([np.concatenate([embed(t.split()), np.zeros(2, np.float32)])
                             for t in texts])

    rejected = picture(["red", "dress"], look_a)  # never a candidate again (engine.retrieve)
    names = ["its twin in looks", "red dress, other look", "blue dress"]
    vectors = np.stack([picture(["red", "dress"], 0.9 * look_a + 0.1 * look_b),
                        picture(["red", "dress"], look_b), picture(["blue", "dress"], look_b)])
    # a rejection weighed heavily, as several rejections of one look add up to
    reranker = SoftLogicReranker(ContrastScorer(PaddedEncoder(), temperature=10.0),
                                 RerankWeights(disliked=20.0))
    scores = reranker.scores(vectors, [wanted("red", "blue", "green")],
                             ImageTerms(disliked=rejected[None]))
    order = [names[i] for i in np.argsort(-scores, kind="stable")]
    assert order[0] == "red dress, other look"
    assert order.index("its twin in looks") > order.index("red dress, other look")
    assert order[-1] == "blue dress"  # rejecting a red one does not make blue wanted


def test_a_pick_out_of_a_page_prefers_images_nearer_it_than_the_ones_passed_over():
    # "3 is closer": the person picked 3 over 5. Two candidates are as near 3 as each other,
    # but one lies towards 5, which they passed over; the image in mind is the other side.
    def at(degrees):
        a = np.radians(degrees)
        return np.array([np.cos(a), np.sin(a)], np.float32)

    picked, passed_over = at(0), at(60)
    names = ["towards 5", "away from 5"]  # a tie would keep this order
    candidates = np.stack([at(25), at(-25)])
    reranker = SoftLogicReranker(ContrastScorer(WordEncoder(), temperature=10.0),
                                 RerankWeights(first_stage=0.0))

    pulled = reranker.scores(candidates, [], ImageTerms(liked=picked[None]))
    assert pulled[0] == pytest.approx(pulled[1])  # nearness to the pick alone cannot tell

    chosen = reranker.scores(candidates, [], ImageTerms(liked=picked[None],
                                                        choices=((picked, passed_over[None]),)))
    assert [names[i] for i in np.argsort(-chosen)] == ["away from 5", "towards 5"]


def test_more_like_a_dark_picture_prefers_the_dark_twin_to_a_bright_one():
    # Two twins embed alike; their looks keep their colours, so a bright one's look is long.
    # "More like 3" (3 is dark) must bring the dark twin first: by the dot product the bright
    # one, being longer, would have seemed nearer. The choice over a page agrees.
    embedding = np.array([1.0, 0.0], np.float32)
    dark_pick, dark_twin, bright_twin = (np.array([*embedding, v, v], np.float32)
                                         for v in (0.1, 0.12, 0.5))
    candidates = np.stack([bright_twin, dark_twin])
    reranker = SoftLogicReranker(ContrastScorer(WordEncoder(), temperature=10.0),
                                 RerankWeights(first_stage=0.0))

    assert float(bright_twin @ dark_pick) > float(dark_twin @ dark_pick)
    for images in (ImageTerms(liked=dark_pick[None]), ImageTerms(reference=dark_pick),
                   ImageTerms(choices=((dark_pick, bright_twin[None] + 0.05),))):
        scores = reranker.scores(candidates, [], images)
        assert scores[1] > scores[0]


def test_likeness_is_minus_half_the_squared_distance_and_orders_unit_vectors_as_cosine():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    assert np.allclose(likeness(a, b), -0.5 * distances)
    assert np.allclose(likeness(a, b[0]), -0.5 * distances[:, 0])
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert np.allclose(likeness(unit_a, unit_b), unit_a @ unit_b.T - 1)
