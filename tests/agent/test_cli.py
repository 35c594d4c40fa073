"""What a person sees from `rummage index`, `search`, `libraries`, `ask` and `vocabulary`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main
from retrievers.library import Library
from tests.conftest import make_image


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_mixed_folder_prints_a_correct_summary(tmp_path, tiny_model_dir, capsys):
    folder = tmp_path / "mixed"
    for i in range(3):
        make_image(folder / f"ok{i}.png", (i * 60, 0, 0))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("hello")
    code, out, err = run_cli("index", str(folder), "--library", "mixed",
                             "--checkpoint", str(tiny_model_dir), capsys=capsys)
    assert code == 0, err
    assert "5 image files: 3 added, 0 updated, 0 unchanged, 0 removed, 2 skipped" in out
    assert "library 'mixed' holds 3 images" in out
    assert "skipped 1: empty file" in out and "skipped 1: not an image" in out


def test_search_json_lists_rank_id_path_score(tmp_path, photo_folder, tiny_model_dir, capsys):
    run_cli("index", str(photo_folder), "-l", "p", "--checkpoint", str(tiny_model_dir),
            capsys=capsys)
    code, out, _ = run_cli("search", "--image", str(photo_folder / "img05.png"), "-l", "p",
                           "-k", "4", "--json", capsys=capsys)
    hits = json.loads(out)
    assert code == 0 and [h["rank"] for h in hits] == [1, 2, 3, 4]
    assert set(hits[0]) == {"rank", "id", "path", "score"}
    assert hits[0]["path"].endswith("img05.png")
    assert hits[0]["score"] >= hits[1]["score"] >= hits[3]["score"]
    code, out, _ = run_cli("search", "red", "-l", "p", "--json", capsys=capsys)
    assert len(json.loads(out)) == 10
    code, out, _ = run_cli("libraries", capsys=capsys)
    assert out.startswith("p ") and "12 images" in out and "vocabulary photos" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["index", "/no/such/folder", "-l", "x"], "rummage: No such folder: /no/such/folder"),
        (["search", "red", "-l", "nope"], "rummage: No library named 'nope'"),
        (["index", ".", "-l", "x", "--model", "ViT-Nope"], "rummage: Unknown model 'ViT-Nope'"),
        (["search", "-l", "x"], "rummage: Give a TEXT to search for, or --image PATH"),
    ],
)
def test_user_mistakes_are_one_line_errors(args, message, capsys):
    code, _, err = run_cli(*args, capsys=capsys)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_offline_pretrained_model_fails_fast_in_one_line(tmp_path, photo_folder, capsys):
    started = time.perf_counter()
    code, _, err = run_cli("index", str(photo_folder), "-l", "clip", capsys=capsys)
    assert code == 2 and time.perf_counter() - started < 10
    assert "Cannot fetch the weights of ViT-B-32/laion2b_s34b_b79k" in err
    assert "--model demo" in err and "--checkpoint PATH" in err and err.count("\n") == 1


def test_kill_9_mid_run_then_rerun_holds_every_file_once(tmp_path, tiny_model_dir, rummage_home):
    folder = tmp_path / "many"
    for i in range(400):
        make_image(folder / f"{i:04d}.png", (i % 256, (i * 7) % 256, (i * 13) % 256),
                   size=(32 + i % 50, 32))
    command = [sys.executable, "-m", "agent.cli", "index", str(folder), "-l", "big",
               "--checkpoint", str(tiny_model_dir)]
    env = dict(os.environ, RUMMAGE_HOME=str(rummage_home))
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = rummage_home / "big" / "library.db"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until some batches are committed, then kill -9
        time.sleep(0.05)
        if db.exists() and _count(db) >= 64:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    partial = _count(db)
    assert 0 < partial < 400, "the kill must land in the middle of the run"
    assert _count(db, "vectors") == partial  # a row is never committed without its vector

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"{400 - partial} added" in done.stdout
    library = Library.open("big", rummage_home)
    paths = [r[0] for r in library.db.execute("SELECT path FROM images")]
    assert len(paths) == len(set(paths)) == 400
    ids = {r[0] for r in library.db.execute("SELECT id FROM images")}
    assert set(library.index.ids().tolist()) == ids
    assert {r[0] for r in library.db.execute("SELECT id FROM vectors")} == ids


def _count(db: Path, table: str = "images") -> int:
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_ask_command_continues_a_session(small_library, capsys):
    assert main(["ask", "a red dress", "-l", small_library]) == 0
    out = capsys.readouterr().out
    session_id = out.strip().splitlines()[-1].split()[1]
    assert main(["ask", "make it blue", "-l", small_library, "-s", session_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["session"] == session_id and data["summary"] == "dress · blue"
    assert main(["ask", "hi", "-l", small_library, "-s", "nope"]) == 2


def test_ask_json_says_why_each_result_is_there_and_when_nothing_fits(demo_home, monkeypatch,
                                                                      capsys):
    monkeypatch.setenv("RUMMAGE_HOME", str(demo_home))
    assert main(["ask", "a gray striped skirt", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notice"] == "No gray striped skirt; closest first."
    assert [list(r["evidence"]) for r in data["results"]] == [["skirt", "gray", "striped"]] * 10
    assert all(0 <= p <= 1 for r in data["results"] for p in r["evidence"].values())
    assert main(["ask", "a navy checked skirt", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notice"] is None and min(data["results"][0]["evidence"].values()) >= 0.5


def test_ask_marks_each_result_and_falls_back_to_plus_minus(demo_home, monkeypatch, capsys):
    import io

    monkeypatch.setenv("RUMMAGE_HOME", str(demo_home))
    assert main(["ask", "a gray striped skirt"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["memory: skirt · gray · striped",
                         "No gray striped skirt; closest first.", "✓/✗: skirt, gray, striped"]
    rank, _, marks, _ = lines[3].split()  # "  1  #169    ✓✗✓  /path": two of three met
    assert rank == "1" and sorted(marks) == sorted("✓✓✗")
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main(["ask", "a gray striped skirt"]) == 0
    ascii_out.seek(0)
    lines = ascii_out.read().splitlines()
    assert lines[1] == "No gray striped skirt; closest first."
    assert lines[2] == "+/-: skirt, gray, striped" and sorted(lines[3].split()[2]) == sorted("++-")


def test_ask_with_a_local_cross_encoder(small_library, tiny_blip, capsys):
    assert main(["ask", "a red dress", "-l", small_library, "--cross-encoder", str(tiny_blip),
                 "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert len(reply["results"]) == 10 and reply["summary"] == "dress · red"
    assert main(["ask", "red", "-l", small_library, "--cross-encoder", "/nope"]) == 2


def test_a_new_photo_library_reads_requests_with_the_photos_vocabulary(tmp_path, tiny_model_dir,
                                                                      capsys):
    folder = tmp_path / "pets"
    make_image(folder / "a.png", (200, 120, 40))
    code, _, err = run_cli("index", str(folder), "-l", "pets", "--checkpoint",
                           str(tiny_model_dir), capsys=capsys)
    assert code == 0 and "(vocabulary photos, vectors in faiss)" in err
    code, out, _ = run_cli("vocabulary", "show", "--library", "pets", capsys=capsys)
    assert code == 0 and "animal (head nouns)" in out and "dog = " in out
    code, out, _ = run_cli("libraries", "--json", capsys=capsys)
    assert json.loads(out)[0]["vocabulary"] == "photos"


def test_index_with_your_own_vocabulary_file_and_switch_back(tmp_path, tiny_model_dir, capsys):
    folder = tmp_path / "pets"
    make_image(folder / "a.png", (200, 120, 40))
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"name": "mine", "extends": "photos", "slots": [
        {"name": "pet_name", "kind": "head", "values": [{"value": "rufus"}, {"value": "tom"}]}]}))
    assert run_cli("index", str(folder), "-l", "pets", "--checkpoint", str(tiny_model_dir),
                   "--vocabulary", str(mine), capsys=capsys)[0] == 0
    assert Library.open("pets", Path(os.environ["RUMMAGE_HOME"])).vocabulary_ref == str(mine)
    code, out, _ = run_cli("vocabulary", "show", "-l", "pets", capsys=capsys)
    assert code == 0 and "pet_name (head nouns): 2 values" in out
    assert run_cli("index", str(folder), "-l", "pets", "--vocabulary", "photos",
                   capsys=capsys)[0] == 0
    assert Library.open("pets", Path(os.environ["RUMMAGE_HOME"])).vocabulary_ref == "photos"


def test_a_bad_vocabulary_is_one_line_and_creates_nothing(tmp_path, tiny_model_dir, capsys,
                                                         rummage_home):
    folder = tmp_path / "pets"
    make_image(folder / "a.png", (200, 120, 40))
    code, _, err = run_cli("index", str(folder), "-l", "pets", "--checkpoint",
                           str(tiny_model_dir), "--vocabulary", "klingon", capsys=capsys)
    assert code == 2 and err.startswith("rummage: No vocabulary 'klingon': use one of")
    assert len(err.strip().splitlines()) == 1 and not (rummage_home / "pets").exists()


def test_the_shipped_vocabularies_are_listed(capsys):
    code, out, _ = run_cli("vocabulary", "list", capsys=capsys)
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["demo", "photos"]


def test_the_console_script_adds_chat_to_the_agents_commands(capsys):
    from tui.cli import main as rummage

    with pytest.raises(SystemExit):
        main(["chat", "--help"])  # the agent's own parser knows no chat
    assert "invalid choice: 'chat'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        rummage(["chat", "--help"])
    assert done.value.code == 0 and "--session" in capsys.readouterr().out
