"""A library's text encoder exported once to plain numpy, so text queries need no torch.

Why: a cold `rummage search` took 6.2 s, 3.7x one `import torch` (1.7 s), for 30 ms of work:
open_clip's import (torchvision, torch._dynamo, timm, transformers) 2.3 s, torch 1.1 s, the model
load 0.7 s. Embedding a text is a small causal transformer, which numpy runs at the same speed
as torch on a CPU; with this file and clip_tokens.py a text search imports neither torch nor
open_clip. TorchScript would still import torch (the whole budget of the target); ONNX Runtime
would add two packages (onnx, onnxscript) to export what forty lines of numpy compute.

The export (`export`) walks open_clip's standard text transformer (CLIP.encode_text, or
CustomTextCLIP's TextTransformer) and writes its weights as float32 safetensors with the
structure in the metadata. It is kept only if it agrees with the PyTorch encoder: the same
token ids and cosine >= 0.999 on CHECK_PROMPTS (measured: 1 - 1e-7 on the demo model). Any
other tower (layer scale variants aside: Hugging Face text models, attentional pooling, a CLS
token, another tokenizer) raises Unsupported and the library keeps using PyTorch.

Why positions after the end token are cut off: under the causal mask the end token's output
(what argmax/eos pooling takes) depends only on the positions before it, so a batch is run up
to its longest text, not to the context length (8 tokens of 77 for a usual query).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrievers.clip_tokens import ClipTokenizer

FILE_NAME = "text_tower.safetensors"
FORMAT = 1
CHECK_PROMPTS = (
    "a red dress", "a photo of a dog", "not the blue one, something darker", "",
    "a striped wool coat with long sleeves and a hood", "café naïve 日本 😀",
    "A VERY LONG REQUEST " * 20, "two cats on a sofa next to a window at night", "more like 3",
)
MIN_COSINE = 0.999


class Unsupported(Exception):
    """The model's text tower is not the standard one this module knows how to run."""


class NumpyTextTower:
    """Texts to unit vectors, as the exported model's encode_text gives them."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict):
        self.w = weights
        self.config = config
        self.tokenizer = ClipTokenizer(config["context_length"])
        self.dim = int(weights["projection"].shape[-1])
        self.logit_scale = float(config.get("logit_scale", 100.0))
        # Propositions repeat across turns and sessions, as in Encoder.encode_texts.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> NumpyTextTower | None:
        """The tower stored at path, or None when there is none for this fingerprint (another
        model, an older format, a damaged file): then the caller uses PyTorch."""
        try:
            weights, meta = _map_safetensors(path)
            config = json.loads(meta.get("config", "{}"))
            if config.get("format") != FORMAT or config.get("fingerprint") != fingerprint:
                return None
            return cls(weights, config)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Write beside path and rename into place, so a racing reader sees all or nothing; a
        disk that refuses (read-only, full) is an OSError, as from any other write."""
        from safetensors import SafetensorError
        from safetensors.numpy import save_file

        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            try:
                save_file({k: np.ascontiguousarray(v) for k, v in self.w.items()}, str(partial),
                          metadata={"config": json.dumps(self.config)})
            except SafetensorError as e:  # safetensors reports I/O errors as its own
                raise OSError(str(e)) from e
            partial.chmod(0o644)  # safetensors writes 0600; library.db beside it is 0644
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self.encode_tokens(self.tokenizer(missing))
            with self._lock:
                self._cache.update(zip(missing, vectors))
                while len(self._cache) > 4096:
                    self._cache.popitem(last=False)
        with self._lock:
            if not texts:
                return np.zeros((0, self.dim), np.float32)
            return np.stack([self._cache[t] for t in texts])

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        c, w = self.config, self.w
        pool = c["pool"]
        if pool == "argmax":
            ends = tokens.argmax(axis=-1)
        elif pool == "eos":
            ends = (tokens == c["eos_id"]).argmax(axis=-1)
        elif pool == "first":
            ends = np.zeros(len(tokens), np.int64)
        else:  # "last"
            ends = np.full(len(tokens), tokens.shape[1] - 1)
        batch = len(tokens)
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        length = int(ends.max()) + 1 if c["causal"] else tokens.shape[1]
        # the batch's tokens as the rows of one matrix: each product is one BLAS call, where a
        # (batch, length, width) operand was one call per text (15 prompts: 9.8 -> 6.1 ms)
        x = (w["token_embedding"][tokens[:, :length]]
             + w["positional_embedding"][:length]).reshape(batch * length, -1)
        mask = (np.triu(np.full((length, length), -np.inf, np.float32), 1) if c["causal"]
                else None)
        for i in range(c["layers"]):
            x += self._attention(_layer_norm(x, w, f"{i}.ln_1", c["eps"]), i, batch, mask)
            if i == c["layers"] - 1:
                # past the last attention, rows no longer mix: only the pooled ones are needed
                x = x.reshape(batch, length, -1)[np.arange(batch), ends]
            h = _layer_norm(x, w, f"{i}.ln_2", c["eps"]) @ w[f"{i}.fc_w"]
            h += w[f"{i}.fc_b"]
            h = _activation(h, c["activation"]) @ w[f"{i}.proj_w"]
            h += w[f"{i}.proj_b"]
            x += h * w[f"{i}.ls_2"] if f"{i}.ls_2" in w else h
        if not c["layers"]:
            x = x.reshape(batch, length, -1)[np.arange(batch), ends]
        pooled = _layer_norm(x, w, "ln_final", c["eps"]) @ w["projection"]
        norms = np.linalg.norm(pooled, axis=-1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _attention(self, x: np.ndarray, i: int, batch: int,
                   mask: np.ndarray | None) -> np.ndarray:
        """Self-attention of layer i over x, (batch * length, width) rows."""
        w, heads = self.w, self.config["heads"]
        width = x.shape[-1]
        length = len(x) // batch
        qkv = x @ w[f"{i}.in_w"]
        qkv += w[f"{i}.in_b"]
        qkv = qkv.reshape(batch, length, 3, heads, -1)
        q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))  # (b, heads, l, d)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= 1 / math.sqrt(q.shape[-1])
        if mask is not None:
            scores += mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        out = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, width)
        out = out @ w[f"{i}.out_w"]
        out += w[f"{i}.out_b"]
        return out * w[f"{i}.ls_1"] if f"{i}.ls_1" in w else out


def _map_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The float32 tensors of a safetensors file, memory-mapped, and its metadata. Mapped
    rather than read: a query touches a few rows of the token embedding (25 MB of the demo
    model's 28 MB file, 100 MB of ViT-B-32's), so the pages never used are never read."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    meta = header.pop("__metadata__", None) or {}
    data = np.memmap(path, np.uint8, "r", offset=8 + size)
    weights = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{name} is {entry['dtype']}, not F32")
        start, end = entry["data_offsets"]
        # a plain ndarray view of the mapped bytes: np.memmap's subclass hooks ran on every
        # operation of the forward pass
        weights[name] = np.asarray(data[start:end]).view(np.float32).reshape(entry["shape"])
    return weights, meta


def _layer_norm(x: np.ndarray, w: dict, name: str, eps: float) -> np.ndarray:
    """Layer norm of x's rows (a new array; x is left as it is)."""
    out = x - x.mean(axis=-1, keepdims=True)
    var = np.einsum("...i,...i->...", out, out)[..., None] / out.shape[-1]
    out *= 1 / np.sqrt(var + eps)
    out *= w[f"{name}.w"]
    out += w[f"{name}.b"]
    return out


def _activation(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "quick_gelu":
        return x / (1 + np.exp(-1.702 * x))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (error under 1.5e-7): numpy has no erf, and exact GELU is
    what open_clip's default nn.GELU computes."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    return sign * (1 - poly * np.exp(-x * x))


# -- export (needs torch and the loaded model) ----------------------------------------------


def export(model, tokenizer, fingerprint: str) -> NumpyTextTower:
    """The model's text tower in numpy, checked against the PyTorch encoder; Unsupported when
    the tower or tokenizer is not the standard one or the check fails."""
    import torch

    weights, config = _weights(model, tokenizer)
    scale = getattr(model, "logit_scale", None)
    config.update(format=FORMAT, fingerprint=fingerprint,
                  logit_scale=float(scale.detach().exp()) if scale is not None else 100.0)
    tower = NumpyTextTower(weights, config)
    expected_tokens = tokenizer(list(CHECK_PROMPTS)).cpu().numpy()
    if not np.array_equal(tower.tokenizer(CHECK_PROMPTS), expected_tokens):
        raise Unsupported("the tokenizer differs from open_clip's SimpleTokenizer")
    with torch.inference_mode():
        expected = model.encode_text(torch.from_numpy(expected_tokens).to(
            next(model.parameters()).device)).float().cpu().numpy()
    expected /= np.maximum(np.linalg.norm(expected, axis=-1, keepdims=True), 1e-12)
    cosines = (tower.encode_tokens(expected_tokens) * expected).sum(axis=-1)
    if cosines.min() < MIN_COSINE:
        raise Unsupported(f"the numpy tower agrees only to cosine {cosines.min():.5f}")
    return tower


def _weights(model, tokenizer) -> tuple[dict[str, np.ndarray], dict]:
    import torch
    from torch import nn

    tower = getattr(model, "text", model)  # CustomTextCLIP keeps it apart; CLIP inlines it
    if type(tokenizer).__name__ != "SimpleTokenizer" or getattr(tokenizer, "reduction_fn", None):
        raise Unsupported(f"tokenizer {type(tokenizer).__name__}")
    if getattr(tokenizer.clean_fn, "__name__", "") != "_clean_lower":
        raise Unsupported("a tokenizer cleaning other than 'lower'")
    for absent in ("cls_emb", "attn_pool", "text_pool"):
        if getattr(tower, absent, None) is not None:
            raise Unsupported(absent)
    if getattr(tower, "token_embedding", None) is None or getattr(tower, "transformer", None) is None:
        raise Unsupported("no standard text transformer")

    def array(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().float().cpu().numpy())

    mask = getattr(tower, "attn_mask", None)
    pool = getattr(tower, "text_pool_type", None) or getattr(tower, "pool_type", "argmax")
    if pool not in ("argmax", "eos", "first", "last"):
        raise Unsupported(f"pooling {pool!r}")
    weights = {
        "token_embedding": array(tower.token_embedding.weight),
        "positional_embedding": array(tower.positional_embedding),
        "ln_final.w": array(tower.ln_final.weight), "ln_final.b": array(tower.ln_final.bias),
    }
    projection = tower.text_projection
    if isinstance(projection, nn.Linear):
        if projection.bias is not None:
            raise Unsupported("a projection with a bias")
        weights["projection"] = array(projection.weight.T)
    elif projection is None:
        raise Unsupported("no text projection")
    else:
        weights["projection"] = array(projection)
    activation, eps, heads = None, None, None
    for i, block in enumerate(tower.transformer.resblocks):
        attn = block.attn
        if not isinstance(attn, nn.MultiheadAttention) or attn.in_proj_weight is None:
            raise Unsupported(f"attention {type(attn).__name__}")
        kind = {"QuickGELU": "quick_gelu", "GELU": "gelu"}.get(type(block.mlp.gelu).__name__)
        if kind is None or getattr(block.mlp.gelu, "approximate", "none") != "none":
            raise Unsupported(f"activation {type(block.mlp.gelu).__name__}")
        activation, eps, heads = kind, float(block.ln_1.eps), attn.num_heads
        weights.update({
            f"{i}.ln_1.w": array(block.ln_1.weight), f"{i}.ln_1.b": array(block.ln_1.bias),
            f"{i}.ln_2.w": array(block.ln_2.weight), f"{i}.ln_2.b": array(block.ln_2.bias),
            f"{i}.in_w": array(attn.in_proj_weight.T), f"{i}.in_b": array(attn.in_proj_bias),
            f"{i}.out_w": array(attn.out_proj.weight.T), f"{i}.out_b": array(attn.out_proj.bias),
            f"{i}.fc_w": array(block.mlp.c_fc.weight.T), f"{i}.fc_b": array(block.mlp.c_fc.bias),
            f"{i}.proj_w": array(block.mlp.c_proj.weight.T),
            f"{i}.proj_b": array(block.mlp.c_proj.bias),
        })
        for scale in ("ls_1", "ls_2"):
            if hasattr(getattr(block, scale), "gamma"):
                weights[f"{i}.{scale}"] = array(getattr(block, scale).gamma)
    config = {
        "layers": len(tower.transformer.resblocks), "heads": heads, "eps": eps,
        "activation": activation, "pool": pool, "causal": mask is not None,
        "eos_id": getattr(tower, "text_eos_id", None) or getattr(tower, "eos_id", None),
        "context_length": int(tokenizer.context_length),
    }
    if mask is not None and not torch.equal(
            torch.isinf(mask), torch.triu(torch.ones_like(mask, dtype=torch.bool), 1)):
        raise Unsupported("an attention mask other than causal")
    return weights, config
