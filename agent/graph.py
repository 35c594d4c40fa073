"""One turn as a LangGraph state graph: interpret (and search), or restore, or respond.

The state holds only JSON-safe values (the memory as `QueryState.to_dict()`), so the SQLite
checkpointer can persist a session and a later process can resume it by id. Models, the library
and the index are not state: `build_graph` closes over them. A turn that cannot be understood
("not #40" when 10 are shown) goes from interpret straight to respond with a message, leaving
the memory as it was.

A turn has six steps (interpret, decompose, remember, retrieve, rerank, respond: each timed in
`Reply.timings`) but, on the path most turns take, one superstep: the interpret node runs
decompose and remember after it and, when the turn searches (a refinement, a page turned down),
retrieve, rerank and respond too; the graph goes on after it only for the turns that do not
search. Why: every node is a LangGraph superstep (tasks prepared, writes applied, a checkpoint
made in memory). A chain of no-op nodes with the in-memory checkpointer and `durability="exit"`
took 1.9 ms for one node, 2.1 for two and 3.2 for four (LangGraph 1.2, 2-core machine, medians
of 250 runs); with this state's channels, 2.2-2.4 ms for one node against 2.7-3.0 for two
(four interleaved rounds). Of a 12 ms turn at 1M images (benchmarks/scale_bench.py) the graph's
own work was 4.2 ms with four nodes. The respond node remains for the paths that need it on its
own: an undo (restore → respond), a found, question or chat turn or a message (respond after
interpret), a rebuilt session (`update_state(as_node="respond")`). The interpret node names
where the turn goes next (a LangGraph `Command`) rather than a conditional edge deciding it
after the node: the edge read the whole state back out of the channels to learn what the node
already knew. A one-node graph with a state of this shape: 1.17 -> 1.07 ms a run (medians of
six interleaved rounds of 300 runs).

Each dialogue act (agent.understand) is one path through the graph:
    refine    interpret (+ decompose + remember + retrieve + rerank + respond)
    page      interpret (+ remember: the page set aside + retrieve + rerank + respond)
    found     interpret (+ remember: the pick liked) → respond (the same page)
    undo      interpret → restore → respond
    question  interpret → respond (an answer; nothing changes)
    chat      interpret → respond (an acknowledgement; nothing changes)

Undo walks the checkpoints LangGraph already keeps instead of carrying old states in the state:
every turn that changes something stores `back`, the id of the checkpoint the turn started
from (the caller passes it in the request as "from"); undo reads that checkpoint's memory,
page and `back`, so a second undo walks one turn further. The state stays the same size
however long the session, and nothing is lost: an undone turn is still in the history.

The state is what the next turn needs and no more: the memory, the last reply (the page), undo's
`back`, and this turn's working values. The conversation's history is not state: it is the
store's rows (memory/store.py), appended once per turn. Carried in the state (a list with an
`operator.add` reducer) it was rewritten in full at every checkpoint, so checkpoint bytes grew
with the square of the session's length (issue 11: 76.6 MB after 200 turns).

A run saves its checkpoint on a thread of a pool that LangGraph makes for that run alone
(langchain_core's `get_executor_for_config`), so every turn started a thread and joined it:
0.6 ms of a 7-8 ms turn at 1M images (benchmarks/scale_bench.py's library, two processes taking
sessions in turn, 40 each: p50 8.02 -> 7.43 ms), 1.8 -> 1.2 ms for a one-node graph alone
(medians of 8 interleaved rounds). A kept pool still handed every save to another thread and
waited for it, since a run waits for its own saves before it returns: the save gained no
concurrency and the turn paid two thread switches. `saving_on(Inline())` has the runs started
inside the block do that background work on the calling thread: -0.19 ms a turn at 1M images
(the same conversation run both ways, 80 pairs, median of the paired differences; p50 6.16 ->
5.85 ms). Inline is safe for how the agent runs this graph: `invoke`, one task per step (no
parallel branches, no `Send`), output "values"; LangGraph hands its executor a task that waits
on another one (`stream.wait`) only when streaming "messages"/"custom" or subgraphs, or with
`stream_eager`, which would block there. Other runs, and a LangGraph without that function,
make their pool as before.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, TypedDict

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from agent.answers import acknowledge, answer_question, understood
from agent.decompose import Proposition
from agent.engine import Engine
from agent.interpret import UnknownReference
from agent.understand import understand
from memory.cascade import (
    Constraint,
    NoSuchConstraint,
    QueryState,
    apply_turn,
    record_shown,
    remove_constraint,
    summary,
)

_SAVES: ContextVar[Executor | None] = ContextVar("rummage_saves", default=None)


class Inline(Executor):
    """An executor that runs each task when it is submitted, on the submitting thread, and
    hands back its finished future (see the module's docstring for why and when)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - the future carries it, as a pool's would
            done.set_exception(e)
        return done


@contextlib.contextmanager
def saving_on(pool: Executor) -> Iterator[None]:
    """The graph runs started inside this block do their background work (the checkpoint's
    save) on `pool` rather than on a pool started and joined per run (see the module's
    docstring); the agent passes `Inline()`."""
    _hand_pool_to_langgraph()
    token = _SAVES.set(pool)
    try:
        yield
    finally:
        _SAVES.reset(token)


def _hand_pool_to_langgraph() -> None:
    """Once per process: LangGraph's sync runs ask `_executor.get_executor_for_config` for the
    pool of their background work; inside `saving_on` they get that block's pool instead."""
    from langgraph.pregel import _executor

    made = getattr(_executor, "get_executor_for_config", None)
    if made is None or getattr(made, "saves_on_given_pool", False):
        return  # another LangGraph: its own pools, as before; or done already

    @contextlib.contextmanager
    def executor_for(config):
        pool = _SAVES.get()
        if pool is None:
            with made(config) as executor:
                yield executor
        else:
            yield pool  # not shut down here: the run has waited for its own work already

    executor_for.saves_on_given_pool = True
    _executor.get_executor_for_config = executor_for


def merge_timings(old: dict | None, new: dict) -> dict:
    """Timings of the current turn: a turn's first node starts a fresh dict (key "start")."""
    if new.get("start"):
        return {k: v for k, v in new.items() if k != "start"}
    return {**(old or {}), **new}


class TurnState(TypedDict, total=False):
    request: dict  # this turn's input: {"kind": "say"|"like"|"dislike"|"remove", ...}
    memory: dict  # QueryState.to_dict(): replaced by each turn (no reducer: last write wins)
    texts: list[str]  # every turn's text, kept only for the "concat" ablation
    turn: dict | None  # the interpreted request: liked/disliked image ids, reference, reset, text
    propositions: list[dict]  # [{"text", "polarity"}] from the decomposer
    candidates: list[int]  # the page's ids, best first
    scores: list[float]  # their scores
    evidence: list[list[float]]  # the page's per-constraint probabilities (rerank.py), rounded
    reply: dict  # {"results": [{rank, id, score}], "summary", "message"}
    message: str | None  # a problem to tell the user instead of searching
    back: str | None  # checkpoint id before the last turn that changed something (for undo)
    said: str  # the words of that turn, for "undid 'make it blue'"
    restored: dict | None  # what an undo brought back: {"memory", "reply", "back", "said"}
    timings: Annotated[dict, merge_timings]  # seconds per node of the current turn


@dataclass(frozen=True, kw_only=True)
class GraphOptions:
    k: int = 10  # results per reply
    page: int | None = None  # results the person sees (None: all k): "#3", "none of these"
    memory: bool = True  # False: each turn stands alone (the "single" ablation)
    concat: bool = False  # True: all turns' text as one query (the "concat" ablation)
    decompose: bool = True  # False: a turn's text is one proposition (the "no-decompose" one)


def timed(name: str, fn: Callable[..., dict], first: bool = False):
    """The node `name` running fn, with its seconds in the state's timings. A node that runs
    several steps (interpret, then decompose, remember and the search steps) reports each
    step's own timing."""
    wants_config = "config" in inspect.signature(fn).parameters

    def node(state: TurnState, config: RunnableConfig) -> dict:
        started = time.perf_counter()
        update = fn(state, config) if wants_config else fn(state)
        elapsed = time.perf_counter() - started
        steps = update.pop("steps", None) or {name: elapsed}
        update["timings"] = {**steps, **({"start": True} if first else {})}
        return update

    node.__name__ = name
    return node


def _stepped(*steps: tuple[str, Callable[[TurnState], dict]]) -> Callable[[TurnState], dict]:
    """One node that runs steps in order, each seeing the state as the last one left it, and
    reports each step's seconds (the graph's `timed` reads them as this node's timings). A step
    that returns None did not apply to this turn and is not timed. A key with a leading "_"
    passes a working value to the next step (retrieve's embeddings to rerank: arrays that are
    no part of a checkpoint) and is dropped from the node's update."""

    def run(state: TurnState) -> dict:
        update: dict = {}
        seconds: dict[str, float] = {}
        for name, step in steps:
            started = time.perf_counter()
            done = step({**state, **update})
            if done is None:  # a step that does not apply to this turn (remember after a question)
                continue
            update.update(done)
            seconds[name] = time.perf_counter() - started
        # keys with a leading "_" are handed from step to step and are not state
        return {**{k: v for k, v in update.items() if not k.startswith("_")}, "steps": seconds}

    return run


def build_graph(engine: Engine, decomposer: Callable[[str], list], options: GraphOptions,
                checkpointer=None):
    words = engine.vocabulary  # what the library's text means: slots, spellings, conflicts
    compiled = {}  # the compiled graph, for undo's reads of earlier checkpoints

    def memory_of(state: TurnState) -> QueryState:
        return QueryState.from_dict(state.get("memory") or {})

    def do_interpret(state: TurnState) -> dict:
        request = state["request"]
        memory = memory_of(state)
        kind = request["kind"]
        if kind == "say":
            try:
                turn = understand(request["text"], len(memory.shown))
            except UnknownReference as e:
                return {"turn": None, "message": str(e)}
            by_rank = dict(enumerate(memory.shown, start=1))
            return {"message": None, "turn": {
                "act": turn.act, "text": turn.text, "reset": turn.reset, "page": turn.page,
                "liked": [by_rank[r] for r in turn.liked],
                "disliked": [by_rank[r] for r in turn.disliked],
                "reference": by_rank[turn.reference] if turn.reference else None,
                "found": by_rank.get(turn.found) if turn.found else None,
                "found_rank": turn.found, "question": turn.question,
                "about": turn.about, "other": turn.other, "topic": turn.topic,
                "chat": turn.chat,
                "shown": len(memory.shown),
                "ranks": {"liked": list(turn.liked), "disliked": list(turn.disliked),
                          "reference": turn.reference},
            }}
        if kind in ("like", "dislike"):
            image_id = int(request["image_id"])
            return {"message": None, "turn": {
                "act": "refine", "text": "", "reset": False, "reference": None,
                "liked": [image_id] if kind == "like" else [],
                "disliked": [image_id] if kind == "dislike" else [],
            }}
        if kind == "remove":
            try:
                remove_constraint(memory, request["constraint"], words)
            except NoSuchConstraint as e:
                return {"turn": None, "message": str(e)}
            return {"message": None, "turn": {"act": "refine", "remove": request["constraint"]}}
        if kind == "undo":
            return {"message": None, "turn": {"act": "undo"}}
        raise ValueError(f"unknown request kind {kind!r}")

    def route(state: TurnState) -> str:
        """Where an interpreted turn goes: search, restore (an undo) or respond."""
        if state.get("message"):
            return "respond"
        act = state["turn"]["act"]
        return {"refine": "search", "page": "search", "undo": "restore"}.get(act, "respond")

    def do_decompose(state: TurnState) -> dict:
        turn = state.get("turn")
        text = turn.get("text", "") if turn and turn["act"] == "refine" else ""
        if state.get("message") or not text:
            return {"propositions": []}
        if options.decompose:
            found = decomposer(text)
        else:
            found = [Proposition(text=text, polarity=1)]
        return {"propositions": [{"text": p.text, "polarity": p.polarity, "said": p.said,
                                  **({"relative": True} if p.relative else {})}
                                 for p in found]}

    def do_remember(state: TurnState) -> dict | None:
        turn = state.get("turn")
        if state.get("message") or turn is None or turn["act"] not in ("refine", "page", "found"):
            return None
        memory = memory_of(state)
        texts = list(state.get("texts") or [])
        changed = {"back": state["request"].get("from"), "said": _said(state["request"]),
                   "restored": None}
        if "remove" in turn:
            return {"memory": remove_constraint(memory, turn["remove"], words).to_dict(),
                    **changed}
        if turn["act"] == "page":
            return {"memory": apply_turn(memory, vocabulary=words, passed=memory.shown,
                                         ages=False).to_dict(),
                    "propositions": [], **changed}
        if turn["act"] == "found":
            return {"memory": apply_turn(memory, vocabulary=words, liked=[turn["found"]],
                                         ages=False).to_dict(),
                    "propositions": [], **changed}
        if turn["reset"]:
            texts = []
        if options.concat and state["request"].get("text"):
            texts.append(state["request"]["text"])
        said = state.get("propositions", [])
        propositions = [Proposition(text=p["text"], polarity=p["polarity"],
                                    said=p.get("said", ""))
                        for p in said if not p.get("relative")]
        # "darker", "like 3 but longer": a change to the named image, else to the top one
        relative = tuple(p["text"] for p in said if p.get("relative"))
        reference = turn["reference"]
        if relative and reference is None and memory.shown:
            reference = memory.shown[0]
        if relative and reference is not None:
            propositions += engine.implied(relative, reference, memory)
        if options.concat:
            joined = " ".join(texts)
            constraint = Constraint(text=joined, said=joined, polarity=1, slot=None,
                                    turn=memory.turn + 1)
            new = QueryState(turn=memory.turn + 1, constraints=(constraint,) if joined else (),
                             shown=memory.shown)
            return {"memory": new.to_dict(), "texts": texts, **changed}
        base = memory if options.memory else QueryState(turn=memory.turn, shown=memory.shown)
        new = apply_turn(
            base, vocabulary=words, propositions=propositions, liked=turn["liked"],
            disliked=turn["disliked"], reference=reference,
            reference_text=turn["text"] if reference is not None else "", reset=turn["reset"],
            relative=relative if reference is not None else (),
            passed=memory.shown if turn.get("page") else (),
        )
        return {"memory": new.to_dict(), **changed}

    def do_restore(state: TurnState, config) -> dict:
        back = state.get("back")
        if not back:
            return {"restored": None}
        thread = config["configurable"]["thread_id"]
        earlier = compiled["graph"].get_state(
            {"configurable": {"thread_id": thread, "checkpoint_id": back}}).values
        return {"restored": {"memory": earlier.get("memory") or {},
                             "reply": earlier.get("reply") or {},
                             "texts": earlier.get("texts") or [],
                             "back": earlier.get("back"), "said": earlier.get("said", ""),
                             "undone": state.get("said", "")}}

    def do_retrieve(state: TurnState) -> dict:
        config = engine.config
        want = max(options.k, config.candidates if config.rerank else options.k)
        ids, scores, vectors = engine.retrieve(memory_of(state), want)
        # handed to rerank in the same node as arrays: only the page becomes state
        return {"_candidates": ids, "_scores": scores, "_vectors": vectors}

    def do_rerank(state: TurnState) -> dict:
        ids = np.asarray(state["_candidates"], np.int64)
        scores = np.asarray(state["_scores"], np.float32)
        evidence = np.zeros((len(ids), 0), np.float32)  # none without the reranker
        if engine.config.rerank and len(ids):
            ids, scores, evidence = engine.rank_with_evidence(memory_of(state), ids, scores,
                                                              options.k, state.get("_vectors"))
        return {"candidates": ids[: options.k].tolist(),
                "scores": [float(s) for s in scores[: options.k]],
                "evidence": [[round(float(p), 3) for p in row] for row in evidence[: options.k]]}

    def do_respond(state: TurnState) -> dict:
        memory = memory_of(state)
        message = state.get("message")
        turn = state.get("turn") or {}
        previous = state.get("reply") or {}
        act = turn.get("act")
        if message or act in ("question", "chat", "found", "undo"):
            update: dict = {}
            if message:
                reply = {**_page(previous), "message": message}
            elif act == "undo":
                restored = state.get("restored")
                if restored is None:
                    reply = {**_page(previous), "message": None,
                             "understood": "nothing to undo"}
                else:
                    memory = QueryState.from_dict(restored["memory"])
                    reply = {**_page(restored["reply"]), "message": None,
                             "understood": f"undid '{restored['undone']}'"}
                    update = {"memory": restored["memory"], "texts": restored["texts"],
                              "back": restored["back"], "said": restored["said"]}
            elif act == "found":
                reply = {**_page(previous), "message": None, "found": turn["found"],
                         "understood": f"marked #{turn['found_rank']} as the one"}
            elif act == "question":
                reply = {**_page(previous), "message": None, "understood": "answered",
                         "answer": answer_question(turn, memory, previous, words, decomposer)}
            else:
                reply = {**_page(previous), "message": None, "understood": "nothing to change",
                         "answer": acknowledge(turn.get("chat"))}
            reply["summary"] = summary(memory, words)
            return {**update, "reply": reply}
        # each result's evidence: {constraint label: probability it meets it}; the reply's
        # notice: a line when no result of the page meets every constraint (engine.py)
        labels = [c.label for c in memory.constraints]
        rows = state.get("evidence") or [[]] * len(state["candidates"])
        page = zip(state["candidates"], state["scores"], rows)
        results = [{"rank": r, "id": int(i), "score": float(s), "evidence": dict(zip(labels, e))}
                   for r, (i, s, e) in enumerate(page, 1)]
        seen = options.page or len(results)  # what the person sees is what "these" means
        notice = engine.unmatched_notice(memory, rows[:seen])
        memory = record_shown(memory, [r["id"] for r in results][:seen])
        reply = {"results": results, "summary": summary(memory, words), "message": None,
                 "notice": notice,
                 "understood": understood(turn, state.get("propositions", []), words)}
        return {"memory": memory.to_dict(), "reply": reply}

    def searching(step: Callable[[TurnState], dict]) -> Callable[[TurnState], dict | None]:
        """`step` on the turns that search (a refinement, a page turned down), else skipped."""
        return lambda state: step(state) if route(state) == "search" else None

    def after_interpret(state: TurnState) -> str:
        where = route(state)
        return END if where == "search" else where  # a search has run in the same node

    interpret = timed("interpret", _stepped(
        ("interpret", do_interpret), ("decompose", do_decompose), ("remember", do_remember),
        ("retrieve", searching(do_retrieve)), ("rerank", searching(do_rerank)),
        ("respond", searching(do_respond))), first=True)

    def interpret_and_route(state: TurnState, config: RunnableConfig) -> Command:
        # the node names where the turn goes next: a conditional edge after it read the whole
        # state back from the channels to decide what the node already knew (see above)
        update = interpret(state, config)
        return Command(update=update, goto=after_interpret({**state, **update}))

    graph = StateGraph(TurnState)
    graph.add_node("interpret", interpret_and_route, destinations=(END, "restore", "respond"))
    graph.add_node("restore", timed("restore", do_restore))
    graph.add_node("respond", timed("respond", do_respond))
    graph.add_edge(START, "interpret")
    graph.add_edge("restore", "respond")
    graph.add_edge("respond", END)
    compiled["graph"] = graph.compile(checkpointer=checkpointer)
    return compiled["graph"]


def _page(reply: dict) -> dict:
    """The results of a reply (and their notice), for a turn that keeps the page as it is."""
    return {"results": list(reply.get("results", [])), "notice": reply.get("notice")}


def _said(request: dict) -> str:
    kind = request["kind"]
    if kind == "say":
        return request["text"]
    if kind == "remove":
        return f"(removed {request['constraint']})"
    if kind == "undo":
        return "(undo)"
    return f"({kind} image {request['image_id']})"
