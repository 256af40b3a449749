"""The embedding engine, its encoder path, the LanceDB store and the shared backbone helpers.

Logic runs on the builtin random ``tiny-bert``; ``slow`` tests use the packaged
all-MiniLM-L6-v2 on real Rotten Tomatoes snippets.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import numpy as np
import pytest

from engines.base import Examples
from engines.embedding import EmbeddingEngine
from engines.errors import ArtifactError, Cancelled, DataError
from engines.store import VectorStore, knn_vote

POS = ["good", "great", "lovely", "superb", "wonderful", "joy", "delight", "fun"]
NEG = ["bad", "awful", "boring", "dull", "terrible", "mess", "waste", "tedious"]
FILLER = ["the", "film", "movie", "plot", "actors", "story", "scene", "was", "a", "very", "and", "it"]
TINY = {"model": "tiny-bert", "max_length": 64, "device": "cpu", "precision": "fp32"}


def synthetic(n: int, seed: int = 0) -> Examples:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.sample(FILLER, rng.randint(1, 10)) + rng.sample(POS if label == "pos" else NEG, 3)
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {i}")
        labels.append(label)
    return Examples(texts=texts, labels=labels)


@pytest.fixture(scope="module")
def fitted() -> EmbeddingEngine:
    engine = EmbeddingEngine({**TINY, "C": 1.0})
    engine.fit(synthetic(120))
    return engine


# ---------------------------------------------------------------- backbone helpers
def test_length_sorted_batches_cover_all_indices_longest_first():
    from engines.backbone import length_sorted_batches

    batches = length_sorted_batches([3, 9, 1, 7, 5], 2)
    assert batches == [[1, 3], [4, 0], [2]]
    assert length_sorted_batches(["aa", "a", "aaa"], 5) == [[2, 0, 1]]


def test_mean_pool_ignores_padding():
    import torch

    from engines.backbone import cls_pool, mean_pool

    hidden = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0]])
    assert torch.allclose(mean_pool(hidden, mask), hidden[:, :2].mean(dim=1))
    assert torch.equal(cls_pool(hidden, mask), hidden[:, 0])


def test_vectors_do_not_depend_on_batch_padding(fitted):
    short = "great fun"
    batch = [short, "a very long review " * 8, "tedious"]
    alone = fitted.encode([short])[0]
    together = fitted.encode(batch)
    np.testing.assert_allclose(together[0], alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------- engine logic
def test_fit_beats_majority_on_held_out(fitted):
    test = synthetic(80, seed=9)
    ev = fitted.evaluate(test)
    majority = max(Counter(test.labels).values()) / len(test)
    assert ev.accuracy > majority + 0.1, (ev.accuracy, majority)


def test_refit_on_nested_subsets_reuses_cached_vectors():
    engine = EmbeddingEngine({**TINY, "C": 1.0})
    data = synthetic(96)
    engine.prepare(data.texts)
    assert engine.last_embed_texts_per_s and engine.last_embed_texts_per_s > 0
    calls = []
    original = engine._encode_batches
    engine._encode_batches = lambda *a, **k: (calls.append(1), original(*a, **k))[1]
    report = engine.fit(data.subset(range(48)))
    assert calls == [] and report.tokens_seen == 0
    assert report.train_examples_per_s == engine.last_embed_texts_per_s
    assert report.examples_seen == 48 and report.stopped == "completed"


def test_budget_stops_within_20_percent_and_keeps_what_it_embedded():
    engine = EmbeddingEngine({**TINY, "C": 1.0, "batch_size": 8})
    engine._ensure_model()
    original = engine._encode_batches

    def slow_batches(*args, **kwargs):
        for item in original(*args, **kwargs):
            time.sleep(0.05)  # a slow encoder: 50 ms per batch of 8
            yield item

    engine._encode_batches = slow_batches
    data = synthetic(400)  # 50 batches ≈ 2.5 s unbounded
    budget = 1.0
    t0 = time.perf_counter()
    report = engine.fit(data, budget_s=budget)
    took = time.perf_counter() - t0
    assert report.stopped == "budget"
    assert took <= 1.2 * budget, took
    assert 8 <= report.examples_seen < 400 and report.epochs < 1
    assert engine.predict(["great fun"]).labels in (["pos"], ["neg"])  # the head was fitted


def test_cancel_keeps_what_was_embedded():
    engine = EmbeddingEngine({**TINY, "C": 1.0, "batch_size": 16})
    cancel = threading.Event()

    def progress(event):
        if event.phase == "embed" and event.done >= 32:
            cancel.set()

    report = engine.fit(synthetic(160), progress=progress, cancel=cancel)
    assert report.stopped == "cancelled" and report.examples_seen < 160
    cancel.set()
    with pytest.raises(Cancelled):
        EmbeddingEngine(TINY).fit(synthetic(10), cancel=cancel)


@pytest.mark.parametrize("head", ["logreg", "knn"])
def test_save_load_round_trip_identical(tmp_path, head):
    engine = EmbeddingEngine({**TINY, "C": 1.0, "head": head, "knn_k": 5})
    engine.fit(synthetic(64))
    texts = synthetic(20, seed=4).texts
    before = engine.predict(texts)
    engine.save(tmp_path / "a")
    assert (tmp_path / "a" / "model" / "config.json").is_file()
    assert not list((tmp_path / "a").rglob("*.pkl")) and not list((tmp_path / "a").rglob("*.bin"))
    loaded = EmbeddingEngine.load(tmp_path / "a")
    after = loaded.predict(texts)
    assert after.labels == before.labels
    np.testing.assert_allclose(np.array(after.scores), np.array(before.scores), atol=1e-6)


def test_search_finds_the_stored_text_first(tmp_path, fitted):
    fitted.save(tmp_path / "s")
    loaded = EmbeddingEngine.load(tmp_path / "s")
    target = fitted._train_texts[7]
    hits = loaded.search(target, 3)
    assert len(hits) == 3 and hits[0].text == target and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_corrupt_artifacts_give_artifact_errors(tmp_path, fitted):
    fitted.save(tmp_path / "w")
    weights = next((tmp_path / "w" / "model").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-100:] = bytes(100)
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="do not match"):
        EmbeddingEngine.load(tmp_path / "w")

    fitted.save(tmp_path / "h")
    (tmp_path / "h" / "head.npz").write_bytes(b"junk")
    with pytest.raises(ArtifactError, match="corrupt head file"):
        EmbeddingEngine.load(tmp_path / "h")

    fitted.save(tmp_path / "st")
    for f in (tmp_path / "st" / "store").rglob("*"):
        if f.is_file():
            f.write_bytes(b"junk")
    loaded = EmbeddingEngine.load(tmp_path / "st")
    with pytest.raises(ArtifactError, match="vector store"):
        loaded.search("great", 2)

    fitted.save(tmp_path / "m")
    (tmp_path / "m" / "model" / "config.json").unlink()
    with pytest.raises(ArtifactError, match="model copy"):
        EmbeddingEngine.load(tmp_path / "m")


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(DataError, match="before fit"):
        EmbeddingEngine(TINY).predict(["x"])


# ------------------------------------------------------------------------- store
def test_store_matches_exact_numpy_search(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"t{i}" for i in range(500)]
    labels = ["a" if i % 3 else "b" for i in range(500)]
    VectorStore.create(tmp_path / "db", vectors, texts, labels)
    store = VectorStore.open(tmp_path / "db")
    assert len(store) == 500 and store.dim == 24
    queries = rng.normal(size=(20, 24)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    results = store.search_many(queries, 10)
    for q, hits in zip(queries, results, strict=True):
        sims = vectors @ q
        expected = list(np.argsort(-sims)[:10])
        assert [h.row for h in hits] == expected
        np.testing.assert_allclose([h.score for h in hits], sims[expected], atol=1e-5)
        assert all(h.text == texts[h.row] and h.label == labels[h.row] for h in hits)
    single = store.search(queries[0], 3)
    assert [h.row for h in single] == [h.row for h in results[0][:3]]


def test_store_open_missing_folder(tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        VectorStore.open(tmp_path / "nope")


def test_knn_vote_weights_by_similarity():
    from engines.store import Hit

    hits = [
        Hit(text="a", label="x", score=0.9, row=0),
        Hit(text="b", label="y", score=0.3, row=1),
        Hit(text="c", label="y", score=0.3, row=2),
    ]
    votes = knn_vote(hits, ["x", "y"])
    assert votes[0] > votes[1] and sum(votes) == pytest.approx(1.0)


# -------------------------------------------------------------------- real model
@pytest.mark.slow
def test_real_model_beats_majority_and_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from advisor.data.labelled import load_dataset
    from advisor.data.sampling import stratified_split
    from engines.models import resolve_model

    ds = load_dataset("demo:rotten-tomatoes", sample=600, seed=0)
    train, test = stratified_split(ds.examples, test_size=200, seed=0)
    engine = EmbeddingEngine({"model": "all-MiniLM-L6-v2", "device": "cpu"})
    report = engine.fit(train)
    assert report.stopped == "completed" and report.train_examples_per_s > 0
    ev = engine.evaluate(test)
    majority = max(Counter(test.labels).values()) / len(test)
    assert ev.accuracy > majority + 0.05, (ev.accuracy, majority)

    resolved = resolve_model("all-MiniLM-L6-v2")
    st = SentenceTransformer(str(resolved.st_root or resolved.path), device="cpu", local_files_only=True)
    texts = test.texts[:8]
    ours = engine.encode(texts)
    theirs = st.encode(texts, batch_size=32, normalize_embeddings=True)
    cos = (ours * theirs).sum(axis=1)
    assert cos.min() > 0.999, cos.min()
