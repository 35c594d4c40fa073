"""Indexing throughput (images/s) of `rummage index` end to end: walk, decode, embed, store.

Two models: the bundled demo model, and ViT-B-32 (the default real model) with random weights,
which costs the same to run as the pretrained one (weights cannot be downloaded here). The
folder is generated: JPEG photos-like noise images at a realistic 640x480, and the demo's own
64 px PNGs. Prints a table and writes JSON.

    python benchmarks/index_throughput.py [--images 300] [--out bench-out/index_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from retrievers.encoders import Encoder, ModelSpec
from retrievers.library import Library


def photos(folder: Path, n: int, size=(640, 480)) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        base = rng.integers(0, 255, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
        Image.fromarray(base).resize(size, Image.BILINEAR).save(folder / f"{i:05d}.jpg",
                                                                 quality=90)
    return folder


def vit_b_32_random(folder: Path) -> ModelSpec:
    import open_clip
    import torch

    model = open_clip.create_model("ViT-B-32")
    path = folder / "vit-b-32-random.pt"
    torch.save(model.state_dict(), path)
    return ModelSpec(name="ViT-B-32", pretrained=None, checkpoint=str(path))


def measure(home: Path, name: str, spec: ModelSpec, folder: Path) -> dict:
    encoder = Encoder.load(spec)  # model loading is not indexing: measured apart
    library = Library.create(home, name, spec, encoder=encoder)
    started = time.perf_counter()
    report = library.index_folder(folder)
    seconds = time.perf_counter() - started
    library.close()
    return {"library": name, "model": spec.label, "images": report.added,
            "seconds": round(seconds, 2), "images_per_s": round(report.added / seconds, 1),
            "device": encoder.device}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--demo-images", type=int, default=3000)
    parser.add_argument("--out", default="bench-out/index_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from retrievers.demo.world import write_catalogue

        write_catalogue(tmp / "demo-pics", n=args.demo_images)
        rows = [measure(tmp / "home", "demo", ModelSpec.demo(), tmp / "demo-pics")]
        pics = photos(tmp / "photos", args.images)
        rows.append(measure(tmp / "home", "photos-demo", ModelSpec.demo(), pics))
        rows.append(measure(tmp / "home", "photos-vitb32", vit_b_32_random(tmp), pics))
    print(f"{'library':<16}{'model':<40}{'images':>8}{'s':>8}{'img/s':>9}")
    for r in rows:
        print(f"{r['library']:<16}{r['model'][:38]:<40}{r['images']:>8}{r['seconds']:>8}"
              f"{r['images_per_s']:>9}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cores": os.cpu_count(), "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
