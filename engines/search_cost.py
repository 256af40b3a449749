"""What one query costs over a bigger collection than the one indexed, timed on this machine with the
engines' own encoding and search code (``RetrievalEngine.search_cost``): the advice's latency forecast at
full size."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field

from engines.records import Record

PROBE_QUERIES = 20  # queries each probe times (median)
EXACT_CAP = 100_000  # rows of the synthetic matrix an exact-scan probe times; above, its time scales linearly


class SearchCost(Record):
    """One query over ``docs`` documents, forecast from timings here: whole (encoding included) and its search."""

    docs: int = Field(description="Documents the forecast is for.")
    query_ms: float = Field(description="Median ms of one whole query (encoding + search) over ``docs``.")
    search_ms: float = Field(description="Median ms of its search part over ``docs``.")
    build_s: float = Field(0.0, description="Seconds to build a search structure over ``docs`` (0: none).")
    how: str = Field(description="How it was found, for the advice's assumptions.")


def median_ms(call: Callable[[Any], object], items: Sequence[Any]) -> float:
    """Median milliseconds of ``call(item)`` over ``items``, after one untimed call."""
    import numpy as np

    call(items[0])
    times = []
    for item in items:
        t0 = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def timed_queries(
    encode: Callable[[list[str]], Any], search: Callable[[Any], object], queries: Sequence[str], scale: float
) -> tuple[float, float]:
    """(median ms of a whole query, of its search) when each query is encoded, then searched, one at a
    time as a user's are (a search's BLAS or OpenMP threads may slow the next encoding: that counts), with
    the search's part × ``scale`` (a bigger collection than the one searched)."""
    import numpy as np

    search(encode([queries[0]]))
    whole, searched = [], []
    for q in queries:
        t0 = time.perf_counter()
        vectors = encode([q])
        t1 = time.perf_counter()
        search(vectors)
        t2 = time.perf_counter()
        whole.append(((t1 - t0) + (t2 - t1) * scale) * 1000.0)
        searched.append((t2 - t1) * scale * 1000.0)
    return float(np.median(whole)), float(np.median(searched))


def unit_vectors(n_docs: int, dim: int) -> Any:
    """Random unit vectors standing in for a collection of ``n_docs`` (at most ``EXACT_CAP`` rows): an
    exact scan reads every row whatever it holds."""
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((max(1, min(n_docs, EXACT_CAP)), dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def hnsw_growth(n_now: int, n_docs: int) -> float:
    """How much longer an HNSW query gets from ``n_now`` to ``n_docs`` nodes: it visits about log(n)
    layers' worth of them (never less than 1)."""
    return max(1.0, math.log(max(n_docs, 2)) / math.log(max(n_now, 2)))


def two_sizes_ms(now_ms: float, n_now: int, half_ms: float, n_half: int, n_docs: int) -> tuple[float, str]:
    """Linear in the collection's size through two timed sizes (a search that scores every document
    holding a query's words): the slope from ``half_ms`` at ``n_half`` to ``now_ms`` at ``n_now``
    (not below 0), carried to ``n_docs``."""
    slope = max(0.0, (now_ms - half_ms) / max(1, n_now - n_half))
    return (
        now_ms + slope * max(0, n_docs - n_now),
        f"timed over {n_half:,} and {n_now:,} documents here and carried linearly",
    )
