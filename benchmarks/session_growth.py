"""What a long session costs on disk, and that losing its checkpoints loses none of its turns.

Runs one scripted session of --turns turns (every move: requests, refinements, "none of these",
feedback, undo, questions) on a copy of the demo library's tables in a temporary folder, as
`rummage chat` does (SQLite checkpointer and store), and reports the bytes of checkpoints.db
(with its WAL) every --every turns. Then it deletes checkpoints.db, reopens the session, and
checks that every recorded turn is still there and that the next turn continues from the last
memory. Prints a table and writes JSON.

    python benchmarks/session_growth.py [--turns 200] [--every 25] [--out bench-out/session_growth.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from pathlib import Path

from agent.api import Agent
from retrievers.demo.tour import ensure_demo_library
from retrievers.home import rummage_home

SCRIPT = ("a red dress with long sleeves", "make it blue", "not 2", "none of these",
          "more like 3 but striped", "undo", "what do you remember?", "without a collar",
          "show me others", "thanks", "#1 is the one", "shorter")


def checkpoint_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("checkpoints.db*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--out", default="bench-out/session_growth.json")
    args = parser.parse_args()

    home = rummage_home()
    ensure_demo_library(home)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo-copy"
        folder.mkdir()
        for name in ("library.db", "index.faiss", "index.faiss.json"):
            shutil.copy2(home / "demo" / name, folder / name)
        agent = Agent.open(folder)
        session = agent.new_session()
        rows = []
        for turn in range(1, args.turns + 1):
            session.say(SCRIPT[(turn - 1) % len(SCRIPT)])
            if turn % args.every == 0 or turn == args.turns:
                size = checkpoint_bytes(folder)
                rows.append({"turns": turn, "checkpoint_bytes": size,
                             "bytes_per_turn": round(size / turn)})
        memory_before = [m.label for m in session.memory]
        recorded = len(agent.store.turns(session.id))
        agent.close()

        for path in folder.glob("checkpoints.db*"):
            path.unlink()
        agent = Agent.open(folder)
        again = agent.session(session.id)
        kept = len(agent.store.turns(session.id))
        reply = again.say("make it green")
        after = agent.store.turns(session.id)
        memory_rebuilt = [m.label for m in again.memory]
        agent.close()

    result = {
        "turns": args.turns, "growth": rows, "recorded_turns": recorded,
        "kept_after_deleting_checkpoints": kept,
        "next_turn_number_after_rebuild": after[-1]["turn"],
        "memory_before": memory_before, "memory_after_rebuild_and_make_it_green": memory_rebuilt,
        "results_after_rebuild": len(reply.results), "machine": platform.machine(),
    }
    print(f"{'turns':>6} {'checkpoint bytes':>17} {'bytes/turn':>11}")
    for row in rows:
        print(f"{row['turns']:>6} {row['checkpoint_bytes']:>17,} {row['bytes_per_turn']:>11,}")
    print(f"recorded turns {recorded}; after deleting checkpoints.db: {kept} kept, the next "
          f"turn is number {after[-1]['turn']}")
    print(f"memory before: {' · '.join(memory_before)}")
    print(f"memory after rebuild + 'make it green': {' · '.join(memory_rebuilt)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
