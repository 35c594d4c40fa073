"""Loading the weights a user names, and embedding with them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from retrievers.encoders import Encoder, ModelSpec, ModelUnavailable, UnknownModel
from tests.conftest import TINY_MODEL_CFG


def test_local_weights_file_loads_through_the_users_path(tmp_path, tiny_model_dir):
    import open_clip
    from safetensors.torch import load_file

    # A user's own weights file for an architecture open_clip knows by name.
    (tmp_path / "tiny-arch.json").write_text(json.dumps(TINY_MODEL_CFG))
    open_clip.add_model_config(tmp_path / "tiny-arch.json")
    weights = tmp_path / "weights.pt"
    torch.save(load_file(str(tiny_model_dir / "open_clip_model.safetensors")), weights)

    from_file = Encoder.load(ModelSpec.from_options("tiny-arch", None, str(weights)), "cpu")
    from_folder = Encoder.load(ModelSpec.from_options(None, None, str(tiny_model_dir)), "cpu")
    image = Image.new("RGB", (50, 20), (10, 200, 30))
    assert np.allclose(from_file.encode_images([image]), from_folder.encode_images([image]),
                       atol=1e-5)
    assert from_folder.spec.label == f"local-dir @ {tiny_model_dir}"


def test_vectors_are_unit_length_and_texts_are_cached(tiny_model_dir):
    encoder = Encoder.load(ModelSpec.from_options(None, None, str(tiny_model_dir)), "cpu")
    texts = encoder.encode_texts(["a red dress", "blue", "a red dress"])
    assert texts.shape == (3, encoder.dim) and np.allclose(np.linalg.norm(texts, axis=1), 1)
    assert np.array_equal(texts[0], texts[2]) and "blue" in encoder._text_cache
    images = encoder.encode_images([Image.new("RGB", (9, 9))] * 5, batch_size=2)
    assert images.shape == (5, encoder.dim) and np.allclose(np.linalg.norm(images, axis=1), 1)


def test_missing_checkpoint_and_unknown_names_say_what_to_do(tmp_path):
    with pytest.raises(ModelUnavailable, match="Checkpoint not found"):
        ModelSpec.from_options(None, None, str(tmp_path / "nope.pt"))
    with pytest.raises(UnknownModel, match="Unknown pretrained tag 'nope' for ViT-B-32; known"):
        Encoder.load(ModelSpec("ViT-B-32", "nope"), "cpu")


def test_hub_model_offline_is_one_clear_error():
    with pytest.raises(ModelUnavailable, match=r"HF_HUB_OFFLINE is set.*--model demo"):
        Encoder.load(ModelSpec.from_options("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
                                            None, None), "cpu")


def test_spec_round_trips_through_json():
    spec = ModelSpec.from_options("ViT-B-32", "openai", None)
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert ModelSpec.from_options("demo", None, None) == ModelSpec.demo()


@pytest.mark.gpu
def test_gpu_encoding_is_fp16_and_matches_cpu(tiny_model_dir):
    spec = ModelSpec.from_options(None, None, str(tiny_model_dir))
    gpu, cpu = Encoder.load(spec, "cuda"), Encoder.load(spec, "cpu")
    assert gpu.dtype == torch.float16
    image = Image.new("RGB", (40, 40), (200, 100, 0))
    assert np.allclose(gpu.encode_images([image]), cpu.encode_images([image]), atol=2e-2)
