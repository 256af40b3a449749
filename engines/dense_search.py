"""Exact top-k search by NumPy over L2-normalised vectors held in memory (the ``frozen-index`` engines'
default backend): queries in blocks of bounded memory, ties to the lower row as the LanceDB store does."""

from __future__ import annotations

from typing import Any

from engines.records import SearchHit


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
        scores = queries[start : start + step] @ vectors.T
        if k < len(ids):
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            top = np.tile(np.arange(len(ids)), (len(scores), 1))
        for row, cand in zip(scores, top):
            order = sorted(cand.tolist(), key=lambda j: (-row[j], j))
            out.append([SearchHit(doc_id=ids[j], score=float(row[j]), text=texts[j]) for j in order])
    return out
