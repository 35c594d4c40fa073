"""The bundled demo CLIP model: its open_clip config, its committed checkpoint, and loading both.

The architecture lives in rummage-demo.json, registered with open_clip under MODEL_NAME, so the
demo model goes through the same open_clip calls as any other model. The checkpoint is stored in
fp16 safetensors to keep the repository small; it is cast back to float32 on load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import torch
from safetensors.torch import load_file

MODEL_NAME = "rummage-demo"
CONFIG_PATH = Path(__file__).with_name(f"{MODEL_NAME}.json")
CHECKPOINT_PATH = Path(__file__).with_name(f"{MODEL_NAME}.safetensors")
TRAIN_COMMAND = "python -m retrievers.demo.train"
# open_clip's (OpenAI's) normalisation, which the config's preprocess applies.
MEAN = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
STD = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)


def register() -> None:
    """Make MODEL_NAME known to open_clip (safe to call any number of times)."""
    if MODEL_NAME not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_PATH)


def create_model(device: str = "cpu") -> tuple[torch.nn.Module, object, object]:
    """The demo architecture with fresh weights, its preprocess and its tokenizer."""
    register()
    model, _, preprocess = open_clip.create_model_and_transforms(MODEL_NAME, device=device)
    return model, preprocess, open_clip.get_tokenizer(MODEL_NAME)


def load_model(
    device: str = "cpu", checkpoint: Path | None = None
) -> tuple[torch.nn.Module, object, object]:
    """The trained demo model in eval mode, with its preprocess and tokenizer."""
    path = Path(checkpoint) if checkpoint is not None else CHECKPOINT_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"demo model checkpoint {path} is missing; train it with `{TRAIN_COMMAND}`"
        )
    model, preprocess, tokenizer = create_model(device)
    state = {key: value.float() if value.is_floating_point() else value
             for key, value in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.to(device).eval(), preprocess, tokenizer


def to_tensor(pictures: np.ndarray) -> torch.Tensor:
    """uint8 (B,H,W,3) native-size pictures as the model's input, exactly as preprocess makes
    them (its resize is a no-op at the native size), without a PIL round trip per picture."""
    x = torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2).float().div_(255)
    return (x - MEAN) / STD


def save_checkpoint(model: torch.nn.Module, path: Path) -> None:
    """Store the weights as fp16 safetensors, written beside the target and renamed into place."""
    from safetensors.torch import save_file

    state = {key: _half(value.detach().cpu()).contiguous()
             for key, value in model.state_dict().items()}
    partial = Path(path).with_suffix(".partial")
    save_file(state, str(partial), metadata={"model_name": MODEL_NAME})
    partial.chmod(0o644)  # safetensors writes 0600; the checkpoint is meant to be shared
    partial.replace(path)


def _half(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.half() if tensor.is_floating_point() else tensor
