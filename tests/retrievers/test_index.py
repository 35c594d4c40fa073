"""VectorIndex: what a library and a search turn rely on, on real FAISS indexes."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from retrievers import index as index_module
from retrievers.index import IndexConfig, VectorIndex, VectorIndexError
from retrievers.search_backend import torch_sees_cuda

DIM = 32
CPU = IndexConfig(use_gpu=False)
# A tiny threshold so a few thousand vectors already get the IVF layout.
IVF_SMALL = IndexConfig(exact_threshold=100, use_gpu=False)


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def random_unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((n, dim)))


def clustered_unit(n: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors around random centres, the shape of CLIP embeddings of a catalogue; and queries."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((clusters, dim)))

    def draw(m: int) -> np.ndarray:
        near = centres[rng.integers(0, clusters, m)]
        return unit(near + 1.2 * rng.standard_normal((m, dim)) / np.sqrt(dim))

    return draw(n), draw(300)


def row_ids(n: int) -> np.ndarray:
    # Library row ids are sparse and not positions; tests must not confuse the two.
    return np.arange(n, dtype=np.int64) * 10 + 5


@pytest.fixture
def library() -> tuple[np.ndarray, np.ndarray]:
    return row_ids(500), random_unit(500)


def test_search_returns_the_nearest_by_inner_product_with_their_ids(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)
    query = random_unit(3, seed=1)

    scores, found = index.search(query, 5)

    truth = query @ vectors.T
    best = np.argsort(-truth, axis=1)[:, :5]
    assert found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found, ids[best])
    np.testing.assert_allclose(scores, np.take_along_axis(truth, best, axis=1), atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0), "best first"


def test_a_stored_image_finds_itself_first(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)

    scores, found = index.search(vectors[42], 1)

    assert found.shape == (1, 1) and found[0, 0] == ids[42]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_removed_image_never_comes_back(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)

    assert index.remove([ids[42], ids[7], 999_999]) == 2

    assert ids[42] not in index and ids[7] not in index and len(index) == 498
    _, found = index.search(vectors[42], 20)
    assert ids[42] not in found
    assert index.remove([ids[42]]) == 0, "removing twice removes nothing"


def test_excluded_images_are_filtered_and_the_page_is_still_full(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)
    _, before = index.search(vectors[0], 10)
    rejected = set(before[0, :6].tolist()) | {123_456}  # one id the index never had

    _, after = index.search(vectors[0], 10, exclude=rejected)

    assert not rejected & set(after[0].tolist())
    assert (after >= 0).all() and after.shape == (1, 10)
    np.testing.assert_array_equal(after[0, :4], before[0, 6:])


def test_excluding_everything_leaves_only_padding(library):
    ids, vectors = library
    index = VectorIndex.build(ids[:3], vectors[:3], config=CPU)

    scores, found = index.search(vectors[0], 4, exclude=ids[:3])

    assert (found == -1).all() and np.isneginf(scores).all()


@pytest.mark.parametrize("config", [CPU, IVF_SMALL], ids=["exact", "ivf"])
def test_saved_index_loads_with_identical_results(tmp_path, config):
    ids, vectors = row_ids(3000), random_unit(3000)
    index = VectorIndex.build(ids, vectors, config=config)
    index.remove(ids[:100])
    queries = random_unit(20, seed=3)
    path = tmp_path / "lib" / "vectors.faiss"

    index.save(path)
    loaded = VectorIndex.load(path, config=config)

    assert loaded.kind == index.kind and len(loaded) == 2900
    np.testing.assert_array_equal(loaded.ids(), ids[100:])
    for got, expected in zip(loaded.search(queries, 10), index.search(queries, 10)):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loaded.vectors(ids[[100, 2999]]), vectors[[100, 2999]])
    assert [p.name for p in path.parent.iterdir()] == ["vectors.faiss"], "no temp files left"


def test_a_crash_while_saving_keeps_the_previous_file(tmp_path, monkeypatch, library):
    ids, vectors = library
    path = tmp_path / "vectors.faiss"
    VectorIndex.build(ids, vectors, config=CPU).save(path)
    saved = path.read_bytes()

    write_index = index_module.faiss.write_index

    def crash_halfway(index, out):
        write_index(index, out)  # the bytes are out; the rename never comes
        raise KeyboardInterrupt

    monkeypatch.setattr(index_module.faiss, "write_index", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        VectorIndex.build(ids[:10], vectors[:10], config=CPU).save(path)

    assert path.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]


def test_re_adding_an_id_replaces_its_vector(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)
    edited = random_unit(1, seed=9)[0]  # the image file changed on disk

    index.add(ids[[42]], edited[None])

    assert len(index) == 500
    np.testing.assert_allclose(index.vectors([ids[42]])[0], edited, atol=1e-6)
    _, found = index.search(edited, 1)
    assert found[0, 0] == ids[42]
    _, found = index.search(vectors[42], 500)
    assert list(found[0]).count(ids[42]) == 1


def test_the_reranker_gets_stored_vectors_in_the_order_asked(library):
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=CPU)

    got = index.vectors([ids[9], ids[2], ids[9]])

    assert got.shape == (3, DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got, vectors[[9, 2, 9]], atol=1e-6)


@pytest.mark.parametrize("config", [CPU, IVF_SMALL], ids=["exact", "ivf"])
def test_a_search_can_hand_over_the_vectors_it_found(library, config):
    # the rerank needs the candidates' vectors next: the search reads them as it goes
    ids, vectors = library
    index = VectorIndex.build(ids, vectors, config=config)
    query = random_unit(2, seed=4)
    excluded = index.search(query, 3)[1][0].tolist()

    plain = index.search(query, 600, exclude=excluded)
    scores, found, got = index.search(query, 600, exclude=excluded, vectors=True)

    np.testing.assert_array_equal(found, plain[1])
    np.testing.assert_array_equal(scores, plain[0])
    real = found >= 0
    assert got.shape == (2, 600, DIM) and (~real).any() and not got[~real].any()  # padding
    np.testing.assert_allclose(got[real], index.vectors(found[real]), atol=1e-6)


def test_an_empty_index_answers_with_padding():
    index = VectorIndex(DIM, config=CPU)

    scores, found = index.search(random_unit(2), 5)

    assert len(index) == 0 and index.ids().size == 0 and 5 not in index
    assert found.shape == (2, 5) and (found == -1).all()
    assert scores.shape == (2, 5) and np.isneginf(scores).all()


def test_fewer_images_than_asked_pads_the_rest(library):
    ids, vectors = library
    index = VectorIndex(DIM, config=CPU)
    index.add(ids[:3], vectors[:3])

    scores, found = index.search(vectors[0], 5)

    assert sorted(found[0, :3]) == sorted(ids[:3]) and list(found[0, 3:]) == [-1, -1]
    assert np.isfinite(scores[0, :3]).all() and np.isneginf(scores[0, 3:]).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ix: ix.add([1], random_unit(1, dim=16)), "(n, 32), got (1, 16)"),
        (lambda ix: ix.add([1, 2, 3], random_unit(2)), "3 ids for 2 vectors"),
        (lambda ix: ix.add([1], np.full((1, DIM), np.nan)), "row 0 has NaN or inf"),
        (lambda ix: ix.add([1], 3 * random_unit(1)), "id 1 has norm 3"),
        (lambda ix: ix.add([4, 4], random_unit(2)), "repeated in one call: [4]"),
        (lambda ix: ix.add([-1], random_unit(1)), "must be >= 0"),
        (lambda ix: ix.add([1.5], random_unit(1)), "integers, got float64"),
        (lambda ix: ix.search(random_unit(1, dim=8), 3), "got (1, 8)"),
        (lambda ix: ix.search(random_unit(1), 0), "k must be a positive integer, got 0"),
        (lambda ix: ix.search(np.full(DIM, np.inf), 3), "queries row 0 has NaN or inf"),
        (lambda ix: ix.vectors([5, 777]), "ids not in the index: [777]"),
    ],
)
def test_bad_input_is_refused_with_the_problem_named(call, message):
    index = VectorIndex(DIM, config=CPU)
    index.add([5], random_unit(1))

    with pytest.raises(VectorIndexError) as caught:
        call(index)

    assert message in str(caught.value)
    assert len(index) == 1, "a refused call changes nothing"


def test_loading_something_that_is_not_an_index_says_how_to_recover(tmp_path):
    with pytest.raises(VectorIndexError, match="no index file at .*missing.faiss"):
        VectorIndex.load(tmp_path / "missing.faiss")
    garbage = tmp_path / "garbage.faiss"
    garbage.write_bytes(b"not faiss at all")
    with pytest.raises(VectorIndexError, match="not a readable FAISS index.*rebuild"):
        VectorIndex.load(garbage)


def test_approximate_index_finds_at_least_95_percent_of_the_true_top_10():
    vectors, queries = clustered_unit(40_000, 64, clusters=200, seed=0)
    ids = row_ids(len(vectors))
    config = IndexConfig(exact_threshold=1000, use_gpu=False)

    approx = VectorIndex.build(ids, vectors, config=config)
    _, found = approx.search(queries, 10)

    truth = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    recall = np.mean([len(np.intersect1d(f, t)) / 10 for f, t in zip(found, truth)])
    assert approx.kind == "ivf"
    assert recall >= 0.95, f"recall@10 {recall:.3f} with nprobe {config.nprobe}"


def test_approximate_index_takes_removals_and_new_images():
    ids, vectors = row_ids(5000), random_unit(5000)
    index = VectorIndex.build(ids, vectors, config=IVF_SMALL)
    newcomers = random_unit(10, seed=5)

    assert index.remove(ids[:50]) == 50
    index.add(np.arange(10, dtype=np.int64) + 1_000_000, newcomers)

    assert index.kind == "ivf" and len(index) == 4960
    _, found = index.search(vectors[:50], 5)
    assert not set(found.ravel()) & set(ids[:50])
    _, found = index.search(newcomers, 1)
    np.testing.assert_array_equal(found[:, 0], np.arange(10) + 1_000_000)
    np.testing.assert_allclose(index.vectors([1_000_003]), newcomers[[3]], atol=1e-6)


def test_a_growing_library_switches_to_ivf_and_back_when_it_shrinks():
    ids, vectors = row_ids(4000), random_unit(4000)
    index = VectorIndex(DIM, config=IndexConfig(exact_threshold=2000, use_gpu=False))

    index.add(ids[:2000], vectors[:2000])
    assert index.kind == "exact"
    index.add(ids[2000:], vectors[2000:])
    assert index.kind == "ivf" and len(index) == 4000
    _, found = index.search(vectors[3000], 1)
    assert found[0, 0] == ids[3000]

    index.remove(ids[:3100])
    assert index.kind == "exact" and len(index) == 900
    np.testing.assert_allclose(index.vectors(ids[3100:]), vectors[3100:], atol=1e-6)


@pytest.mark.skipif(faiss.get_num_gpus() > 0 or torch_sees_cuda(),
                    reason="checks the no-GPU message")
def test_asking_for_a_gpu_without_one_says_what_to_install():
    with pytest.raises(VectorIndexError, match="neither faiss nor torch sees.*faiss-gpu"):
        VectorIndex(DIM, config=IndexConfig(use_gpu=True))


@pytest.mark.gpu
@pytest.mark.skipif(faiss.get_num_gpus() == 0, reason="needs faiss with a CUDA GPU")
@pytest.mark.parametrize("threshold", [100_000, 100], ids=["exact", "ivf"])
def test_gpu_and_cpu_give_the_same_results(tmp_path, threshold):
    ids, vectors = row_ids(5000), random_unit(5000)
    queries = random_unit(50, seed=2)
    cpu = VectorIndex.build(
        ids, vectors, config=IndexConfig(exact_threshold=threshold, use_gpu=False)
    )
    gpu = VectorIndex.build(
        ids, vectors, config=IndexConfig(exact_threshold=threshold, use_gpu=True)
    )
    assert gpu.on_gpu and not cpu.on_gpu

    for exclude in ((), ids[:20]):
        cpu_scores, cpu_ids = cpu.search(queries, 10, exclude=exclude)
        gpu_scores, gpu_ids = gpu.search(queries, 10, exclude=exclude)
        np.testing.assert_allclose(gpu_scores, cpu_scores, atol=1e-4)
        assert (gpu_ids == cpu_ids).mean() > 0.99  # float ties may swap neighbours

    gpu.remove(ids[:10])
    assert not set(gpu.search(vectors[:10], 5)[1].ravel()) & set(ids[:10])
    gpu.save(tmp_path / "gpu.faiss")
    reloaded = VectorIndex.load(tmp_path / "gpu.faiss", config=IndexConfig(use_gpu=False))
    assert len(reloaded) == 4990
