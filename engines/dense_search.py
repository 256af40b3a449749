"""Exact top-k search by NumPy over L2-normalised vectors held in memory (the ``frozen-index`` engines'
default backend): queries in blocks of bounded memory, ties to the lower row as the LanceDB store does."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from engines.records import SearchHit

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
