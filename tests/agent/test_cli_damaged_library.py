"""What a person sees from `rummage` when a library's library.db is damaged."""

from __future__ import annotations

import pytest

from agent.cli import main


@pytest.fixture
def damaged(rummage_home, photo_folder, tiny_model_dir, capsys) -> str:
    assert main(["index", str(photo_folder), "-l", "photos",
                 "--checkpoint", str(tiny_model_dir)]) == 0
    with open(rummage_home / "photos" / "library.db", "r+b") as f:
        f.write(b"\xa5" * 100)  # over the header
    capsys.readouterr()
    return "photos"


def test_index_into_a_damaged_library_fails_in_one_line_and_claims_nothing(
        damaged, photo_folder, rummage_home, capsys):
    code = main(["index", str(photo_folder), "-l", damaged])
    out, err = capsys.readouterr()
    assert code != 0 and out == "" and "unchanged" not in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"rummage: library.db in {rummage_home / 'photos'} is not a readable")
    assert "restore it from a backup or delete the folder and index again" in err


def test_ask_about_a_damaged_library_fails_in_one_line(damaged, capsys):
    code = main(["ask", "a red square", "-l", damaged])
    _, err = capsys.readouterr()
    assert code != 0 and err.count("\n") == 1 and "not a readable SQLite database" in err


def test_libraries_lists_a_damaged_library_as_unreadable(damaged, capsys):
    assert main(["libraries"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("photos  unreadable: ") and "not a database" in out
