"""The conversation tables share library.db's one migration mechanism with the library's own."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from memory.store import Store, m001_create_tables


def test_conversations_recorded_by_sqlite_utils_migrations_are_adopted_as_they_are(tmp_path):
    db = tmp_path / "library.db"
    old = Migrations("rummage.memory")
    old()(m001_create_tables)  # as the store registered its step before
    old.apply(sqlite_utils.Database(db))
    before = list(sqlite_utils.Database(db).query("SELECT * FROM _sqlite_migrations"))

    with Store(db) as store:
        session = store.create_session("demo")
        assert store.session(session)["library"] == "demo"
    after = list(sqlite_utils.Database(db).query("SELECT * FROM _sqlite_migrations"))
    # the old step is not run or recorded again; only the step added since runs, once
    assert after[:1] == before
    assert [row["name"] for row in after[1:]] == ["m002_turns_keep_reply_and_memory"]
