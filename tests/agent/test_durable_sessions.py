"""Sessions survive concurrency and loss: two processes in one session both land, in order; a
busy session says so; a killed turn frees it; deleting checkpoints.db loses no recorded turn;
and a long session's checkpoints do not grow with its length."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from agent import Agent
from agent.cli import main
from memory.session_lock import SessionBusy, session_lock

TAKER = textwrap.dedent("""
    import sys
    from agent import Agent
    name, session_id, turns = sys.argv[1], sys.argv[2], int(sys.argv[3])
    agent = Agent.open("pics")
    session = agent.session(session_id)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start their turns together
    for i in range(turns):
        session.say(f"{name} {i} red")
    agent.close()
""")


def test_two_processes_taking_turns_in_one_session_both_land_in_order(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    agent.close()
    takers = [subprocess.Popen([sys.executable, "-c", TAKER, name, session.id, "20"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for name in ("left", "right")]
    for taker in takers:
        assert taker.stdout.readline().strip() == "ready"
    for taker in takers:
        taker.stdin.write("go\n")
        taker.stdin.flush()
    for taker in takers:
        _, err = taker.communicate(timeout=300)
        assert taker.returncode == 0, err
    agent = Agent.open(small_library)
    turns = agent.store.turns(session.id)
    agent.close()
    assert [t["turn"] for t in turns] == list(range(1, 41))
    for name in ("left", "right"):
        assert [t["text"] for t in turns if t["text"].startswith(name)] == [
            f"{name} {i} red" for i in range(20)]


def test_a_busy_session_says_so_in_one_line_and_changes_nothing(small_library, monkeypatch,
                                                                 capsys):
    agent = Agent.open(small_library)
    session = agent.new_session()
    session.say("a blue skirt")
    monkeypatch.setenv("RUMMAGE_SESSION_WAIT", "0.2")
    with session_lock(agent.library.folder, session.id):
        with pytest.raises(SessionBusy, match=f"Session '{session.id}' is busy"):
            session.say("make it red")
        code = main(["ask", "make it red", "--library", "pics", "--session", session.id])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "is busy" in err
    assert [t["text"] for t in agent.store.turns(session.id)] == ["a blue skirt"]
    assert [m.label for m in session.memory] == ["skirt", "blue"]
    assert session.say("make it red").summary == "skirt · red"  # free again
    agent.close()


def test_a_turn_killed_midway_does_not_leave_the_session_locked(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from memory.session_lock import session_lock
        with session_lock(Path({str(agent.library.folder)!r}), {session.id!r}):
            print("holding", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    with pytest.raises(SessionBusy), session_lock(agent.library.folder, session.id, wait=0.1):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    with session_lock(agent.library.folder, session.id, wait=5):
        assert time.monotonic() - started < 1
    assert session.say("red").summary == "red"
    agent.close()


def test_deleting_the_checkpoints_keeps_every_turn_and_the_memory(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    session.say("a blue skirt")
    passed = {r.id for r in session.say("not checked").results}
    session.say("none of these")
    memory = [m.label for m in session.memory]
    folder = agent.library.folder
    agent.close()
    for path in folder.glob("checkpoints.db*"):
        path.unlink()

    agent = Agent.open(small_library)
    again = agent.session(session.id)  # known from the store alone
    assert [e.text for e in again.history] == ["a blue skirt", "not checked", "none of these"]
    # before any turn rebuilds the checkpoints, what the chat shows on resuming is there
    assert [m.label for m in again.memory] == memory
    assert again.last_reply is not None and len(again.last_reply.results) == 10
    reply = again.say("make it red")
    assert [m.label for m in again.memory] == [
        "red" if label == "blue" else label for label in memory]
    assert not passed & {r.id for r in reply.results}  # "none of these" still holds
    assert [t["turn"] for t in agent.store.turns(session.id)] == [1, 2, 3, 4]
    agent.close()


def test_a_long_session_writes_checkpoints_of_constant_size(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    script = ["a red dress", "make it blue", "not 2", "none of these", "undo", "thanks"]
    for i in range(48):
        session.say(script[i % len(script)])
    folder = agent.library.folder
    agent.close()
    with sqlite3.connect(folder / "checkpoints.db") as conn:
        sizes = [n for (n,) in conn.execute(
            "SELECT length(checkpoint) FROM checkpoints WHERE thread_id = ? ORDER BY rowid",
            [session.id])]
    # one checkpoint per turn, and the 8th round of the script costs what the 1st did: no
    # part of the state grows with the session (the history lives in the store)
    assert len(sizes) == 48
    first, last = sizes[:6], sizes[-6:]
    assert max(last) <= 1.1 * max(first)


def test_a_checkpoints_file_that_is_not_a_database_is_set_aside(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    session.say("a blue skirt")
    folder = agent.library.folder
    agent.close()
    for path in folder.glob("checkpoints.db*"):
        path.unlink()
    (folder / "checkpoints.db").write_bytes(b"this is not a database" * 100)

    agent = Agent.open(small_library)
    [notice] = agent.notices
    assert "could not be read" in notice and "rebuilt from their recorded turns" in notice
    assert len(list(folder.glob("checkpoints.db.damaged-*"))) == 1
    assert agent.session(session.id).say("make it red").summary == "skirt · red"
    agent.close()


def test_a_checkpoint_that_cannot_be_decoded_is_rebuilt_from_the_store(small_library):
    agent = Agent.open(small_library)
    session = agent.new_session()
    session.say("a blue skirt")
    session.say("not checked")
    folder = agent.library.folder
    agent.close()
    with sqlite3.connect(folder / "checkpoints.db") as conn:
        conn.execute("UPDATE checkpoints SET checkpoint = x'c1c1c1', type = 'msgpack'")

    agent = Agent.open(small_library)
    again = agent.session(session.id)
    assert [m.label for m in again.memory] == ["skirt", "blue", "not checked"]
    assert "rebuilt from its recorded turns" in agent.notices[0]
    assert again.say("make it red").summary == "skirt · red · not checked"
    assert [t["turn"] for t in agent.store.turns(session.id)] == [1, 2, 3]
    agent.close()
