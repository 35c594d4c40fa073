"""A damaged index.faiss is rebuilt from library.db; a damaged library.db is one line with the fix."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from retrievers.encoders import ModelSpec
from retrievers.library import Library, LibraryError, UnreadableLibrary, list_libraries


@pytest.fixture
def indexed(rummage_home, photo_folder, tiny_model_dir) -> Path:
    """The folder of a library of 12 photos, closed."""
    spec = ModelSpec.from_options(None, None, str(tiny_model_dir))
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    library.close()
    return rummage_home / "photos"


def _search_finds_itself(folder: Path, photo_folder: Path) -> None:
    library = Library.open(folder, folder.parent)
    hits = library.search_image(photo_folder / "img03.png", k=3)
    assert hits[0].path.endswith("img03.png") and len(library.index) == 12
    library.close()


def _damage(path: Path, at: int, length: int = 64) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"\xa5" * length)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bytes among the vectors",
                                    "deleted"])
def test_a_damaged_index_file_is_rebuilt_with_one_warning(indexed, photo_folder, damage,
                                                          caplog):
    index = indexed / "index.faiss"
    if damage == "garbage":
        index.write_bytes(b"not a faiss index at all")
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif damage == "bytes among the vectors":
        _damage(index, index.stat().st_size // 2)
    else:
        index.unlink()

    with caplog.at_level(logging.WARNING):
        _search_finds_itself(indexed, photo_folder)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "rebuilt it from library.db" in warnings[0], warnings

    caplog.clear()  # rebuilt once: the next open trusts the new file and says nothing
    _search_finds_itself(indexed, photo_folder)
    assert not caplog.records


def test_an_index_file_from_another_library_under_the_old_stamp_is_rebuilt(
        rummage_home, indexed, photo_folder, tiny_model_dir, tmp_path, caplog):
    smaller = tmp_path / "few"
    shutil.copytree(photo_folder, smaller)
    for extra in sorted(smaller.iterdir())[:5]:
        extra.unlink()
    other = Library.create(rummage_home, "other", ModelSpec.from_options(
        None, None, str(tiny_model_dir)))
    other.index_folder(smaller)
    other.close()
    # Copied in with the stamp left as it was: the generation still matches.
    shutil.copy(rummage_home / "other" / "index.faiss", indexed / "index.faiss")

    with caplog.at_level(logging.WARNING):
        _search_finds_itself(indexed, photo_folder)
    assert "rebuilt it from library.db" in caplog.text


def test_a_damaged_library_db_is_one_line_with_the_fix(rummage_home, indexed):
    _damage(indexed / "library.db", 0, 100)  # the header

    with pytest.raises(UnreadableLibrary) as raised:
        Library.open("photos", rummage_home)
    message = str(raised.value)
    assert isinstance(raised.value, LibraryError) and "\n" not in message
    assert message.startswith(f"library.db in {indexed} is not a readable SQLite database")
    assert message.endswith("restore it from a backup or delete the folder and index again")


def test_damaged_pages_inside_library_db_are_found_on_open(rummage_home, indexed):
    db = indexed / "library.db"
    _damage(db, db.stat().st_size - 4096 * 2, 4096)  # a page of rows, header intact

    with pytest.raises(UnreadableLibrary, match="not a readable SQLite database"):
        Library.open("photos", rummage_home)


def test_the_list_of_libraries_shows_a_damaged_one_as_unreadable(rummage_home, indexed):
    shutil.copytree(indexed, rummage_home / "broken")
    _damage(rummage_home / "broken" / "library.db", 0, 100)

    listed = {item["name"]: item for item in list_libraries(rummage_home)}
    assert listed["photos"]["images"] == 12
    assert listed["broken"]["unreadable"] and "images" not in listed["broken"]
