"""The `rummage` console script: the agent's commands plus `chat`, the terminal app.

The entry point lives here, in the outermost layer, so that the agent never imports the TUI:
`agent.cli.build_parser()` knows index/search/ask/eval/..., and this module adds `chat`.
Textual is imported only when `chat` runs, so `rummage search` never pays for it.
"""

from __future__ import annotations

import sys

from agent.cli import build_parser, progress_bar
from agent.cli import main as run_command
from retrievers.home import rummage_home


def cmd_chat(args) -> int:
    from tui.app import run_chat

    home = rummage_home()
    if args.library == "demo":
        from retrievers.demo.tour import ensure_demo_library

        ensure_demo_library(home, progress=progress_bar)
    return run_chat(args.library, args.session, home)


def add_chat(sub) -> None:
    p = sub.add_parser("chat", help="the terminal chat app",
                       description="Chat with the agent in a terminal app with thumbnails.")
    p.add_argument("--library", "-l", default="demo")
    p.add_argument("--session", "-s", help="resume this session")
    p.set_defaults(func=cmd_chat)


def main(argv: list[str] | None = None) -> int:
    return run_command(argv, build_parser(more=[add_chat]))


if __name__ == "__main__":
    sys.exit(main())
