"""An `index` run patches the saved index with what it changed; only a stale, foreign or asked-for
index is trained again from every vector in library.db."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from agent.cli import main
from retrievers import index_file
from retrievers.catalog import Catalog
from retrievers.index import VectorIndex
from retrievers.library import Library
from tests.conftest import make_image


@pytest.fixture
def library(rummage_home, photo_folder, spec):
    """A library of the twelve photos, indexed once, reopened as a later `index` run opens it."""
    first = Library.create(rummage_home, "photos", spec)
    first.index_folder(photo_folder)
    first.close()
    reopened = Library.open("photos", rummage_home)
    yield reopened
    reopened.close()


@pytest.fixture
def full_reads(monkeypatch) -> list[int]:
    """How many times every vector was read from library.db (what a rebuild starts with)."""
    reads: list[int] = []
    every = Catalog.all_vectors

    def counted(self):
        reads.append(1)
        return every(self)

    monkeypatch.setattr(Catalog, "all_vectors", counted)
    return reads


def _id_of(library: Library, name: str) -> int:
    return next(i for i, path in library.paths().items() if path.endswith(name))


def _same_as_a_full_rebuild(library: Library) -> None:
    """The patched index holds what a rebuild from the table holds, and answers alike."""
    patched = library.index
    ids, vectors = library.catalog.all_vectors()
    library.refresh_index(rebuild=True)
    rebuilt = library.index
    assert patched.ids().tolist() == rebuilt.ids().tolist() == ids.tolist()
    assert np.allclose(patched.vectors(ids), vectors, atol=1e-6)
    assert (patched.search(vectors, 5)[1] == rebuilt.search(vectors, 5)[1]).all()


def test_a_new_file_is_added_to_the_saved_index_without_reading_every_vector(
        library, photo_folder, full_reads):
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))

    report = library.index_folder(photo_folder)

    assert report.added == 1 and full_reads == []
    new = _id_of(library, "new.png")
    assert library.search_image(photo_folder / "new.png", k=1)[0].id == new
    _same_as_a_full_rebuild(library)


def test_a_changed_file_gets_its_new_vector_under_the_same_id(library, photo_folder,
                                                                full_reads):
    changed = _id_of(library, "img04.png")
    make_image(photo_folder / "img04.png", (250, 250, 250), size=(61, 47))

    report = library.index_folder(photo_folder)

    assert report.updated == 1 and full_reads == []
    _, stored = library.catalog.vectors_of([changed])
    assert np.allclose(library.index.vectors([changed]), stored, atol=1e-6)
    assert library.search_image(photo_folder / "img04.png", k=1)[0].id == changed
    _same_as_a_full_rebuild(library)


def test_a_deleted_file_is_gone_from_the_index_and_never_found(library, photo_folder,
                                                               full_reads):
    gone = _id_of(library, "img07.png")
    query = library.index.vectors([gone])[0]
    (photo_folder / "img07.png").unlink()

    report = library.index_folder(photo_folder)

    assert report.removed == 1 and full_reads == []
    assert gone not in library.index and len(library.index) == 11
    assert gone not in [hit.id for hit in library.search_vector(query, k=11)]
    _same_as_a_full_rebuild(library)


def test_the_patched_index_is_saved_and_the_next_open_trusts_it(library, photo_folder,
                                                                 rummage_home, full_reads):
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))
    library.index_folder(photo_folder)

    again = Library.open("photos", rummage_home)
    assert len(again.index) == 13 and _id_of(again, "new.png") in again.index
    assert full_reads == []
    again.close()


def test_rebuild_flag_trains_the_index_anew(library, photo_folder, rummage_home, full_reads,
                                            capsys):
    library.close()
    assert main(["index", str(photo_folder), "--library", "photos"]) == 0
    assert full_reads == []  # nothing changed: the saved index is used as it is

    assert main(["index", str(photo_folder), "--library", "photos", "--rebuild"]) == 0
    assert full_reads == [1]
    assert "12 unchanged" in capsys.readouterr().out


def test_an_index_behind_another_writer_is_rebuilt_not_patched(library, photo_folder,
                                                                full_reads):
    # Another process removed a row and died before saving the index: the saved file is
    # behind by more than this run's own changes.
    other = _id_of(library, "img02.png")
    library.catalog.remove([other])
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))

    library.index_folder(photo_folder)

    assert full_reads == [1]
    assert other not in library.index and _id_of(library, "new.png") in library.index
    _same_as_a_full_rebuild(library)


def test_a_foreign_index_under_its_own_stamp_is_rebuilt_with_a_warning(
        library, photo_folder, rummage_home, spec, tmp_path, full_reads, caplog):
    few = tmp_path / "few"
    shutil.copytree(photo_folder, few)
    for extra in sorted(few.iterdir())[:5]:
        extra.unlink()
    other = Library.create(rummage_home, "other", spec)
    other.index_folder(few)
    other.close()
    # Copied in with its stamp: the checksum matches and the generation is the one this run
    # starts from, so only the ids tell it is not this library's.
    for name in ("index.faiss", "index.faiss.json"):
        shutil.copy(rummage_home / "other" / name, library.folder / name)
    stamp = json.loads((library.folder / "index.faiss.json").read_text())
    assert stamp["generation"] == library.generation
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))
    full_reads.clear()  # the other library's first build

    with caplog.at_level(logging.WARNING):
        library.index_folder(photo_folder)

    assert "rebuilt it from library.db" in caplog.text and full_reads == [1]
    _same_as_a_full_rebuild(library)


def test_the_next_open_of_a_patched_library_reads_the_saved_file_and_its_delta(
        library, photo_folder, rummage_home, full_reads):
    gone = _id_of(library, "img07.png")
    (photo_folder / "img07.png").unlink()
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))
    library.index_folder(photo_folder)

    assert (library.folder / "index.faiss.delta").is_file()
    again = Library.open("photos", rummage_home)
    assert gone not in again.index and _id_of(again, "new.png") in again.index
    assert len(again.index) == 12 and full_reads == []
    again.close()


def test_a_delta_grown_large_is_folded_into_the_index_file(library, photo_folder, monkeypatch,
                                                           full_reads):
    monkeypatch.setattr(index_file, "DELTA_ROWS", 1)
    for n in range(3):
        make_image(photo_folder / f"new{n}.png", (10, 60 * n, 90), size=(50, 41))

    library.index_folder(photo_folder)

    assert not (library.folder / "index.faiss.delta").exists() and full_reads == []
    assert len(VectorIndex.load(library.folder / "index.faiss")) == 15
    _same_as_a_full_rebuild(library)


def test_a_lost_delta_is_rebuilt_from_the_table_with_a_warning(library, photo_folder,
                                                               rummage_home, caplog):
    make_image(photo_folder / "new.png", (10, 200, 90), size=(50, 41))
    library.index_folder(photo_folder)
    (library.folder / "index.faiss.delta").unlink()

    with caplog.at_level(logging.WARNING):
        again = Library.open("photos", rummage_home)
        assert _id_of(again, "new.png") in again.index
    assert "lost its delta" in caplog.text and "rebuilt it from library.db" in caplog.text
    again.close()
