"""A library embeds text with a numpy export of its model's text tower: the same vectors as
open_clip's PyTorch encoder, the same results, and no torch for a text search."""

from __future__ import annotations

import random

import numpy as np

from retrievers.clip_tokens import ClipTokenizer
from retrievers.encoders import Encoder, ModelSpec
from retrievers.library import Library
from retrievers.text_tower import FILE_NAME, NumpyTextTower, export
from tests.conftest import make_image

WORDS = ["a", "red", "dress", "blue", "striped", "shirt", "with", "long", "sleeves", "not", "the",
         "wool", "coat", "dark", "green", "denim", "jacket", "café", "naïve", "日本", "😀",
         "&amp;", "it's", "42", "SHOUTING\ttabs"]


def prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["" if i == 0 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
            for i in range(n)]


def tiny_encoder(tiny_model_dir) -> Encoder:
    return Encoder.load(ModelSpec.from_options(None, None, str(tiny_model_dir)), device="cpu")


def test_the_tokenizer_gives_open_clips_ids_without_importing_open_clip(tiny_model_dir):
    encoder = tiny_encoder(tiny_model_dir)
    texts = prompts(1000)
    ours = ClipTokenizer(encoder.tokenizer.context_length)(texts)
    assert np.array_equal(ours, encoder.tokenizer(texts).numpy())


def test_the_exported_tower_matches_the_pytorch_encoder_on_1000_prompts(tiny_model_dir,
                                                                        tmp_path):
    encoder = tiny_encoder(tiny_model_dir)
    spec = encoder.spec
    export(encoder.model, encoder.tokenizer, spec.fingerprint()).save(tmp_path / FILE_NAME)
    tower = NumpyTextTower.load(tmp_path / FILE_NAME, spec.fingerprint())
    texts = prompts(1000, seed=1)
    cosines = (tower.encode_texts(texts) * encoder.encode_texts(texts)).sum(axis=1)
    assert cosines.min() >= 0.999
    assert tower.dim == encoder.dim and tower.logit_scale == encoder.logit_scale
    # a batch is run as rows of one matrix: a text comes out the same alone or among others
    alone = np.stack([tower.encode_tokens(tower.tokenizer([t]))[0] for t in texts[:20]])
    assert np.abs(alone - tower.encode_tokens(tower.tokenizer(texts[:20]))).max() < 1e-5
    assert tower.encode_tokens(tower.tokenizer([])).shape == (0, tower.dim)


def test_a_tower_of_other_weights_is_not_used(tiny_model_dir, tmp_path):
    encoder = tiny_encoder(tiny_model_dir)
    export(encoder.model, encoder.tokenizer, "weights A").save(tmp_path / FILE_NAME)
    assert NumpyTextTower.load(tmp_path / FILE_NAME, "weights B") is None
    (tmp_path / FILE_NAME).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert NumpyTextTower.load(tmp_path / FILE_NAME, "weights A") is None


def test_searching_by_text_finds_what_the_pytorch_encoder_finds(tiny_model_dir, tmp_path,
                                                                rummage_home):
    folder = tmp_path / "pictures"
    for i in range(30):
        make_image(folder / f"{i:02d}.png", (i * 8, 255 - i * 8, (i * 37) % 256))
    spec = ModelSpec.from_options(None, None, str(tiny_model_dir))
    library = Library.create(rummage_home, "pics", spec)
    library.index_folder(folder)
    library.close()
    assert (rummage_home / "pics" / FILE_NAME).is_file()  # exported while the model was loaded

    library = Library.open("pics", rummage_home)
    encoder = tiny_encoder(tiny_model_dir)
    try:
        assert isinstance(library.text_encoder, NumpyTextTower)
        for text in prompts(20, seed=2):
            by_tower = [h.id for h in library.search_text(text, 10)]
            by_torch = [h.id for h in library.search_vector(encoder.encode_texts([text])[0], 10)]
            assert by_tower == by_torch, text
    finally:
        library.close()
