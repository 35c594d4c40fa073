"""`rummage demo`: build the demo library on first use, then hold a scripted conversation.

The conversation is scripted from a held-out target's attributes, the way a person would
describe it bit by bit (schema.script_for), and then finishes with image feedback ("more like
3"), because items with the same attributes differ only in looks. Each turn prints what was
said, the top results with their attributes, and where the target now ranks.

The tour drives whatever agent it is handed (the CLI passes an `agent.Agent`): this module sits
below the agent and imports none of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from retrievers.demo.schema import describe, differing, script_for
from retrievers.demo.shopper import Pictures
from retrievers.encoders import ModelSpec
from retrievers.library import DB_NAME, Library

DEMO_LIBRARY = "demo"


def ensure_demo_library(home: Path, n: int = 20000, progress: Callable | None = None,
                        seed: int = 0) -> Path:
    """Generate the catalogue and index it as the library `demo` (quick when both exist)."""
    from retrievers.demo.world import write_catalogue

    folder = home / DEMO_LIBRARY
    catalogue = folder / "catalogue"
    # a new demo library reads the demo world's words; an existing one keeps its user's choice
    new = not (folder / DB_NAME).is_file()
    library = Library.create(home, DEMO_LIBRARY, ModelSpec.demo(),
                             vocabulary="demo" if new else None)
    try:
        if len(library) >= n and library.root == catalogue.resolve():
            if library.catalog.looks_missing:  # a demo library from before m003
                library.index_folder(catalogue, look_progress=progress("reading looks")
                                     if progress else None)
            return folder
        rows = write_catalogue(catalogue, n=n, seed=seed,
                               progress=progress("drawing") if progress else None)
        library.index_folder(catalogue, metadata=dict(rows),
                             progress=progress("embedding") if progress else None)
    finally:
        library.close()
    return folder


def run_tour(agent: Any, out: TextIO, seed: int = 7, turns_of_feedback: int = 4) -> int:
    """The scripted conversation with `agent` (an opened agent.Agent on the demo library)."""
    looking = agent.variant(k=1000)  # a long list, so the target's rank can be shown
    target = agent.image(random.Random(seed).choice(agent.library.ids_in_split("test")))
    out.write(f"Library {agent.library_name!r}: {agent.size} images, model "
              f"{agent.model_label}\n")
    out.write(f"Target #{target.id}: {describe(target.meta)}  ({target.path})\n\n")
    session = looking.new_session()
    script = script_for(target.meta)
    reply = None
    for number, text in enumerate(script, 1):
        reply = session.say(text)
        _show(out, number, text, reply, target.id, agent)
    for extra in range(turns_of_feedback):
        rank = _rank(reply, target.id)
        if rank == 1:
            break
        pick = _closest(reply, target, agent)
        text = f"more like {pick}" if pick else "not 1"  # pick 1 is fine: it is a "like"
        reply = session.say(text)
        _show(out, len(script) + extra + 1, text, reply, target.id, agent)
    out.write(f"\nSession {session.id} is saved: `rummage chat --session {session.id}` "
              "continues it.\n")
    return 0


def _rank(reply, target_id: int) -> int | None:
    return next((r.rank for r in reply.results if r.id == target_id), None)


def _closest(reply, target, agent) -> int | None:
    """What a person would point at: of the first page, the result right in the most
    attributes and, among those, the one that looks most like the target."""
    page = reply.results[:10]
    if any(r.id == target.id for r in page):
        return next(r.rank for r in page if r.id == target.id)
    looks = Pictures({r.id: r.path for r in page} | {target.id: target.path}).distance_to(
        target.id)

    def distance(result) -> tuple:
        wrong = len(differing(agent.image(result.id).meta, target.meta))
        return (wrong, looks(result.id), result.rank)

    return min(page, key=distance).rank if page else None


def _show(out: TextIO, number: int, text: str, reply, target_id: int, agent) -> None:
    rank = _rank(reply, target_id)
    where = f"target at rank {rank}" if rank else "target not in the top 1000"
    out.write(f"turn {number}: \u201c{text}\u201d  \u2192  {where}\n")
    if reply.message:
        out.write(f"  ! {reply.message}\n")
    out.write(f"  memory: {reply.summary}\n")
    for result in reply.results[:5]:
        mark = "  \u2190 target" if result.id == target_id else ""
        out.write(f"  {result.rank:2d}. #{result.id:<6d} "
                  f"{describe(agent.image(result.id).meta)}{mark}\n")
