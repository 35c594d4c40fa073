"""The agent's commands of `rummage`: index folders, search, ask, evaluate, show vocabularies.

This is an edge where library errors become one line on stderr and a non-zero exit; nothing
below it prints or exits. The console script itself is `tui.cli:main`, the outermost layer,
which adds `chat` to these commands: the agent never imports the terminal app.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.errors import CliError
from retrievers.home import rummage_home

EXIT_USER_ERROR = 2


def progress_bar(description: str):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit="img", file=sys.stderr,
                       disable=total == 0, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


# -- commands ------------------------------------------------------------------------------


def cmd_index(args) -> int:
    from retrievers.encoders import Encoder, ModelSpec
    from retrievers.library import Library

    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise CliError(f"No such folder: {args.folder}")
    home = rummage_home()
    vocabulary = _checked_vocabulary(args.vocabulary) if args.vocabulary else None
    existing = home / args.library / "library.db"
    if existing.is_file() and not (args.model or args.checkpoint or args.pretrained):
        library = Library.open(args.library, home)  # the library remembers its model
        if vocabulary is not None:  # switching vocabularies keeps the images
            library.use_vocabulary(vocabulary)
    else:
        # Load the model before creating anything, so a bad name leaves no empty library.
        spec = ModelSpec.from_options(args.model, args.pretrained, args.checkpoint)
        library = Library.create(home, args.library, spec, vocabulary=vocabulary,
                                 encoder=Encoder.load(spec))
    try:
        library.encoder  # noqa: B018 - fail on the model before walking the folder
        print(f"Indexing {folder} into library {library.name!r} with {library.spec.label} "
              f"(vocabulary {library.vocabulary_ref})", file=sys.stderr)
        report = library.index_folder(folder, progress=progress_bar("embedding"))
    finally:
        library.close()
    rate = report.embedded / report.seconds if report.seconds else 0.0
    print(
        f"{report.seen} image files: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.removed} removed, "
        f"{len(report.skipped)} skipped; library {args.library!r} holds {report.total} images "
        f"({report.seconds:.1f} s, {rate:.0f} img/s)"
    )
    reasons: dict[str, int] = {}
    for reason in report.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  skipped {count}: {reason}")
    if report.total == 0:
        print(f"rummage: nothing could be indexed in {folder}", file=sys.stderr)
        return 1
    return 0


def cmd_search(args) -> int:
    from retrievers.library import Library

    if not args.text and not args.image:
        raise CliError("Give a TEXT to search for, or --image PATH")
    if args.k < 1:
        raise CliError(f"-k must be at least 1 (got {args.k})")
    library = Library.open(args.library, rummage_home())
    try:
        if args.image:
            if not Path(args.image).is_file():
                raise CliError(f"No such image: {args.image}")
            hits = library.search_image(Path(args.image), args.k)
        else:
            hits = library.search_text(args.text, args.k)
    finally:
        library.close()
    if args.json:
        print(json.dumps(
            [{"rank": r, "id": h.id, "path": h.path, "score": round(h.score, 6)}
             for r, h in enumerate(hits, 1)], indent=2))
    else:
        for rank, hit in enumerate(hits, 1):
            print(f"{rank:3d}  {hit.score:6.3f}  #{hit.id:<6d} {hit.path}")
    return 0


def cmd_libraries(args) -> int:
    from retrievers.library import list_libraries

    items = list_libraries(rummage_home())
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print(f"No libraries in {rummage_home()} yet: `rummage index DIR --library NAME` "
              "or `rummage demo`")
        return 0
    width = max(len(i["name"]) for i in items)
    for item in items:
        if "unreadable" in item:
            print(f"{item['name']:<{width}}  unreadable: {item['unreadable']}")
            continue
        print(f"{item['name']:<{width}}  {item['images']:>8d} images  {item['model']}"
              f"  vocabulary {item['vocabulary']}  {item['root'] or ''}")
    return 0


def cmd_demo(args) -> int:
    from agent.api import Agent
    from retrievers.demo.tour import DEMO_LIBRARY, ensure_demo_library, run_tour

    print("Preparing the demo library (first run: ~20,000 drawn garments, then embedded)...",
          file=sys.stderr)
    home = rummage_home()
    ensure_demo_library(home, progress=progress_bar)
    agent = Agent.open(DEMO_LIBRARY, home=home)
    try:
        return run_tour(agent, sys.stdout, seed=args.seed)
    finally:
        agent.close()


def _checked_vocabulary(ref: str) -> str:
    """A shipped name as it is, a file as its absolute path; checked by loading it."""
    from retrievers.vocabularies import SHIPPED, load_vocabulary

    if ref not in SHIPPED and Path(ref).expanduser().is_file():
        ref = str(Path(ref).expanduser().resolve())
    load_vocabulary(ref)  # a bad file fails here, in one line, before anything is written
    return ref


def cmd_vocabulary(args) -> int:
    from retrievers.library import Library
    from retrievers.vocabularies import list_vocabularies, load_vocabulary

    if args.action == "list":
        for name in list_vocabularies():
            vocabulary = load_vocabulary(name)
            print(f"{name:<8} {sum(len(s.values) for s in vocabulary.slots):>4} values in "
                  f"{len(vocabulary.slots)} slots  {vocabulary.description}")
        return 0
    if args.library and args.name:
        raise CliError("Give a vocabulary NAME|PATH or --library NAME, not both")
    if args.library:
        library = Library.open(args.library, rummage_home())
        try:
            ref = library.vocabulary_ref
        finally:
            library.close()
    else:
        ref = _checked_vocabulary(args.name or "photos")
    print(load_vocabulary(ref).describe())
    return 0


def cmd_ask(args) -> int:
    from agent.api import Agent

    scorer = None
    if args.cross_encoder:
        from retrievers.rerank import CrossEncoderReranker

        if not Path(args.cross_encoder).is_dir():
            raise CliError(f"No such model folder: {args.cross_encoder}")
        scorer = CrossEncoderReranker.from_pretrained(args.cross_encoder)
    agent = Agent.open(args.library, home=rummage_home(), scorer=scorer)
    try:
        session = agent.session(args.session) if args.session else agent.new_session()
        reply = session.say(args.text)
        if args.json:
            print(json.dumps({
                "session": session.id, "summary": reply.summary, "message": reply.message,
                "notice": reply.notice, "understood": reply.understood, "answer": reply.answer,
                "results": [{"rank": r.rank, "id": r.id, "path": r.path,
                             "score": round(r.score, 6), "evidence": r.evidence}
                            for r in reply.results],
            }, indent=2))
            return 0
        if reply.message:
            _print(reply.message)
        if reply.answer:
            _print(reply.answer)

        _print(f"memory: {reply.summary}")
        if reply.notice and not reply.message:
            _print(reply.notice)
        yes, no = _marks()
        labels = next((list(r.evidence) for r in reply.results if r.evidence), [])
        if labels:  # one mark per constraint, in this order: met or not
            _print(f"{yes}/{no}: " + ", ".join(labels))
        for r in reply.results:
            mark = f"{r.marks(yes, no):<{len(labels)}}  " if labels else ""
            _print(f"{r.rank:3d}  #{r.id:<6d} {mark}{r.path}")
        if reply.understood and not reply.message:
            _print(f"understood: {reply.understood}")
        print(f"session: {session.id}  (continue with --session {session.id})")
    finally:
        agent.close()
    return 0


def _marks() -> tuple[str, str]:
    """✓ and ✗ where the terminal's encoding can show them, + and - elsewhere."""
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "+", "-"
    return "✓", "✗"


def _print(line: str) -> None:
    """A line for a terminal of any encoding: what it cannot show becomes "?" ("dress ? red")."""
    encoding = sys.stdout.encoding or "ascii"
    try:
        print(line.encode(encoding, "replace").decode(encoding))
    except LookupError:
        print(line)


# -- the parser ----------------------------------------------------------------------------


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (remembered by the library)")
    group.add_argument("--model", help="open_clip model name, hf-hub:ORG/REPO, or 'demo' "
                       "(default: ViT-B-32 with --pretrained laion2b_s34b_b79k)")
    group.add_argument("--pretrained", help="open_clip pretrained tag, e.g. laion2b_s34b_b79k")
    group.add_argument("--checkpoint", help="local weights file or open_clip model folder")


def build_parser(more: Sequence[Callable] = ()) -> argparse.ArgumentParser:
    """The parser of the agent's commands; each of `more` adds commands to its subparsers."""
    parser = argparse.ArgumentParser(
        prog="rummage",
        description="Conversational image search in the terminal.",
        epilog=f"Data lives in $RUMMAGE_HOME (now: {rummage_home()}).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="make a folder of images searchable",
                       description="Embed every image under FOLDER into a library. Runs again "
                       "are incremental: unchanged files are skipped, new ones added, deleted "
                       "ones dropped; a killed run resumes where it stopped.")
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("--library", "-l", required=True, help="library name to create or update")
    _add_model_options(p)
    p.add_argument("--vocabulary", metavar="NAME|PATH",
                   help="how the library reads requests: 'photos' (default for a new library), "
                   "'demo', or your own JSON file (remembered by the library; see `rummage "
                   "vocabulary show`)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="one-shot search by text or by image")
    p.add_argument("text", nargs="?", metavar="TEXT")
    p.add_argument("--image", metavar="PATH", help="search by this image instead of text")
    p.add_argument("--library", "-l", required=True)
    p.add_argument("-k", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON: rank, id, path, score")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("libraries", help="list libraries with their size, model and vocabulary")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_libraries)

    p = sub.add_parser("demo", help="build the demo world (no download) and show a conversation",
                       description="On first run, draw the demo catalogue and index it as the "
                       "library 'demo' (a few minutes); then hold a scripted conversation about "
                       "a held-out garment and show the target's rank after each turn.")
    p.add_argument("--seed", type=int, default=7, help="which target to look for")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ask", help="one conversational turn from the shell",
                       description="Say one thing to the agent; --session continues a session. "
                       "Each result carries a mark per constraint in force (met or not, as the "
                       "reranker judged it; --json: the probabilities), and a line says so when "
                       "no result meets them all.")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--library", "-l", default="demo")
    p.add_argument("--session", "-s", help="the session id printed by an earlier ask")
    p.add_argument("--json", action="store_true")
    p.add_argument("--cross-encoder", metavar="PATH",
                   help="rerank with a local BLIP image-text-matching model folder (slower)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("vocabulary", help="show the words a library understands",
                       description="A vocabulary says which words fill which slot (colour, "
                       "animal, ...), their spellings and how each is phrased for the model. "
                       "`show` prints one (a shipped name, a JSON file, or --library's); `list` "
                       "the shipped ones.")
    p.add_argument("action", choices=["show", "list"])
    p.add_argument("name", nargs="?", metavar="NAME|PATH", help="photos, demo or a JSON file")
    p.add_argument("--library", "-l", help="show the vocabulary this library uses")
    p.set_defaults(func=cmd_vocabulary)

    from agent.evaluation.cli import add_commands

    for add in (add_commands, *more):
        add(sub)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are a user's mistake (one line, exit 2) rather than a bug."""
    from agent.errors import AgentError
    from memory.store import StoreError
    from retrievers.encoders import EncoderError
    from retrievers.images import BadImage
    from retrievers.library import LibraryError
    from retrievers.vocabulary import VocabularyError

    return (CliError, AgentError, EncoderError, LibraryError, BadImage, StoreError,
            VocabularyError)


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command; `parser` is build_parser() with more commands (tui.cli adds chat)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("rummage: interrupted", file=sys.stderr)
        return 130
    except user_errors() as e:
        print(f"rummage: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
