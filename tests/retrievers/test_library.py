"""A folder becomes a library: incremental, resumable, and never stopped by a bad file."""

from __future__ import annotations

import os
import sqlite3
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrievers.encoders import ModelSpec
from retrievers.images import decode
from retrievers.library import Library, ModelMismatch, UnknownLibrary, list_libraries
from tests.conftest import make_image


def test_index_stores_rows_vectors_and_model(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    report = library.index_folder(photo_folder)

    assert (report.added, report.total, report.skipped) == (12, 12, {})
    rows = list(library.db.query("SELECT * FROM images ORDER BY path"))
    assert rows[0]["path"] == str(photo_folder.resolve() / "img00.png")
    assert (rows[0]["width"], rows[0]["height"]) == (32, 24)
    assert len(rows[0]["sha256"]) == 64 and rows[0]["meta"] == "{}"
    assert len(library.index) == 12
    assert list_libraries(rummage_home)[0] == {
        "name": "photos", "images": 12, "model": spec.label,
        "root": str(photo_folder.resolve()), "folder": str(rummage_home / "photos"),
        "vocabulary": "photos", "vectors": "faiss"}
    # A person can open it with plain sqlite tools.
    tables = {r[0] for r in sqlite3.connect(rummage_home / "photos" / "library.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"images", "skipped", "vectors", "library"} <= tables


def test_search_finds_an_image_by_itself(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    hits = library.search_image(photo_folder / "img03.png", k=3)
    assert hits[0].path.endswith("img03.png") and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert len(library.search_text("a red square", k=5)) == 5


def test_second_run_skips_unchanged_adds_new_drops_deleted(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    ids_before = {r["path"]: r["id"] for r in library.db.query("SELECT id, path FROM images")}

    (photo_folder / "img00.png").unlink()
    make_image(photo_folder / "new.png", (10, 20, 30))
    changed = photo_folder / "img01.png"
    make_image(changed, (1, 2, 3), size=(60, 60))
    os.utime(changed, (1e9, 1e9))
    report = library.index_folder(photo_folder)

    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 10, 1)
    assert report.total == len(library.index) == 12
    ids_after = {r["path"]: r["id"] for r in library.db.query("SELECT id, path FROM images")}
    assert ids_after[str(changed.resolve())] == ids_before[str(changed.resolve())]  # stable id
    assert max(ids_after.values()) > max(ids_before.values())  # ids of deleted rows not reused
    assert sorted(library.index.ids()) == sorted(ids_after.values())


def test_library_remembers_its_model(rummage_home, photo_folder, spec):
    Library.create(rummage_home, "photos", spec).index_folder(photo_folder)
    assert Library.open("photos", rummage_home).spec == spec
    with pytest.raises(ModelMismatch, match="choose another --library name"):
        Library.create(rummage_home, "photos", ModelSpec.demo())


def test_unknown_library_names_the_known_ones(rummage_home, photo_folder, spec):
    Library.create(rummage_home, "photos", spec).index_folder(photo_folder)
    with pytest.raises(UnknownLibrary, match=r"No library named 'nope' .*known: photos"):
        Library.open("nope", rummage_home)


def test_stale_index_is_rebuilt_from_the_table(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    # A crash between committing rows and saving the index: the table moved on.
    library.catalog.remove([1])
    library.close()
    reopened = Library.open("photos", rummage_home)
    assert len(reopened.index) == 11 and 1 not in reopened.index


# -- bad input: every kind is skipped with its reason; the run goes on ---------------------


def _png_16bit(path: Path) -> Path:
    image = Image.fromarray(np.full((20, 20), 40000, np.uint16))
    assert image.mode == "I;16"
    image.save(path)
    return path


def _bomb_png(path: Path, side: int = 20000) -> Path:
    """A tiny PNG whose header claims 400 megapixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    folder = tmp_path / "messy"
    make_image(folder / "good.jpg", (200, 0, 0), fmt="JPEG")
    make_image(folder / "with spaces and ünïcode.png", (0, 200, 0))
    (folder / "empty.jpg").write_bytes(b"")
    full = make_image(folder / "full.jpg", (0, 0, 200), size=(300, 300), fmt="JPEG")
    (folder / "truncated.jpg").write_bytes(full.read_bytes()[:400])
    (folder / "notes.jpg").write_text("this is not an image")
    _bomb_png(folder / "bomb.png")
    Image.new("CMYK", (20, 10), (255, 0, 0, 0)).save(folder / "cmyk.jpg")
    _png_16bit(folder / "deep.png")
    palette = Image.new("P", (16, 16))
    palette.putpalette([255, 0, 0] * 256)
    palette.save(folder / "palette.gif")
    frames = [Image.new("RGB", (12, 12), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    rotated = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90°: a person sees it 20 wide, 40 high
    rotated.save(folder / "rotated.jpg", exif=exif)
    os.symlink(folder / "loop_b.jpg", folder / "loop_a.jpg")
    os.symlink(folder / "loop_a.jpg", folder / "loop_b.jpg")
    os.symlink(folder / "missing.png", folder / "dangling.png")
    (folder / "sub").mkdir()
    os.symlink(folder, folder / "sub" / "back_to_top")  # a directory loop
    os.mkfifo(folder / "pipe.jpg")
    raw = os.fsencode(folder) + b"/caf\xe9.png"  # a Latin-1 name: not valid UTF-8
    make_image(Path(os.fsdecode(raw)), (9, 9, 9))
    return folder


def test_bad_files_are_skipped_with_their_reasons(rummage_home, messy_folder, spec):
    library = Library.create(rummage_home, "messy", spec)
    report = library.index_folder(messy_folder)

    reasons = {Path(p).name: r for p, r in report.skipped.items()}
    assert reasons == {
        "empty.jpg": "empty file",
        "truncated.jpg": "truncated image",
        "notes.jpg": "not an image",
        "bomb.png": "too many pixels (decompression bomb)",
        "loop_a.jpg": "symlink loop",
        "loop_b.jpg": "symlink loop",
        "dangling.png": "broken symlink",
        "pipe.jpg": "not a file",
    }
    indexed = {Path(r["path"]).name: r for r in library.rows(library.index.ids()).values()}
    assert set(indexed) == {"good.jpg", "with spaces and ünïcode.png", "full.jpg", "cmyk.jpg",
                            "deep.png", "palette.gif", "animated.gif", "rotated.jpg", "caf\udce9.png"}
    assert (indexed["rotated.jpg"]["width"], indexed["rotated.jpg"]["height"]) == (20, 40)
    # The odd name is stored readable, and the real bytes still open the file.
    assert Path(indexed["caf\udce9.png"]["path"]).is_file()
    assert report.total == 9 and len(library.index) == 9
    skipped_rows = {Path(r["path"]).name for r in library.skipped()}
    assert skipped_rows == set(reasons)


def test_decoding_handles_unusual_modes_correctly(messy_folder):
    assert decode(messy_folder / "cmyk.jpg").image.getpixel((0, 0))[0] < 80  # cyan, not red
    deep = decode(messy_folder / "deep.png").image.getpixel((0, 0))
    assert 150 < deep[0] < 160  # 40000/65535 of full scale, not clipped to white
    assert decode(messy_folder / "palette.gif").image.getpixel((0, 0)) == (255, 0, 0)
    assert decode(messy_folder / "animated.gif").image.getpixel((0, 0))[0] > 200  # first frame


def test_known_bad_files_are_not_read_again(rummage_home, messy_folder, spec):
    library = Library.create(rummage_home, "messy", spec)
    first = library.index_folder(messy_folder)
    second = library.index_folder(messy_folder)
    assert second.skipped == first.skipped and second.embedded == 0 and second.unchanged == 9


def test_paths_give_the_real_name_of_a_file_that_is_not_utf8(rummage_home, messy_folder, spec):
    library = Library.create(rummage_home, "messy", spec)
    library.index_folder(messy_folder)
    paths = library.paths()
    assert set(paths) == set(library.index.ids())
    odd = next(p for p in paths.values() if Path(p).name == "caf\udce9.png")
    assert Path(odd).is_file()


# -- reading what a library holds, without writing SQL -------------------------------------


@pytest.fixture
def split_library(rummage_home, photo_folder, spec) -> Library:
    """The photos, every third one held out for testing, as an evaluation indexes them."""
    metadata = {f"img{i:02d}.png": {"split": "test" if i % 3 == 0 else "train", "n": i}
                for i in range(12)}
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder, metadata=metadata)
    return library


def test_metadata_gives_every_image_its_meta_by_id(split_library, photo_folder):
    metas = split_library.metadata()
    paths = split_library.paths()
    assert set(metas) == set(paths) == set(split_library.index.ids())
    for image_id, meta in metas.items():
        n = int(Path(paths[image_id]).stem[3:])
        assert meta == {"split": "test" if n % 3 == 0 else "train", "n": n}
    assert sorted(paths.values()) == [str(photo_folder.resolve() / f"img{i:02d}.png")
                                      for i in range(12)]


def test_metadata_and_paths_of_some_images_leave_the_rest_out(split_library):
    assert set(split_library.metadata([2, 5, 999])) == {2, 5}
    assert set(split_library.paths([7])) == {7}
    assert split_library.metadata([]) == {} and split_library.paths([]) == {}


def test_held_out_targets_are_the_test_split_in_id_order(split_library):
    held_out = split_library.ids_in_split("test")
    metas = split_library.metadata()
    assert held_out == sorted(i for i, m in metas.items() if m["split"] == "test")
    assert [metas[i]["n"] for i in held_out] == [0, 3, 6, 9]
    assert split_library.ids_in_split("validation") == []


def test_a_library_without_splits_has_no_held_out_ids(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    assert library.ids_in_split("test") == []
    assert all(meta == {} for meta in library.metadata().values())


# -- the vocabulary a library reads text with, recorded like its model ----------------------


def test_new_library_reads_text_with_the_photos_vocabulary(rummage_home, spec):
    library = Library.create(rummage_home, "photos", spec)
    assert library.vocabulary_ref == "photos"
    assert library.info["vocabulary"] == "photos"


def test_your_photos_indexed_with_the_demo_model_still_read_photo_words(rummage_home):
    # the model is a choice of weights; the words of the library are photos unless told
    assert Library.create(rummage_home, "mine", ModelSpec.demo()).vocabulary_ref == "photos"


def test_library_loads_the_vocabulary_it_records(rummage_home, spec):
    library = Library.create(rummage_home, "photos", spec, vocabulary="demo")
    assert library.vocabulary.name == "demo"
    assert library.vocabulary is library.vocabulary  # read once


def test_vocabulary_is_stored_as_given(rummage_home, tmp_path, spec):
    words = str(tmp_path / "my-words.json")
    Library.create(rummage_home, "photos", spec, vocabulary=words).close()
    assert Library.open("photos", rummage_home).vocabulary_ref == words


def test_switching_vocabulary_keeps_the_images(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    library.close()

    switched = Library.create(rummage_home, "photos", spec, vocabulary="demo")
    assert switched.vocabulary_ref == "demo" and len(switched) == 12
    switched.close()
    # Creating it again without naming one keeps the choice.
    assert Library.create(rummage_home, "photos", spec).vocabulary_ref == "demo"
    assert Library.open("photos", rummage_home).vocabulary_ref == "demo"


def test_library_made_before_vocabularies_reads_the_default_for_its_model(rummage_home, spec):
    for name, model in [("photos", spec), ("demo", ModelSpec.demo())]:
        Library.create(rummage_home, name, model).close()
        with sqlite3.connect(rummage_home / name / "library.db") as conn:
            conn.execute("DELETE FROM library WHERE key = 'vocabulary'")
    assert Library.open("photos", rummage_home).vocabulary_ref == "photos"
    assert Library.open("demo", rummage_home).vocabulary_ref == "demo"


def test_libraries_list_shows_each_vocabulary(rummage_home, spec):
    Library.create(rummage_home, "demo", ModelSpec.demo(), vocabulary="demo").close()
    Library.create(rummage_home, "photos", spec, vocabulary="/home/me/words.json").close()
    assert {item["name"]: item["vocabulary"] for item in list_libraries(rummage_home)} == {
        "demo": "demo", "photos": "/home/me/words.json"}


def test_a_vocabulary_file_moved_away_is_one_line_that_names_the_library(
        rummage_home, photo_folder, spec, tmp_path):
    import json as _json

    from retrievers.library import LibraryError

    words = tmp_path / "words.json"
    words.write_text(_json.dumps({"name": "mine", "slots": [
        {"name": "fruit", "values": [{"value": "apple"}, {"value": "pear"}]}]}))
    Library.create(rummage_home, "photos", spec, vocabulary=str(words)).close()
    words.unlink()
    library = Library.open("photos", rummage_home)
    with pytest.raises(LibraryError, match="Library 'photos' reads requests with the "
                       "vocabulary .*--vocabulary NAME|PATH"):
        library.vocabulary  # noqa: B018
    library.close()
