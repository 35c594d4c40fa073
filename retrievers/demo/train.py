"""Train the demo CLIP model on the demo world: `python -m retrievers.demo.train [--steps N]`.

Reproducible by construction: every batch is a pure function of (seed, step), so a run resumed
from its saved state sees the same data as one that never stopped. Only train-split items are
drawn (val is monitored, test stays held out for quality.py), each under a fresh look.

The loss is a multi-positive contrastive loss: a caption often fits more than its own image
("something blue" fits every blue item; two red dresses share a description), so the target of
each row and column is spread over every consistent pair instead of the diagonal alone.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from retrievers.demo.captions import caption
from retrievers.demo.model import (
    CHECKPOINT_PATH,
    CONFIG_PATH,
    create_model,
    load_model,
    save_checkpoint,
    to_tensor,
)
from retrievers.demo.quality import score
from retrievers.demo.schema import ATTRIBUTES
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.world import Item, draw, sample_items

NOT_MENTIONED = -2  # code of an attribute a caption does not mention (matches anything)
NULL = -1  # code of a null attribute (no sleeves on trousers, no pattern colour when solid)


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a training run; recorded in training.json."""

    steps: int = 900  # optimizer steps
    batch: int = 256  # image-caption pairs per step
    seed: int = 0  # seeds the model init, the world and every batch
    lr: float = 1e-3  # peak learning rate (AdamW), after linear warmup, cosine decay to 0
    warmup: int = 50  # steps of linear warmup
    weight_decay: float = 0.1  # on matrices only (not norms, biases, logit scale)
    world_items: int = 20000  # catalogue size the train split is taken from
    world_seed: int = 0  # catalogue seed (the committed demo uses 0)
    partial_share: float = 0.5  # share of captions that mention only some attributes
    catalogue_look_share: float = 0.2  # share of images drawn with the catalogue's own look
    bf16: bool = True  # bfloat16 autocast on CPU (the machine has AVX512-BF16)


def batch_for(recipe: Recipe, items: list[Item], train: np.ndarray, step: int):
    """Images (B,3,H,W float), caption texts, and the (B,B) image-caption consistency matrix."""
    rng = np.random.default_rng([recipe.seed, step])
    chosen = rng.choice(train, recipe.batch, replace=False)
    looks = rng.integers(1, 2**31, recipe.batch)
    keep = rng.random(recipe.batch) < recipe.catalogue_look_share
    pictures = np.stack([
        np.asarray(draw(items[i], 64, None if k else int(look)))
        for i, look, k in zip(chosen, looks, keep)
    ])
    words = random.Random(recipe.seed * 1_000_003 + step)
    texts, mentions = [], []
    for i in chosen:
        partial = words.random() < recipe.partial_share
        text, mentioned = caption(items[i].meta, words, partial=partial)
        texts.append(text)
        mentions.append(mentioned)
    codes = np.array([_codes(items[i].meta) for i in chosen])
    wanted = np.array([_codes(m, missing=NOT_MENTIONED) for m in mentions])
    fits = ((wanted[None, :, :] == NOT_MENTIONED) | (wanted[None, :, :] == codes[:, None, :]))
    return to_tensor(pictures), texts, torch.from_numpy(fits.all(-1))


def _codes(meta: dict, missing: int = NULL) -> list[int]:
    return [
        missing if key not in meta else NULL if meta[key] is None
        else ATTRIBUTES[key].index(meta[key])
        for key in ATTRIBUTE_KEYS
    ]


def multi_positive_loss(logits: torch.Tensor, fits: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy both ways, the targets spread evenly over every fitting pair."""
    target = fits.float()
    images = -(target / target.sum(1, keepdim=True) * F.log_softmax(logits, 1)).sum(1).mean()
    texts = -(target / target.sum(0, keepdim=True) * F.log_softmax(logits, 0)).sum(0).mean()
    return (images + texts) / 2


def attribute_check(model, tokenizer, items: list[Item]) -> dict:
    """Full descriptions of the items against their own pictures (the items are the gallery)."""
    model.eval()
    report = score(model, tokenizer, items, items)
    model.train()
    return {"all_right_at_1": report["all_right_at_1"], **report["per_attribute_at_1"]}


def encode_text_trimmed(model, tokens: torch.Tensor) -> torch.Tensor:
    """model.encode_text on tokens cut after the batch's longest caption: the same features
    (the causal mask keeps padding from reaching the end-of-text token), at half the cost."""
    n = int((tokens != 0).sum(1).max())
    tokens = tokens[:, :n]
    x = model.token_embedding(tokens) + model.positional_embedding[:n]
    x = model.transformer(x, attn_mask=model.attn_mask[:n, :n])
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]
    return x @ model.text_projection


def learning_rate(recipe: Recipe, step: int) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(recipe: Recipe, out: Path, workdir: Path, init: Path | None = None,
          save_minutes: float = 4.0, eval_every: int = 100, log=print) -> dict:
    torch.manual_seed(recipe.seed)
    if init is not None:
        model, _, tokenizer = load_model(checkpoint=init)
        model.train()
    else:
        model, _, tokenizer = create_model()
    items = sample_items(recipe.world_items, recipe.world_seed)
    train_ids = np.array([item.index for item in items if item.meta["split"] == "train"])
    val = [item for item in items if item.meta["split"] == "val"][:1000]

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "logit_scale" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "logit_scale" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=recipe.lr, betas=(0.9, 0.98), eps=1e-6,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / "state.pt"
    history: dict = {"loss": [], "val": [], "seconds": 0.0, "steps_run": 0}
    step = 0
    if state_path.exists():
        state = torch.load(state_path, weights_only=False)
        if state["recipe"] == asdict(recipe):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            step, history = state["step"], state["history"]
            log(f"resumed at step {step} from {state_path}")

    def save() -> None:
        save_checkpoint(model, out)
        torch.save({"recipe": asdict(recipe), "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "step": step, "history": history},
                   workdir / "state.partial")
        (workdir / "state.partial").replace(state_path)

    started = time.perf_counter() - history["seconds"]
    last_save = time.perf_counter()
    running, seen_since, clock = [], 0, time.perf_counter()
    model.train()
    while step < recipe.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, step)
        images, texts, fits = batch_for(recipe, items, train_ids, step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.bf16):
            image_features = F.normalize(model.encode_image(images), dim=-1)
            text_features = F.normalize(encode_text_trimmed(model, tokenizer(texts)), dim=-1)
        logits = model.logit_scale.exp() * image_features.float() @ text_features.float().T
        loss = multi_positive_loss(logits, fits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        running.append(loss.item())
        seen_since += recipe.batch
        history["seconds"] = time.perf_counter() - started
        history["steps_run"] += 1
        if step % 10 == 0 or step == recipe.steps:
            rate = seen_since / (time.perf_counter() - clock)
            history["loss"].append([step, round(float(np.mean(running)), 4)])
            log(f"step {step}/{recipe.steps} loss {np.mean(running):.4f} "
                f"lr {learning_rate(recipe, step - 1):.2e} scale {model.logit_scale.exp():.1f} "
                f"{rate:.0f} img/s elapsed {history['seconds'] / 60:.1f} min")
            running, seen_since, clock = [], 0, time.perf_counter()
        if step % eval_every == 0 or step == recipe.steps:
            check = attribute_check(model, tokenizer, val)
            history["val"].append([step, {k: round(v, 4) for k, v in check.items()}])
            log(f"  val@{step}: " + " ".join(f"{k} {v:.3f}" for k, v in check.items()))
            clock = time.perf_counter()
        if time.perf_counter() - last_save > save_minutes * 60 or step == recipe.steps:
            save()
            last_save = time.perf_counter()
    return history


def hardware() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Recipe()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--no-bf16", action="store_true", help="train in float32")
    parser.add_argument("--out", type=Path, default=CHECKPOINT_PATH, help="checkpoint to write")
    parser.add_argument("--workdir", type=Path, default=Path("runs/demo-train"),
                        help="resumable training state (a rerun with the same recipe resumes)")
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune from this checkpoint instead of a fresh model")
    parser.add_argument("--eval-every", type=int, default=100)
    args = parser.parse_args(argv)
    recipe = Recipe(steps=args.steps, batch=args.batch, seed=args.seed, lr=args.lr,
                    warmup=args.warmup, bf16=not args.no_bf16)

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"training {args.out} with {asdict(recipe)}")
    history = train(recipe, args.out, args.workdir, init=args.init,
                    eval_every=args.eval_every, log=log)
    images_seen = history["steps_run"] * recipe.batch
    summary = {
        "command": "python -m retrievers.demo.train " + " ".join(argv or sys.argv[1:]),
        "recipe": asdict(recipe),
        "init": str(args.init) if args.init else None,
        "config": json.loads(CONFIG_PATH.read_text()),
        "data": {
            "world": f"sample_items(n={recipe.world_items}, seed={recipe.world_seed})",
            "train_on": "split == 'train' only; each image drawn with a fresh look_seed "
                        f"(catalogue look for {recipe.catalogue_look_share:.0%})",
            "captions": f"captions.caption(); {recipe.partial_share:.0%} partial",
            "monitored_on": "the first 1000 val-split items (catalogue looks)",
            "held_out": "split == 'test', scored by python -m retrievers.demo.quality",
        },
        "loss": "multi-positive contrastive (soft targets over consistent image-caption pairs)",
        "wall_seconds": round(history["seconds"], 1),
        "images_per_second": round(images_seen / max(history["seconds"], 1e-9), 1),
        "final_loss": history["loss"][-1][1] if history["loss"] else None,
        "final_val": history["val"][-1][1] if history["val"] else None,
        "hardware": hardware(),
        "loss_curve": history["loss"][::5] + history["loss"][-1:],
        "val_curve": history["val"],
    }
    args.out.with_name("training.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"done: {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), "
        f"{summary['wall_seconds'] / 60:.1f} min, final loss {summary['final_loss']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
