"""Turn images and texts into unit vectors with an open_clip model.

A model is named by a `ModelSpec`: the bundled demo model (`demo`), any open_clip architecture
with a pretrained tag, an `hf-hub:` repository, or a local checkpoint. The spec is what a
library remembers, so later searches embed with the same weights.

Why the hub is probed before open_clip sees it: offline, huggingface_hub retries a download for
about 25 s before failing with a long traceback. We look in the local cache first, then try one
TCP connection to the hub (3 s at most); when both fail we raise `ModelUnavailable` at once with
the two ways out (a local checkpoint, or the demo model).

Why torch is imported inside the functions that use it: a text search runs on the library's
numpy export of the text tower (text_tower.py) and needs only ModelSpec from here; torch at the
top of this module cost every `rummage search` 1.1-1.7 s.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

DEMO = "demo"
DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
# retrievers.demo.model.CHECKPOINT_PATH, named here because importing that module imports open_clip
DEMO_CHECKPOINT = Path(__file__).parent / "demo" / "rummage-demo.safetensors"


class EncoderError(Exception):
    """A model could not be made ready; the message says what to do instead."""


class UnknownModel(EncoderError):
    pass


class ModelUnavailable(EncoderError):
    pass


@dataclass(frozen=True)
class ModelSpec:
    """Which weights embed a library."""

    name: str = DEFAULT_MODEL  # open_clip architecture, `hf-hub:org/repo`, or "demo"
    pretrained: str | None = DEFAULT_PRETRAINED  # open_clip pretrained tag; None with a checkpoint
    checkpoint: str | None = None  # local weights file or open_clip model folder (absolute path)

    @classmethod
    def demo(cls) -> ModelSpec:
        return cls(name=DEMO, pretrained=None)

    @classmethod
    def from_options(
        cls, model: str | None, pretrained: str | None, checkpoint: str | None
    ) -> ModelSpec:
        """The spec a user means by the CLI flags `--model/--pretrained/--checkpoint`."""
        if checkpoint:
            path = Path(checkpoint).expanduser().resolve()
            if not path.exists():
                raise ModelUnavailable(f"Checkpoint not found: {checkpoint}")
            # A folder carries its own config (open_clip's local-dir); a file needs the name.
            name = "local-dir" if path.is_dir() else model or DEFAULT_MODEL
            return cls(name=name, pretrained=None, checkpoint=str(path))
        if model == DEMO:
            return cls.demo()
        if model and model.startswith("hf-hub:"):
            return cls(name=model, pretrained=None)
        if model is None:
            return cls(pretrained=pretrained or DEFAULT_PRETRAINED)
        return cls(name=model, pretrained=pretrained)

    @property
    def label(self) -> str:
        if self.checkpoint:
            return f"{self.name} @ {self.checkpoint}"
        if self.pretrained:
            return f"{self.name}/{self.pretrained}"
        return self.name

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        """What names these exact weights: the spec, plus the size and time of a weights file
        on disk (the demo checkpoint, a local checkpoint), which can change under one name."""
        files = [Path(self.checkpoint)] if self.checkpoint else (
            [DEMO_CHECKPOINT] if self.name == DEMO else [])
        stamps = []
        for path in files:
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file():
                    stat = file.stat()
                    stamps.append([str(file.relative_to(path)) if file != path else file.name,
                                   stat.st_size, stat.st_mtime_ns])
        return json.dumps({"spec": self.to_dict(), "files": stamps}, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(**{k: data.get(k) for k in ("name", "pretrained", "checkpoint")})


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Encoder:
    """An open_clip model ready for inference: batched, no grad, fp16 on a GPU."""

    def __init__(self, spec: ModelSpec, model, preprocess, tokenizer, device: str):
        self.spec = spec
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = next(model.parameters()).dtype
        size = getattr(model.visual, "image_size", 224)
        self.image_size = size[0] if isinstance(size, (tuple, list)) else int(size)
        import torch

        with torch.inference_mode():
            probe = tokenizer(["a"]).to(device)
            self.dim = int(model.encode_text(probe).shape[-1])
        scale = getattr(model, "logit_scale", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0
        # Propositions repeat across turns and sessions; a text costs ~1 ms on two cores.
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, spec: ModelSpec, device: str | None = None) -> Encoder:
        device = device or default_device()
        model, preprocess, tokenizer = _create(spec, device)
        model.eval()
        return cls(spec, model, preprocess, tokenizer, device)

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 128) -> np.ndarray:
        tensors = [self.preprocess(image) for image in images]
        return self.encode_pixels(tensors, batch_size)

    def encode_pixels(self, tensors: Sequence[torch.Tensor], batch_size: int = 128) -> np.ndarray:
        """Embed already preprocessed images (so decoding can run apart from the model)."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(tensors), batch_size):
                batch = torch.stack(list(tensors[start : start + batch_size]))
                batch = batch.to(self.device, dtype=self.dtype)
                out.append(_unit(self.model.encode_image(batch)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            import torch

            with torch.inference_mode():
                for start in range(0, len(missing), batch_size):
                    chunk = missing[start : start + batch_size]
                    tokens = self.tokenizer(chunk).to(self.device)
                    vectors = _unit(self.model.encode_text(tokens))
                    with self._lock:
                        for text, vector in zip(chunk, vectors):
                            self._text_cache[text] = vector
                        while len(self._text_cache) > 4096:
                            self._text_cache.popitem(last=False)
        with self._lock:
            return np.stack([self._text_cache[t] for t in texts]) if texts else np.zeros(
                (0, self.dim), np.float32
            )


def _unit(features) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy().astype(np.float32)


def _create(spec: ModelSpec, device: str):
    import open_clip

    precision = "fp16" if device.startswith("cuda") else "fp32"
    if spec.name == DEMO:
        from retrievers.demo import model as demo_model

        with _quiet_root_logger():  # open_clip warns "initialized randomly" before the load
            model, preprocess, tokenizer = demo_model.load_model(device=device)
        if precision == "fp16":
            model = model.half()
        return model, preprocess, tokenizer
    if spec.checkpoint:
        path = Path(spec.checkpoint)
        name = f"local-dir:{path}" if path.is_dir() else spec.name
        _check_architecture(spec.name if not path.is_dir() else None)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=None if path.is_dir() else str(path),
                precision=precision, device=device,
            )
        except (RuntimeError, KeyError, ValueError, OSError) as e:
            raise ModelUnavailable(
                f"Could not load checkpoint {path} as {spec.name}: {_first_line(e)}"
            ) from e
        return model, preprocess, open_clip.get_tokenizer(name)
    if spec.name.startswith("hf-hub:"):
        _ensure_reachable_or_cached(spec.name[len("hf-hub:"):], "open_clip_config.json", spec)
    else:
        _check_architecture(spec.name)
        tags = open_clip.list_pretrained_tags_by_model(spec.name)
        if spec.pretrained not in tags:
            raise UnknownModel(
                f"Unknown pretrained tag {spec.pretrained!r} for {spec.name}; "
                f"known tags: {', '.join(tags) or 'none (use --checkpoint PATH)'}"
            )
        cfg = open_clip.get_pretrained_cfg(spec.name, spec.pretrained)
        if cfg.get("hf_hub"):
            repo_id, filename = os.path.split(cfg["hf_hub"])
            _ensure_reachable_or_cached(repo_id, filename or "open_clip_model.safetensors", spec)
        elif cfg.get("url"):
            _ensure_reachable(cfg["url"], spec)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            spec.name, pretrained=spec.pretrained, precision=precision, device=device
        )
    except Exception as e:
        raise ModelUnavailable(_offline_message(spec, _first_line(e))) from e
    return model, preprocess, open_clip.get_tokenizer(spec.name)


@contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _check_architecture(name: str | None) -> None:
    import open_clip

    if name is not None and name not in open_clip.list_models():
        raise UnknownModel(
            f"Unknown model {name!r}: use `demo`, an open_clip name such as ViT-B-32 "
            "(`python -c 'import open_clip; print(open_clip.list_models())'`), or hf-hub:ORG/REPO"
        )


def _ensure_reachable_or_cached(repo_id: str, filename: str, spec: ModelSpec) -> None:
    from huggingface_hub import constants, try_to_load_from_cache

    for name in (filename, "open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        cached = try_to_load_from_cache(repo_id, name)
        if isinstance(cached, str):
            return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelUnavailable(_offline_message(spec, "HF_HUB_OFFLINE is set"))
    _ensure_reachable(constants.ENDPOINT, spec)


def _ensure_reachable(url: str, spec: ModelSpec, timeout: float = 3.0) -> None:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return
    except OSError as e:
        raise ModelUnavailable(_offline_message(spec, f"{parsed.hostname} unreachable")) from e


def _offline_message(spec: ModelSpec, why: str) -> str:
    return (
        f"Cannot fetch the weights of {spec.label} ({why}). "
        "Use --checkpoint PATH for weights on disk, or --model demo for the bundled demo model."
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
