"""Indexing throughput (images/s) of `rummage index` end to end: walk, decode, embed, store.

Two models: the bundled demo model, and ViT-B-32 (the default real model) with random weights,
which costs the same to run as the pretrained one (weights cannot be downloaded here). The
folder is generated: JPEG photos-like noise images at a realistic 640x480, and the demo's own
64 px PNGs. `steady img/s` leaves out the first batch (and so the start-up of decoding
workers): the rate a long run settles at. Each measurement runs in a fresh process, as `rummage index` does, so the start-up of
decoding worker processes is counted; model loading is not. `--workers 0 2` compares decoding in
threads (0) with 2 worker processes; `--rounds` repeats the whole set, interleaved, and the table
shows the median of each row. Prints a table and writes JSON.

    python benchmarks/index_throughput.py [--images 300] [--device cpu|cuda] [--workers 0 2]
        [--batch-size 64] [--rounds 1] [--out bench-out/index_throughput.json]

On a GPU machine (ViT-B-32 anchor: clip-retrieval reports ~1,500 images/s per RTX 3080):

    python benchmarks/index_throughput.py --device cuda --images 3000 --demo-images 0 \\
        --workers 0 4 8 15 --batch-size 256 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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


def measure(home: Path, name: str, spec: ModelSpec, folder: Path, *, device: str,
            workers: int | None, batch_size: int) -> dict:
    from retrievers.decoders import workers_for

    encoder = Encoder.load(spec, device=device)  # model loading is not indexing: measured apart
    library = Library.create(home, name, spec, encoder=encoder)
    batches: list[tuple[float, int]] = []  # (when, images done) at each committed batch
    started = time.perf_counter()
    report = library.index_folder(folder, workers=workers, batch_size=batch_size,
                                  progress=lambda done, _: batches.append(
                                      (time.perf_counter(), done)))
    seconds = time.perf_counter() - started
    library.close()
    # After the first batch, worker start-up is paid: the rate a long run settles at.
    (first_at, first_done), (last_at, last_done) = batches[1], batches[-1]
    steady = (last_done - first_done) / (last_at - first_at) if last_at > first_at else 0.0
    return {"library": name, "model": spec.label, "images": report.added,
            "seconds": round(seconds, 2), "images_per_s": round(report.added / seconds, 1),
            "first_batch_s": round(first_at - started, 2),
            "steady_images_per_s": round(steady, 1),
            "device": encoder.device, "batch_size": batch_size,
            "workers": workers_for(encoder.device, workers)}


def measure_apart(job: dict) -> dict:
    """`measure` in a fresh interpreter: each run starts its own decoding workers."""
    done = subprocess.run([sys.executable, __file__, "--measure", json.dumps(job)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"measurement {job['name']} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--demo-images", type=int, default=3000, help="0 leaves the row out")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda when available")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="decoding processes to compare (0: threads); default: the "
                             "indexer's own choice for the device")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", default="bench-out/index_throughput.json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one measurement, in a child
    args = parser.parse_args()
    if args.measure:
        job = json.loads(args.measure)
        spec = ModelSpec.from_dict(job.pop("spec"))
        print(json.dumps(measure(Path(job.pop("home")), job.pop("name"), spec,
                                 Path(job.pop("folder")), **job)))
        return
    from retrievers.encoders import default_device

    device = args.device or default_device()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        libraries = []
        if args.demo_images:
            from retrievers.demo.world import write_catalogue

            write_catalogue(tmp / "demo-pics", n=args.demo_images)
            libraries.append(("demo", ModelSpec.demo(), tmp / "demo-pics"))
        pics = photos(tmp / "photos", args.images)
        libraries += [("photos-demo", ModelSpec.demo(), pics),
                      ("photos-vitb32", vit_b_32_random(tmp), pics)]
        runs = []
        for round_ in range(args.rounds):
            for name, spec, folder in libraries:
                for workers in args.workers or [None]:
                    job = {"home": str(tmp / f"home-{round_}-{workers}"), "name": name,
                           "spec": spec.to_dict(), "folder": str(folder), "device": device,
                           "workers": workers, "batch_size": args.batch_size}
                    runs.append({**measure_apart(job), "round": round_})
                    print(f"  round {round_} {name} workers={runs[-1]['workers']}: "
                          f"{runs[-1]['images_per_s']} img/s", file=sys.stderr)
    rows = medians(runs)
    print(f"{'library':<15}{'model':<22}{'device':<7}{'batch':>6}{'workers':>8}{'images':>7}"
          f"{'runs':>5}{'s':>8}{'img/s':>9}{'1st batch s':>12}{'steady img/s':>13}")
    for r in rows:
        print(f"{r['library']:<15}{r['model'][:20]:<22}{r['device']:<7}{r['batch_size']:>6}"
              f"{r['workers']:>8}{r['images']:>7}{r['runs']:>5}{r['seconds']:>8}"
              f"{r['images_per_s']:>9}{r['first_batch_s']:>12}{r['steady_images_per_s']:>13}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cores": os.cpu_count(), "device": device,
                               "batch_size": args.batch_size, "medians": rows, "runs": runs},
                              indent=2))


def medians(runs: list[dict]) -> list[dict]:
    """One row per library and worker count: the median seconds and images/s of its rounds."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["library"], run["workers"]), []).append(run)
    return [{**{k: v for k, v in group[0].items() if k != "round"}, "runs": len(group),
             **{key: round(statistics.median(r[key] for r in group), 2)
                for key in ("seconds", "images_per_s", "first_batch_s", "steady_images_per_s")},
             "all_images_per_s": [r["images_per_s"] for r in group]}
            for group in groups.values()]


if __name__ == "__main__":
    main()
