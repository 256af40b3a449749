"""Embedding on Ray (``run --engine embedding --workers N``, engines/ray_embed.py): a local Ray
cluster started here (``ray.init(num_cpus=2)``) embeds with 2 workers into LanceDB; the vectors and
the nearest neighbours equal the single-process engine's; an interrupted embed resumes with only the
missing rows; without Ray, ``--workers`` says how to get it in one line."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np
import pytest

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'tune-or-embed[ray]')")

WORDS = "good bad film plot actor dull great boring fun slow tense warm cold witty flat bright".split()


def short_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` distinct short texts of 3–13 words and two labels (distinct: no ties in the neighbour order)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 13)))
        texts.append(" ".join(words) + f" {i}")
        labels.append("pos" if "good" in words or "great" in words else "neg")
    return texts, labels


def tiny_config(tiny_model_dir: Path, **extra):
    from engines.config import EmbeddingConfig

    return EmbeddingConfig(model=str(tiny_model_dir), batch_size=32, device="cpu", threads=1, **extra)


# ------------------------------------------------------------------------ no Ray
def test_workers_without_ray_is_one_line(tiny_csv, tmp_path, monkeypatch, capsys):
    from advisor.cli import main
    from engines import ray_cluster

    monkeypatch.setattr(ray_cluster, "ray_available", lambda: False)
    argv = ["run", "--engine", "embedding", "--data", str(tiny_csv), "--workers", "2", "--out", str(tmp_path / "o")]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'tune-or-embed[ray]'" in err[0], err
    assert not (tmp_path / "o").exists()


def test_workers_is_for_engines_that_scale_out(tiny_csv, tmp_path, capsys):
    from advisor.cli import main

    argv = ["run", "--engine", "tfidf", "--data", str(tiny_csv), "--workers", "2", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "runs in one process" in err and "embedding" in err and "finetune" in err


def test_ray_address_needs_workers(tiny_csv, tmp_path, capsys):
    from advisor.cli import main

    argv = ["run", "--engine", "embedding", "--data", str(tiny_csv), "--ray-address", "auto", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "--workers" in capsys.readouterr().err


def test_block_rows_spread_small_inputs_over_the_workers():
    from engines.ray_embed import BLOCK_ROWS, MIN_BLOCK_ROWS, block_rows

    assert block_rows(3000, 2) == 188  # 16 blocks: 8 per worker
    assert block_rows(10, 2) == MIN_BLOCK_ROWS
    assert block_rows(10_000_000, 4) == BLOCK_ROWS


def test_budgeted_fits_stay_in_one_process(tiny_model_dir):
    """The advisor's benchmark fits (with a budget) never start Ray, whatever ``workers`` says."""
    from engines.base import Examples
    from engines.embedding import EmbeddingEngine

    texts, labels = short_texts(60)
    report = EmbeddingEngine(tiny_config(tiny_model_dir, workers=2)).fit(
        Examples(texts=texts, labels=labels), budget_s=60
    )
    assert report.device != "ray" and not any("Ray" in note for note in report.notes)


# ---------------------------------------------------------------- on a Ray cluster
@needs_ray
@pytest.mark.slow
def test_two_workers_match_the_single_process_engine(ray_cluster, tiny_model_dir, tmp_path):
    """3,000 texts on 2 workers: the same vectors in the same rows, the same neighbours, the same
    predictions, before and after save/load."""
    from engines.base import Examples
    from engines.embedding import EmbeddingEngine
    from engines.store import VectorStore

    texts, labels = short_texts(3000)
    train = Examples(texts=texts, labels=labels)
    single = EmbeddingEngine(tiny_config(tiny_model_dir, head="knn"))
    single.fit(train)
    scaled = EmbeddingEngine(tiny_config(tiny_model_dir, head="knn", workers=2))
    report = scaled.fit(train, workdir=tmp_path / "work")
    assert report.stopped == "completed" and report.device == "ray"
    assert any("2 workers" in note for note in report.notes)

    scaled.save(tmp_path / "art")
    v_ray, t_ray, l_ray = VectorStore.open(tmp_path / "art" / "store").rows()
    assert t_ray == texts and l_ray == labels
    np.testing.assert_allclose(v_ray, single.encode(texts), atol=1e-5)

    queries = ["good fun film", "dull slow plot", "great actor", "cold flat boring"]
    for q in queries:
        want = [(h.row, h.text) for h in single.search(q, 10)]
        assert [(h.row, h.text) for h in scaled.search(q, 10)] == want
    loaded = EmbeddingEngine.load(tmp_path / "art")
    assert [h.row for h in loaded.search(queries[0], 10)] == [h.row for h in single.search(queries[0], 10)]
    held_out = short_texts(200, seed=1)[0]
    assert loaded.predict(held_out).labels == single.predict(held_out).labels


@needs_ray
@pytest.mark.slow
def test_an_interrupted_embed_resumes_with_only_the_missing_rows(ray_cluster, tiny_model_dir, tmp_path):
    from engines import ray_embed
    from engines.embedding import EmbeddingEngine
    from engines.errors import Cancelled, ConfigError
    from engines.ray_store import stored_rows
    from engines.store import VectorStore

    texts, labels = short_texts(2000, seed=2)
    cfg = tiny_config(tiny_model_dir)
    enc = EmbeddingEngine(cfg)
    enc._ensure_model()
    kw = {"config": cfg, "model_dir": enc._model_dir, "pooling": enc._pooling, "workers": 2}
    store = tmp_path / "store"

    cancel = threading.Event()  # Ctrl-C after the first block is written

    def stop_after_first(event) -> None:
        if event.done > 0:
            cancel.set()

    with pytest.raises(Cancelled):
        ray_embed.embed_to_store(texts, labels, store, progress=stop_after_first, cancel=cancel, **kw)
    kept = stored_rows(store)
    assert 0 < len(kept) < len(texts)

    # a crash loses whole blocks only; drop some more rows, as if their commit never happened
    import lancedb

    lancedb.connect(str(store)).open_table("examples").delete("row >= 1500")
    kept = stored_rows(store)

    stats = ray_embed.embed_to_store(texts, labels, store, resume=True, **kw)
    assert stats.already == len(kept) and stats.embedded == len(texts) - len(kept) and stats.rows == len(texts)
    vectors, got_texts, got_labels = VectorStore.open(store).rows()
    assert got_texts == texts and got_labels == labels
    np.testing.assert_allclose(vectors, enc.encode(texts), atol=1e-5)

    again = ray_embed.embed_to_store(texts, labels, store, resume=True, **kw)  # nothing missing: nothing to do
    assert again.embedded == 0 and again.rows == len(texts)
    with pytest.raises(ConfigError, match="without --resume"):  # other rows: never mixed into the store
        ray_embed.embed_to_store(texts[:-1], labels[:-1], store, resume=True, **kw)


@needs_ray
@pytest.mark.slow
def test_run_with_workers_equals_the_single_process_run(ray_cluster, write_csv, tmp_path, capsys):
    """``run --workers 2`` end to end: the same held-out predictions and ``search`` results as ``run``."""
    from advisor.cli import main

    texts, labels = short_texts(1500, seed=3)
    data = write_csv(list(zip(texts, labels, strict=True)))
    common = ["run", "--engine", "embedding", "--data", str(data), "--profile", "tiny", "--set", "head=knn", "--json"]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    two = json.loads(capsys.readouterr().out)
    assert two["metrics"]["accuracy"] == pytest.approx(one["metrics"]["accuracy"])
    assert any("embedded on Ray" in note for note in two["fit"]["notes"])
    assert not (tmp_path / "two.work").exists()
    held = [json.loads((tmp_path / d / "heldout.json").read_text()) for d in ("one", "two")]
    assert held[0]["rows_digest"] == held[1]["rows_digest"] and held[0]["y_pred"] == held[1]["y_pred"]

    for run in ("one", "two"):
        assert main(["search", str(tmp_path / run), "good fun film", "-k", "5", "--json"]) == 0
    out = capsys.readouterr().out
    first, second = (json.loads(chunk) for chunk in _json_chunks(out))
    assert _rows(first) == _rows(second)


def _json_chunks(text: str) -> list[str]:
    """Split concatenated pretty-printed JSON documents."""
    decoder = json.JSONDecoder()
    chunks, i = [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, end = decoder.raw_decode(text, i)
        chunks.append(json.dumps(obj))
        i = end
    return chunks


def _rows(result: dict) -> list:
    return [(h["row"], h["text"]) for h in result["hits"]]


@needs_ray
@pytest.mark.slow
def test_a_model_missing_on_the_workers_is_one_line(ray_cluster, tiny_model_dir, tmp_path):
    """A cluster whose nodes lack the model folder: the actors' ModelNotFoundError, not Ray's traceback."""
    from engines import ray_embed
    from engines.errors import ModelNotFoundError

    texts, labels = short_texts(100)
    with pytest.raises(ModelNotFoundError) as info:
        ray_embed.embed_to_store(
            texts,
            labels,
            tmp_path / "store",
            config=tiny_config(tiny_model_dir),
            model_dir=tmp_path / "not-on-the-workers",
            pooling="mean",
            workers=2,
        )
    assert "\n" not in str(info.value)


@needs_ray
@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_no_rows(ray_cluster, tiny_model_dir, tmp_path):
    """SIGKILL one encoder actor after the first block lands: Ray restarts it and retries its block;
    the store ends with every row exactly once."""

    import lancedb

    from engines import ray_embed
    from engines.embedding import EmbeddingEngine

    texts, labels = short_texts(2000, seed=4)
    cfg = tiny_config(tiny_model_dir)
    enc = EmbeddingEngine(cfg)
    enc._ensure_model()
    killed: list[int] = []

    def kill_one(event) -> None:
        if event.done > 0 and not killed:
            _kill_an_actor(killed)

    stats = ray_embed.embed_to_store(
        texts,
        labels,
        tmp_path / "store",
        config=cfg,
        model_dir=enc._model_dir,
        pooling=enc._pooling,
        workers=2,
        progress=kill_one,
        rows_per_block=64,
    )
    assert killed, "no encoder actor process found to kill"
    rows = lancedb.connect(str(tmp_path / "store")).open_table("examples").to_arrow().column("row").to_pylist()
    assert stats.rows == len(texts) and sorted(rows) == list(range(len(texts)))


@needs_ray
@pytest.mark.slow
def test_actors_that_keep_dying_stop_the_run_in_one_line_and_keep_its_blocks(ray_cluster, tiny_model_dir, tmp_path):
    """SIGKILL an encoder actor as each block lands: past ``ACTOR_RESTARTS`` restarts Ray gives up, and
    the run stops with one line instead of restarting without end; the blocks written stay, and
    ``resume`` embeds only the rest."""
    import lancedb

    from engines import ray_embed
    from engines.embedding import EmbeddingEngine
    from engines.errors import ResourceError

    texts, labels = short_texts(3000, seed=5)
    cfg = tiny_config(tiny_model_dir)
    enc = EmbeddingEngine(cfg)
    enc._ensure_model()
    killed: list[int] = []
    common = {"config": cfg, "model_dir": enc._model_dir, "pooling": enc._pooling, "workers": 2, "rows_per_block": 64}

    with pytest.raises(ResourceError) as info:
        ray_embed.embed_to_store(
            texts, labels, tmp_path / "store", progress=lambda e: e.done and _kill_an_actor(killed), **common
        )
    message = str(info.value)
    assert "\n" not in message and "kept; --resume goes on" in message
    assert len(killed) > ray_embed.ACTOR_RESTARTS
    kept = lancedb.connect(str(tmp_path / "store")).open_table("examples").count_rows()
    assert 0 < kept < len(texts)

    stats = ray_embed.embed_to_store(texts, labels, tmp_path / "store", resume=True, **common)
    rows = lancedb.connect(str(tmp_path / "store")).open_table("examples").to_arrow().column("row").to_pylist()
    assert stats.already == kept and sorted(rows) == list(range(len(texts)))


def _kill_an_actor(killed: list[int]) -> None:
    """SIGKILL one encoder actor process of this test's own cluster, noting its pid."""
    import os
    import signal

    import psutil

    for proc in psutil.Process().children(recursive=True):
        try:
            is_actor = "EncodeActor" in " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if is_actor and proc.pid not in killed:
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc.pid)
            return
