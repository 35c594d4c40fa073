"""`rummage eval` and `rummage scenarios`: the evaluation commands, their tables, JSON and plot.

The agent's CLI (agent/cli.py) calls `add_commands(subparsers)`; everything here imports lazily so
`rummage --help` stays fast. This is an edge of the program: it prints, and it turns evaluation
errors into `CliError` (one line, exit 2).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from agent.evaluation.metrics import REACHED_BY, REACHED_TOP, reached_by
from agent.evaluation.runner import ABLATIONS, USERS, EvalConfig
from agent.terminal import printable

RESAMPLES = 1000  # bootstrap resamples behind every interval
HITS_PLOTTED = 10  # the k of the Hits@k plot


def add_commands(subparsers) -> None:
    """Register `eval` and `scenarios` on the main parser's subparsers."""
    p = subparsers.add_parser(
        "eval", help="scripted multi-turn evaluation with a simulated user",
        description="A simulated user holds a target image from the test split, opens with one "
        "or two of its attributes and gives one piece of feedback per turn. Reports per turn "
        "Hits@1/5/10, mean and median rank of the target (a target below the top --depth "
        "counts as depth + 1), the share of episodes that had it at rank 1 within t turns and "
        f"the share that had it in the top {REACHED_TOP} (\"top {REACHED_TOP} by turn "
        f"{REACHED_BY}\"), with 95%% bootstrap intervals. Several --agent values run the same "
        "episodes.")
    p.add_argument("--library", "-l", default="demo", help="library to search (default: demo)")
    p.add_argument("--episodes", "-n", type=int, default=100, help="dialogues per agent "
                   "(default 100)")
    p.add_argument("--turns", "-t", type=int, default=10, help="user turns per dialogue "
                   "(default 10)")
    p.add_argument("--agent", nargs="+", default=["full"], choices=list(ABLATIONS),
                   metavar="AGENT", help="one or more of: " + ", ".join(ABLATIONS)
                   + " (default: full)")
    p.add_argument("--seed", type=int, default=0, help="targets and simulator seed (default 0)")
    p.add_argument("--user", default="default", choices=list(USERS),
                   help="the simulated user: default (mixed feedback, opens with one or two "
                   "attributes) or page-down (states every attribute, then only turns pages "
                   "down: 'show me others'); default: default")
    p.add_argument("--depth", type=int, default=100, help="results asked per turn; the rank "
                   "is measured within them (default 100)")
    p.add_argument("--json", metavar="PATH", help="write metrics and every dialogue as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of Hits@10 against turn")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser(
        "scenarios", help="run scripted dialogues from a JSONL file",
        description='One dialogue per line: {"id": "...", "target": <image id or path relative '
        'to the library root>, "turns": ["...", "..."]}. Prints the target\'s rank after each '
        "turn and the per-turn summary; bad lines are reported by number and skipped.")
    p.add_argument("file", metavar="FILE.jsonl")
    p.add_argument("--library", "-l", required=True)
    p.add_argument("--agent", nargs="+", default=["full"], choices=list(ABLATIONS),
                   metavar="AGENT", help="one or more of: " + ", ".join(ABLATIONS))
    p.add_argument("--depth", type=int, default=100, help="results asked per turn (default 100)")
    p.add_argument("--json", metavar="PATH", help="write ranks and metrics as JSON")
    p.set_defaults(func=cmd_scenarios)


# -- commands ------------------------------------------------------------------------------


def cmd_eval(args) -> int:
    from agent.errors import CliError
    from agent.evaluation.runner import EvaluationError, evaluate

    config = EvalConfig(episodes=args.episodes, turns=args.turns, seed=args.seed,
                        depth=args.depth, user=args.user)
    names = list(dict.fromkeys(args.agent))  # once each, in the order given
    if config.episodes < 1 or config.turns < 1:
        raise CliError(f"--episodes and --turns must be at least 1 "
                       f"(got {config.episodes} and {config.turns})")
    if config.depth < config.page:
        raise CliError(f"--depth must be at least {config.page}, the page the simulated user "
                       f"looks at (got {config.depth})")
    _check_outputs(args, CliError)
    agent = _open_agent(args.library)
    try:
        bar = _progress("episodes", len(names) * config.episodes)
        started = time.perf_counter()
        try:
            runs = evaluate(agent, names, config, progress=bar)
        except EvaluationError as e:
            raise CliError(str(e)) from e
        finally:
            bar(None, None)
        seconds = time.perf_counter() - started
        summaries = {run.name: run.metrics(resamples=RESAMPLES, seed=config.seed)
                     for run in runs}
        print(f"{config.episodes} episodes x {config.turns} turns on library "
              f"{args.library!r} ({agent.size} images), {config.user} user, seed "
              f"{config.seed}; ranks within the "
              f"top {config.depth} (a miss counts as {config.depth + 1}); shares in %, 95% "
              "bootstrap intervals in brackets")
        print(format_table(summaries))
        print()
        print(f"after turn {config.turns}:")
        print(format_comparison(summaries, {run.name: run.seconds for run in runs},
                                config.episodes * config.turns))
        print(f"total {seconds:.1f} s")
        if args.json:
            image_paths = agent.library.paths()
            _write_json(args.json, {
                "library": args.library, "images": agent.size, "model": agent.model_label,
                "config": asdict(config), "resamples": RESAMPLES, "seconds": round(seconds, 3),
                "runs": [run.to_dict(summaries[run.name], paths=image_paths) for run in runs],
            })
        if args.plot:
            plot_hits(summaries, args.plot, k=HITS_PLOTTED,
                      title=f"{args.library}: {config.episodes} simulated dialogues "
                      f"({config.user} user)")
    finally:
        agent.close()
    return 0


def cmd_scenarios(args) -> int:
    from agent.errors import CliError
    from agent.evaluation.metrics import as_ranks, summarize
    from agent.evaluation.scenarios import (
        padded_ranks,
        read_scenarios,
        run_scenario,
        target_resolver,
    )

    file = Path(args.file).expanduser()
    if not file.is_file():
        raise CliError(f"No such scenarios file: {args.file}")
    if args.depth < 1:
        raise CliError(f"--depth must be at least 1 (got {args.depth})")
    _check_outputs(args, CliError)
    agent = _open_agent(args.library)
    try:
        image_paths = agent.library.paths()
        resolve = target_resolver(agent.library.metadata(), image_paths, agent.library.root)
        try:
            scenarios, bad = read_scenarios(file, resolve)
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"Cannot read {args.file}: {e}") from e
        for problem in bad:
            print(printable(f"rummage: {file.name}: {problem} (skipped)"), file=sys.stderr)
        if not scenarios:
            raise CliError(f"No usable scenarios in {args.file}")
        results = {}
        for name in dict.fromkeys(args.agent):
            # a scenario's "#3" and "none of these" mean the first page, as for a person
            variant = agent.variant(k=args.depth, page=min(args.depth, EvalConfig.page),
                                    **ABLATIONS[name])
            results[name] = [run_scenario(variant, s) for s in scenarios]
        summaries = {name: summarize(as_ranks(padded_ranks(episodes), args.depth),
                                     resamples=RESAMPLES)
                     for name, episodes in results.items()}
        for name, episodes in results.items():
            print(f"{name}: rank of the target after each turn (- = below the top {args.depth})")
            width = max(len(s.id) for s in scenarios)
            for scenario, episode in zip(scenarios, episodes):
                ranks = " ".join(f"{r if r else '-':>4}" for r in episode.ranks)
                print(printable(f"  {scenario.id:<{width}}  {ranks}"))  # the file's own ids
            print()
        print(f"{len(scenarios)} scenarios, {len(bad)} lines skipped; a finished dialogue keeps "
              "its last rank; shares in %, 95% bootstrap intervals in brackets")
        print(format_table(summaries))
        if args.json:
            _write_json(args.json, {
                "library": args.library, "file": str(file), "depth": args.depth,
                "skipped": [{"line": b.line, "reason": b.reason} for b in bad],
                "runs": [{
                    "agent": name, "config": ABLATIONS[name],
                    "metrics": [m.to_dict() for m in summaries[name]],
                    "scenarios": [{"id": s.id, "line": s.line, "target": s.target,
                                   "path": image_paths.get(s.target), "turns": list(s.turns),
                                   "ranks": e.ranks, "messages": e.messages}
                                  for s, e in zip(scenarios, episodes)],
                } for name, episodes in results.items()],
            })
    finally:
        agent.close()
    return 0


# -- output --------------------------------------------------------------------------------


def format_table(summaries: dict) -> str:
    """One row per agent and turn: hits, ranks and found-within, with intervals."""
    header = ["agent", "turn", "Hits@1", "Hits@5", "Hits@10", "mean rank", "median",
              "found@1 ≤ t", f"top{REACHED_TOP} ≤ t"]
    rows = []
    for name, turns in summaries.items():
        for m in turns:
            rows.append([name if m.turn == 1 else "", str(m.turn),
                         *(_share(m.hits[k]) for k in sorted(m.hits)),
                         _number(m.mean_rank), f"{m.median_rank.value:g}", _share(m.found),
                         _share(m.reached)])
    return _grid(header, rows)


def format_comparison(summaries: dict, seconds: dict[str, float], turns_each: int) -> str:
    """The last turn of every agent side by side, with "top 10 by turn 8" (- when the episodes
    were shorter) and its speed (milliseconds per turn)."""
    header = ["agent", "Hits@1", "Hits@5", "Hits@10", "mean rank", "found@1",
              f"top{REACHED_TOP} by t{REACHED_BY}", "ms/turn"]
    rows = []
    for name, turns in summaries.items():
        last = turns[-1]
        reached = reached_by(turns)
        rows.append([name, *(_share(last.hits[k]) for k in sorted(last.hits)),
                     _number(last.mean_rank), _share(last.found),
                     _share(reached) if reached else "-",
                     f"{1000 * seconds[name] / max(1, turns_each):.0f}"])
    return _grid(header, rows)


def plot_hits(summaries: dict, path: str | Path, *, k: int = 10, title: str = "") -> None:
    """PNG of Hits@k (with its interval as a band) against turn, one line per agent."""
    import matplotlib

    matplotlib.use("Agg")  # no display, and no GUI toolkit, on the machines this runs on
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for name, turns in summaries.items():
            x = [m.turn for m in turns]
            axes.plot(x, [100 * m.hits[k].value for m in turns], marker="o", label=name)
            axes.fill_between(x, [100 * m.hits[k].low for m in turns],
                              [100 * m.hits[k].high for m in turns], alpha=0.15)
        axes.set_xlabel("turn")
        axes.set_ylabel(f"Hits@{k} (%)")
        axes.set_ylim(0, 100)
        axes.set_xticks(x)
        axes.grid(alpha=0.3)
        axes.legend(loc="best")
        if title:
            axes.set_title(title)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def _share(e) -> str:
    return f"{100 * e.value:.1f} [{100 * e.low:.1f}, {100 * e.high:.1f}]"


def _number(e) -> str:
    return f"{e.value:.1f} [{e.low:.1f}, {e.high:.1f}]"


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths)))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


# -- helpers -------------------------------------------------------------------------------


def _open_agent(library: str):
    from agent.api import Agent
    from retrievers.home import rummage_home

    agent = Agent.open(library, home=rummage_home(), persist=False)
    agent.warm_up()  # load the model before the progress bar starts
    return agent


def _check_outputs(args, error) -> None:
    """Fail before the work, not after it, when an output file cannot be written."""
    for option in ("json", "plot"):
        path = getattr(args, option, None)
        if path and not Path(path).expanduser().resolve().parent.is_dir():
            raise error(f"--{option}: no such folder {Path(path).parent}")


def _write_json(path: str, data: dict) -> None:
    Path(path).expanduser().write_text(json.dumps(data, indent=2) + "\n")


def _progress(description: str, total: int):
    """A tqdm bar on stderr; call with (done, total), and (None, None) to close it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="ep", file=sys.stderr, dynamic_ncols=True)

    def update(done, _total) -> None:
        if done is None:
            bar.close()
        else:
            bar.update(done - bar.n)

    return update
