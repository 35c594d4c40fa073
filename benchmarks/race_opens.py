"""Racing first opens of a new library: how often a process fails, how often the file is broken.

Each round makes a new library folder and starts 3 processes that wait at a file barrier, then
open the same new library.db at once: through the catalog and the conversation store ("open"),
or as `rummage index` of one small folder with the demo model ("index"). A round's file is
broken when it cannot be opened afterwards, or when the rows are not one per image.

    PYTHONPATH=. python benchmarks/race_opens.py [--rounds 20] [--index-rounds 5] [--json out]

Run it against another checkout (PYTHONPATH=/that/checkout, from another folder) to compare.
Measured on 2 cores (a test run sharing them), 20 open rounds and 5 index rounds of 3 processes:

    before: main at 69a7123 (user_version ladder, sqlite-utils Migrations with an ALTER step,
            plain INSERT)            open: 22/60 failed, 10/20 broken   index: 7/15 failed
    after:  retrievers/migrations.py, upsert
                                     open:  0/60 failed,  0/20 broken   index: 0/15 failed
    (index: 0/5 broken in both; open 1.1 s a round after, 3.1 s before; index ~60 s a round,
    three processes loading torch on two cores)

Failures before: "duplicate column name: appearance" / "reply", "database is locked",
"UNIQUE constraint failed: _sqlite_migrations.migration_set, _sqlite_migrations.name"; a broken
file fails every later open with "duplicate column name".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PROCESSES = 3

# The child waits until every racer is ready, so the opens start within a millisecond.
_BARRIER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    barrier, me, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < count:
        time.sleep(0.0005)
""")

_OPEN = _BARRIER + textwrap.dedent("""
    from memory.store import Store
    from retrievers.catalog import Catalog
    Catalog(Path(sys.argv[4])).close()
    Store(Path(sys.argv[4])).close()
""")

_INDEX = _BARRIER + textwrap.dedent("""
    from agent.cli import main
    sys.exit(main(["index", sys.argv[4], "--library", "raced", "--model", "demo"]))
""")


def race(script: str, args: list[str], env: dict) -> list[str]:
    """Run PROCESSES copies of script at once; the stderr tail of each one that failed."""
    with tempfile.TemporaryDirectory() as barrier:
        children = [
            subprocess.Popen([sys.executable, "-c", script, barrier, str(n), str(PROCESSES), *args],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for n in range(PROCESSES)
        ]
        failures = []
        for child in children:
            _, err = child.communicate(timeout=300)
            if child.returncode != 0:
                failures.append(_last_error(err))
        return failures


def _last_error(stderr: str) -> str:
    """The line that says what went wrong (not the progress bar's last state)."""
    lines = [line for line in stderr.strip().splitlines() if "%|" not in line]
    named = [line for line in lines if "Error" in line or line.startswith("rummage:")]
    return (named or lines or ["no output"])[-1]


def broken(db: Path, images: int | None = None) -> str:
    """Why the library.db at db cannot be used after the race ("" when it can)."""
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        from memory.store import Store
        from retrievers.catalog import Catalog
        catalog = Catalog(Path(sys.argv[1]))
        paths = [r[0] for r in catalog.db.execute("SELECT path FROM images")]
        catalog.close()
        Store(Path(sys.argv[1])).close()
        print(len(paths), len(set(paths)))
    """)
    done = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1]
    rows, distinct = map(int, done.stdout.split())
    if rows != distinct or (images is not None and rows != images):
        return f"{rows} rows for {distinct} paths (expected {images})"
    return ""


def run(rounds: int, index_rounds: int) -> dict:
    from PIL import Image

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for kind, count in (("open", rounds), ("index", index_rounds)):
            failures, broken_files, seconds = [], [], []
            for n in range(count):
                started = time.perf_counter()
                folder = scratch / f"{kind}{n}"
                folder.mkdir()
                if kind == "open":
                    db = folder / "library.db"
                    failures += race(_OPEN, [str(db)], env)
                    expected = None
                else:
                    photos = folder / "photos"
                    photos.mkdir()
                    for i in range(6):
                        Image.new("RGB", (24, 24), (i * 40, 255 - i * 40, 90)).save(
                            photos / f"{i}.png")
                    env["RUMMAGE_HOME"] = str(folder / "home")
                    failures += race(_INDEX, [str(photos)], env)
                    db, expected = folder / "home" / "raced" / "library.db", 6
                why = broken(db, expected)
                if why:
                    broken_files.append(why)
                seconds.append(time.perf_counter() - started)
            results[kind] = {
                "rounds": count, "processes": count * PROCESSES, "failures": len(failures),
                "broken": len(broken_files), "seconds_per_round": round(sum(seconds) / max(count, 1), 2),
                "failure_messages": sorted(set(failures)), "broken_messages": sorted(set(broken_files)),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of racing first opens")
    parser.add_argument("--index-rounds", type=int, default=5,
                        help="rounds of racing first `rummage index` runs (loads torch: slower)")
    parser.add_argument("--json", type=Path, default=Path("bench-out/race_opens.json"))
    args = parser.parse_args()
    results = run(args.rounds, args.index_rounds)
    print(f"{'race':<8}{'rounds':>8}{'processes':>11}{'failed':>8}{'broken':>8}{'s/round':>9}")
    for kind, r in results.items():
        print(f"{kind:<8}{r['rounds']:>8}{r['processes']:>11}{r['failures']:>8}{r['broken']:>8}"
              f"{r['seconds_per_round']:>9}")
        for message in r["failure_messages"] + r["broken_messages"]:
            print(f"    {message}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
