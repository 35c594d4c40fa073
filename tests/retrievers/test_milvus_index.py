"""A library whose vectors live in Milvus: embedded Milvus Lite in the library folder, or a Milvus
server (here Milvus Lite's own gRPC server on a local port), searched like the FAISS library."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")

from agent.cli import main
from retrievers import file_lock, milvus_index
from retrievers.demo.world import write_catalogue
from retrievers.index import VectorIndex
from retrievers.library import Library, LibraryError
from tests.conftest import make_image

QUERIES = ["a red dress", "a blue shirt with long sleeves", "striped trousers", "a green coat",
           "a black skirt", "a white t-shirt", "a yellow dress with dots", "a checked shirt",
           "a short pink skirt", "a grey hoodie", "floral", "a navy jacket"]


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    """300 drawn garments, the size the issue names."""
    folder = tmp_path_factory.mktemp("garments")
    write_catalogue(folder, n=300)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory, catalogue) -> Path:
    """A home holding the catalogue indexed twice: "flat" (FAISS) and "lite" (Milvus Lite)."""
    from retrievers.encoders import ModelSpec

    home = tmp_path_factory.mktemp("built")
    for name, store in (("flat", "faiss"), ("lite", "milvus")):
        library = Library.create(home, name, ModelSpec.demo(), vectors=store)
        library.index_folder(catalogue)
        library.text_encoder  # noqa: B018 -- exported once, copied with the folder
        library.close()
    return home


def copied(built: Path, home: Path, *names: str) -> None:
    for name in names:
        shutil.copytree(built / name, home / name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Milvus server on a local port: Milvus Lite's engine serving gRPC over TCP."""
    from milvus_lite.server import Server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("milvus-server")
    served = Server(str(folder / "server.db"), address=f"127.0.0.1:{port}")
    assert served.init() and served.start()
    yield f"milvus://127.0.0.1:{port}"
    served.stop()


def top10(home: Path, name: str, *texts: str) -> list[list[int]]:
    library = Library.open(name, home)
    try:
        return [[hit.id for hit in library.search_text(text, 10)] for text in texts]
    finally:
        library.close()


def overlaps(home: Path, one: str, other: str, texts=QUERIES) -> list[int]:
    return [len(set(a) & set(b))
            for a, b in zip(top10(home, one, *texts), top10(home, other, *texts))]


def test_a_milvus_lite_library_finds_what_the_faiss_library_finds(built, rummage_home,
                                                                 capsys):
    copied(built, rummage_home, "flat", "lite")
    assert (rummage_home / "lite" / milvus_index.LITE_FILE).is_file()
    assert not (rummage_home / "lite" / "index.faiss").exists()
    assert min(overlaps(rummage_home, "flat", "lite")) >= 9
    code, out, _ = run_cli("libraries", "--json", capsys=capsys)
    assert code == 0 and {item["name"]: item["vectors"] for item in json.loads(out)} == {
        "flat": "faiss", "lite": "milvus"}


def test_a_conversation_runs_on_milvus_with_rejections_filtered_inside_it(built, rummage_home,
                                                                          capsys):
    copied(built, rummage_home, "lite")
    code, out, _ = run_cli("ask", "a red dress", "--library", "lite", "--json", capsys=capsys)
    first = json.loads(out)
    assert code == 0 and len(first["results"]) == 10
    shown = [r["id"] for r in first["results"]]
    code, out, _ = run_cli("ask", "none of these", "--library", "lite", "--session",
                           first["session"], "--json", capsys=capsys)
    second = json.loads(out)
    assert code == 0 and len(second["results"]) == 10
    assert not set(shown) & {r["id"] for r in second["results"]}

    library = Library.open("lite", rummage_home)
    try:
        query = library.text_encoder.encode_texts(["a red dress"])
        exact = VectorIndex.build(*library.all_vectors())
        scores, ids = library.index.search(query, 10, exclude=shown)
        want_scores, want_ids = exact.search(query, 10, exclude=shown)
        assert not set(shown) & set(ids[0].tolist())
        assert len(set(ids[0].tolist()) & set(want_ids[0].tolist())) >= 9
        assert np.allclose(scores[0], want_scores[0], atol=1e-4)
    finally:
        library.close()


def test_reindexing_patches_milvus_with_just_the_changed_files(tmp_path, catalogue, rummage_home,
                                                               monkeypatch, capsys):
    folder = tmp_path / "pics"
    shutil.copytree(catalogue, folder)
    code, out, err = run_cli("index", str(folder), "--library", "lite", "--model", "demo",
                             "--vectors", "milvus", capsys=capsys)
    assert code == 0 and "300 added" in out and "vectors in milvus" in err
    refills = []
    monkeypatch.setattr(milvus_index, "_refill",
                        lambda index, catalog, real=milvus_index._refill: (
                            refills.append(1), real(index, catalog)))
    images = sorted(folder.rglob("*.png"))
    images[0].unlink()
    make_image(images[1], (0, 0, 255), size=(64, 64))
    os.utime(images[1], (time.time() + 5, time.time() + 5))
    make_image(folder / "images" / "new.png", (255, 0, 0), size=(64, 64))
    code, out, _ = run_cli("index", str(folder), "--library", "lite", capsys=capsys)
    assert code == 0 and "1 added, 1 updated" in out and "1 removed" in out
    assert refills == []

    library = Library.open("lite", rummage_home)
    try:
        assert np.array_equal(library.index.ids(), library.catalog.vector_ids())
        new = max(library.catalog.vector_ids())
        vector = library.catalog.vectors_of([new])[1]
        _, ids = library.index.search(vector, 1)
        assert ids[0, 0] == new
        assert library.index.vectors([new]).tobytes() == vector.tobytes()
    finally:
        library.close()


def test_a_lost_stamp_or_a_new_store_refills_milvus_from_library_db(catalogue, built,
                                                                    rummage_home, capsys):
    copied(built, rummage_home, "flat")
    shutil.copytree(rummage_home / "flat", rummage_home / "moved")
    # the same library moves to Milvus: nothing is embedded again
    code, out, _ = run_cli("index", str(catalogue), "--library", "moved", "--vectors", "milvus",
                           capsys=capsys)
    assert code == 0 and "300 unchanged" in out
    assert min(overlaps(rummage_home, "flat", "moved", QUERIES[:3])) >= 9
    # a run killed between Milvus and its stamp leaves no stamp: the next open fills it again
    library = Library.open("moved", rummage_home)
    try:
        library.index.remove(library.index.ids()[:50])  # the collection now lacks rows
        (rummage_home / "moved" / milvus_index.STAMP_NAME).unlink()
        library.close()
        library = Library.open("moved", rummage_home)
        assert len(library.index) == 300
    finally:
        library.close()


def test_a_milvus_server_holds_the_vectors_of_a_library(built, rummage_home, server, catalogue,
                                                        capsys):
    copied(built, rummage_home, "flat")
    shutil.copytree(rummage_home / "flat", rummage_home / "remote")
    code, out, err = run_cli("index", str(catalogue), "--library", "remote", "--vectors",
                             f"{server}/garments_test", capsys=capsys)
    assert code == 0 and "300 unchanged" in out, err
    assert not (rummage_home / "remote" / milvus_index.LITE_FILE).exists()
    assert min(overlaps(rummage_home, "flat", "remote")) >= 9
    code, out, _ = run_cli("ask", "a blue shirt", "--library", "remote", "--json", capsys=capsys)
    assert code == 0 and len(json.loads(out)["results"]) == 10


def test_a_milvus_server_that_is_not_there_is_one_line(catalogue, monkeypatch, capsys):
    monkeypatch.setenv(milvus_index.TIMEOUT_ENV, "1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    code, _, err = run_cli("index", str(catalogue), "--library", "x", "--model", "demo",
                           "--vectors", f"milvus://127.0.0.1:{port}", capsys=capsys)
    assert code == 2
    problems = [line for line in err.splitlines() if line.startswith("rummage:")]
    assert len(problems) == 1 and "cannot reach the Milvus server" in problems[0]
    assert "embedding" not in err  # it fails before any image is embedded


@pytest.mark.parametrize("value", ["pinecone", "milvus://host", "milvus://h:99999",
                                   "milvus://h:19530/9bad-name"])
def test_a_bad_vectors_value_is_one_line_and_creates_nothing(value, catalogue, rummage_home,
                                                             capsys):
    code, _, err = run_cli("index", str(catalogue), "--library", "x", "--model", "demo",
                           "--vectors", value, capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "--vectors" in err or "collection" in err
    assert not (rummage_home / "x").exists()


def test_a_second_process_waits_for_the_lite_file_then_says_why_it_cannot(built, rummage_home,
                                                                          monkeypatch, capsys):
    copied(built, rummage_home, "lite")
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, time\n"
                                "from pathlib import Path\n"
                                "from retrievers.library import Library\n"
                                "library = Library.open('lite', Path(sys.argv[1])); library.index\n"
                                "print('open', flush=True); sys.stdin.readline(); library.close()"),
         str(rummage_home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert holder.stdout.readline().strip() == "open"
        monkeypatch.setenv(file_lock.WAIT_ENV, "0.3")
        code, _, err = run_cli("search", "a red dress", "--library", "lite", capsys=capsys)
        assert code == 2 and err.count("\n") == 1
        assert "Milvus Lite serves one process at a time" in err
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        # once it is closed, the next process opens the file
        assert len(top10(rummage_home, "lite", "a red dress")[0]) == 10
    finally:
        holder.kill()


def test_the_store_keeps_index_semantics_on_random_vectors(tmp_path, rummage_home):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1500, dtype=np.int64)
    table = {int(i): v for i, v in zip(ids, vectors)}

    def read(wanted):
        have = np.array([i for i in wanted if int(i) in table], np.int64)
        return have, np.array([table[int(i)] for i in have], np.float32).reshape(-1, 16)

    target = milvus_index.MilvusTarget.of("milvus", tmp_path, "random")
    index = milvus_index.MilvusIndex(target, 16, read_vectors=read)
    try:
        index.create()
        index.add(ids, vectors)
        exact = VectorIndex.build(ids, vectors)
        queries = rng.normal(size=(3, 16)).astype(np.float32)
        got_scores, got = index.search(queries, 7, exclude=[1001, 1002])
        want_scores, want = exact.search(queries, 7, exclude=[1001, 1002])
        assert np.array_equal(got, want)
        assert np.allclose(got_scores, want_scores, atol=1e-5)
        assert index.remove([1000, 1000, 5]) == 1 and len(index) == 499 and 1000 not in index
        index.add([1001], -vectors[1])  # an upsert: the id gets its new vector
        assert len(index) == 499
        assert index.search(-vectors[1], 1)[1][0, 0] == 1001
        assert np.array_equal(index.vectors([1003, 1001]), vectors[[3, 1]])
        scores, found = index.search(queries[0], 600)  # more than it holds: padded
        assert (found[0, 499:] == -1).all() and np.isinf(scores[0, 499:]).all()
        assert np.array_equal(index.ids(), np.delete(ids, 0))
    finally:
        index.close()


def test_a_library_without_pymilvus_says_what_to_install(built, rummage_home, monkeypatch):
    copied(built, rummage_home, "lite")
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # what an install without the extra has
    with pytest.raises(LibraryError, match=r"pip install 'rummage\[milvus\]'"):
        Library.open("lite", rummage_home).index  # noqa: B018


@pytest.mark.asyncio
async def test_the_chat_runs_on_a_library_whose_vectors_are_in_milvus(built, rummage_home):
    from agent import Agent
    from tests.tui.pilot import settle, type_text
    from tui.app import make_app
    from tui.widgets.results import ResultTile

    copied(built, rummage_home, "lite")

    def open_agent():
        agent = Agent.open("lite", home=rummage_home)
        agent.warm_up()
        return agent

    app = make_app("lite", None, rummage_home, open_agent=open_agent, images="halfcell")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await type_text(pilot, "a red dress")
        await settle(pilot)
        first = [tile.result.id for tile in app.query(ResultTile)]
        await type_text(pilot, "none of these")
        await settle(pilot)
        second = [tile.result.id for tile in app.query(ResultTile)]
    assert len(first) == len(second) == 10 and not set(first) & set(second)
