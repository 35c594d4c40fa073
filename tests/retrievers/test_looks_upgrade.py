"""A look keeps its colours, and a library whose looks were made the old way reads them again.

The look (retrievers/images.py's `appearance`) was once the colour layout with its mean removed,
scaled to unit length: a picture and a brighter copy of it looked the same. A library from then
has those looks in library.db and beside its index; m003 drops them, and the next `index` run
reads them again from the unchanged files without embedding anything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image

from retrievers.catalog import DB_NAME
from retrievers.images import appearance, decode
from retrievers.library import Library
from retrievers.migrations import RECORDS
from retrievers.rerank import likeness


def _old_look(path) -> np.ndarray:
    """The descriptor before m003: 8x8 RGB, its mean removed, of unit length."""
    with Image.open(path) as image:
        v = np.asarray(image.convert("RGB").resize((8, 8), Image.BOX), np.float32).ravel() / 255
    v -= v.mean()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-6 else np.zeros_like(v)  # one flat colour: no layout


def test_a_picture_and_a_brighter_copy_of_it_look_different(tmp_path):
    rng = np.random.default_rng(0)
    dark = rng.integers(20, 120, (32, 32, 3)).astype(np.uint8)
    pictures = {"dark": dark, "brighter": dark + 60, "darker": dark - 10}
    looks = {name: appearance(Image.fromarray(pixels)) for name, pixels in pictures.items()}

    assert not np.allclose(looks["dark"], looks["brighter"])
    # nearer the slightly darker copy than the much brighter one, as a person would see it
    near, far = likeness(looks["dark"][None], np.stack([looks["darker"], looks["brighter"]]))[0]
    assert near > far
    # the old descriptor could not tell them apart at all
    for name, pixels in pictures.items():
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
    assert np.allclose(_old_look(tmp_path / "dark.png"), _old_look(tmp_path / "brighter.png"),
                       atol=1e-5)


def _as_before_m003(folder, photos) -> None:
    """Make an indexed library look as an older release left it: old looks, two steps run."""
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute(f"DELETE FROM {RECORDS} WHERE name = 'm003_absolute_looks'")
        conn.execute("PRAGMA user_version = 2")
        for image_id, path in conn.execute("SELECT id, path FROM images").fetchall():
            conn.execute("UPDATE vectors SET appearance = ? WHERE id = ?",
                         [_old_look(path).tobytes(), image_id])
    conn.close()


def test_an_older_library_drops_its_old_looks_and_index_reads_them_again(
        rummage_home, photo_folder, spec, monkeypatch, caplog):
    library = Library.create(rummage_home, "photos", spec)
    library.index_folder(photo_folder)
    folder = library.folder
    library.close()
    _as_before_m003(folder, photo_folder)

    library = Library.open("photos", rummage_home)
    assert "looks were made by an older release" in caplog.text  # one line says what happens
    ids = library.catalog.vector_ids()
    generation = library.generation
    assert library.catalog.looks_missing
    assert not library.appearance(ids).any()  # none of the old looks is compared with a new one

    # no file changed: nothing is embedded, every look is read again from its file
    def no_model():
        raise AssertionError("the model was loaded to read looks")

    monkeypatch.setattr(library, "_bulk_encoder", no_model)
    report = library.index_folder(photo_folder)
    assert (report.embedded, report.unchanged, report.looks) == (0, 12, 12)
    assert not library.catalog.looks_missing and library.generation > generation
    paths = library.catalog.paths(ids.tolist())
    expected = np.stack([appearance(decode(Path(paths[int(i)])).image)
                         for i in ids])
    assert np.allclose(library.appearance(ids), expected)
    library.close()

    # the looks saved beside the index are the new ones, and a later run reads none again
    library = Library.open("photos", rummage_home)
    assert np.allclose(library.appearance(ids), expected)
    assert library.index_folder(photo_folder).looks == 0
    library.close()


def test_a_new_library_has_nothing_to_read_again(rummage_home, photo_folder, spec):
    library = Library.create(rummage_home, "photos", spec)
    assert not library.catalog.looks_missing and library.generation == 0
    report = library.index_folder(photo_folder)
    assert report.looks == 0 and not library.catalog.looks_missing
    library.close()
