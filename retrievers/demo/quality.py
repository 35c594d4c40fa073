"""Score the demo model on the held-out test split: `python -m retrievers.demo.quality`.

The gallery is the whole catalogue (every split, catalogue looks), the queries are the test
items' full descriptions. Several items often share all six attributes, and text cannot tell
them apart, so beside exact-item recall we report the recall a perfect attribute reader would
get by chance among its look-alikes (the ceiling), and the attribute-level scores that the
targets are set on.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from retrievers.demo.captions import full_description
from retrievers.demo.model import CHECKPOINT_PATH, load_model, to_tensor
from retrievers.demo.schema import ATTRIBUTES, CAPTIONS, LENGTH, PATTERN, SLEEVES, vocabulary_value
from retrievers.demo.schema import KEYS as ATTRIBUTE_KEYS
from retrievers.demo.world import Item, draw, sample_items

DEFAULT_OUT = Path(__file__).with_name("quality.json")
TARGETS = {"all_right_at_1": 0.80, "per_attribute_at_1": 0.95}
# One plain phrase per attribute value, as the agent's decomposer would send them.
SINGLE_PHRASES = {
    "category": {value: CAPTIONS.nouns[value][0] for value in ATTRIBUTES["category"]},
    "color": {value: value for value in ATTRIBUTES["color"]},
    PATTERN: {value: "plain" if value == "solid" else value for value in ATTRIBUTES[PATTERN]},
    SLEEVES: {value: vocabulary_value(SLEEVES, value) for value in ATTRIBUTES[SLEEVES]},
    LENGTH: {value: f"{CAPTIONS.length_words[value][0]} skirt or dress"
             for value in ATTRIBUTES[LENGTH]},
}


@torch.inference_mode()
def encode_images(model, items: list[Item], batch: int = 500) -> torch.Tensor:
    """Unit-norm embeddings of the items' catalogue pictures."""
    chunks = []
    for start in range(0, len(items), batch):
        pictures = np.stack([np.asarray(draw(item)) for item in items[start:start + batch]])
        chunks.append(F.normalize(model.encode_image(to_tensor(pictures)), dim=-1))
    return torch.cat(chunks)


@torch.inference_mode()
def encode_texts(model, tokenizer, texts: list[str], batch: int = 500) -> torch.Tensor:
    chunks = [F.normalize(model.encode_text(tokenizer(texts[s:s + batch])), dim=-1)
              for s in range(0, len(texts), batch)]
    return torch.cat(chunks)


def score(model, tokenizer, gallery: list[Item], queries: list[Item],
          gallery_features: torch.Tensor | None = None) -> dict:
    """Attribute-level and exact-item retrieval scores of full descriptions of the queries."""
    if gallery_features is None:
        gallery_features = encode_images(model, gallery)
    texts = encode_texts(model, tokenizer, [full_description(q.meta) for q in queries])
    similarity = texts @ gallery_features.T
    top = similarity.topk(10, dim=1).indices.numpy()
    keys = [tuple(item.meta[k] for k in ATTRIBUTE_KEYS) for item in gallery]
    lookalikes = Counter(keys)
    position = {item.index: row for row, item in enumerate(gallery)}

    per_attribute = dict.fromkeys(ATTRIBUTE_KEYS, 0)
    all_right_at_1 = all_right_in_10 = 0
    recall = {1: 0, 5: 0, 10: 0}
    ceiling = {1: 0.0, 5: 0.0, 10: 0.0}
    for query, found in zip(queries, top):
        wanted = tuple(query.meta[k] for k in ATTRIBUTE_KEYS)
        best = gallery[found[0]].meta
        for key in ATTRIBUTE_KEYS:
            per_attribute[key] += best[key] == query.meta[key]
        all_right_at_1 += keys[found[0]] == wanted
        all_right_in_10 += any(keys[row] == wanted for row in found)
        target = position.get(query.index)
        for k in recall:
            recall[k] += target in found[:k]
            ceiling[k] += min(1.0, k / lookalikes[wanted])
    n = len(queries)
    return {
        "queries": n,
        "gallery": len(gallery),
        "all_right_at_1": all_right_at_1 / n,
        "all_right_in_10": all_right_in_10 / n,
        "per_attribute_at_1": {key: count / n for key, count in per_attribute.items()},
        "exact_recall": {f"R@{k}": hits / n for k, hits in recall.items()},
        "exact_recall_ceiling": {f"R@{k}": total / n for k, total in ceiling.items()},
    }


def single_attribute_precision(model, tokenizer, gallery: list[Item],
                               gallery_features: torch.Tensor, k: int = 50) -> dict:
    """For one-attribute queries ("blue", "striped", "long sleeves"): the share of the top k
    results that have the attribute, averaged over each attribute's values."""
    result = {}
    for key, phrases in SINGLE_PHRASES.items():
        texts = encode_texts(model, tokenizer, list(phrases.values()))
        top = (texts @ gallery_features.T).topk(k, dim=1).indices.numpy()
        hits = [np.mean([gallery[row].meta[key] == value for row in rows])
                for value, rows in zip(phrases, top)]
        result[key] = float(np.mean(hits))
    return result


def evaluate(checkpoint: Path = CHECKPOINT_PATH, n: int = 20000, seed: int = 0) -> dict:
    """The full held-out evaluation of a checkpoint against the catalogue of (n, seed)."""
    model, _, tokenizer = load_model(checkpoint=checkpoint)
    started = time.perf_counter()
    gallery = sample_items(n, seed)
    features = encode_images(model, gallery)
    encode_seconds = time.perf_counter() - started
    queries = [item for item in gallery if item.meta["split"] == "test"]
    report = score(model, tokenizer, gallery, queries, features)
    report["single_attribute_precision_at_50"] = single_attribute_precision(
        model, tokenizer, gallery, features)
    report["draw_and_encode_images_per_second"] = round(n / encode_seconds, 1)
    report["checkpoint"] = Path(checkpoint).name
    report["world"] = f"sample_items(n={n}, seed={seed}); queries: split == 'test'"
    report["targets"] = TARGETS
    report["meets_targets"] = (
        report["all_right_at_1"] >= TARGETS["all_right_at_1"]
        and min(report["per_attribute_at_1"].values()) >= TARGETS["per_attribute_at_1"]
    )
    return report


def table(report: dict) -> str:
    lines = [f"{report['queries']} test queries against {report['gallery']} catalogue images",
             f"  all attributes right, top-1   {report['all_right_at_1']:.3f}   "
             + f"(target >= {TARGETS['all_right_at_1']:.2f})",
             f"  all attributes right, top-10  {report['all_right_in_10']:.3f}",
             f"  per attribute, top-1 (target >= {TARGETS['per_attribute_at_1']:.2f}):"]
    lines += [f"    {key:<14}{value:.3f}" for key, value in report["per_attribute_at_1"].items()]
    lines.append("  exact item recall (ceiling for a perfect attribute reader):")
    lines += [f"    {k:<14}{v:.3f}  ({report['exact_recall_ceiling'][k]:.3f})"
              for k, v in report["exact_recall"].items()]
    lines.append("  one-attribute queries, precision@50:")
    lines += [f"    {key:<14}{value:.3f}"
              for key, value in report["single_attribute_precision_at_50"].items()]
    lines.append(f"  meets targets: {'yes' if report['meets_targets'] else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT_PATH)
    args = parser.parse_args(argv)
    report = evaluate(args.checkpoint)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
