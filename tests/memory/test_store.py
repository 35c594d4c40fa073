"""Conversations are kept in plain SQLite tables beside the library's images."""

import sqlite3
from dataclasses import dataclass

import pytest
import sqlite_utils

from memory.store import NoSuchSession, Store, UnknownFeedbackKind


@dataclass(frozen=True)
class P:
    text: str
    polarity: int = 1


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "library.db") as opened:
        yield opened


def test_a_conversation_is_recorded_turn_by_turn(store):
    session = store.create_session("demo")
    store.record_turn(session, "a red dress, not checked", [P("dress"), P("red"),
                      P("checked", -1)], [(40, 0.91), (12, 0.80), (7, 0.75)],
                      "dress · red · not checked")
    store.record_turn(session, "make it blue", [P("blue")], [(41, 0.93), (40, 0.5)],
                      "dress · blue · not checked")
    first, second = store.turns(session)
    assert first["text"] == "a red dress, not checked"
    assert first["propositions"] == [
        {"text": "dress", "polarity": 1}, {"text": "red", "polarity": 1},
        {"text": "checked", "polarity": -1}]
    assert first["shown"] == [40, 12, 7]
    assert first["scores"] == pytest.approx([0.91, 0.80, 0.75])
    assert (second["turn"], second["shown"], second["summary"]) == (
        2, [41, 40], "dress · blue · not checked")


def test_sessions_list_newest_first_with_title_and_turn_count(store):
    old = store.create_session("demo")
    store.record_turn(old, "a red dress", [P("dress")], [], "dress")
    store.record_turn(old, "make it blue", [P("blue")], [], "dress · blue")
    new = store.create_session("photos", session_id="chosen-id")
    assert new == "chosen-id"
    assert [(s["id"], s["library"], s["turns"], s["title"]) for s in store.sessions()] == [
        ("chosen-id", "photos", 0, ""), (old, "demo", 2, "a red dress")]
    assert [s["id"] for s in store.sessions(limit=1)] == ["chosen-id"]
    assert len(old) == 32 and int(old, 16) >= 0  # a uuid4 hex


def test_one_session_by_id_or_none(store):
    session = store.create_session("demo")
    assert store.session(session)["library"] == "demo"
    assert store.session("nope") is None


def test_a_session_resumes_after_reopening_the_file(tmp_path):
    with Store(tmp_path / "library.db") as store:
        session = store.create_session("demo")
        store.record_turn(session, "stripes", [P("striped")], [(3, 0.5)], "striped")
    with Store(tmp_path / "library.db") as store:
        assert store.session(session)["turns"] == 1
        assert store.turns(session)[0]["shown"] == [3]


def test_turns_are_numbered_by_the_store_and_never_replaced(tmp_path):
    # two writers of one session (two processes, each with its own connection) each append
    # their turn; neither overwrites the other's, whatever they believe the turn number is
    with Store(tmp_path / "library.db") as one, Store(tmp_path / "library.db") as two:
        session = one.create_session("demo")
        assert one.record_turn(session, "red", [P("red")], [(1, 0.9)], "red") == 1
        assert two.record_turn(session, "red dress", [P("dress")], [(2, 0.8)], "dress") == 2
        assert one.record_turn(session, "blue", [P("blue")], [(3, 0.7)], "blue") == 3
        assert [(t["turn"], t["text"], t["shown"]) for t in one.turns(session)] == [
            (1, "red", [1]), (2, "red dress", [2]), (3, "blue", [3])]
        assert one.db["propositions"].count == 3


def test_a_turn_keeps_its_reply_and_the_memory_after_it(store):
    session = store.create_session("demo")
    assert store.last_turn(session) is None
    store.record_turn(session, "red", [P("red")], [(1, 0.9)], "red",
                      reply={"results": [{"rank": 1, "id": 1}], "summary": "red"},
                      memory={"turn": 1, "constraints": [{"text": "red"}]})
    store.record_turn(session, "thanks", [], [], "red", reply={"answer": "glad to help"},
                      memory={"turn": 1})
    last = store.last_turn(session)
    assert (last["turn"], last["text"], last["reply"], last["memory"]) == (
        2, "thanks", {"answer": "glad to help"}, {"turn": 1})
    assert store.turns(session)[0]["reply"]["results"] == [{"rank": 1, "id": 1}]


def test_feedback_is_kept_in_order(store):
    session = store.create_session("demo")
    store.record_feedback(session, 1, 40, "like")
    store.record_feedback(session, 1, 12, "dislike")
    store.record_feedback(session, 2, None, "remove-constraint", detail="not checked")
    kept = [(f["turn"], f["image_id"], f["kind"], f["detail"]) for f in store.feedback(session)]
    assert kept == [
        (1, 40, "like", ""), (1, 12, "dislike", ""), (2, None, "remove-constraint", "not checked")]


def test_unknown_feedback_kind_names_the_valid_ones(store):
    session = store.create_session("demo")
    with pytest.raises(UnknownFeedbackKind, match="'love': use one of like, dislike"):
        store.record_feedback(session, 1, 3, "love")


def test_writing_to_a_missing_session_says_how_to_get_one(store):
    with pytest.raises(NoSuchSession, match="No session 'ghost': create it with create_session"):
        store.record_turn("ghost", "red", [], [], "")
    with pytest.raises(NoSuchSession):
        store.record_feedback("ghost", 1, 3, "like")


def test_the_tables_open_with_plain_sqlite_utils(store):
    session = store.create_session("demo")
    store.record_turn(session, "red", [P("red")], [(5, 0.5)], "red")
    db = sqlite_utils.Database(store.path)
    assert {"sessions", "turns", "propositions", "shown", "feedback"} <= set(db.table_names())
    assert db["turns"].foreign_keys[0].other_table == "sessions"
    assert any(index.columns == ["session_id", "turn"] for index in db["turns"].indexes)
    assert [row["image_id"] for row in db["shown"].rows] == [5]


def test_the_library_tables_and_schema_version_are_left_alone(tmp_path):
    path = tmp_path / "library.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT)")
    conn.execute("INSERT INTO images (path) VALUES ('a.jpg')")
    conn.execute("PRAGMA user_version = 3")  # the library's own schema ladder
    conn.commit()
    conn.close()
    with Store(path) as store:
        store.create_session("demo")
    with Store(path):  # opening again applies nothing twice
        pass
    db = sqlite_utils.Database(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert list(db["images"].rows) == [{"id": 1, "path": "a.jpg"}]
    assert [r["name"] for r in db["_sqlite_migrations"].rows] == ["m001_create_tables",
                                                                   "m002_turns_keep_reply_and_memory"]
