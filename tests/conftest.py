"""Shared fixtures: a private RUMMAGE_HOME per test, a tiny real open_clip model on disk, images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# A real open_clip architecture, randomly initialised and saved the way a user's own weights
# would be: an open_clip model folder (config + safetensors). Small so tests stay fast.
TINY_MODEL_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def rummage_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own data folder, like LLM_USER_PATH in simonw/llm."""
    home = tmp_path / "rummage-home"
    monkeypatch.setenv("RUMMAGE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised open_clip model saved to a folder, loadable with --checkpoint."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-clip")
    config = {"model_cfg": TINY_MODEL_CFG, "preprocess_cfg": {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return folder


def make_image(path: Path, color=(200, 30, 30), size=(40, 30), fmt: str | None = None, **kw):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.save(path, format=fmt, **kw)
    return path


@pytest.fixture
def spec(tiny_model_dir):
    """The tiny model as a library's model (`--checkpoint DIR`)."""
    from retrievers.encoders import ModelSpec

    return ModelSpec.from_options(None, None, str(tiny_model_dir))


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Twelve small, valid images of different colours."""
    folder = tmp_path / "photos"
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255),
              (120, 60, 0), (0, 0, 0), (255, 255, 255), (128, 128, 128), (255, 128, 0), (0, 80, 40)]
    for i, color in enumerate(colors):
        make_image(folder / f"img{i:02d}.png", color, size=(32 + i, 24 + i))
    return folder


@pytest.fixture
def looks_read(monkeypatch) -> list[list[int]]:
    """The ids of every look read from library.db by id (`Catalog.looks`), one list per read."""
    from retrievers.catalog import Catalog

    reads: list[list[int]] = []
    by_id = Catalog.looks

    def counted(self, ids):
        reads.append([int(i) for i in ids])
        return by_id(self, ids)

    monkeypatch.setattr(Catalog, "looks", counted)
    return reads


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """The one small demo library of the suite (the real generator and the committed demo
    model), built once and shared by the API stories, the evaluation and the chat tests."""
    from retrievers.demo.tour import ensure_demo_library

    home = tmp_path_factory.mktemp("demo-home")
    ensure_demo_library(home, n=DEMO_TEST_ITEMS)
    return home


DEMO_TEST_ITEMS = 2000


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory):
    """A randomly initialised BLIP image-text-matching model saved like a user's download."""
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForImageTextRetrieval,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder = tmp_path_factory.mktemp("blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "blue", "dress"]
    (folder / "vocab.txt").write_text("\n".join(vocab))
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                              tokenizer=BertTokenizer(str(folder / "vocab.txt")))
    text = {"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 37, "encoder_hidden_size": 32,
            "bos_token_id": 2, "sep_token_id": 3, "pad_token_id": 0}
    vision = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 37, "image_size": 32, "patch_size": 8}
    model = BlipForImageTextRetrieval(BlipConfig(text_config=text, vision_config=vision,
                                                 projection_dim=16))
    model.save_pretrained(folder / "model")
    processor.save_pretrained(folder / "model")
    return folder / "model"
