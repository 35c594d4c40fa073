"""Exact search in torch (the GPU search where faiss has no GPU build), checked against FAISS's
exact search; run on the CPU here, the same code on CUDA where a GPU is present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest
import torch

from retrievers import torch_search
from retrievers.index import IndexConfig, VectorIndex, VectorIndexError
from retrievers.search_backend import choose, driver_present
from retrievers.torch_search import TorchExactSearch

ROOT = Path(__file__).resolve().parents[2]
DIM = 64
TORCH_CPU = IndexConfig(search_backend="torch-cpu")
FAISS_CPU = IndexConfig(use_gpu=False)


def random_unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def row_ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * 10 + 5  # sparse, not positions


def faiss_exact(ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, ids)
    return index


def assert_same_top_k(got: tuple, truth: tuple, by_id: dict, queries: np.ndarray,
                      *, atol: float) -> None:
    """Same neighbours as FAISS up to near-ties: the true scores of what was found match the
    true top-k scores rank by rank, and nearly every id agrees."""
    (scores, found), (true_scores, true_ids) = got, truth
    exact = np.array([[by_id[i] @ q for i in row] for row, q in zip(found, queries)])
    np.testing.assert_allclose(exact, true_scores, atol=atol)
    np.testing.assert_allclose(scores, true_scores, atol=atol)
    assert (found == true_ids).mean() >= 0.98


@pytest.fixture
def library() -> tuple[np.ndarray, np.ndarray]:
    return row_ids(3000), random_unit(3000)


HALF_ON_CPU = pytest.param(torch.float16, id="fp16")  # the GPU's arithmetic, emulated


@pytest.mark.parametrize("dtype", [pytest.param(torch.float32, id="fp32"), HALF_ON_CPU])
def test_torch_finds_the_same_top_k_as_faiss_exact_search(library, dtype):
    ids, vectors = library
    queries = random_unit(40, seed=1)
    search = TorchExactSearch(DIM, device="cpu", dtype=dtype)

    search.add(ids, vectors)

    truth = faiss_exact(ids, vectors).search(queries, 10)
    got = search.search(queries, 10)
    assert got[0].dtype == np.float32 and got[1].dtype == np.int64
    atol = 1e-5 if dtype == torch.float32 else 1e-3
    assert_same_top_k(got, truth, dict(zip(ids, vectors)), queries, atol=atol)
    if dtype == torch.float32:
        np.testing.assert_array_equal(got[1], truth[1])


def test_a_library_larger_than_one_chunk_merges_the_chunks_winners(library, monkeypatch):
    ids, vectors = library
    queries = random_unit(8, seed=2)
    whole = TorchExactSearch(DIM, device="cpu")
    whole.add(ids, vectors)
    expected = whole.search(queries, 25, exclude=ids[:40])

    monkeypatch.setattr(torch_search, "_CHUNK_ROWS", 700)  # 5 chunks, the last one short
    chunked = whole.search(queries, 25, exclude=ids[:40])

    for got, want in zip(chunked, expected):
        np.testing.assert_array_equal(got, want)


def test_a_re_added_image_is_found_by_its_new_vector_only(library):
    ids, vectors = library
    search = TorchExactSearch(DIM, device="cpu")
    search.add(ids, vectors)
    edited = random_unit(1, seed=9)

    search.add(ids[[42]], edited)

    assert len(search) == 3000
    assert search.search(edited, 1)[1][0, 0] == ids[42]
    _, found = search.search(vectors[42], 3000)
    assert list(found[0]).count(ids[42]) == 1 and found[0, 0] != ids[42]


def test_removed_images_never_return_and_the_rest_still_find_themselves(library):
    ids, vectors = library
    search = TorchExactSearch(DIM, device="cpu")
    search.add(ids, vectors)
    gone = ids[np.r_[0:10, 1500:1600, 2990:3000]]  # holes at the start, middle and tail

    assert search.remove(np.r_[gone, 999_999]) == 120
    assert search.remove(gone[:5]) == 0, "removing twice removes nothing"

    kept = ~np.isin(ids, gone)
    _, found = search.search(vectors, 5)
    assert not set(found.ravel()) & set(gone)
    np.testing.assert_array_equal(found[kept, 0], ids[kept])
    assert len(search) == 2880


def test_excluded_images_are_filtered_exactly_and_the_page_is_still_full(library):
    ids, vectors = library
    search = TorchExactSearch(DIM, device="cpu")
    search.add(ids, vectors)
    _, before = search.search(vectors[0], 10)
    rejected = [*before[0, :6].tolist(), 123_456]  # one id it never had

    _, after = search.search(vectors[0], 10, exclude=rejected)

    assert not set(rejected) & set(after[0].tolist())
    np.testing.assert_array_equal(after[0, :4], before[0, 6:])
    assert (after >= 0).all()


def test_fewer_images_than_asked_or_all_excluded_pads_the_page():
    search = TorchExactSearch(DIM, device="cpu")
    assert (search.search(random_unit(2), 3)[1] == -1).all(), "empty"
    search.add(row_ids(3), random_unit(3))

    scores, found = search.search(random_unit(2, seed=4), 5)
    assert sorted(found[0, :3]) == sorted(row_ids(3)) and (found[:, 3:] == -1).all()
    assert np.isfinite(scores[:, :3]).all() and np.isneginf(scores[:, 3:]).all()

    scores, found = search.search(random_unit(1, seed=4), 4, exclude=row_ids(3))
    assert (found == -1).all() and np.isneginf(scores).all()


@pytest.mark.parametrize("threshold", [100_000, 500], ids=["exact", "ivf"])
def test_a_vector_index_searching_through_torch_matches_exact_faiss(threshold):
    ids, vectors = row_ids(3000), random_unit(3000)
    queries = random_unit(30, seed=3)
    layout = {"exact_threshold": threshold}
    torch_index = VectorIndex.build(ids, vectors, config=IndexConfig(
        **layout, search_backend="torch-cpu"))
    truth = VectorIndex.build(ids, vectors, config=IndexConfig(use_gpu=False))

    assert torch_index.search_backend == "torch-cpu" and not torch_index.on_gpu
    assert torch_index.kind == ("exact" if threshold > 3000 else "ivf")
    for exclude in ((), ids[:20]):
        got = torch_index.search(queries, 10, exclude=exclude)
        want = truth.search(queries, 10, exclude=exclude)
        # Exact even over an IVF layout: the torch copy holds every vector.
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_allclose(got[0], want[0], atol=1e-5)


def test_the_torch_copy_follows_adds_removes_and_a_change_of_layout():
    ids, vectors = row_ids(3000), random_unit(3000)
    index = VectorIndex.build(ids[:1000], vectors[:1000], config=IndexConfig(
        exact_threshold=1500, search_backend="torch-cpu"))
    index.search(vectors[0], 1)  # the copy is made
    copy = index._torch_copy
    edited = random_unit(1, seed=7)

    index.add(ids[1000:], vectors[1000:])  # crosses to IVF
    index.remove(ids[:100])
    index.add(ids[[500]], edited)

    assert index.kind == "ivf" and index._torch_copy is copy, "forwarded, not rebuilt"
    live = vectors.copy()
    live[500] = edited[0]
    truth = VectorIndex.build(ids[100:], live[100:], config=FAISS_CPU)
    queries = np.r_[random_unit(20, seed=8), vectors[:5], edited]
    for got, want in zip(index.search(queries, 10), truth.search(queries, 10)):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    "use_gpu, env, faiss_gpus, driver, cuda, chosen",
    [
        (None, None, 0, False, True, "faiss-cpu"),  # no driver: torch is not even asked
        (None, None, 0, True, False, "faiss-cpu"),  # a driver, but torch has no CUDA
        (None, None, 0, True, True, "torch-cuda"),
        (None, None, 1, True, True, "faiss-gpu"),  # faiss-gpu installed: it is kept
        (None, False, 1, True, True, "faiss-cpu"),  # RUMMAGE_GPU=0
        (None, True, 0, False, True, "torch-cuda"),  # RUMMAGE_GPU=1: no driver file needed
        (False, True, 1, True, True, "faiss-cpu"),
        (True, False, 0, False, True, "torch-cuda"),  # asked for in code: torch is asked
        (True, None, 0, True, False, None),  # asked for and missing: an error
    ],
)
def test_the_backend_follows_what_the_machine_has(use_gpu, env, faiss_gpus, driver, cuda,
                                                  chosen):
    asked = []

    def torch_cuda() -> bool:
        asked.append(True)
        return cuda

    assert choose(use_gpu, env=env, faiss_gpus=faiss_gpus, driver=driver,
                  torch_cuda=torch_cuda) == chosen
    if not driver and not env and not use_gpu:
        assert not asked, "torch must not be imported where no driver is installed"


def test_a_contradictory_backend_is_refused():
    with pytest.raises(VectorIndexError, match="search_backend='torch-cpu' contradicts"):
        IndexConfig(search_backend="torch-cpu", use_gpu=True)
    with pytest.raises(VectorIndexError, match="must be one of"):
        IndexConfig(search_backend="cuda")


SEARCH_THEN_REPORT = """
import json, sys
import numpy as np
from retrievers.index import VectorIndex
x = np.eye(8, dtype=np.float32)
index = VectorIndex.build(np.arange(8), x)
found = index.search(x[3], 2)[1][0].tolist()
print(json.dumps({"backend": index.search_backend, "found": found,
                  "torch": "torch" in sys.modules}))
"""


def search_in_fresh_python(**env: str) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-c", SEARCH_THEN_REPORT], env=environment,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(driver_present(), reason="this machine has an NVIDIA driver")
def test_a_search_on_a_machine_without_a_gpu_never_imports_torch():
    seen = search_in_fresh_python()
    assert seen == {"backend": "faiss-cpu", "found": [3, seen["found"][1]], "torch": False}

    # RUMMAGE_GPU=1 asks torch even without a driver file; torch says no here.
    asked = search_in_fresh_python(RUMMAGE_GPU="1")
    assert asked["backend"] == "faiss-cpu" and asked["torch"] is True


# -- on a CUDA GPU (skipped without one) -------------------------------------------------------


@pytest.mark.gpu
def test_gpu_search_in_fp16_finds_the_same_top_k_as_faiss_on_the_cpu():
    ids, vectors = row_ids(50_000), random_unit(50_000, dim=512)
    queries = random_unit(64, dim=512, seed=1)
    search = TorchExactSearch(512, device="cuda")
    search.add(ids, vectors)

    got = search.search(queries, 10)

    assert search.dtype == torch.float16
    assert search._mm_out_fp32, "fp32 scores from fp16 vectors (torch.mm out_dtype)"
    truth = faiss_exact(ids, vectors).search(queries, 10)
    assert_same_top_k(got, truth, dict(zip(ids, vectors)), queries, atol=1e-3)
    search.remove(ids[:100])
    assert not set(search.search(vectors[:100], 5)[1].ravel()) & set(ids[:100])


@pytest.mark.gpu
@pytest.mark.skipif(faiss.get_num_gpus() > 0, reason="faiss-gpu is installed: it is used")
def test_a_cuda_machine_without_faiss_gpu_searches_through_torch(tmp_path):
    ids, vectors = row_ids(5000), random_unit(5000)
    queries = random_unit(50, seed=2)
    gpu = VectorIndex.build(ids, vectors)
    cpu = VectorIndex.build(ids, vectors, config=FAISS_CPU)

    assert gpu.search_backend == "torch-cuda" and gpu.on_gpu
    for exclude in ((), ids[:20]):
        got, want = gpu.search(queries, 10, exclude=exclude), cpu.search(queries, 10,
                                                                        exclude=exclude)
        np.testing.assert_allclose(got[0], want[0], atol=1e-3)
        assert (got[1] == want[1]).mean() > 0.98  # fp16 near-ties may swap neighbours
    gpu.remove(ids[:10])
    assert not set(gpu.search(vectors[:10], 5)[1].ravel()) & set(ids[:10])
    gpu.save(tmp_path / "gpu.faiss")
    assert len(VectorIndex.load(tmp_path / "gpu.faiss", config=FAISS_CPU)) == 4990
