"""The committed demo CLIP model loads through open_clip and reads the demo world correctly."""

import open_clip
import pytest
import torch

from retrievers.demo import model as demo_model
from retrievers.demo.model import CHECKPOINT_PATH, MODEL_NAME, load_model, register
from retrievers.demo.world import Item, draw

BASE = {"category": "t-shirt", "color": "green", "pattern": "solid", "pattern_color": None,
        "sleeves": "short", "length": None}


def garment(**attributes) -> dict:
    return {**BASE, **attributes}


# (query, a garment it describes, a garment it does not) across every attribute.
CASES = [
    ("a red dress", garment(category="dress", color="red", length="knee"),
     garment(category="trousers", color="blue", sleeves=None)),
    ("blue trousers", garment(category="trousers", color="blue", sleeves=None),
     garment(category="skirt", color="blue", sleeves=None, length="long")),
    ("shorts", garment(category="shorts", color="gray", sleeves=None),
     garment(category="skirt", color="gray", sleeves=None, length="short")),
    ("a jacket", garment(category="jacket", sleeves="long"),
     garment(category="shirt", sleeves="long")),
    ("a sweater", garment(category="sweater", sleeves="long"),
     garment(category="t-shirt", sleeves="long")),
    ("navy", garment(color="navy"), garment(color="blue")),
    ("purple", garment(color="purple"), garment(color="navy")),
    ("brown", garment(color="brown"), garment(color="orange")),
    ("gray", garment(color="gray"), garment(color="white")),
    ("striped", garment(pattern="striped", pattern_color="white"), garment()),
    ("polka dots", garment(pattern="polka-dot", pattern_color="white"),
     garment(pattern="checked", pattern_color="white")),
    ("checked", garment(pattern="checked", pattern_color="black"),
     garment(pattern="striped", pattern_color="black")),
    ("long sleeves", garment(category="shirt", sleeves="long"),
     garment(category="shirt", sleeves="short")),
    ("sleeveless", garment(category="dress", sleeves="sleeveless", length="knee"),
     garment(category="dress", sleeves="short", length="knee")),
    ("a knee-length skirt", garment(category="skirt", sleeves=None, length="knee"),
     garment(category="skirt", sleeves=None, length="short")),
    ("a long dress", garment(category="dress", length="long"),
     garment(category="dress", length="short")),
    # Which colour is the garment and which the stripes: the words' order must count.
    ("a white shirt with red stripes",
     garment(category="shirt", color="white", pattern="striped", pattern_color="red"),
     garment(category="shirt", color="red", pattern="striped", pattern_color="white")),
    ("a yellow dress with black polka dots",
     garment(category="dress", color="yellow", pattern="polka-dot", pattern_color="black",
             length="knee"),
     garment(category="dress", color="black", pattern="polka-dot", pattern_color="yellow",
             length="knee")),
]


@pytest.fixture(scope="module")
def demo():
    return load_model()


def embed(demo, texts: list[str], metas: list[dict], look: int) -> tuple[torch.Tensor, ...]:
    model, preprocess, tokenizer = demo
    # Through the real preprocess, as the image library will feed the model.
    pictures = torch.stack([preprocess(draw(Item(90_000 + look, meta))) for meta in metas])
    with torch.inference_mode():
        images = model.encode_image(pictures, normalize=True)
        words = model.encode_text(tokenizer(texts), normalize=True)
    return words, images


def test_the_committed_checkpoint_is_small_and_loads_in_eval_mode(demo):
    model, _, tokenizer = demo
    assert CHECKPOINT_PATH.stat().st_size <= 25_000_000
    assert not model.training
    assert tokenizer(["a red dress"]).shape == (1, 32)
    assert MODEL_NAME in open_clip.list_models()
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_registering_twice_changes_nothing():
    register()
    register()
    assert open_clip.list_models().count(MODEL_NAME) == 1


def test_open_clip_alone_loads_the_checkpoint_as_a_local_pretrained_file(demo):
    model, preprocess, _ = demo
    register()
    same, _, _ = open_clip.create_model_and_transforms(MODEL_NAME, pretrained=str(CHECKPOINT_PATH))
    picture = preprocess(draw(Item(7, garment()))).unsqueeze(0)
    with torch.inference_mode():
        assert torch.allclose(same.eval().encode_image(picture), model.encode_image(picture))


@pytest.mark.parametrize("query,fits,other", CASES, ids=[case[0] for case in CASES])
def test_a_query_scores_the_garment_it_describes_above_one_it_does_not(demo, query, fits, other):
    for look in range(3):  # three different poses, scales and backgrounds
        words, images = embed(demo, [query], [fits, other], look)
        scores = (words @ images.T)[0]
        assert scores[0] > scores[1], f"{query!r}, look {look}: {scores.tolist()}"


def test_a_missing_checkpoint_names_the_training_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m retrievers.demo.train"):
        load_model(checkpoint=tmp_path / "nowhere.safetensors")


def test_the_model_files_live_beside_the_code():
    assert demo_model.CONFIG_PATH.name == "rummage-demo.json"
    assert demo_model.CONFIG_PATH.parent == CHECKPOINT_PATH.parent
