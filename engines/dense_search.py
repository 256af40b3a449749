"""The ``frozen-index`` engines' search backends: exact top-k by NumPy over the vectors held in memory
(queries in blocks of bounded memory, ties to the lower row as the LanceDB store does), an HNSW graph,
and what one query costs by each at a collection's full size."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from engines.records import SearchHit
from engines.search_cost import SearchCost

SERIAL_BELOW = 16  # queries: fewer are scored on one BLAS thread
_blas: Any = None  # threadpoolctl's controller, made on first use


def _one_blas_thread(n_queries: int) -> AbstractContextManager[Any]:
    """One BLAS thread for a few queries' scores: a matrix-vector product is bound by memory, and BLAS
    threads left spinning after it slow the query encoder that runs next (half a query's time on 2
    cores, benchmarks/results/retrieval/latency-100k.md)."""
    global _blas
    if n_queries >= SERIAL_BELOW:
        return nullcontext()
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def top_k(
    queries: Any, vectors: Any, texts: list[str], ids: list[str], k: int, score_cells: int
) -> list[list[SearchHit]]:
    """The ``k`` rows of ``vectors`` (``ids``, ``texts``) with the highest dot product (cosine: the
    vectors are normalised) for each query, best first; at most ``score_cells`` scores at once."""
    import numpy as np

    k = max(1, min(int(k), len(ids)))
    out: list[list[SearchHit]] = []
    step = max(1, score_cells // len(ids))  # queries per matrix product: bounded memory
    for start in range(0, len(queries), step):
        block = queries[start : start + step]
        with _one_blas_thread(len(block)):
            scores = block @ vectors.T
        if k < len(ids):
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            top = np.tile(np.arange(len(ids)), (len(scores), 1))
        for row, cand in zip(scores, top):
            order = sorted(cand.tolist(), key=lambda j: (-row[j], j))
            out.append([SearchHit(doc_id=ids[j], score=float(row[j]), text=texts[j]) for j in order])
    return out


def backend(config: Any, n_docs: int) -> str:
    """The backend a ``FrozenIndexConfig`` gives a collection of ``n_docs`` documents: the configured
    one, with 'auto' settled by the size (HNSW from ``hnsw_min_docs``, when faiss is installed)."""
    from engines import ann

    if config.search_backend != "auto":
        return str(config.search_backend)
    return "hnsw" if n_docs >= config.hnsw_min_docs and ann.available() else "numpy"


def build_graph(vectors: Any, config: Any) -> Any:
    """An HNSW graph over ``vectors`` with the config's links and build candidates."""
    from engines import ann

    return ann.build(vectors, m=config.hnsw_m, ef_construction=config.hnsw_ef_construction, threads=config.threads)


def graph_top_k(
    graph: Any, queries: Any, texts: list[str], ids: list[str], k: int, config: Any
) -> list[list[SearchHit]]:
    """Approximate top ``k`` rows (``ids``, ``texts``) of ``graph`` for each query, best first."""
    from engines import ann

    scores, rows = ann.search(graph, queries, min(k, len(ids)), ef_search=config.hnsw_ef_search, threads=config.threads)
    return [
        [SearchHit(doc_id=ids[j], score=float(s), text=texts[j]) for s, j in zip(srow, jrow) if j >= 0]
        for srow, jrow in zip(scores.tolist(), rows.tolist())
    ]


def cost(
    n_docs: int,
    probe: Sequence[str],
    encode: Callable[[Any], Any],
    stored: Any,
    store: Any,
    config: Any,
    *,
    k: int,
    score_cells: int,
) -> SearchCost:
    """One query over ``n_docs`` documents by the backend that size gets, timed here: each of ``probe``
    encoded, then searched in a stand-in of that size (``engines.search_cost``): random vectors for an
    exact scan, a graph over the ``stored`` vectors for HNSW (its search scaled by log n), the LanceDB
    ``store`` itself (scaled linearly)."""
    from engines import ann, search_cost

    n_now, k = len(stored), min(k, n_docs)
    chosen, build_s = backend(config, n_docs), 0.0
    if chosen == "numpy":
        synthetic = search_cost.unit_vectors(n_docs, stored.shape[1])
        ids = [""] * len(synthetic)
        scale = n_docs / len(synthetic)

        def search(v: Any) -> object:
            return top_k(v, synthetic, ids, ids, k, score_cells)

        how = f"exact search over {len(synthetic):,} random vectors" + (", scaled linearly" if scale > 1 else "")
    elif chosen == "hnsw":
        t0 = time.perf_counter()
        graph = build_graph(stored, config)
        built = time.perf_counter() - t0
        scale = search_cost.hnsw_growth(n_now, n_docs)
        build_s = built * n_docs / n_now

        def search(v: Any) -> object:
            return ann.search(graph, v, min(k, n_now), ef_search=config.hnsw_ef_search, threads=config.threads)

        how = (
            f"an HNSW graph over the {n_now:,} documents indexed, its search scaled by log(n) and its "
            f"build ({built:.1f}s here) by n"
        )
    else:  # LanceDB's exact search reads every row: linear in the collection
        scale = n_docs / n_now

        def search(v: Any) -> object:
            return store.search_many(v, min(k, n_now))

        how = f"LanceDB's exact search over the {n_now:,} documents indexed, scaled linearly"
    query_ms, search_ms = search_cost.timed_queries(encode, search, probe, scale)
    return SearchCost(docs=n_docs, query_ms=query_ms, search_ms=search_ms, build_s=build_s, how=f"{chosen}: {how}")
