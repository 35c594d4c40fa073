"""One turn as a LangGraph state graph: interpret → decompose → remember → retrieve → rerank → respond.

The state holds only JSON-safe values (the memory as `QueryState.to_dict()`), so the SQLite
checkpointer can persist a session and a later process can resume it by id. Models, the library
and the index are not state: `build_graph` closes over them. A turn that cannot be understood
("not #40" when 10 are shown) goes from interpret straight to respond with a message, leaving
the memory as it was.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph

from agent.decompose import Proposition
from agent.engine import Engine
from agent.interpret import UnknownReference, interpret
from memory.cascade import (
    Constraint,
    NoSuchConstraint,
    QueryState,
    apply_turn,
    record_shown,
    remove_constraint,
    summary,
)


def merge_timings(old: dict | None, new: dict) -> dict:
    """Timings of the current turn: a turn's first node starts a fresh dict (key "start")."""
    if new.get("start"):
        return {k: v for k, v in new.items() if k != "start"}
    return {**(old or {}), **new}


class TurnState(TypedDict, total=False):
    request: dict  # this turn's input: {"kind": "say"|"like"|"dislike"|"remove", ...}
    memory: dict  # QueryState.to_dict(): replaced by each turn (no reducer: last write wins)
    texts: list[str]  # every turn's text, for the "concat" ablation
    turn: dict | None  # the interpreted request: liked/disliked image ids, reference, reset, text
    propositions: list[dict]  # [{"text", "polarity"}] from the decomposer
    candidates: list[int]  # first-stage ids (FAISS order)
    scores: list[float]  # their first-stage scores
    evidence: list[list[float]]  # the page's per-constraint probabilities (rerank.py), rounded
    reply: dict  # {"results": [{rank, id, score}], "summary", "message"}
    message: str | None  # a problem to tell the user instead of searching
    history: Annotated[list[dict], operator.add]  # one {"text", "reply"} per turn, appended
    timings: Annotated[dict, merge_timings]  # seconds per node of the current turn


@dataclass(frozen=True, kw_only=True)
class GraphOptions:
    k: int = 10  # results per reply
    memory: bool = True  # False: each turn stands alone (the "single" ablation)
    concat: bool = False  # True: all turns' text as one query (the "concat" ablation)
    decompose: bool = True  # False: a turn's text is one proposition (the "no-decompose" one)


def timed(name: str, fn: Callable[[TurnState], dict], first: bool = False):
    def node(state: TurnState) -> dict:
        started = time.perf_counter()
        update = fn(state)
        elapsed = time.perf_counter() - started
        update["timings"] = {name: elapsed, **({"start": True} if first else {})}
        return update

    node.__name__ = name
    return node


def build_graph(engine: Engine, decomposer: Callable[[str], list], options: GraphOptions,
                checkpointer=None):
    words = engine.vocabulary  # what the library's text means: slots, spellings, conflicts

    def memory_of(state: TurnState) -> QueryState:
        return QueryState.from_dict(state.get("memory") or {})

    def do_interpret(state: TurnState) -> dict:
        request = state["request"]
        memory = memory_of(state)
        kind = request["kind"]
        if kind == "say":
            try:
                turn = interpret(request["text"], len(memory.shown))
            except UnknownReference as e:
                return {"turn": None, "message": str(e)}
            by_rank = dict(enumerate(memory.shown, start=1))
            return {"message": None, "turn": {
                "text": turn.text, "reset": turn.reset,
                "liked": [by_rank[r] for r in turn.liked],
                "disliked": [by_rank[r] for r in turn.disliked],
                "reference": by_rank[turn.reference] if turn.reference else None,
            }}
        if kind in ("like", "dislike"):
            image_id = int(request["image_id"])
            return {"message": None, "turn": {
                "text": "", "reset": False, "reference": None,
                "liked": [image_id] if kind == "like" else [],
                "disliked": [image_id] if kind == "dislike" else [],
            }}
        if kind == "remove":
            try:
                remove_constraint(memory, request["constraint"], words)
            except NoSuchConstraint as e:
                return {"turn": None, "message": str(e)}
            return {"message": None, "turn": {"remove": request["constraint"]}}
        raise ValueError(f"unknown request kind {kind!r}")

    def do_decompose(state: TurnState) -> dict:
        text = state["turn"].get("text", "")
        if not text:
            return {"propositions": []}
        if options.decompose:
            found = decomposer(text)
        else:
            found = [Proposition(text=text, polarity=1)]
        return {"propositions": [{"text": p.text, "polarity": p.polarity} for p in found]}

    def do_remember(state: TurnState) -> dict:
        turn = state["turn"]
        memory = memory_of(state)
        texts = list(state.get("texts") or [])
        if "remove" in turn:
            return {"memory": remove_constraint(memory, turn["remove"], words).to_dict()}
        if turn["reset"]:
            texts = []
        if state["request"].get("text"):
            texts.append(state["request"]["text"])
        propositions = [Proposition(text=p["text"], polarity=p["polarity"])
                        for p in state.get("propositions", [])]
        if options.concat:
            joined = " ".join(texts)
            constraint = Constraint(text=joined, said=joined, polarity=1, slot=None,
                                    turn=memory.turn + 1)
            new = QueryState(turn=memory.turn + 1, constraints=(constraint,) if joined else (),
                             shown=memory.shown)
            return {"memory": new.to_dict(), "texts": texts}
        base = memory if options.memory else QueryState(turn=memory.turn, shown=memory.shown)
        new = apply_turn(
            base, vocabulary=words, propositions=propositions, liked=turn["liked"], disliked=turn["disliked"],
            reference=turn["reference"], reference_text=turn["text"] if turn["reference"] else "",
            reset=turn["reset"],
        )
        return {"memory": new.to_dict(), "texts": texts}

    def do_retrieve(state: TurnState) -> dict:
        config = engine.config
        want = max(options.k, config.candidates if config.rerank else options.k)
        ids, scores = engine.retrieve(memory_of(state), want)
        return {"candidates": ids.tolist(), "scores": scores.tolist()}

    def do_rerank(state: TurnState) -> dict:
        ids = np.asarray(state["candidates"], np.int64)
        scores = np.asarray(state["scores"], np.float32)
        evidence = np.zeros((len(ids), 0), np.float32)  # none without the reranker
        if engine.config.rerank and len(ids):
            ids, scores, evidence = engine.rank_with_evidence(memory_of(state), ids, scores,
                                                              options.k)
        return {"candidates": ids[: options.k].tolist(),
                "scores": [float(s) for s in scores[: options.k]],
                "evidence": [[round(float(p), 3) for p in row] for row in evidence[: options.k]]}

    def do_respond(state: TurnState) -> dict:
        memory = memory_of(state)
        message = state.get("message")
        request = state["request"]
        if message:
            previous = state.get("reply") or {}
            reply = {"results": previous.get("results", []), "summary": summary(memory, words),
                     "message": message, "notice": previous.get("notice")}
            return {"reply": reply, "history": [{"text": _said(request), "reply": reply}]}
        # each result's evidence: {constraint label: probability it meets it}; the reply's
        # notice: a line when no result of the page meets every constraint (engine.py)
        labels = [c.label for c in memory.constraints]
        rows = state.get("evidence") or [[]] * len(state["candidates"])
        page = zip(state["candidates"], state["scores"], rows)
        results = [{"rank": r, "id": int(i), "score": float(s), "evidence": dict(zip(labels, e))}
                   for r, (i, s, e) in enumerate(page, 1)]
        notice = engine.unmatched_notice(memory, rows)
        memory = record_shown(memory, [r["id"] for r in results])
        reply = {"results": results, "summary": summary(memory, words), "message": None,
                 "notice": notice}
        return {"memory": memory.to_dict(), "reply": reply,
                "history": [{"text": _said(request), "reply": reply}]}

    graph = StateGraph(TurnState)
    graph.add_node("interpret", timed("interpret", do_interpret, first=True))
    graph.add_node("decompose", timed("decompose", do_decompose))
    graph.add_node("remember", timed("remember", do_remember))
    graph.add_node("retrieve", timed("retrieve", do_retrieve))
    graph.add_node("rerank", timed("rerank", do_rerank))
    graph.add_node("respond", timed("respond", do_respond))
    graph.add_edge(START, "interpret")
    graph.add_conditional_edges("interpret", lambda s: "respond" if s.get("message") else
                                "decompose", ["decompose", "respond"])
    graph.add_edge("decompose", "remember")
    graph.add_edge("remember", "retrieve")
    graph.add_edge("retrieve", "rerank")
    graph.add_edge("rerank", "respond")
    graph.add_edge("respond", END)
    return graph.compile(checkpointer=checkpointer)


def _said(request: dict) -> str:
    kind = request["kind"]
    if kind == "say":
        return request["text"]
    if kind == "remove":
        return f"(removed {request['constraint']})"
    return f"({kind} image {request['image_id']})"
