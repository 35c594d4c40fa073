"""What a person sees from `rummage index`, `search` and `libraries`, including after kill -9."""

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
    assert out.startswith("p ") and "12 images" in out


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
