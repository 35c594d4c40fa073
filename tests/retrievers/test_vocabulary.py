"""A library reads requests with its vocabulary: slots, spellings and prompts come from data."""

from __future__ import annotations

import json

import pytest

from retrievers.vocabulary import VocabularyError, list_vocabularies, load_vocabulary

DEMO = load_vocabulary("demo")
PHOTOS = load_vocabulary("photos")


@pytest.mark.parametrize(("said", "text", "slot"), [
    ("stripes", "striped", "pattern"), ("stripy", "striped", "pattern"),
    ("grey", "gray", "color"), ("Navy Blue", "navy", "color"),
    ("light blue", "light blue", "color"),
    ("long-sleeved", "long sleeves", "sleeves"), ("short sleeves", "short sleeves", "sleeves"),
    ("short", "short", "length"), ("long", "long", "length"), ("knee", "knee-length", "length"),
    ("tee", "t-shirt", "category"), ("jumper", "sweater", "category"),
    ("shorts", "shorts", "category"), ("dresses", "dress", "category"),
    ("polka dots", "polka-dot", "pattern"), ("white polka dots", "white polka-dot", "pattern"),
    ("plaid", "checked", "pattern"), ("leather bag", "leather bag", "category"),
    ("leather strap", "leather strap", None),
])
def test_the_demo_vocabulary_knows_each_spelling_and_its_slot(said, text, slot):
    assert (DEMO.canonical(said), DEMO.slot_of(said)) == (text, slot)
    assert DEMO.canonical(text) == text  # canonical forms are fixed points


def test_slot_names_are_recognised_for_revocations():
    assert [DEMO.slot_named(t) for t in ("the colour", "any color", "pattern", "shoes")] == [
        "color", "color", "pattern", None]


def test_the_shipped_vocabularies_are_listed():
    assert {"photos", "demo"} <= set(list_vocabularies())


def test_a_photo_library_knows_animals_vehicles_and_scenes_not_garments():
    assert PHOTOS.slot_of("dogs") == PHOTOS.slot_of("cat") == "animal"
    assert PHOTOS.canonical("puppies") == "dog"
    assert PHOTOS.slot_of("taxi") == PHOTOS.slot_of("bus") == "vehicle"
    assert PHOTOS.slot_of("dress") is None and PHOTOS.slot_of("sleeveless") is None
    assert PHOTOS.split("brown horse") == ["horse", "brown"]


def test_a_dog_is_contrasted_with_other_animals():
    others = PHOTOS.alternatives("dog", "animal")
    assert {"cat", "horse", "cow"} <= set(others) and "dog" not in others
    assert not set(others) & {"t-shirt", "dress", "car", "red"}


def test_attributes_are_phrased_with_the_head_noun_in_force():
    assert PHOTOS.render("brown", "color", "horse") == "brown horse"
    assert DEMO.render("long", "length", None) == "long item"  # no head: the default noun


def test_a_spelling_that_means_two_things_is_refused(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "slots": [
        {"name": "fruit", "values": [{"value": "orange"}]},
        {"name": "color", "values": [{"value": "orange"}]}]}))
    with pytest.raises(VocabularyError, match="'orange' means both"):
        load_vocabulary(path)


def test_a_user_extends_a_shipped_vocabulary_with_their_own_words(tmp_path):
    path = tmp_path / "family.json"
    path.write_text(json.dumps({
        "name": "family", "extends": "photos",
        "slots": [
            {"name": "animal", "values": [{"value": "dog", "spellings": ["rex"]},
                                          {"value": "axolotl"}]},
            {"name": "pet_name", "kind": "head", "prompt": "{value}",
             "values": [{"value": "rufus"}, {"value": "mittens"}]},
        ]}))
    mine = load_vocabulary(path)
    assert mine.canonical("rex") == "dog" and mine.slot_of("axolotl") == "animal"
    assert mine.alternatives("rufus", "pet_name") == ["mittens"]
    assert mine.slot_of("taxi") == "vehicle"  # everything of photos is still there
    assert "pet_name" in mine.describe()


def test_a_missing_or_broken_file_is_one_clear_error(tmp_path):
    with pytest.raises(VocabularyError, match="No vocabulary 'nope': use one of"):
        load_vocabulary("nope")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(VocabularyError, match="Cannot read the vocabulary"):
        load_vocabulary(broken)
