"""Two command lines taking turns in one session at once: is every turn that succeeded kept?

Copies the demo library's tables into a temporary RUMMAGE_HOME, starts a session with one
`rummage ask`, then runs --loops processes at once, each a loop of --turns
`rummage ask TEXT --session S` (a fresh process per turn, as a shell script would). Counts the
turns that exited 0 and checks that each of them is recorded in the store, in its loop's order,
and that the rest failed with one line. Prints a table and writes JSON.

    python benchmarks/session_race.py [--loops 2] [--turns 20] [--out bench-out/session_race.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memory.store import Store
from retrievers.demo.tour import ensure_demo_library
from retrievers.home import rummage_home

RUMMAGE = [sys.executable, "-m", "agent.cli"]


def loop(name: str, turns: int, session: str, env: dict) -> list[dict]:
    out = []
    for i in range(turns):
        text = f"{name} {i} red dress"
        done = subprocess.run([*RUMMAGE, "ask", text, "--library", "race", "--session",
                               session], capture_output=True, text=True, env=env, check=False)
        out.append({"text": text, "code": done.returncode,
                    "stderr_lines": len(done.stderr.strip().splitlines()),
                    "stderr": done.stderr.strip()[-300:],
                    "traceback": "Traceback" in done.stderr})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=2)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--out", default="bench-out/session_race.json")
    args = parser.parse_args()

    source = rummage_home()
    ensure_demo_library(source)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "race").mkdir()
        for name in ("library.db", "index.faiss", "index.faiss.json"):
            shutil.copy2(source / "demo" / name, home / "race" / name)
        env = {**os.environ, "RUMMAGE_HOME": str(home)}
        first = subprocess.run([*RUMMAGE, "ask", "a dress", "--library", "race", "--json"],
                               capture_output=True, text=True, env=env, check=True)
        session = json.loads(first.stdout)["session"]
        started = time.perf_counter()
        names = [f"loop{n}" for n in range(args.loops)]
        with ThreadPoolExecutor(args.loops) as pool:
            runs = dict(zip(names, pool.map(lambda n: loop(n, args.turns, session, env), names)))
        seconds = time.perf_counter() - started
        with Store(home / "race" / "library.db") as store:
            recorded = [t["text"] for t in store.turns(session)][1:]

    rows = []
    for name, results in runs.items():
        succeeded = [r["text"] for r in results if r["code"] == 0]
        kept = [t for t in recorded if t.startswith(name + " ")]
        rows.append({"loop": name, "turns": len(results), "exited_0": len(succeeded),
                     "recorded": len(kept), "in_order": kept == succeeded,
                     "lost": len(set(succeeded) - set(kept)),
                     "failed_one_line": sum(r["code"] != 0 and r["stderr_lines"] == 1
                                            for r in results),
                     "tracebacks": sum(r["traceback"] for r in results)})
    print(f"{'loop':<7} {'turns':>5} {'exit 0':>6} {'recorded':>8} {'in order':>8} "
          f"{'lost':>4} {'1-line fails':>12} {'tracebacks':>10}")
    for r in rows:
        print(f"{r['loop']:<7} {r['turns']:>5} {r['exited_0']:>6} {r['recorded']:>8} "
              f"{r['in_order']!s:>8} {r['lost']:>4} {r['failed_one_line']:>12} "
              f"{r['tracebacks']:>10}")
    print(f"{seconds:.0f} s for {args.loops} x {args.turns} turns")
    for name, results in runs.items():
        for r in results:
            if r["code"]:
                print(f"{name}: {r['text']!r} exited {r['code']}: {r['stderr']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "seconds": round(seconds, 1)}, indent=2))


if __name__ == "__main__":
    main()
