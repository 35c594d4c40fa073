"""A folder with crafted and broken files still becomes a library: each hostile file is skipped
with a reason a person can read (or indexed, when it is a picture after all), the rest of the
folder is indexed, a rerun does not stumble on them, and none of them costs much memory.

The files come from the table in hostile_files.py; a new kind of file is one more row there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.cli import main
from retrievers.library import Library, LibraryError
from tests.conftest import make_image
from tests.retrievers.hostile_files import HOSTILE, INDEXED, make_hostile_folder

GOOD = ["red.png", "green.jpg", "blue.png"]


@pytest.fixture
def hostile_folder(tmp_path) -> Path:
    folder = make_hostile_folder(tmp_path / "hostile")
    for name, color in zip(GOOD, [(220, 0, 0), (0, 220, 0), (0, 0, 220)]):
        make_image(folder / name, color)
    return folder


def test_each_hostile_file_is_skipped_with_its_reason_and_the_rest_is_indexed(
        rummage_home, hostile_folder, spec):
    library = Library.create(rummage_home, "hostile", spec)
    report = library.index_folder(hostile_folder)

    reasons = {Path(path).name: reason for path, reason in report.skipped.items()}
    indexed = {Path(row["path"]).name: row
               for row in library.rows(library.index.ids()).values()}
    for item in HOSTILE:
        if item.reason is INDEXED:
            assert item.name in indexed, f"{item.name!r} skipped: {reasons.get(item.name)}"
        else:
            assert reasons.get(item.name, "").startswith(item.reason), (item.name, reasons)
    assert all("\n" not in reason and len(reason) <= 140 for reason in reasons.values())
    expected = {item.name for item in HOSTILE if item.reason is INDEXED} | set(GOOD)
    assert set(indexed) == expected and report.total == len(expected)
    # A large JPEG is decoded at a reduced scale, but stored at the size a person sees.
    assert (indexed["big.jpg"]["width"], indexed["big.jpg"]["height"]) == (3000, 2000)
    assert {Path(row["path"]).name for row in library.skipped()} == set(reasons)


def test_a_rerun_over_hostile_files_neither_crashes_nor_reads_them_again(
        rummage_home, hostile_folder, spec):
    library = Library.create(rummage_home, "hostile", spec)
    first = library.index_folder(hostile_folder)
    second = library.index_folder(hostile_folder)
    assert second.skipped == first.skipped and second.embedded == 0
    assert second.total == first.total


@pytest.mark.parametrize("name", ["ztxt-bomb.png", "tall-1x100000.png", "text.jpg"])
def test_searching_with_a_hostile_file_is_a_one_line_error(
        rummage_home, hostile_folder, spec, name, capsys):
    library = Library.create(rummage_home, "hostile", spec)
    library.index_folder(hostile_folder)
    with pytest.raises(LibraryError, match=f"Cannot search with .*{name}: "):
        library.search_image(hostile_folder / name)
    library.close()

    code = main(["search", "--image", str(hostile_folder / name), "-l", "hostile"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("rummage: Cannot search with ") and err.count("\n") == 1, err


# -- memory: no file may cost much more than a plain one -----------------------------------

INDEX_AND_REPORT_PEAK = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from retrievers.encoders import ModelSpec
    from retrievers.library import Library
    home, folder, model = map(Path, sys.argv[1:])
    library = Library.create(home, folder.name, ModelSpec.from_options(None, None, str(model)))
    report = library.index_folder(folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"peak": peak, "total": report.total, "skipped": report.skipped}))
""")


def _index_in_a_child(home: Path, folder: Path, model: Path) -> dict:
    """Peak RSS of a fresh process that indexes `folder` (so one run cannot hide another's)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", INDEX_AND_REPORT_PEAK, str(home), str(folder),
                           str(model)], check=False, capture_output=True, text=True, cwd=root,
                          timeout=300, env={"PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


MEASURED = ["tall-1x100000.png", "wide-100000x1.png", "ztxt-bomb.png", "over-budget.png"]


def test_hostile_files_cost_no_more_memory_than_a_plain_folder(tmp_path, photo_folder,
                                                                  tiny_model_dir):
    plain = _index_in_a_child(tmp_path / "home-plain", photo_folder, tiny_model_dir)
    for item in HOSTILE:
        if item.name in MEASURED:
            item.make(photo_folder / item.name)
    hostile = _index_in_a_child(tmp_path / "home-hostile", photo_folder, tiny_model_dir)

    # Before the aspect limit, the 1x100000 PNG alone took this model's resize to 400 MB
    # (32 px short side: 32 x 3.2 million pixels x 4 bytes).
    assert hostile["peak"] - plain["peak"] < 200 * 2**20, (plain["peak"], hostile["peak"])
    assert plain["total"] == hostile["total"] == 12
    assert sorted(Path(path).name for path in hostile["skipped"]) == sorted(MEASURED)
