"""The looks beside the index file: what library.db holds, read by position, repaired when the
file is lost or replaced, and never trusted for a row written since it was saved."""

from __future__ import annotations

import errno
import json
import logging

import numpy as np
import pytest

from retrievers import look_file
from retrievers.index_file import LOOKS_NAME, STAMP_NAME
from retrievers.library import Library
from tests.conftest import make_image


@pytest.fixture
def folder(rummage_home, photo_folder, spec):
    """The library folder of the twelve photos, indexed and closed."""
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    where = library.folder
    library.close()
    return where


def _open(rummage_home) -> Library:
    library = Library.open("photos", rummage_home)
    library.index  # noqa: B018 - loads the index and the looks saved with it
    return library


def _every_look_as_library_db_has_it(library: Library) -> None:
    ids = library.catalog.vector_ids()
    order = np.random.default_rng(0).permutation(np.concatenate([ids, ids[:3]]))
    assert np.array_equal(library.appearance(order), library.catalog.looks(order.tolist()))


def test_an_indexed_library_reads_its_looks_from_the_file_beside_the_index(
        folder, rummage_home, looks_read):
    assert (folder / LOOKS_NAME).is_file()
    library = _open(rummage_home)
    ids = library.catalog.vector_ids()

    looks = library.appearance(ids[::-1])

    assert looks_read == []  # not one row from library.db
    assert looks.shape == (len(ids), 192) and np.abs(looks).sum() > 0
    _every_look_as_library_db_has_it(library)
    library.close()


def test_a_changed_file_s_new_look_is_read_from_library_db_until_the_index_is_saved(
        folder, rummage_home, photo_folder, looks_read):
    library = _open(rummage_home)
    changed = next(i for i, p in library.paths().items() if p.endswith("img03.png"))
    before = library.appearance([changed])[0].copy()
    make_image(photo_folder / "img03.png", (10, 10, 250), size=(35, 27))

    library.index_folder(photo_folder)  # patched: the change goes to the index's delta
    library.close()
    library = _open(rummage_home)
    looks_read.clear()

    now = library.appearance([changed])[0]
    assert not np.array_equal(now, before)
    assert looks_read == [[changed]]  # that row alone, from library.db
    _every_look_as_library_db_has_it(library)
    library.close()


@pytest.mark.parametrize("harm", ["deleted", "truncated", "replaced", "foreign"])
def test_a_lost_or_replaced_looks_file_is_written_again_from_library_db(
        folder, rummage_home, caplog, harm):
    path = folder / LOOKS_NAME
    if harm == "deleted":
        path.unlink()
    elif harm == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif harm == "replaced":  # same size, other bytes
        path.write_bytes(bytes(reversed(path.read_bytes())))
    else:  # another library's file, put in place with the stamp's size and time
        stamp = json.loads((folder / STAMP_NAME).read_text())["looks"]
        ids = np.arange(1000, 1012, dtype=np.int64)
        look_file.write(path, ids, 192, iter([]), 0.5)
        import os

        os.utime(path, ns=(stamp["mtime_ns"], stamp["mtime_ns"]))

    with caplog.at_level(logging.WARNING):
        library = _open(rummage_home)
        _every_look_as_library_db_has_it(library)

    warned = [r.getMessage() for r in caplog.records if LOOKS_NAME in r.getMessage()]
    assert len(warned) == 1 and "written again from library.db" in warned[0]
    written = json.loads((folder / STAMP_NAME).read_text())["looks"]
    assert written == look_file.identity(path)
    library.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # repaired once: the next open is quiet
        _open(rummage_home).close()
    assert not caplog.records


def test_a_library_indexed_before_looks_were_saved_gets_them_quietly(folder, rummage_home,
                                                                     caplog):
    (folder / LOOKS_NAME).unlink()
    stamp = json.loads((folder / STAMP_NAME).read_text())
    del stamp["looks"]
    (folder / STAMP_NAME).write_text(json.dumps(stamp))

    with caplog.at_level(logging.WARNING):
        library = _open(rummage_home)

    assert not caplog.records and (folder / LOOKS_NAME).is_file()
    _every_look_as_library_db_has_it(library)
    library.close()


def test_where_the_looks_cannot_be_written_they_are_read_by_id(folder, rummage_home, caplog,
                                                               monkeypatch, looks_read):
    (folder / LOOKS_NAME).unlink()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(look_file, "write", disk_full)
    with caplog.at_level(logging.WARNING):
        library = _open(rummage_home)
        ids = library.catalog.vector_ids()
        looks = library.appearance(ids)

    assert [r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()]
    assert np.array_equal(looks, library.catalog.looks(ids.tolist()))
    assert sorted(looks_read[0]) == ids.tolist()  # by id, from library.db
    library.close()


def test_a_look_that_is_not_8_bit_colours_is_read_from_library_db_as_it_is(
        folder, rummage_home, caplog):
    """The file holds a byte a number; a look it could not hold exactly (written by something
    other than `appearance`) is not rounded: the file is not written, library.db answers."""
    import sqlite3

    library = _open(rummage_home)
    image_id = int(library.catalog.vector_ids()[0])
    library.close()
    odd = np.full(192, 0.5, np.float32)  # above 255 steps, and no multiple of one
    with sqlite3.connect(folder / "library.db") as db:
        db.execute("UPDATE vectors SET appearance = ? WHERE id = ?", [odd.tobytes(), image_id])
    (folder / LOOKS_NAME).unlink()

    with caplog.at_level(logging.WARNING):
        library = _open(rummage_home)
        _every_look_as_library_db_has_it(library)
        assert np.array_equal(library.appearance([image_id])[0], odd)
    warned = [r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()]
    assert len(warned) == 1 and f"image {image_id} is not 8-bit colours" in warned[0]
    assert not (folder / LOOKS_NAME).exists()
    library.close()


def test_a_look_file_row_per_id_with_zeros_for_an_image_without_a_look(tmp_path):
    path = tmp_path / "looks"
    ids = np.array([3, 5, 9, 12], np.int64)
    step = np.float32(0.5)
    batches = iter([(np.array([3, 4]), np.ones((2, 2), np.float32)),
                    (np.array([9, 12]), np.array([[2, 2], [3, 3]], np.float32))])
    info = look_file.write(path, ids, 2, batches, step)

    found, problem = look_file.LookFile.open(path, info, ids, stale=np.array([12]))

    assert problem == ""
    asked = np.array([12, 5, 3, 9, 77])
    other = found.get(asked, lambda rest: np.full((len(rest), 2), -1, np.float32))
    # 5 has no look (zeros); 12 is stale and 77 not in the file: both from elsewhere
    assert other.tolist() == [[-1, -1], [0, 0], [1, 1], [2, 2], [-1, -1]]
    assert found.get(np.array([9, 3]), None).tolist() == [[2, 2], [1, 1]]  # all from the file
    found.close()
    # closed (its index replaced meanwhile), it reads nothing more from the unmapped file
    assert found.get(np.array([3]), lambda rest: np.full((len(rest), 2), 7.0)).tolist() == [
        [7, 7]]


def test_a_look_is_read_back_from_the_file_bit_for_bit(tmp_path):
    """Stored as one byte a number, every look `appearance` can make comes back exactly."""
    from PIL import Image

    from retrievers.images import APPEARANCE_STEP, appearance

    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 256, (40, 30, 3), np.uint8)) for _ in range(50)]
    pictures += [Image.new("RGB", (9, 9), colour) for colour in ("white", "black", "#010203")]
    looks = np.stack([appearance(p) for p in pictures])
    ids = np.arange(1, len(looks) + 1, dtype=np.int64)
    path = tmp_path / "looks"
    info = look_file.write(path, ids, looks.shape[1], iter([(ids, looks)]), APPEARANCE_STEP)

    found, _ = look_file.LookFile.open(path, info, ids, stale=np.empty(0, np.int64))
    back = found.get(ids[::-1], None)

    assert back.dtype == np.float32 and np.array_equal(back, looks[::-1])
    assert path.stat().st_size == 32 + len(ids) * (8 + looks.shape[1])  # a byte a number
    found.close()


def test_a_look_file_of_the_former_float_layout_is_written_again(folder, rummage_home, caplog):
    """A file from before the 8-bit layout ("RUMLOOK1", float32 rows) is not read as bytes:
    the open writes it again from library.db, and the looks read are library.db's."""
    path = folder / LOOKS_NAME
    stamp = json.loads((folder / STAMP_NAME).read_text())
    ids = np.fromfile(path, np.int64, int(np.frombuffer(path.read_bytes()[8:16], np.uint64)[0]),
                      offset=32)
    old = look_file.HEADER.pack(b"RUMLOOK1", len(ids), 192, 0.0) + ids.tobytes() + bytes(
        len(ids) * 192 * 4)
    path.write_bytes(old)
    stamp["looks"] = look_file.identity(path)
    (folder / STAMP_NAME).write_text(json.dumps(stamp))

    with caplog.at_level(logging.WARNING):
        library = _open(rummage_home)
        _every_look_as_library_db_has_it(library)
    warned = [r.getMessage() for r in caplog.records if LOOKS_NAME in r.getMessage()]
    assert len(warned) == 1 and "not a looks file of this version" in warned[0]
    assert path.read_bytes()[:8] == look_file.MAGIC
    library.close()


def test_images_indexed_into_an_empty_library_get_their_looks(rummage_home, spec, tmp_path):
    # the index file holds no row, its delta holds every image: the looks file is empty
    library = Library.create(rummage_home, "late", spec)
    folder = tmp_path / "later"
    folder.mkdir()
    library.index_folder(folder)
    for i in range(5):
        make_image(folder / f"{i}.png", (40 * i, 90, 200 - 30 * i))
    library.index_folder(folder)
    (library.folder / LOOKS_NAME).unlink()
    library.close()

    library = Library.open("late", rummage_home)
    library.index  # noqa: B018 - loads the index and writes its (empty) looks file again
    _every_look_as_library_db_has_it(library)
    library.close()
