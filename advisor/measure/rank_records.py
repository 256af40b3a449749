"""The retrieval micro-benchmark's records: one engine scored (``RankPoint``), what was measured of one
approach (``RankMeasurement``) and the whole benchmark (``RankBench``)."""

from __future__ import annotations

from pydantic import Field

from engines.base import Record
from engines.search_cost import SearchCost


class RankPoint(Record):
    """One trained (or untrained) engine scored on the benchmark's held-out queries."""

    approach: str
    n_train: int = Field(description="Training pairs' queries given to fit.")
    fold: int = Field(0, description="The held-out queries it was scored on: fold 0 or fold 1.")
    value: float = Field(description="The goals' metric, mean over the held-out queries.")
    metrics: dict[str, float] = Field(default_factory=dict)
    fit_s: float = 0.0
    index_s: float = Field(0.0, description="Seconds to index the benchmark's collection.")
    steps: int = 0
    planned_steps: int | None = Field(None, description="Steps the recipe planned (trained engines).")
    examples_seen: int = 0
    stopped: str = "completed"
    per_query: list[float] = Field(default_factory=list, exclude=True, description="Metric per held-out query.")
    per_query_half: list[float] = Field(
        default_factory=list, exclude=True, description="The same, searching the half collection (``half_docs``)."
    )


class RankMeasurement(Record):
    """What the benchmark measured of one retrieval approach."""

    approach: str
    points: list[RankPoint] = Field(default_factory=list)
    load_s: float | None = None
    docs_per_s: float | None = Field(None, description="Indexing rate on the benchmark's collection.")
    query_ms_p50: float | None = Field(None, description="One query (embedding + search), median ms.")
    search: SearchCost | None = Field(
        None, description="One query over the full collection, forecast by the engine (None: not modelled)."
    )
    peak_rss_bytes: int | None = None
    spent_s: float = 0.0
    notes: list[str] = Field(default_factory=list)


class RankBench(Record):
    """The retrieval micro-benchmark's results."""

    measurements: dict[str, RankMeasurement] = Field(default_factory=dict)
    metric: str
    test_queries: int = Field(description="Queries of fold 0 (every approach is scored on them).")
    fold1_queries: int = Field(0, description="Queries of fold 1 (the cross-fit's second held-out set).")
    pool_queries: int = Field(description="Training queries of each fold's fit.")
    bench_docs: int = Field(description="Documents in the collection the benchmark searched.")
    half_docs: int = Field(0, description="Documents in its half collection (0: not measured).")
    collection_docs: int = Field(description="Documents in the full collection.")
    budget_s: float
    spent_s: float = 0.0
    cancelled: bool = False
    seed: int = 0
    left_out: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
