"""One query forecast over a bigger collection (``engines.search_cost``): each engine times its own encoding
and search here, in a stand-in of the full size by the backend that size gets; the retrieval advice's latency
and indexing forecasts take it."""

from __future__ import annotations

import numpy as np
import pytest
from retrieval_helpers import TINY, synthetic_pairs

from advisor.forecast import ranking as rank_forecast
from advisor.measure.rank_records import RankMeasurement, RankPoint
from engines import search_cost
from engines.bm25 import Bm25Engine
from engines.dense import FrozenIndexEngine
from engines.search_cost import SearchCost


def test_two_sizes_carry_their_slope_and_a_downward_one_stays_flat() -> None:
    then, how = search_cost.two_sizes_ms(2.0, 1000, 1.0, 500, 10_000)
    assert then == pytest.approx(2.0 + (1.0 / 500) * 9000)
    assert "500 and 1,000 documents" in how
    assert search_cost.two_sizes_ms(1.0, 1000, 1.5, 500, 10_000)[0] == 1.0  # timing noise, not a shrinking search


def test_each_query_is_encoded_then_searched_and_only_the_search_is_scaled(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(search_cost.time, "perf_counter", lambda: clock[0])
    order = []

    def encode(texts):
        order.append(("encode", texts[0]))
        clock[0] += 0.010
        return texts

    def search(vectors):
        order.append(("search", vectors[0]))
        clock[0] += 0.002

    whole, searched = search_cost.timed_queries(encode, search, ["a", "b", "c"], scale=4.0)
    assert whole == pytest.approx(10 + 2 * 4) and searched == pytest.approx(2 * 4)
    assert order[2:] == [
        ("encode", "a"),
        ("search", "a"),
        ("encode", "b"),
        ("search", "b"),
        ("encode", "c"),
        ("search", "c"),
    ]


def test_the_exact_scan_stand_in_is_capped_and_of_unit_vectors(monkeypatch) -> None:
    monkeypatch.setattr(search_cost, "EXACT_CAP", 2_000)
    big, small = search_cost.unit_vectors(8_000, 16), search_cost.unit_vectors(500, 16)
    assert big.shape == (2_000, 16) and small.shape == (500, 16) and big.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(big, axis=1), 1.0, rtol=1e-5)
    assert search_cost.hnsw_growth(1_000, 1_000_000) == pytest.approx(2.0)
    assert search_cost.hnsw_growth(1_000, 10) == 1.0


def test_the_frozen_index_forecasts_the_backend_its_full_size_gets(tiny_model) -> None:
    pytest.importorskip("faiss")
    pairs = synthetic_pairs()
    engine = FrozenIndexEngine({**TINY, "hnsw_min_docs": 1_000})
    engine.index(pairs.doc_ids, pairs.docs)
    exact = engine.search_cost(500, pairs.queries)
    assert exact.docs == 500 and exact.how == "numpy: exact search over 500 random vectors"
    assert exact.build_s == 0.0 and exact.query_ms > exact.search_ms > 0
    graph = engine.search_cost(5_000, pairs.queries)
    assert graph.how.startswith("hnsw: an HNSW graph over the 35 documents indexed")
    assert graph.build_s > 0 and graph.query_ms > graph.search_ms > 0
    # The probes leave the engine's own index as it was.
    assert engine.backend() == "numpy" and engine.collection.graph is None and len(engine.indexed_ids or []) == 35
    lance = FrozenIndexEngine({**TINY, "search_backend": "lancedb"})
    lance.index(pairs.doc_ids, pairs.docs)
    cost = lance.search_cost(3_500, pairs.queries)
    assert cost.how.startswith("lancedb: LanceDB's exact search over the 35 documents indexed, scaled linearly")
    assert cost.query_ms > cost.search_ms > 0


def test_bm25_times_two_sizes_of_its_collection() -> None:
    pairs = synthetic_pairs()
    engine = Bm25Engine()
    engine.index(pairs.doc_ids, pairs.docs)
    cost = engine.search_cost(100_000, pairs.queries)
    assert cost.docs == 100_000 and cost.query_ms == cost.search_ms > 0
    assert "timed over 17 and 35 documents here" in cost.how
    assert engine.search_many(pairs.queries[:1], 3)[0][0].doc_id == "d0"  # its own index untouched


def _measured(search: SearchCost | None) -> RankMeasurement:
    point = RankPoint(approach="frozen-index", n_train=0, value=0.5, fit_s=0.0, index_s=4.0)
    return RankMeasurement(approach="frozen-index", points=[point], docs_per_s=100.0, query_ms_p50=12.0, search=search)


def test_the_forecast_takes_the_full_sizes_query_and_build() -> None:
    cost = SearchCost(docs=100_000, query_ms=32.0, search_ms=20.5, build_s=30.0, how="numpy: exact search")
    m = _measured(cost)
    assert rank_forecast._query_ms(m) == 32.0
    assert rank_forecast._index_s(m, 100_000) == pytest.approx(1000.0 + 30.0)
    said = " ".join(rank_forecast._time_assumptions(m, 100, 100_000))
    assert "~32.0 ms, 20.5 of them searching, after a 30s build (numpy: exact search; measured over" in said
    plain = _measured(None)
    assert rank_forecast._query_ms(plain) == 12.0 and rank_forecast._index_s(plain, 100_000) == 1000.0
