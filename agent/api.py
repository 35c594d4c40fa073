"""The Python API: `Agent` opens a library, `Session` holds one conversation with it.

```python
from agent import Agent
agent = Agent.open("demo")
session = agent.new_session()
reply = session.say("a red dress with long sleeves")
reply.results, reply.summary
reply.results[0].evidence, reply.notice   # {"red": 0.97, ...}; a line when nothing fits
session.say("not 2, more like 4 but striped")
session.like(image_id); session.dislike(image_id)
session.memory, session.id
```

The TUI, the CLI and the evaluation use only this module. A session lives in two places on
purpose: the LangGraph SQLite checkpointer (`checkpoints.db` beside the library) holds the
state the graph resumes from; plain tables in `library.db` (sessions, turns, propositions,
shown, feedback) hold the record a person can query. `persist=False` keeps both in memory, for
evaluations that run thousands of throwaway sessions.

Which one is the truth (issue 11): the store. A turn runs under the session's lock
(memory/session_lock.py) from reading the checkpoint to appending the store's row, so two
processes in one session take turns instead of both starting from the same checkpoint (before:
2 loops x 20 `rummage ask` all exited 0 and 20 turns were kept). The store numbers the turns
and never overwrites one; `Session.history` reads them. The checkpoint is the working copy: one
per turn, holding the memory and the last page, constant in size; if it is gone the session is
rebuilt from the last row's memory and reply, so losing `checkpoints.db` loses at most the turn
in flight. The order of the writes (checkpoint, then row) means a crash between them leaves a
turn in the checkpoint that the store never recorded, and whose command did not exit 0.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from agent.decompose import RuleDecomposer
from agent.engine import Engine, EngineConfig
from agent.errors import DamagedCheckpoints, NoSuchSession, UnknownSetting
from agent.graph import GraphOptions, Inline, build_graph, saving_on
from memory.cascade import QueryState
from memory.session_lock import session_lock
from memory.store import Store
from retrievers.home import rummage_home
from retrievers.library import Library
from retrievers.migrations import use_wal
from retrievers.rerank import SATISFIED, PropositionScorer, RerankWeights

CHECKPOINTS = "checkpoints.db"

__all__ = ["Agent", "AgentConfig", "NoSuchSession", "Reply", "Result", "Session"]


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """Every knob of an agent: the conversation's here, retrieval's in `engine`, and the
    reranker's in `engine.weights`. `with_changes(name=value)` finds a knob by its name."""

    k: int = 10  # results per reply
    # results a person sees at once (None: all k); what "none of these" sets aside and what
    # "#3" can name. The evaluation asks for 100 results to measure ranks but shows 10.
    page: int | None = None
    memory: bool = True  # False = "single": each turn alone, nothing remembered
    concat: bool = False  # True = "concat": all turns' text joined into one query
    decompose: bool = True  # False = "no-decompose": each turn's text is one proposition
    engine: EngineConfig = field(default_factory=EngineConfig)  # retrieval, rerank, weights

    def with_changes(self, **changes) -> AgentConfig:
        """A copy with knobs changed by name, wherever they live: `rerank=False`
        (EngineConfig), `liked=4.0` (RerankWeights), `k=100` (here)."""
        own, engine, weights = {}, {}, {}
        names = {f.name for f in fields(AgentConfig)}
        engine_names = {f.name for f in fields(EngineConfig)}
        weight_names = {f.name for f in fields(RerankWeights)}
        for name, value in changes.items():
            if name in names:
                own[name] = value
            elif name in engine_names:
                engine[name] = value
            elif name in weight_names:
                weights[name] = value
            else:
                raise UnknownSetting(name, sorted(names | engine_names | weight_names))
        config = replace(self, **own)
        if weights:
            engine["weights"] = replace(engine.get("weights", config.engine.weights), **weights)
        if engine:
            config = replace(config, engine=replace(config.engine, **engine))
        return config


@dataclass(frozen=True, kw_only=True)
class Result:
    rank: int
    id: int
    path: str
    score: float
    # why it is here: {constraint label ("blue", "not checked"): probability that the image
    # meets it}, in memory order; met when >= 0.5 (retrievers/rerank.py). Empty without
    # constraints or without the reranker.
    evidence: dict[str, float] = field(default_factory=dict, hash=False)

    def meets(self, label: str) -> bool:
        """Whether the reranker judged this image to meet the constraint `label`."""
        return self.evidence.get(label, 0.0) >= SATISFIED

    def marks(self, yes: str = "✓", no: str = "✗") -> str:
        """One mark per constraint in memory order, "✓✓✗": met or not (compact lists)."""
        return "".join(yes if p >= SATISFIED else no for p in self.evidence.values())


@dataclass(frozen=True, kw_only=True)
class Reply:
    results: list[Result]  # best first
    summary: str  # the constraints in force, one line
    message: str | None = None  # a problem to show instead of new results
    understood: str = ""  # what the turn was read as: "set aside 10 shown", "undid 'blue'"
    answer: str | None = None  # the reply to a question or a remark ("what do you remember?")
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    # "No navy checked skirt; closest first." when no result meets every constraint
    notice: str | None = None


@dataclass(frozen=True, kw_only=True)
class MemoryItem:
    index: int  # position, for remove_constraint
    label: str  # "blue", "not checked"
    text: str
    polarity: int
    slot: str | None


@dataclass(frozen=True, kw_only=True)
class Exchange:
    text: str
    reply: Reply


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    id: str
    created: str
    title: str
    turns: int


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    id: int
    path: str
    width: int
    height: int
    meta: dict


class Agent:
    """A library opened for conversation; sessions share its model and index."""

    def __init__(self, library: Library, *, config: AgentConfig = AgentConfig(),
                 persist: bool = True, decomposer=None, scorer: PropositionScorer | None = None,
                 _shared: dict | None = None):
        self.library = library
        self.config = config
        self.persist = persist
        self.decomposer = decomposer or RuleDecomposer(library.vocabulary)
        self._shared = _shared if _shared is not None else {"lock": threading.Lock()}
        # one line each for things the agent repaired on its own ("checkpoints.db could not be
        # read; rebuilt"): the CLI and the chat show them; nothing is lost in any of them
        self.notices: list[str] = self._shared.setdefault("notices", [])
        self.engine = Engine(library, config.engine, scorer)
        if "checkpointer" not in self._shared:
            self._shared["checkpointer"], self._shared["store"] = self._open_persistence()
            # where the turns' checkpoints are saved: on the turn's own thread (graph.py)
            self._shared["saves"] = Inline()
        options = GraphOptions(k=config.k, page=config.page, memory=config.memory,
                               concat=config.concat, decompose=config.decompose)
        self.graph = build_graph(self.engine, self.decomposer, options,
                                 self._shared["checkpointer"])

    def _open_persistence(self):
        if not self.persist:
            from langgraph.checkpoint.memory import InMemorySaver

            return InMemorySaver(), None
        path = self.library.folder / CHECKPOINTS
        try:
            saver = _open_saver(path)
        except sqlite3.DatabaseError as e:
            # not a database at all (overwritten, truncated): the checkpoints are a working
            # copy of what the store records, so set the file aside and start a new one
            aside = path.with_name(f"{CHECKPOINTS}.damaged-{int(time.time())}")
            path.rename(aside)
            for extra in ("-wal", "-shm"):
                path.with_name(CHECKPOINTS + extra).unlink(missing_ok=True)
            saver = _open_saver(path)
            self.notices.append(f"{path} could not be read ({e}); it was moved to {aside.name} "
                                "and sessions are rebuilt from their recorded turns")
        return saver, Store(self.library.folder / "library.db")

    @classmethod
    def open(cls, name_or_path: str | Path, *, home: Path | None = None,
             config: AgentConfig = AgentConfig(), persist: bool = True, **kwargs) -> Agent:
        """Open a library by name (under RUMMAGE_HOME) or by folder path."""
        home = rummage_home() if home is None else home
        return cls(Library.open(name_or_path, home), config=config, persist=persist, **kwargs)

    def variant(self, **changes) -> Agent:
        """The same library, model and sessions store with other settings (ablations); any
        knob of AgentConfig, EngineConfig or RerankWeights by name: `variant(rerank=False)`."""
        return Agent(self.library, config=self.config.with_changes(**changes),
                     persist=self.persist,
                     decomposer=self.decomposer, scorer=self.engine.scorer,
                     _shared=self._shared)

    @property
    def store(self) -> Store | None:
        return self._shared["store"]

    @property
    def library_name(self) -> str:
        return self.library.name

    @property
    def size(self) -> int:
        return len(self.library)

    @property
    def model_label(self) -> str:
        return self.library.spec.label

    def warm_up(self) -> None:
        """Load the model and the index now rather than on the first turn."""
        self.library.text_encoder  # noqa: B018
        self.library.index  # noqa: B018

    def new_session(self, session_id: str | None = None) -> Session:
        import uuid

        session_id = session_id or uuid.uuid4().hex[:12]
        if self.store is not None:
            self.store.create_session(self.library.name, session_id)
        return Session(self, session_id)

    def session(self, session_id: str) -> Session:
        known = self.store.session(session_id) if self.store is not None else None
        if known is None and not self.graph.get_state(_thread(session_id)).values:
            raise NoSuchSession(session_id, self.library.name)
        return Session(self, session_id)

    def forget(self, session_id: str) -> None:
        """Drop a session's checkpoints (throwaway sessions of an evaluation, say)."""
        self._shared["checkpointer"].delete_thread(session_id)

    def sessions(self, limit: int = 50) -> list[SessionInfo]:
        if self.store is None:
            return []
        return [SessionInfo(id=row["id"], created=str(row.get("created", "")),
                            title=row.get("title") or "", turns=int(row.get("turns", 0)))
                for row in self.store.sessions(limit)]

    def image(self, image_id: int) -> ImageInfo:
        row = self.library.rows([image_id]).get(int(image_id))
        if row is None:
            raise KeyError(f"No image {image_id} in library {self.library.name!r}")
        return ImageInfo(id=row["id"], path=row["path"], width=row["width"],
                         height=row["height"], meta=row["meta"])

    def close(self) -> None:
        store = self._shared.get("store")
        if store is not None:
            store.close()
        saver = self._shared.get("checkpointer")
        if hasattr(saver, "conn"):
            saver.conn.close()
        self.library.close()


class Session:
    """One conversation. Methods return a new Reply; state lives in the checkpointer."""

    def __init__(self, agent: Agent, session_id: str):
        self.agent = agent
        self.id = session_id
        self._lock = threading.Lock()
        self._exchanges: list[dict] = []  # the history when nothing is persisted

    def say(self, text: str) -> Reply:
        return self._run({"kind": "say", "text": text})

    def like(self, image_id: int) -> Reply:
        return self._run({"kind": "like", "image_id": int(image_id)})

    def dislike(self, image_id: int) -> Reply:
        return self._run({"kind": "dislike", "image_id": int(image_id)})

    def remove_constraint(self, index_or_text: int | str) -> Reply:
        return self._run({"kind": "remove", "constraint": index_or_text})

    def undo(self) -> Reply:
        """Take the last turn back (as saying "undo" does): memory and page as before it."""
        return self._run({"kind": "undo"})

    @property
    def state(self) -> QueryState:
        return QueryState.from_dict(self._values().get("memory") or {})

    @property
    def memory(self) -> list[MemoryItem]:
        return [MemoryItem(index=i, label=c.label, text=c.text, polarity=c.polarity, slot=c.slot)
                for i, c in enumerate(self.state.constraints)]

    @property
    def history(self) -> list[Exchange]:
        """Every exchange of the session, oldest first: the store's rows (a persisted agent)
        or this object's own list (persist=False)."""
        store = self.agent.store
        rows = store.turns(self.id) if store is not None else self._exchanges
        return [Exchange(text=row["text"], reply=self._reply(row["reply"], {})) for row in rows]

    @property
    def last_reply(self) -> Reply | None:
        """The reply of the last turn, from the checkpointed state (one row, not the history)."""
        reply = self._values().get("reply")
        return self._reply(reply, {}) if reply else None

    def _values(self) -> dict:
        """The state a turn would start from: the checkpoint's, or while the checkpoints are
        lost (until the next turn rebuilds them) the last recorded turn's memory and reply."""
        values = self._snapshot().values
        store = self.agent.store
        if not values and store is not None:
            last = store.last_turn(self.id)
            if last is not None:
                return {"memory": last["memory"], "reply": last["reply"]}
        return values

    def _run(self, request: dict) -> Reply:
        store = self.agent.store
        with self._lock, self._writer():
            # the checkpoint this turn starts from: where an "undo" of it will return
            start = self._checkpoint_id()
            if store is not None and not start:
                rebuilt = self._rebuild(store)
                start = rebuilt["configurable"].get("checkpoint_id") if rebuilt else None
            request = {**request, "from": start}
            # one checkpoint per turn, at its end: the steps' own checkpoints were never read
            # (undo returns to a turn's start, which is the previous turn's end)
            with saving_on(self.agent._shared["saves"]):
                out = self.agent.graph.invoke({"request": request}, _thread(self.id),
                                              durability="exit")
            reply = self._reply(out["reply"], out.get("timings", {}))
            text = request.get("text") or f"({request['kind']})"
            if store is None:
                self._exchanges.append({"text": text, "reply": out["reply"]})
                return reply
            turn = store.record_turn(
                self.id, text,
                [] if reply.message else _propositions(out),
                [] if reply.message else [(r.id, r.score) for r in reply.results],
                reply.message or reply.summary,
                reply=out["reply"], memory=out.get("memory") or {},
            )
            if request["kind"] in ("like", "dislike"):
                store.record_feedback(self.id, turn, request["image_id"], request["kind"])
            if out["reply"].get("found") is not None:
                store.record_feedback(self.id, turn, out["reply"]["found"], "found")
        return reply

    def _snapshot(self):
        """The session's state as its last checkpoint holds it (`_read`)."""
        return self._read(lambda: self.agent.graph.get_state(_thread(self.id)))

    def _checkpoint_id(self) -> str | None:
        """The id of the session's last checkpoint (None before its first turn). Read from
        the checkpointer rather than as a `get_state`, which also works out the graph's next
        tasks: 0.26 ms of a turn at 1M images for a value a turn never needed."""
        saved = self._read(lambda: self.agent._shared["checkpointer"].get_tuple(
            _thread(self.id)))
        return saved.config["configurable"].get("checkpoint_id") if saved else None

    def _read(self, read):
        """`read()` of the session's checkpoint. One that cannot be read (a damaged row, a
        value this version cannot decode) is dropped, as if lost: reads fall back to the
        store, which holds the record, and the next turn rebuilds from it (`_run`); without a
        store there is nothing to fall back on, and the error stands."""
        try:
            return read()
        except Exception as e:  # sqlite3, msgpack and pickle each raise their own kinds
            if self.agent.store is None:
                raise
            try:
                self.agent._shared["checkpointer"].delete_thread(self.id)
            except sqlite3.DatabaseError:
                raise DamagedCheckpoints(self.agent.library.folder / CHECKPOINTS) from e
            self.agent.notices.append(f"session {self.id}: its checkpoint could not be read "
                                      f"({type(e).__name__}); rebuilt from its recorded turns")
            return read()

    def _writer(self):
        """The session's cross-process lock (memory/session_lock.py); none when nothing is
        persisted, since then no other process can see the session."""
        if self.agent.store is None:
            return contextlib.nullcontext()
        return session_lock(self.agent.library.folder, self.id)

    def _rebuild(self, store) -> dict | None:
        """A session whose checkpoints are gone (checkpoints.db deleted or replaced) but whose
        turns the store kept: its state is the memory and reply of its last recorded turn.
        Only the in-flight turn can be lost; undo reaches back to the rebuilt turn."""
        last = store.last_turn(self.id)
        if last is None:
            return None
        return self.agent.graph.update_state(
            _thread(self.id), {"memory": last["memory"], "reply": last["reply"], "back": None,
                               "said": ""}, as_node="respond")

    def _reply(self, data: dict, timings: dict) -> Reply:
        paths = self.agent.library.paths([r["id"] for r in data.get("results", [])])
        results = [Result(rank=r["rank"], id=r["id"], score=r["score"],
                          path=paths.get(r["id"], ""),
                          evidence=dict(r.get("evidence") or {}))
                   for r in data.get("results", [])]
        return Reply(results=results, summary=data.get("summary", ""),
                     message=data.get("message"), understood=data.get("understood", ""),
                     answer=data.get("answer"), notice=data.get("notice"),
                     timings=dict(timings))


def _open_saver(path: Path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    try:
        # A turn writes one ~4 KB checkpoint, but WAL mode lets the log grow to 1,000 pages
        # (4 MB) before folding it back, and never shrinks it: most of a long session's disk
        # was log (session_growth.py). Fold it every 64 pages and cut it back to 512 KB.
        use_wal(conn)
        conn.execute("PRAGMA wal_autocheckpoint=64")
        conn.execute("PRAGMA journal_size_limit=524288")
        saver = SqliteSaver(conn)
        saver.setup()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return saver


def _propositions(out: dict):
    from agent.decompose import Proposition

    return [Proposition(text=p["text"], polarity=p["polarity"])
            for p in out.get("propositions", [])]


def _thread(session_id: str) -> dict:
    return {"configurable": {"thread_id": session_id}}
