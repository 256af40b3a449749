"""The frozen index's approximate search (an HNSW graph by faiss): on a small collection it ranks as exact
search does; the graph travels in the artifact and is checked there; 'auto' turns it on by collection size;
without faiss, 'auto' stays exact and an explicit 'hnsw' is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from retrieval_helpers import TINY, synthetic_pairs

from engines import ann
from engines.dense import FrozenIndexEngine
from engines.errors import ArtifactError, ConfigError


def ranked(engine: FrozenIndexEngine, queries: list[str], k: int) -> list[list[str]]:
    return [[h.doc_id for h in row] for row in engine.search_many(queries, k)]


def test_hnsw_ranks_a_small_collection_as_exact_search_does(tmp_path: Path, tiny_model) -> None:
    pairs = synthetic_pairs()
    exact = FrozenIndexEngine({**TINY, "search_backend": "numpy"})
    graph = FrozenIndexEngine({**TINY, "search_backend": "hnsw"})
    for engine in (exact, graph):
        engine.index(pairs.doc_ids, pairs.docs)
    assert graph.backend() == "hnsw" and graph.collection.graph is not None
    for k in (1, 10, 35, 50):
        assert ranked(graph, pairs.queries, k) == ranked(exact, pairs.queries, k)
    scores = [h.score for row in graph.search_many(pairs.queries, 10) for h in row]
    assert scores == pytest.approx([h.score for row in exact.search_many(pairs.queries, 10) for h in row], abs=1e-5)

    graph.save(tmp_path / "art")
    assert (tmp_path / "art" / ann.INDEX_FILE).is_file()
    loaded = FrozenIndexEngine.load(tmp_path / "art")
    assert loaded.collection.graph is not None and loaded.collection.graph.ntotal == len(
        pairs.docs
    )  # read back, not rebuilt
    assert ranked(loaded, pairs.queries, 10) == ranked(exact, pairs.queries, 10)


def test_auto_turns_the_graph_on_from_a_collection_size(tmp_path: Path, tiny_model) -> None:
    pairs = synthetic_pairs()
    small = FrozenIndexEngine(TINY)  # auto, 35 documents under the default 50,000
    small.index(pairs.doc_ids, pairs.docs)
    assert small.backend() == "numpy" and small.collection.graph is None
    small.save(tmp_path / "exact")
    assert not (tmp_path / "exact" / ann.INDEX_FILE).exists()
    big = FrozenIndexEngine({**TINY, "hnsw_min_docs": 30})
    big.index(pairs.doc_ids, pairs.docs)
    assert big.backend() == "hnsw" and big.collection.graph is not None
    assert ranked(big, pairs.queries, 5) == ranked(small, pairs.queries, 5)


def test_a_graph_of_another_collection_is_refused(tmp_path: Path, tiny_model) -> None:
    pairs = synthetic_pairs()
    engine = FrozenIndexEngine({**TINY, "search_backend": "hnsw"})
    engine.index(pairs.doc_ids, pairs.docs)
    engine.save(tmp_path / "art")
    other = ann.build(engine.collection.rows()[0][:10], m=8, ef_construction=16)
    ann.save(other, tmp_path / "art" / ann.INDEX_FILE)
    with pytest.raises(ArtifactError, match=r"holds 10×\d+ vectors, the collection 35×"):
        FrozenIndexEngine.load(tmp_path / "art")


def test_without_faiss_auto_is_exact_and_hnsw_is_one_line(monkeypatch, tiny_model) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    pairs = synthetic_pairs()
    auto = FrozenIndexEngine({**TINY, "hnsw_min_docs": 30})
    auto.index(pairs.doc_ids, pairs.docs)
    assert auto.backend() == "numpy" and auto.search_many(pairs.queries[:1], 3)
    with pytest.raises(ConfigError, match=r"needs faiss, which is not installed: pip install \"tune-or-embed\[ann\]\""):
        FrozenIndexEngine({**TINY, "search_backend": "hnsw"}).index(pairs.doc_ids, pairs.docs)
