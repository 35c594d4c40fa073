"""Latency of one conversational turn on the demo library, split by graph step.

Runs scripted conversations (from held-out targets' attributes, plus image feedback) through the
Python API with the SQLite checkpointer, as `rummage chat` does, and reports the median and p95
of each step and of the whole turn. Prints a table and writes JSON.

    python benchmarks/turn_bench.py [--sessions 30] [--out bench-out/turn_bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import numpy as np

from agent.api import Agent
from retrievers.demo.schema import script_for
from retrievers.demo.tour import ensure_demo_library
from retrievers.home import rummage_home

STEPS = ("interpret", "decompose", "remember", "retrieve", "rerank", "respond")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench-out/turn_bench.json")
    args = parser.parse_args()

    home = rummage_home()
    ensure_demo_library(home)
    agent = Agent.open("demo", home=home)
    agent.warm_up()
    held_out = agent.library.ids_in_split("test")
    rng = random.Random(args.seed)
    per_step: dict[str, list[float]] = {s: [] for s in STEPS}
    totals: list[float] = []
    for _ in range(args.sessions):
        target = agent.image(rng.choice(held_out))
        session = agent.new_session()
        for text in [*script_for(target.meta), "not 1", "more like 2", "#3"]:
            started = time.perf_counter()
            reply = session.say(text)
            totals.append(time.perf_counter() - started)
            for step in STEPS:
                if step in reply.timings:
                    per_step[step].append(reply.timings[step])
    size = agent.size
    agent.close()

    def stats(values: list[float]) -> dict:
        ms = np.asarray(values) * 1000
        return {"median_ms": round(float(np.median(ms)), 2),
                "p95_ms": round(float(np.percentile(ms, 95)), 2), "n": len(values)}

    report = {
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "library_size": size,
        "steps": {s: stats(v) for s, v in per_step.items() if v},
        "turn_total": stats(totals),
    }
    print(f"{'step':<12}{'median ms':>12}{'p95 ms':>10}")
    for step, s in {**report["steps"], "whole turn": report["turn_total"]}.items():
        print(f"{step:<12}{s['median_ms']:>12.2f}{s['p95_ms']:>10.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
