"""A library reads requests with its vocabulary: slots, spellings and prompts come from data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrievers.vocabularies import VocabularyError, list_vocabularies, load_vocabulary

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


def test_a_shade_said_with_its_family_is_the_shade():
    # "mint green" is mint and "charcoal grey" charcoal, one colour each; two colours that are
    # not one's family stay two ("blue green")
    assert [(DEMO.canonical(t), DEMO.slot_of(t)) for t in ("mint green", "charcoal grey")] == [
        ("mint", "color"), ("charcoal", "color")]
    assert DEMO.slot_of("blue green") is None and DEMO.split("blue green") == ["blue", "green"]


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


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_a_relative_extends_is_read_beside_the_file_that_names_it(tmp_path, monkeypatch):
    write(tmp_path / "words" / "base.json", {"name": "base", "slots": [
        {"name": "fruit", "values": [{"value": "apple"}, {"value": "pear"}]}]})
    mine = write(tmp_path / "words" / "mine.json", {"name": "mine", "extends": "base.json",
                                                    "slots": []})
    monkeypatch.chdir(tmp_path)  # not the folder of the files
    assert load_vocabulary(mine).slot_of("pear") == "fruit"


@pytest.mark.parametrize(("data", "message"), [
    ({"slots": [{"name": "a", "prompt": "{value} {nuon}", "values": [{"value": "x"}]}]},
     "cannot be filled"),
    ({"slots": [{"name": "a", "colored_by": "colour", "values": [{"value": "x"}]}]},
     "is colored_by 'colour', which is not a slot"),
    ({"slots": [{"name": "a", "values": [{"value": "x", "contrast": "no"}]}]},
     "must be true or false"),
    ({"sentence_order": "a", "slots": [{"name": "a", "values": [{"value": "x"}]}]},
     "must be a list of strings"),
    ({"slots": [{"name": "a", "values": [{"value": "x", "families": ["y"]}]}]},
     "family 'y' of 'x' is not another value of slot 'a'"),
    ({"extends": 5, "slots": []}, "'extends' names a vocabulary or a file"),
    ({"extends": "photos", "slots": [{"values": []}]}, "cannot extend 'photos'"),
])
def test_mistakes_in_a_vocabulary_file_are_found_when_it_is_read(tmp_path, data, message):
    with pytest.raises(VocabularyError, match=message):
        load_vocabulary(write(tmp_path / "bad.json", data))


def test_vocabularies_that_extend_each_other_in_a_circle_are_refused(tmp_path):
    write(tmp_path / "a.json", {"extends": "b.json", "slots": []})
    write(tmp_path / "b.json", {"extends": "a.json", "slots": []})
    with pytest.raises(VocabularyError, match="in a circle"):
        load_vocabulary(tmp_path / "a.json")


def test_a_phrase_around_a_value_is_contrasted_in_the_same_shape():
    assert PHOTOS.alternatives("my dog", "animal")[:2] == ["my cat", "my horse"]
    assert "dog" not in PHOTOS.alternatives("my dog", "animal")


def test_people_are_never_the_noun_of_a_colour_prompt():
    wanted = [("woman", "person"), ("red", "color")]
    assert PHOTOS.head_of(wanted) is None
    assert PHOTOS.render("red", "color", PHOTOS.head_of(wanted)) == "red photo"
    assert PHOTOS.head_of([("woman", "person"), ("dog", "animal")]) == "dog"


def test_a_coloured_pattern_is_judged_with_each_colour_its_ground_could_be():
    grounds = DEMO.grounds("orange polka-dot", "pattern", "dress")
    # the part's own colour first: its ground is never that colour
    assert grounds[0] == ("orange dress", "dress with orange polka dots")
    assert ("red dress", "dress with red polka dots") in grounds
    assert len(grounds) == len(DEMO.slot("color").contrast)
    assert DEMO.grounds("red", "color", "dress") == ()
    assert DEMO.grounds("striped", "pattern", "dress") == ()
    # its rivals are the other colours of the part and the other patterns, nothing else
    assert all(" with " in c or c == "plain dress"
               for c in DEMO.contrasts("orange polka-dot", "pattern", "dress"))


def test_a_ground_that_may_share_its_parts_colour_is_data(tmp_path):
    data = json.loads((Path(__file__).parents[2] / "retrievers/demo/vocabulary.json")
                      .read_text(encoding="utf-8"))
    pattern = next(s for s in data["slots"] if s["name"] == "pattern")
    pattern["ground_differs"] = False
    path = tmp_path / "same-ground.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_vocabulary(str(path)).grounds("orange polka-dot", "pattern", "dress") == ()
    pattern["ground_differs"] = "yes"
    bad = tmp_path / "bad-ground.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(VocabularyError, match="ground_differs"):
        load_vocabulary(str(bad))


def test_a_head_spelt_in_two_words_keeps_both_once_after_an_attribute():
    assert PHOTOS.canonical("red fire hydrant") == "red fire hydrant"
    assert PHOTOS.slot_of("red fire hydrant") == PHOTOS.slot_of("fire hydrant")
    assert DEMO.canonical("cotton shirts") == "cotton shirt"


@pytest.mark.parametrize("text, expected", [
    ("a coffee table", ["coffee table"]),  # a food before an object: the table is the thing
    ("a baby elephant", ["baby elephant"]),
    ("a wine bottle on a shelf", ["wine bottle", "shelf"]),
])
def test_two_nouns_side_by_side_are_one_compound_named_by_the_last(text, expected):
    assert PHOTOS.split(text, skip=frozenset({"a", "on"})) == expected
    assert PHOTOS.slot_of(expected[0]) == PHOTOS.slot_of(expected[0].split()[-1])


def test_a_garment_compound_is_one_garment_not_two():
    # "dress shirt" is a shirt, "shirt dress" a dress: never a dress and a shirt at once
    assert DEMO.split("a gray dress shirt", skip=frozenset({"a"})) == ["dress shirt", "gray"]
    assert DEMO.split("a shirt dress", skip=frozenset({"a"})) == ["shirt dress"]


def test_a_real_word_one_letter_from_ours_is_not_a_typing_slip():
    # before, "black pants" asked for black plants and "the lower left" for a flower
    assert [PHOTOS.respell(w) for w in ("pants", "lower", "edges", "lacks")] == [
        "pants", "lower", "edges", "lacks"]
    assert DEMO.respell("lacks") == "lacks"  # not "slacks"
    # slips that are no word at all are still read as ours
    assert PHOTOS.respell("strped") == "striped" and DEMO.respell("sleevless") == "sleeveless"
