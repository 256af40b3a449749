"""Retrieval indexing on Ray (``run --engine frozen-index --workers N``, ``engines.ray_embed.index_to_store``):
on a local Ray cluster started here (``ray.init(num_cpus=2)``) the collection is embedded by the embedding
engine's actor pool into the same LanceDB store as the one-process ``index``: the same document ids,
vectors and top-k, an artifact that loads and searches without Ray; an unreachable cluster, a missing
Ray and an engine that runs in one process are one line each; a cancelled index keeps the previous one."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'tune-or-embed[ray]')")

TINY = {"model": "tiny-bert", "max_length": 32, "device": "cpu", "precision": "fp32", "batch_size": 8}
WORDS = "lava chord bytecode penalty dough moraine sonata nebula regatta antibody gambit hive kiln orbit".split()
QUERIES = ["lava and chord", "penalty kiln orbit", "sonata nebula", "hive gambit dough"]


def collection(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` distinct short documents (ids ``d0``…) of 3–10 topic words (distinct: no score ties)."""
    rng = np.random.default_rng(seed)
    docs = [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 10)))) + f" number {i}" for i in range(n)]
    return [f"d{i}" for i in range(n)], docs


def write_retrieval_data(folder: Path, n_queries: int = 40, n_corpus: int = 300) -> tuple[Path, Path]:
    """A pairs CSV (query, document) and a corpus CSV (id, text) of extra documents."""
    import pandas as pd

    ids, docs = collection(n_queries + n_corpus, seed=5)
    pairs = pd.DataFrame(
        {
            "query": [f"about {d.split(' number ')[0]} {i}" for i, d in enumerate(docs[:n_queries])],
            "document": docs[:n_queries],
        }
    )
    corpus = pd.DataFrame({"id": ids[n_queries:], "text": docs[n_queries:]})
    folder.mkdir(parents=True, exist_ok=True)
    pairs.to_csv(folder / "pairs.csv", index=False)
    corpus.to_csv(folder / "corpus.csv", index=False)
    return folder / "pairs.csv", folder / "corpus.csv"


# ------------------------------------------------------------------- one line each
def test_workers_for_an_engine_that_indexes_in_one_process_is_one_line(tmp_path, capsys):
    from advisor.cli import main

    pairs, _ = write_retrieval_data(tmp_path / "data", 10, 10)
    argv = ["run", "--engine", "bm25", "--data", str(pairs), "--workers", "2", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs in one process" in err[0] and "frozen-index" in err[0], err
    assert not (tmp_path / "o").exists()


def test_frozen_index_workers_without_ray_is_one_line(tmp_path, monkeypatch, capsys):
    from advisor.cli import main
    from engines import ray_cluster

    monkeypatch.setattr(ray_cluster, "ray_available", lambda: False)
    pairs, _ = write_retrieval_data(tmp_path / "data", 10, 10)
    argv = ["run", "--engine", "frozen-index", "--data", str(pairs), "--workers", "2", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'tune-or-embed[ray]'" in err[0], err
    assert not (tmp_path / "o").exists()


@needs_ray
def test_an_unreachable_ray_address_fails_in_one_line_before_any_work(tmp_path, capsys):
    """Exit 5 as the embedding and fine-tune paths; checked in ``fit``, so a contrastive run does not
    train first; nothing written."""
    import ray

    from advisor.cli import main

    if ray.is_initialized():
        pytest.skip("another test's Ray cluster is connected in this process")
    pairs, corpus = write_retrieval_data(tmp_path / "data", 10, 10)
    for engine in ("frozen-index", "contrastive"):
        out = tmp_path / engine
        argv = ["run", "--engine", engine, "--data", str(pairs), "--corpus", str(corpus), "--profile", "tiny"]
        argv += ["--workers", "2", "--ray-address", "127.0.0.1:9", "--out", str(out)]
        assert main(argv) == 5
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in err[0], err
        assert not out.exists()
    assert not ray.is_initialized()


# ---------------------------------------------------------------- on a Ray cluster
SEARCH_WITHOUT_RAY = """
import json, sys
sys.modules["ray"] = None  # import ray fails; find_spec says it is not there
from engines.dense import FrozenIndexEngine
from engines.ray_cluster import ray_available
assert not ray_available()
engine = FrozenIndexEngine.load(sys.argv[1])
queries = json.loads(sys.argv[2])
print(json.dumps([[h.doc_id for h in hits] for hits in engine.search_many(queries, 10)]))
"""


@needs_ray
@pytest.mark.slow
def test_two_workers_index_equals_the_one_process_index(ray_cluster, tmp_path):
    """600 documents in 10 blocks on 2 workers: the same document ids and texts row by row, vectors
    within 1e-5, the same top-k (numpy and LanceDB search); the artifact has the one-process layout
    and loads and searches in a process where Ray cannot be imported."""
    from engines.dense import FrozenIndexEngine
    from engines.dense_artifact import STORE_DIR

    ids, docs = collection(600)
    one = FrozenIndexEngine(TINY)
    one.index(ids, docs)
    two = FrozenIndexEngine({**TINY, "workers": 2})
    events = []
    two.index(ids, docs, progress=events.append)
    assert {e.phase for e in events} == {"index"} and events[-1].done == len(docs)

    v_one, t_one, l_one = one.collection.store.rows()
    v_two, t_two, l_two = two.collection.store.rows()
    assert l_two == l_one == ids and t_two == t_one == docs and two.indexed_ids == ids
    np.testing.assert_allclose(v_two, v_one, atol=1e-5)
    want = [[h.doc_id for h in hits] for hits in one.search_many(QUERIES, 10)]
    assert [[h.doc_id for h in hits] for hits in two.search_many(QUERIES, 10)] == want
    lance = FrozenIndexEngine({**TINY, "workers": 2, "search_backend": "lancedb"})
    lance.index(ids, docs)
    assert [[h.doc_id for h in hits] for hits in lance.search_many(QUERIES, 10)] == want

    one.save(tmp_path / "one")
    two.save(tmp_path / "two")

    def layout(root: Path) -> list[str]:
        skip = ("data", "_versions", "_transactions")  # file names inside the table differ by content
        return sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if not any(part in skip for part in p.relative_to(root).parts[:-1])
        )

    assert layout(tmp_path / "two") == layout(tmp_path / "one")
    table = tmp_path / "two" / STORE_DIR / "examples.lance"
    assert len(list((table / "_versions").glob("*.manifest"))) == 1  # compacted, the per-block history dropped

    script = [sys.executable, "-c", SEARCH_WITHOUT_RAY, str(tmp_path / "two"), json.dumps(QUERIES)]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(script, capture_output=True, text=True, cwd=root, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == want


@needs_ray
@pytest.mark.slow
def test_a_cancelled_index_keeps_the_previous_collection_and_stops_the_workers(ray_cluster):
    import time

    import psutil

    from engines.dense import FrozenIndexEngine
    from engines.errors import Cancelled

    ids, docs = collection(1500, seed=1)
    engine = FrozenIndexEngine({**TINY, "workers": 2})
    engine.index(ids[:100], docs[:100])
    before = engine.collection.store.directory
    cancel = threading.Event()

    def stop_after_first(event) -> None:
        if event.done > 0:
            cancel.set()

    with pytest.raises(Cancelled, match="previous collection is kept") as info:
        engine.index(ids, docs, progress=stop_after_first, cancel=cancel)
    assert "\n" not in str(info.value)
    assert engine.collection.store.directory == before and before.is_dir() and engine.indexed_ids == ids[:100]
    assert [p.name for p in before.parent.parent.iterdir()] == [before.parent.name]  # the partial store is gone
    assert engine.search("lava", 3)[0].doc_id in ids[:100]

    def actors() -> list[int]:
        found = []
        for proc in psutil.Process().children(recursive=True):  # this test's own cluster only
            try:
                if "EncodeActor" in " ".join(proc.cmdline()):
                    found.append(proc.pid)
            except psutil.Error:
                continue
        return found

    deadline = time.monotonic() + 30
    while actors() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not actors(), "the encoder actors outlived the cancelled index"


@needs_ray
@pytest.mark.slow
def test_run_with_workers_writes_the_usual_retrieval_artifact(ray_cluster, tmp_path, capsys):
    """``run --engine frozen-index --corpus … --workers 2`` end to end: the one-process run's held-out
    scores and ``search`` results, the workers in the manifest's settings, the same artifact files."""
    from advisor.cli import main

    pairs, corpus = write_retrieval_data(tmp_path / "data")
    common = ["run", "--engine", "frozen-index", "--data", str(pairs), "--corpus", str(corpus)]
    common += ["--profile", "tiny", "--json"]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    two = json.loads(capsys.readouterr().out)
    assert two["engine_config"]["workers"] == 2 and one["engine_config"]["workers"] == 1
    assert two["data"]["rows"] == one["data"]["rows"]
    for name, value in one["rank_metrics"]["metrics"].items():
        assert two["rank_metrics"]["metrics"][name] == pytest.approx(value, abs=1e-9)
    held = [json.loads((tmp_path / d / "heldout.json").read_text()) for d in ("one", "two")]
    assert held[0]["y_pred"] == held[1]["y_pred"]

    for run in ("one", "two"):
        assert main(["search", str(tmp_path / run), QUERIES[0], "-k", "5", "--json"]) == 0
    first, second = _json_docs(capsys.readouterr().out)
    assert [h["doc_id"] for h in first["hits"]] == [h["doc_id"] for h in second["hits"]]


def _json_docs(text: str) -> list[dict]:
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = decoder.raw_decode(text, i)
        docs.append(obj)
    return docs


@needs_ray
@pytest.mark.slow
def test_an_interrupted_index_with_a_workdir_resumes_where_it_stopped(ray_cluster, tmp_path):
    """On Ray with a ``workdir`` the blocks embedded before a cancel stay there; ``resume=True`` embeds
    only the rest, and the store equals an uninterrupted one-process index; blocks of another encoder
    setting, or no ``resume``, start again from nothing."""
    from engines.dense import FrozenIndexEngine
    from engines.dense_ray import RAY_INDEX_DIR
    from engines.errors import Cancelled

    ids, docs = collection(1200, seed=2)
    cancel = threading.Event()

    def stop_after_first(event) -> None:
        if event.done > 0:
            cancel.set()

    def interrupted() -> None:
        cancel.clear()
        first = FrozenIndexEngine({**TINY, "workers": 2})
        with pytest.raises(Cancelled, match=r"kept in .*ray-index, continue with --resume"):
            first.index(ids, docs, progress=stop_after_first, cancel=cancel, workdir=tmp_path)
        assert (tmp_path / RAY_INDEX_DIR).is_dir()

    assert FrozenIndexEngine({**TINY, "workers": 2}).index_resumes() and not FrozenIndexEngine(TINY).index_resumes()
    interrupted()
    other, events = FrozenIndexEngine({**TINY, "workers": 2, "max_length": 16}), []
    other.index(ids, docs, progress=events.append, workdir=tmp_path, resume=True)
    assert events[0].done == 0  # blocks of another encoder setting are not resumed: embedded afresh

    interrupted()
    resumed, events = FrozenIndexEngine({**TINY, "workers": 2}), []
    resumed.index(ids, docs, progress=events.append, workdir=tmp_path, resume=True)
    kept = events[0].done
    assert 0 < kept < len(docs)  # the first call's blocks were not embedded again
    one = FrozenIndexEngine(TINY)
    one.index(ids, docs)
    v_res, t_res, l_res = resumed.collection.store.rows()
    v_one, _, _ = one.collection.store.rows()
    assert l_res == ids and t_res == docs
    np.testing.assert_allclose(v_res, v_one, atol=1e-5)

    again, events = FrozenIndexEngine({**TINY, "workers": 2}), []
    again.index(ids, docs, progress=events.append, workdir=tmp_path)
    assert events[0].done == 0  # not asked to resume: every document embedded afresh
