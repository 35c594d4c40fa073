"""Decoding in worker processes (a GPU's default) indexes a folder exactly as decoding in threads
does: the same vectors, the same skipped files with the same reasons, the same progress; a file
that kills its decoder is skipped and the run goes on; RUMMAGE_INDEX_WORKERS chooses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from retrievers.decoders import CRASHED, WORKERS_ENV, DecodingFailed, workers_for
from retrievers.encoders import Encoder
from retrievers.library import Library
from tests.conftest import make_image
from tests.retrievers import decoder_faults
from tests.retrievers.hostile_files import HOSTILE, INDEXED, make_hostile_folder


@pytest.fixture
def encoder(spec) -> Encoder:
    return Encoder.load(spec, device="cpu")


def indexed(library: Library) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """File name -> (vector, appearance) of every image the library holds."""
    ids, vectors = library.catalog.all_vectors()
    paths = library.catalog.paths(ids.tolist())
    looks = library.catalog.looks(ids.tolist())
    return {Path(paths[i]).name: (vector, look)
            for i, vector, look in zip(ids.tolist(), vectors, looks)}


def test_worker_processes_give_the_vectors_that_threads_give(rummage_home, photo_folder, spec,
                                                              encoder):
    threads = Library.create(rummage_home, "threads", spec, encoder=encoder)
    processes = Library.create(rummage_home, "processes", spec, encoder=encoder)
    by_threads = threads.index_folder(photo_folder, workers=0, batch_size=5)
    by_processes = processes.index_folder(photo_folder, workers=2, batch_size=5)

    assert by_processes.added == by_threads.added == 12 and not by_processes.skipped
    ours, theirs = indexed(processes), indexed(threads)
    assert set(ours) == set(theirs)
    for name, (vector, look) in theirs.items():
        np.testing.assert_allclose(ours[name][0], vector, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(ours[name][1], look, atol=1e-6, err_msg=name)
    assert by_processes.commits == by_threads.commits == 3  # one transaction per batch of 5


def test_hostile_files_are_skipped_with_their_reasons_by_worker_processes(rummage_home, tmp_path,
                                                                          spec, encoder):
    folder = make_hostile_folder(tmp_path / "hostile")
    library = Library.create(rummage_home, "hostile", spec, encoder=encoder)
    report = library.index_folder(folder, workers=2)

    reasons = {Path(path).name: reason for path, reason in report.skipped.items()}
    for item in HOSTILE:
        if item.reason is INDEXED:
            assert item.name in indexed(library), (item.name, reasons.get(item.name))
        else:
            assert reasons.get(item.name, "").startswith(item.reason), (item.name, reasons)


def test_a_file_that_kills_its_decoder_is_skipped_and_the_rest_is_indexed(
        rummage_home, photo_folder, spec, encoder):
    # img03.png is 35 px wide, img05.png 37: one segfaults its worker, one runs out of memory
    encoder.preprocess = decoder_faults.OutOfMemoryOn(
        decoder_faults.CrashOn(encoder.preprocess, width=35), width=37)
    library = Library.create(rummage_home, "crash", spec, encoder=encoder)
    progress = []
    report = library.index_folder(photo_folder, workers=2, batch_size=4,
                                  progress=lambda done, total: progress.append((done, total)))

    reasons = {Path(path).name: reason for path, reason in report.skipped.items()}
    assert reasons == {"img03.png": CRASHED,
                       "img05.png": "out of memory while preparing the image"}
    assert set(indexed(library)) == {f"img{i:02d}.png" for i in range(12)} - set(reasons)
    assert progress == [(0, 12), (4, 12), (8, 12), (12, 12)]
    # The crash is remembered like any other skip: the next run does not read the file again.
    again = library.index_folder(photo_folder, workers=2)
    assert again.embedded == 0 and again.skipped == report.skipped


def test_workers_that_cannot_start_stop_the_run_with_one_line_naming_the_fix(
        rummage_home, photo_folder, spec, encoder):
    encoder.preprocess = decoder_faults.UnusableInWorkers(encoder.preprocess)
    library = Library.create(rummage_home, "broken", spec, encoder=encoder)
    with pytest.raises(DecodingFailed) as failed:
        library.index_folder(photo_folder, workers=1)
    assert "\n" not in str(failed.value) and f"{WORKERS_ENV}=0" in str(failed.value)
    assert not library.catalog.skipped()  # no file is blamed for it
    assert library.index_folder(photo_folder, workers=0).added == 12  # threads still work


def test_rummage_index_workers_chooses_processes_and_an_argument_wins(
        rummage_home, photo_folder, spec, encoder, monkeypatch, tmp_path):
    assert workers_for("cpu") == 0 and workers_for("cuda") >= 1
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert workers_for("cpu") == 1 and workers_for("cpu", 0) == 0
    seen = tmp_path / "processes"
    seen.mkdir()
    encoder.preprocess = decoder_faults.RecordsProcess(encoder.preprocess, seen)
    library = Library.create(rummage_home, "env", spec, encoder=encoder)
    make_image(photo_folder / "extra.png")
    assert library.index_folder(photo_folder).added == 13
    pids = {int(p.name) for p in seen.iterdir()}
    assert len(pids) == 1 and os.getpid() not in pids  # one worker process, not this one


@pytest.mark.gpu
def test_on_a_gpu_workers_are_the_default_and_ship_fp16_that_embeds_as_threads_do(
        rummage_home, photo_folder, spec):
    gpu = Encoder.load(spec, device="cuda")
    assert workers_for(gpu.device) >= 1
    threads = Library.create(rummage_home, "threads", spec, encoder=gpu)
    processes = Library.create(rummage_home, "processes", spec, encoder=gpu)
    threads.index_folder(photo_folder, workers=0)
    processes.index_folder(photo_folder)  # the default: worker processes
    ours, theirs = indexed(processes), indexed(threads)
    assert set(ours) == set(theirs) and len(ours) == 12
    for name, (vector, _) in theirs.items():
        np.testing.assert_allclose(ours[name][0], vector, atol=1e-3, err_msg=name)
