"""The agent's commands of `rummage`: index folders, search, ask, evaluate, show vocabularies.

This is an edge where library errors become one line on stderr and a non-zero exit; nothing
below it prints or exits. The console script itself is `tui.cli:main`, the outermost layer,
which adds `chat` to these commands: the agent never imports the terminal app.

What a person can cause is never a traceback (`main`):
- a mistake (a bad name, a missing folder, a library error): one line, exit 2;
- a fault of the machine around us (a read-only or full disk, a damaged database file, too
  little memory): one line naming the file and the cause, exit 1 (`fault_line`);
- output piped into `head`: the reader went away, so we stop quietly, exit 141 (as a shell
  reports a process ended by SIGPIPE), with stdout pointed at /dev/null so the flush at exit
  cannot complain either (the recipe of Python's signal docs);
- anything else is a bug: one line that says so, and its traceback only with RUMMAGE_DEBUG=1.
Every name, path and piece of a person's text goes through `printable` before it is printed,
so a file named "\x1b]0;pwned\x07.png" shows as such instead of retitling the terminal.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.errors import CliError
from agent.terminal import printable
from retrievers.home import rummage_home
from retrievers.threads import limit_before_imports

# Before any command imports numpy, faiss or torch: their thread pools are sized when they load.
limit_before_imports()

EXIT_USER_ERROR = 2
EXIT_FAULT = 1  # the machine around us failed (disk, permissions, a damaged file), or a bug
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a process ended by SIGPIPE
DEBUG_ENV = "RUMMAGE_DEBUG"  # set to 1: unexpected errors show their traceback


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
    from retrievers.library import Library, checked_store

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
        if args.vectors is not None:  # so does switching stores: filled from library.db
            library.use_store(args.vectors)
    else:
        # Load the model before creating anything, so a bad name leaves no empty library.
        spec = ModelSpec.from_options(args.model, args.pretrained, args.checkpoint)
        if args.vectors is not None:
            checked_store(args.vectors)  # a bad --vectors leaves no library behind either
        library = Library.create(home, args.library, spec, vocabulary=vocabulary,
                                 vectors=args.vectors, encoder=Encoder.load(spec))
    try:
        # The model loads when an image is to be embedded: an unchanged folder never needs it
        # (2.8 s before); a new library loaded it above, so a bad name fails before the walk.
        _print(f"Indexing {folder} into library {library.name!r} with {library.spec.label} "
               f"(vocabulary {library.vocabulary_ref}, vectors in {library.store})",
               file=sys.stderr)
        report = library.index_folder(folder, progress=progress_bar("embedding"),
                                      look_progress=progress_bar("reading looks"),
                                      rebuild=args.rebuild)
    finally:
        library.close()
    rate = report.embedded / report.seconds if report.seconds else 0.0
    print(
        f"{report.seen} image files: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged"
        f"{f' ({report.looks} looks read again)' if report.looks else ''}, "
        f"{report.removed} removed, "
        f"{len(report.skipped)} skipped; library {args.library!r} holds {report.total} images "
        f"({report.seconds:.1f} s, {rate:.0f} img/s)"
    )
    reasons: dict[str, int] = {}
    for reason in report.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        _print(f"  skipped {count}: {reason}")
    if report.total == 0:
        _print(f"rummage: nothing could be indexed in {folder}", file=sys.stderr)
        return 1
    return 0


def cmd_search(args) -> int:
    from retrievers.library import Library

    if not args.text and not args.image:
        raise CliError("Give a TEXT to search for, or --image PATH")
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
            _print(f"{rank:3d}  {hit.score:6.3f}  #{hit.id:<6d} {hit.path}")
    return 0


def cmd_libraries(args) -> int:
    from retrievers.library import list_libraries

    items = list_libraries(rummage_home())
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        _print(f"No libraries in {rummage_home()} yet: `rummage index DIR --library NAME` "
               "or `rummage demo`")
        return 0
    width = max(len(i["name"]) for i in items)
    for item in items:
        if "unreadable" in item:
            _print(f"{item['name']:<{width}}  unreadable: {item['unreadable']}")
            continue
        _print(f"{item['name']:<{width}}  {item['images']:>8d} images  {item['model']}"
               f"  vocabulary {item['vocabulary']}  vectors {item['vectors']}  {item['root'] or ''}")
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
            _print(f"{name:<8} {sum(len(s.values) for s in vocabulary.slots):>4} values in "
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
    _print(load_vocabulary(ref).describe(), lines=True)  # a JSON file's words, of many lines
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
        for notice in agent.notices:  # what the agent repaired on its own, a line each
            _say(notice)
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
        _print(f"session: {session.id}  (continue with --session {session.id})")
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


def _print(line: str, *, file=None, lines: bool = False) -> None:
    """A line for a terminal of any encoding, control characters escaped (`printable`); what
    the encoding cannot show becomes "?" ("dress ? red")."""
    file = file or sys.stdout
    line = printable(line, lines=lines)
    encoding = getattr(file, "encoding", None) or "ascii"
    try:
        print(line.encode(encoding, "replace").decode(encoding), file=file)
    except LookupError:
        print(line, file=file)


# -- the parser ----------------------------------------------------------------------------


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a larger one than there are images is
    cut down to the library's size where it is used)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {printable(text)!s}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


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
    p.add_argument("--vectors", metavar="STORE",
                   help="where the library searches its vectors: 'faiss' (default: a file "
                   "beside the library), 'milvus' (an embedded Milvus Lite file there, one "
                   "process at a time) or 'milvus://HOST:PORT[/COLLECTION]' (a Milvus server; "
                   "needs pip install 'rummage[milvus]'). Remembered by the library")
    p.add_argument("--rebuild", action="store_true",
                   help="train the search index anew rather than patch it with the run's "
                   "changes (it retrains on its own when the library has grown a lot)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="one-shot search by text or by image")
    p.add_argument("text", nargs="?", metavar="TEXT")
    p.add_argument("--image", metavar="PATH", help="search by this image instead of text")
    p.add_argument("--library", "-l", required=True)
    p.add_argument("-k", type=_count, default=10,
                   help="how many results (default 10; at most the library's size)")
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


def check_arguments(args: argparse.Namespace) -> None:
    """What argparse cannot check, before any command runs: a person's text must be UTF-8
    (the shell hands undecodable bytes over as surrogates, which no model or database takes),
    and a --library that is no folder path must be a valid name (checked_name)."""
    from retrievers.library import checked_name, is_folder_path

    for option in ("text", "session"):
        value = getattr(args, option, None)
        if isinstance(value, str) and printable(value) != printable(_utf8(value)):
            raise CliError(f"{option.upper() if option == 'text' else '--' + option} is not "
                           f"valid UTF-8 ({printable(value)}): check the terminal's encoding")
    library = getattr(args, "library", None)
    if isinstance(library, str) and not is_folder_path(library):
        checked_name(library)


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _disk_is_full(library: str | None) -> bool:
    """Whether the disk holding the library (or RUMMAGE_HOME) has less than 1 MB left."""
    import shutil

    from retrievers.library import is_folder_path

    folder = rummage_home() / library if library and not is_folder_path(library) else (
        Path(library).expanduser() if library else rummage_home())
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def fault_line(error: BaseException, args: argparse.Namespace | None = None) -> str | None:
    """One line for a fault of the machine around us (disk, permissions, a damaged database
    file, memory), or None when the error is no such fault (then it is a bug)."""
    if isinstance(error, OSError) and error.errno is not None:
        where = printable(error.filename) if error.filename is not None else "a file"
        if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return f"cannot write {where}: disk full"
        if error.errno == errno.EROFS:
            return f"cannot write {where}: read-only file system"
        if error.errno in (errno.EACCES, errno.EPERM):
            return f"cannot use {where}: permission denied"
        if error.errno == errno.ENAMETOOLONG:
            return f"cannot use {where}: the name is too long"
        return f"cannot use {where}: {printable(error.strerror or error)}"
    if isinstance(error, sqlite3.Error):
        library = getattr(args, "library", None)
        where = f"the files of library {printable(library)!r}" if library else "a database file"
        reason = str(error)
        # a full disk in WAL mode is often "disk I/O error" (the log cannot grow), not "full"
        if "full" in reason or ("I/O" in reason and _disk_is_full(library)):
            return f"cannot write {where}: disk full"
        if "readonly" in reason or "read-only" in reason:
            return f"cannot write {where}: read-only ({reason})"
        return (f"cannot use {where}: {printable(reason)} (a damaged library.db or "
                "checkpoints.db: move it aside, or index again into another --library)")
    if isinstance(error, MemoryError):
        return "not enough memory for this request"
    return None


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command; `parser` is build_parser() with more commands (tui.cli adds chat)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        check_arguments(args)
        code = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, while we can still be quiet
        return code
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except user_errors() as e:
        _say(str(e))
        return EXIT_USER_ERROR
    except Exception as e:
        if os.environ.get(DEBUG_ENV):
            raise
        line = fault_line(e, args)
        _say(line or f"internal error ({type(e).__name__}: {e}); run again with "
             f"{DEBUG_ENV}=1 to see where, and please report it")
        return EXIT_FAULT


def _say(line: str) -> None:
    """A one-line message on stderr, control characters escaped; a closed stderr is no error."""
    try:
        _print(f"rummage: {line}", file=sys.stderr)
    except (BrokenPipeError, ValueError):
        pass


def _silence_stdout() -> None:
    """stdout to /dev/null, so the interpreter's last flush finds no closed pipe to complain of."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
