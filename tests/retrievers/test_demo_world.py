"""The demo world: a seeded garment catalogue whose pictures show exactly their attributes."""

import json
import random
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from retrievers.demo.captions import caption, full_description
from retrievers.demo.schema import ATTRIBUTES
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.world import RGB, Item, draw, sample_items, write_catalogue


@pytest.fixture(scope="module")
def catalogue() -> list[Item]:
    return sample_items(2000, seed=0)


def pixels(item: Item, **kwargs) -> np.ndarray:
    return np.asarray(draw(item, **kwargs), dtype=np.int16)


def test_the_same_seed_gives_the_same_catalogue_to_the_pixel(catalogue):
    again = sample_items(2000, seed=0)
    assert [item.meta for item in again] == [item.meta for item in catalogue]
    for item, twin in zip(catalogue[:20], again[:20]):
        assert np.array_equal(pixels(item), pixels(twin))


def test_another_seed_gives_another_catalogue(catalogue):
    other = sample_items(2000, seed=1)
    assert [item.meta for item in other] != [item.meta for item in catalogue]
    assert any(not np.array_equal(pixels(a), pixels(b)) for a, b in zip(catalogue, other[:20]))


def test_every_item_follows_the_schema(catalogue):
    for item in catalogue:
        meta = item.meta
        assert set(meta) == {*ATTRIBUTE_KEYS, "split"}
        assert meta["category"] in ATTRIBUTES["category"]
        assert meta["color"] in ATTRIBUTES["color"]
        assert meta["pattern"] in ATTRIBUTES["pattern"]
        if meta["pattern"] == "solid":
            assert meta["pattern_color"] is None
        else:
            assert meta["pattern_color"] in ATTRIBUTES["color"]
            assert meta["pattern_color"] != meta["color"]
        if meta["category"] in ("skirt", "trousers", "shorts"):
            assert meta["sleeves"] is None
        else:
            assert meta["sleeves"] in ATTRIBUTES["sleeves"]
        if meta["category"] in ("dress", "skirt"):
            assert meta["length"] in ATTRIBUTES["length"]
        else:
            assert meta["length"] is None


def test_every_value_appears_in_two_thousand_items(catalogue):
    for key in ("category", "color", "pattern", "pattern_color", "sleeves", "length"):
        seen = {item.meta[key] for item in catalogue} - {None}
        assert seen == set(ATTRIBUTES[key]), key


def test_the_catalogue_is_split_80_10_10(catalogue):
    assert Counter(item.meta["split"] for item in catalogue) == {
        "train": 1600, "val": 200, "test": 200}


def test_garments_with_identical_attributes_still_look_different(catalogue):
    by_attributes = {}
    for item in catalogue:
        by_attributes.setdefault(tuple(item.meta[k] for k in ATTRIBUTE_KEYS), []).append(item)
    first, second = next(group for group in by_attributes.values() if len(group) > 1)[:2]
    assert np.abs(pixels(first) - pixels(second)).mean() > 5
    # and one garment under another look is the same garment seen differently
    assert np.abs(pixels(first) - pixels(first, look_seed=7)).mean() > 5


def test_the_garment_is_drawn_in_its_colour(catalogue):
    # A plain garment covers a good part of the picture in (nearly) its own colour.
    for item in [i for i in catalogue if i.meta["pattern"] == "solid"][:40]:
        picture = pixels(item).reshape(-1, 3)
        close = np.abs(picture - np.array(RGB[item.meta["color"]])).max(axis=1) < 30
        assert close.mean() > 0.06, item.meta


def test_pictures_are_rgb_at_the_asked_size(catalogue):
    picture = draw(catalogue[0], size=96)
    assert picture.mode == "RGB" and picture.size == (96, 96)


def test_write_catalogue_writes_pictures_and_jsonl_and_skips_them_the_second_time(tmp_path):
    calls = []
    rows = write_catalogue(tmp_path, n=50, progress=lambda done, total: calls.append(done))
    assert len(rows) == 50 and calls[-1] == 50
    lines = [json.loads(line) for line in (tmp_path / "catalogue.jsonl").read_text().splitlines()]
    assert [(line["path"], line["meta"]) for line in lines] == rows
    assert lines[12]["path"] == "images/00012.png"
    with Image.open(tmp_path / "images" / "00012.png") as picture:
        assert picture.size == (64, 64) and picture.mode == "RGB"
        assert np.array_equal(np.asarray(picture), np.asarray(draw(sample_items(50)[12])))

    stamp = (tmp_path / "images" / "00012.png").stat().st_mtime_ns
    (tmp_path / "images" / "00003.png").unlink()
    assert write_catalogue(tmp_path, n=50) == rows
    assert (tmp_path / "images" / "00012.png").stat().st_mtime_ns == stamp
    assert (tmp_path / "images" / "00003.png").exists()


def test_captions_mention_only_attributes_the_item_has(catalogue):
    rng = random.Random(0)
    for item in catalogue[:300]:
        text, mentioned = caption(item.meta, rng)
        assert text and mentioned
        for key, value in mentioned.items():
            assert item.meta[key] == value
        if "pattern_color" in mentioned and mentioned["pattern_color"] is not None:
            assert "pattern" in mentioned


def test_full_captions_pin_every_attribute_and_partial_ones_do_not(catalogue):
    rng = random.Random(1)
    dress = next(i for i in catalogue if i.meta["category"] == "dress"
                 and i.meta["pattern"] == "striped")
    _, full = caption(dress.meta, rng, partial=False)
    assert full == {key: dress.meta[key] for key in ATTRIBUTE_KEYS}
    for _ in range(20):
        _, some = caption(dress.meta, rng, partial=True)
        assert 0 < len(some) < 6


def test_full_description_reads_as_a_person_would_write_it():
    meta = {"category": "dress", "color": "red", "pattern": "striped", "pattern_color": "white",
            "sleeves": "long", "length": "knee"}
    assert full_description(meta) == "a knee-length red dress with long sleeves and white stripes"
    trousers = {"category": "trousers", "color": "navy", "pattern": "solid",
                "pattern_color": None, "sleeves": None, "length": None}
    assert full_description(trousers) == "plain navy trousers"


def test_the_demo_library_reads_garment_words_and_keeps_its_users_choice(rummage_home):
    from retrievers.demo.tour import ensure_demo_library
    from retrievers.library import Library

    ensure_demo_library(rummage_home, n=40)
    assert Library.open("demo", rummage_home).vocabulary_ref == "demo"
    Library.create(rummage_home, "demo", Library.open("demo", rummage_home).spec,
                   vocabulary="photos").close()
    ensure_demo_library(rummage_home, n=40)  # `rummage demo` / `rummage chat` again
    assert Library.open("demo", rummage_home).vocabulary_ref == "photos"
