"""The tfidf engine, the shared metrics and the registry (fast; one slow real-data check)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engines.base import Examples, Predictions, get_engine
from engines.errors import ArtifactError, ConfigError, DataError
from engines.metrics import PeakMemory, measure_speed, score
from engines.tfidf import TfidfEngine

ROOT = Path(__file__).resolve().parents[1]

POS = ["good", "great", "lovely", "superb", "wonderful", "joy", "delight", "fun"]
NEG = ["bad", "awful", "boring", "dull", "terrible", "mess", "waste", "tedious"]
FILLER = ["the", "film", "movie", "plot", "actors", "story", "scene", "was", "a", "very", "and", "it"]


def synthetic(n: int, seed: int = 0, noise: float = 0.1) -> Examples:
    """Two classes told apart by sentiment words among filler; ``noise`` flips labels."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.sample(FILLER, 5) + rng.sample(POS if label == "pos" else NEG, 2)
        rng.shuffle(words)
        if rng.random() < noise:
            label = "neg" if label == "pos" else "pos"
        texts.append(" ".join(words) + f" #{i}")
        labels.append(label)
    return Examples(texts=texts, labels=labels)


def test_registry_unknown_engine_lists_names():
    with pytest.raises(ConfigError, match="try one of: tfidf, embedding"):
        get_engine("nope")
    assert get_engine("tfidf") is TfidfEngine


def test_fit_predict_beats_majority_on_held_out():
    train, test = synthetic(200, seed=1), synthetic(100, seed=2)
    engine = TfidfEngine({"C": None})
    report = engine.fit(train)
    assert report.stopped == "completed" and report.n_train == 200 and report.examples_seen == 200
    assert report.train_examples_per_s and report.train_examples_per_s > 0
    assert report.peak_rss_bytes and report.peak_rss_bytes > 10 * 2**20
    assert any("CV" in note for note in report.notes)
    ev = engine.evaluate(test)
    majority = max(Counter(test.labels).values()) / len(test)
    assert ev.n == 100 and len(ev.correct) == 100 and len(ev.y_pred) == 100
    assert ev.accuracy > majority + 0.2, (ev.accuracy, majority)
    pred = engine.predict(["a great and lovely film", "an awful boring mess"])
    assert pred.labels == ["pos", "neg"]
    assert pred.classes == ["neg", "pos"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in pred.scores)


def test_save_load_round_trip_identical(tmp_path):
    engine = TfidfEngine({"C": 10.0, "char_ngrams": [2, 3]})
    engine.fit(synthetic(80))
    texts = synthetic(30, seed=5).texts + ["unseen words entirely xyzzy"]
    before = engine.predict(texts)
    engine.save(tmp_path / "a")
    assert not list((tmp_path / "a").glob("*.pkl"))
    again = TfidfEngine.load(tmp_path / "a").predict(texts)
    assert again.labels == before.labels
    np.testing.assert_allclose(np.array(again.scores), np.array(before.scores), rtol=1e-9, atol=1e-12)


def test_word_only_config_round_trip(tmp_path):
    engine = TfidfEngine({"char_ngrams": None, "C": 1.0})
    engine.fit(synthetic(60))
    engine.save(tmp_path / "w")
    assert TfidfEngine.load(tmp_path / "w").predict(["great fun"]).labels == engine.predict(["great fun"]).labels


def test_corrupt_files_give_artifact_errors(tmp_path):
    engine = TfidfEngine({"C": 1.0})
    engine.fit(synthetic(60))
    engine.save(tmp_path / "a")
    (tmp_path / "a" / "head.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="corrupt head file"):
        TfidfEngine.load(tmp_path / "a")
    engine.save(tmp_path / "b")
    (tmp_path / "b" / "tfidf.json").write_text("{broken")
    with pytest.raises(ArtifactError, match="corrupt tfidf.json"):
        TfidfEngine.load(tmp_path / "b")
    engine.save(tmp_path / "c")
    (tmp_path / "c" / "tfidf_idf.npz").unlink()
    with pytest.raises(ArtifactError, match="missing tfidf_idf.npz"):
        TfidfEngine.load(tmp_path / "c")


def test_budget_and_cancel_skip_the_cv():
    import threading

    engine = TfidfEngine({"C": None})
    report = engine.fit(synthetic(120), budget_s=1e-6)
    assert report.stopped == "budget" and any("C not tuned" in n for n in report.notes)
    assert engine.predict(["great"]).labels  # it kept what it learned
    cancel = threading.Event()

    def cancel_after_vectorizing(event):
        if event.phase == "train":
            cancel.set()

    report = engine.fit(synthetic(120), cancel=cancel, progress=cancel_after_vectorizing)
    assert report.stopped == "cancelled"


def test_single_class_is_a_data_error():
    with pytest.raises(DataError, match="at least 2 classes"):
        TfidfEngine().fit(Examples(texts=["a", "b", "c"], labels=["x", "x", "x"]))


def test_score_counts_and_macro_f1():
    test = Examples(texts=list("abcd"), labels=["x", "x", "y", "y"])
    pred = Predictions(labels=["x", "y", "y", "y"], classes=["x", "y"], scores=[[1, 0]] * 4)
    report = score(test, pred)
    assert report.accuracy == 0.75
    assert report.correct == [True, False, True, True]
    assert report.per_class["x"].recall == 0.5 and report.per_class["y"].precision == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)


def test_measure_speed_reports_both_batch_sizes():
    engine = TfidfEngine({"C": 1.0})
    engine.fit(synthetic(60))
    speed = measure_speed(engine, synthetic(50, seed=3).texts, max_texts=64)
    assert speed.batch_sizes == (1, 32)
    assert set(speed.latency_ms_p50) == {1, 32} and set(speed.latency_ms_p95) == {1, 32}
    assert speed.latency_ms_p95[1] >= speed.latency_ms_p50[1] > 0
    assert speed.texts_per_s > 0 and speed.peak_rss_bytes


def test_peak_memory_sees_a_temporary_allocation():
    with PeakMemory("cpu", interval_s=0.01) as baseline:
        pass
    with PeakMemory("cpu", interval_s=0.01) as mem:
        block = np.ones(80 * 2**20 // 8)  # 80 MB, touched
        block[::512] += 1
        import time

        time.sleep(0.1)
        del block
    assert mem.peak_rss_bytes > baseline.peak_rss_bytes + 50 * 2**20


def test_engines_import_no_textual_nor_torch():
    code = (
        "import sys\n"
        "import engines.base, engines.tfidf, engines.embedding, engines.store, engines.artifacts, "
        "engines.metrics, engines.backbone, engines.linear_head\n"
        "bad = [m for m in ('textual', 'torch', 'transformers', 'lancedb') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    for path in (ROOT / "engines").glob("*.py"):
        assert "textual" not in path.read_text(encoding="utf-8"), path


@pytest.mark.slow
def test_real_data_beats_majority():
    from advisor.data.labelled import load_dataset
    from advisor.data.sampling import stratified_split

    ds = load_dataset("demo:rotten-tomatoes", sample=1000, seed=0)
    train, test = stratified_split(ds.examples, test_size=200, seed=0)
    engine = TfidfEngine()
    engine.fit(train)
    ev = engine.evaluate(test)
    majority = max(Counter(test.labels).values()) / len(test)
    assert ev.accuracy > majority + 0.05, (ev.accuracy, majority)
