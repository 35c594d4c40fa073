"""The Python API's shape and its promises: sessions persist, mistakes become messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from agent import Agent, AgentConfig, Reply, Result
from agent.api import NoSuchSession


def test_the_documented_shape(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    reply = session.say("a red dress with long sleeves")
    assert isinstance(reply, Reply) and len(reply.results) == 10
    assert all(isinstance(r, Result) for r in reply.results)
    assert [r.rank for r in reply.results] == list(range(1, 11))
    assert reply.results[0].path.endswith(".png") and reply.message is None
    assert reply.summary == "dress · red · long sleeves"
    assert set(reply.timings) == {"interpret", "decompose", "remember", "retrieve", "rerank",
                                  "respond"}
    reply = session.say("not 2, more like 4 but striped")
    assert "striped" in reply.summary and "1 disliked" in reply.summary
    session.like(reply.results[0].id)
    session.dislike(reply.results[1].id)
    assert [m.label for m in session.memory] == ["dress", "red", "long sleeves", "striped"]
    assert isinstance(session.id, str) and agent.size == 40
    agent.close()


def test_disliked_image_never_returns(small_library):
    agent = Agent.open(small_library, persist=False)
    session = agent.new_session()
    first = session.say("something green").results[0].id
    session.dislike(first)
    for text in ["something green", "green please", "start over: green"]:
        assert first not in [r.id for r in session.say(text).results]


def test_reference_to_a_rank_not_shown_is_a_message_not_an_error(small_library):
    session = Agent.open(small_library, persist=False).new_session()
    early = session.say("not 3")
    assert early.message.startswith("No results are shown yet") and early.results == []
    shown = session.say("blue")
    reply = session.say("#40")
    assert reply.message == "There is no #40: only 10 results are shown."
    assert reply.results == shown.results and session.memory[0].label == "blue"


def test_remove_a_constraint_through_the_api(small_library):
    session = Agent.open(small_library, persist=False).new_session()
    session.say("a red dress, not checked")
    reply = session.remove_constraint("not checked")
    assert reply.summary == "dress · red"
    assert session.remove_constraint("purple").message.startswith("No constraint")


def test_ablations_share_the_loaded_library(small_library):
    agent = Agent.open(small_library, persist=False)
    single = agent.variant(memory=False, k=5)
    assert single.library is agent.library and single.config == AgentConfig(memory=False, k=5)
    session = single.new_session()
    session.say("red")
    assert session.say("striped").summary == "striped" and len(session.last_reply.results) == 5
    concat = agent.variant(concat=True).new_session()
    concat.say("red")
    assert concat.say("striped").summary == "red striped"


def test_every_turn_is_saved_on_the_thread_that_took_it(small_library, monkeypatch):
    """A turn's checkpoint is saved on the thread that called say(), not handed to a pool
    thread the turn then waits for (graph.py's `saving_on`), and saved before say() returns,
    from whichever thread a caller (the chat's worker, say) takes turns on."""
    import threading

    from langgraph.checkpoint.sqlite import SqliteSaver

    saved_on: list[threading.Thread] = []
    put = SqliteSaver.put

    def put_and_record(self, *args, **kwargs):
        saved_on.append(threading.current_thread())
        return put(self, *args, **kwargs)

    monkeypatch.setattr(SqliteSaver, "put", put_and_record)
    agent = Agent.open(small_library)
    session = agent.new_session()
    for text in ("a red dress", "make it blue", "undo"):
        reply = session.say(text)
        assert session.last_reply.summary == reply.summary  # saved by the time say() returns
    assert saved_on == [threading.current_thread()] * 3
    worker = threading.Thread(target=session.say, args=("with long sleeves",), name="chat-worker")
    worker.start()
    worker.join()
    assert saved_on[-1] is worker and "long sleeves" in session.last_reply.summary
    agent.close()


def test_a_turn_whose_checkpoint_cannot_be_saved_fails_and_keeps_the_last_one(
        small_library, monkeypatch):
    """Saved on the turn's own thread, a failed save still reaches the caller (it is not
    lost in a future nobody reads), and the session stays at its last saved turn."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    agent = Agent.open(small_library)
    session = agent.new_session()
    before = session.say("a red dress").summary
    put = SqliteSaver.put

    def full_disk(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SqliteSaver, "put", full_disk)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        session.say("make it blue")
    monkeypatch.setattr(SqliteSaver, "put", put)
    assert session.last_reply.summary == before
    assert "blue" in session.say("make it blue").summary
    agent.close()


def test_a_session_resumes_in_another_process(small_library, rummage_home):
    agent = Agent.open(small_library)
    session = agent.new_session()
    session.say("a blue skirt")
    shown = [r.id for r in session.say("not checked").results]
    agent.close()
    script = textwrap.dedent(f"""
        from agent import Agent
        session = Agent.open("pics").session("{session.id}")
        print([m.label for m in session.memory])
        print([r.id for r in session.last_reply.results])
        print(len(session.history), session.say("#2").message)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stderr
    assert lines == ["['skirt', 'blue', 'not checked']", str(shown), "2 None"]
    again = Agent.open(small_library)
    assert [s.title for s in again.sessions()] == ["a blue skirt"]
    turns = again.store.turns(session.id)
    assert [t["text"] for t in turns] == ["a blue skirt", "not checked", "#2"]
    assert [p["text"] for p in turns[0]["propositions"]] == ["skirt", "blue"]
    with pytest.raises(NoSuchSession, match="No session 'nope'"):
        again.session("nope")


def test_forgotten_throwaway_sessions_are_gone(small_library):
    agent = Agent.open(small_library, persist=False)
    session = agent.new_session()
    session.say("red")
    assert agent.session(session.id).memory[0].label == "red"
    agent.forget(session.id)
    with pytest.raises(NoSuchSession):
        agent.session(session.id)


def test_every_knob_is_one_variant_away(small_library):
    from agent.engine import EngineConfig
    from agent.errors import UnknownSetting
    from retrievers.rerank import RerankWeights

    agent = Agent.open(small_library, persist=False)
    tuned = agent.variant(rerank=False, diversity=0.0, liked=4.0, k=3)
    assert tuned.config == AgentConfig(k=3, engine=EngineConfig(
        rerank=False, diversity=0.0, weights=RerankWeights(liked=4.0)))
    assert tuned.engine.config is tuned.config.engine  # the engine runs on the config it shows
    assert len(tuned.new_session().say("red").results) == 3
    assert agent.config == AgentConfig()  # the original is untouched
    with pytest.raises(UnknownSetting, match="No agent setting 'likd'"):
        agent.variant(likd=4.0)


def test_every_result_says_which_constraints_it_meets(demo_home):
    agent = Agent.open("demo", home=demo_home, persist=False)
    session = agent.new_session()
    red_dress = session.say("a red dress").results[0]
    session.like(red_dress.id)  # the liked red dress keeps red ones on the next page
    reply = session.say("make it blue")
    assert [list(r.evidence) for r in reply.results] == [["dress", "blue"]] * 10
    assert all(0 <= p <= 1 for r in reply.results for p in r.evidence.values())
    color = {r.id: agent.image(r.id).meta["color"] for r in reply.results}
    blue = [r for r in reply.results if color[r.id] == "blue"]
    red = [r for r in reply.results if color[r.id] == "red"]
    assert blue and red
    assert min(r.evidence["blue"] for r in blue) > max(r.evidence["blue"] for r in red)
    assert all(r.meets("blue") for r in blue) and not any(r.meets("blue") for r in red)
    assert all(r.meets("dress") for r in reply.results)
    assert reply.notice is None  # blue dresses are on the page
    assert session.last_reply.results == reply.results  # the record keeps the evidence


def test_a_request_nothing_satisfies_says_so_and_shows_the_closest(demo_home):
    agent = Agent.open("demo", home=demo_home, persist=False)
    catalogue = agent.library.metadata().values()
    assert not [m for m in catalogue if (m["category"], m["color"], m["pattern"])
                == ("skirt", "gray", "striped")]
    reply = agent.new_session().say("a gray striped skirt")
    assert reply.notice == "No gray striped skirt; closest first."
    assert len(reply.results) == 10  # the near misses are still shown, closest first
    met = [[r.meets(label) for label in r.evidence] for r in reply.results]
    assert not any(all(row) for row in met) and sum(met[0]) == 2
    first = agent.image(reply.results[0].id).meta  # a skirt, gray or striped
    assert first["category"] == "skirt" and (first["color"] == "gray"
                                             or first["pattern"] == "striped")
    # a garment the catalogue has: no notice, and the first result meets everything
    found = agent.new_session().say("a navy checked skirt")
    assert found.notice is None and all(map(found.results[0].meets, found.results[0].evidence))


def test_evidence_follows_the_memory_and_is_kept_with_the_session(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    reply = session.say("a red dress, not checked")
    assert [list(r.evidence) for r in reply.results] == [["dress", "red", "not checked"]] * 10
    assert all(p == round(p, 3) for r in reply.results for p in r.evidence.values())
    assert session.say("#40").notice == reply.notice  # a message keeps the page and its notice
    agent.close()
    again = Agent.open(small_library).session(session.id)
    assert again.history[0].reply.results == reply.results
    assert again.last_reply.notice == reply.notice
    # nothing asked: nothing to meet, no notice; without the reranker: no verdict either
    cleared = again.say("start over")
    assert again.memory == [] and cleared.notice is None
    assert all(r.evidence == {} for r in cleared.results)
    plain = Agent.open(small_library, persist=False).variant(rerank=False)
    unranked = plain.new_session().say("a red dress")
    assert all(r.evidence == {} for r in unranked.results) and unranked.notice is None
