"""Cold start of the CLI against one `import torch`, interleaved, on the demo library.

Each round runs, one after another, fresh interpreters for: `python -c "import torch"`,
`rummage search "a red dress" --library demo --json`, `rummage ask "a red dress" --library demo
--json`, and `rummage index` of a small unchanged folder. Rounds interleave the commands so the
machine's noise falls on all of them alike; the table gives each one's median wall time and its
ratio to the median import of torch. Prints a table and writes JSON.

    python benchmarks/cold_start.py [--rounds 5] [--out bench-out/cold_start.json]

The code measured is whatever PYTHONPATH points at (run it from another folder with
PYTHONPATH=/path/to/checkout to measure that checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

QUERY = "a red dress"


def commands(folder: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "agent.cli"]
    return {
        "import torch": [sys.executable, "-c", "import torch"],
        "search": [*cli, "search", QUERY, "--library", "demo", "--json"],
        "ask": [*cli, "ask", QUERY, "--library", "demo", "--json"],
        "index unchanged": [*cli, "index", str(folder), "--library", "cold-start-bench"],
    }


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default="bench-out/cold_start.json")
    args = parser.parse_args()

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pictures"
        folder.mkdir()
        for n in range(8):
            Image.new("RGB", (64, 64), (30 * n, 200 - 20 * n, 90)).save(folder / f"{n}.png")
        # The small library lives in its own home beside the demo, which the run reads as is.
        home = Path(env.get("RUMMAGE_HOME") or Path.home() / ".local/share/rummage")
        steps = commands(folder)
        shutil.rmtree(home / "cold-start-bench", ignore_errors=True)  # left by a killed run
        # the first run creates the library and embeds; the rounds find the folder unchanged
        timed([*steps["index unchanged"], "--model", "demo"], env)
        timed(steps["search"], env)  # a first search may export the text tower (once)
        times: dict[str, list[float]] = {name: [] for name in steps}
        try:
            for _ in range(args.rounds):
                for name, command in steps.items():
                    times[name].append(timed(command, env))
        finally:
            shutil.rmtree(home / "cold-start-bench", ignore_errors=True)

    base = statistics.median(times["import torch"])
    rows = {name: {"median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3),
                   "ratio_to_import_torch": round(statistics.median(t) / base, 2),
                   "runs_s": [round(x, 3) for x in t]} for name, t in times.items()}
    print(f"{'command':<18}{'median s':>10}{'min s':>8}{'x import torch':>16}")
    for name, row in rows.items():
        print(f"{name:<18}{row['median_s']:>10.2f}{row['min_s']:>8.2f}"
              f"{row['ratio_to_import_torch']:>16.2f}")
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "code": os.environ.get("PYTHONPATH", "installed package"),
              "rounds": args.rounds, "commands": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
