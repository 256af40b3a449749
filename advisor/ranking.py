"""The retrieval task's micro-benchmark: BM25, a frozen index and contrastive fine-tuning measured on
a held-out part of the user's queries, with what a full run of each would give and cost. The forecasts
feed the same decision as classification (``advisor.recommend``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from advisor.bootstrap import interval, resample
from advisor.capabilities import flag
from advisor.curves import Observation, fit_learning_curve
from advisor.forecast import Forecast
from advisor.measure import BenchEvent
from engines.base import Record
from engines.errors import Cancelled
from engines.records import Pairs

DEFAULT_ENGINES = ("bm25", "frozen-index", "contrastive")
TEST_SHARE = 0.2
TEST_MIN, TEST_MAX = 20, 300  # held-out queries of the benchmark
BENCH_DOCS = 3000  # documents indexed by the benchmark (all of them when the collection is smaller)
LATENCY_QUERIES = 30
N_BOOT = 200
CURVE_SHARES = (0.25, 0.5, 1.0)  # of the training pool: the contrastive learning curve's sizes


class RankPoint(Record):
    """One trained (or untrained) engine scored on the benchmark's held-out queries."""

    approach: str
    n_train: int = Field(description="Training pairs' queries given to fit.")
    value: float = Field(description="The goals' metric, mean over the held-out queries.")
    metrics: dict[str, float] = Field(default_factory=dict)
    fit_s: float = 0.0
    index_s: float = Field(0.0, description="Seconds to index the benchmark's collection.")
    steps: int = 0
    examples_seen: int = 0
    stopped: str = "completed"
    per_query: list[float] = Field(default_factory=list, exclude=True, description="Metric per held-out query.")


class RankMeasurement(Record):
    """What the benchmark measured of one retrieval approach."""

    approach: str
    points: list[RankPoint] = Field(default_factory=list)
    load_s: float | None = None
    docs_per_s: float | None = Field(None, description="Indexing rate on the benchmark's collection.")
    query_ms_p50: float | None = Field(None, description="One query (embedding + search), median ms.")
    peak_rss_bytes: int | None = None
    spent_s: float = 0.0
    notes: list[str] = Field(default_factory=list)


class RankBench(Record):
    """The retrieval micro-benchmark's results."""

    measurements: dict[str, RankMeasurement] = Field(default_factory=dict)
    metric: str
    test_queries: int
    pool_queries: int
    bench_docs: int = Field(description="Documents in the collection the benchmark searched.")
    collection_docs: int = Field(description="Documents in the full collection.")
    budget_s: float
    spent_s: float = 0.0
    cancelled: bool = False
    seed: int = 0
    left_out: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


# -------------------------------------------------------------------------- measure
def bench_split(pairs: Pairs, seed: int) -> tuple[Pairs, Pairs]:
    """(training pool, held-out queries over a collection of at most BENCH_DOCS documents)."""
    from advisor.pairs import sample_pairs, split_pairs

    n_test = int(min(TEST_MAX, max(TEST_MIN, TEST_SHARE * len(pairs))))
    n_test = min(n_test, len(pairs) // 2)
    pool, test = split_pairs(pairs, n_test, seed)
    if len(test.doc_ids) > BENCH_DOCS:
        test = sample_pairs(test, len(test), seed, max_docs=BENCH_DOCS)
    return pool, test


def _query_ms(engine: Any, queries: Sequence[str]) -> float:
    engine.search_many(list(queries[:2]), 10)  # warm-up
    times = []
    for q in queries[:LATENCY_QUERIES]:
        t0 = time.perf_counter()
        engine.search_many([q], 10)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def _point(
    name: str, engine: Any, train: Pairs, test: Pairs, metric: str, budget_s: float | None, cancel: Any
) -> RankPoint:
    fit = engine.fit(train, budget_s=budget_s, cancel=cancel)
    t0 = time.perf_counter()
    engine.index(test.doc_ids, test.docs, cancel=cancel)
    index_s = time.perf_counter() - t0
    report = engine.evaluate(test)
    return RankPoint(
        approach=name,
        n_train=len(train),
        value=report.metrics[metric],
        metrics=report.metrics,
        fit_s=fit.wall_s,
        index_s=index_s,
        steps=fit.steps,
        examples_seen=fit.examples_seen,
        stopped=fit.stopped,
        per_query=report.per_query[metric],
    )


def measure(
    pool: Pairs,
    test: Pairs,
    *,
    engines: Sequence[str],
    configs: dict[str, Any],
    metric: str,
    budget_s: float,
    collection_docs: int,
    seed: int = 0,
    progress: Callable[[BenchEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> RankBench:
    """Measure each engine within ``budget_s``: the untrained ones once, the trained ones on a learning
    curve over the pool's queries (smallest first; a size is started only if its forecast cost fits)."""
    from engines.base import get_engine
    from engines.metrics import PeakMemory

    t_start = time.perf_counter()
    cancel = cancel or threading.Event()
    out: dict[str, RankMeasurement] = {}
    notes: list[str] = []

    def left() -> float:
        return budget_s - (time.perf_counter() - t_start)

    def emit(name: str, phase: str, message: str) -> None:
        if progress is not None:
            progress(
                BenchEvent(
                    approach=name,
                    phase=phase,
                    message=message,
                    elapsed_s=time.perf_counter() - t_start,
                    budget_s=budget_s,
                )
            )

    # Untrained engines first (they settle the floor cheaply), then the ones that train.
    order = sorted(engines, key=lambda n: flag(n, "trains_backbone"))
    for name in order:
        if cancel.is_set():
            break
        t0 = time.perf_counter()
        m = RankMeasurement(approach=name)
        cls = get_engine(name)
        trains = bool(cls.trains_backbone)
        sizes = sorted({max(2, int(round(s * len(pool)))) for s in CURVE_SHARES}) if trains else [len(pool)]
        points: list[RankPoint] = []
        rss: list[int] = []
        query_ms = None
        try:
            for n in sizes:
                if trains and points:
                    # Cost of the next size: the last one's, scaled by training pairs, plus the same indexing.
                    last = points[-1]
                    need = last.fit_s * n / max(1, last.n_train) + last.index_s
                    if need > left():
                        m = m.model_copy(
                            update={
                                "notes": [*m.notes, f"n={n:,} not started: ~{need:.0f}s needed, {left():.0f}s left"]
                            }
                        )
                        break
                if left() <= 0:
                    break
                emit(name, "fit", f"n={n:,} queries")
                engine = cls(configs.get(name))
                train = pool.subset(list(range(n)))
                with PeakMemory() as mem:
                    p = _point(name, engine, train, test, metric, max(1.0, left()) if trains else None, cancel)
                rss.append(int(mem.peak_rss_bytes or 0))
                points.append(p)
                emit(name, "eval", f"n={n:,}: {metric} {p.value:.3f} ({p.stopped})")
                if query_ms is None:
                    query_ms = _query_ms(engine, test.queries)
        except Cancelled:
            notes.append(f"{name}: cancelled")
        spent = time.perf_counter() - t0
        index_rates = [len(test.doc_ids) / p.index_s for p in points if p.index_s > 0]
        out[name] = m.model_copy(
            update={
                "points": points,
                "docs_per_s": float(np.median(index_rates)) if index_rates else None,
                "query_ms_p50": query_ms,
                "peak_rss_bytes": max(rss) if rss else None,
                "spent_s": spent,
                "notes": m.notes if points else [*m.notes, "no point finished within the budget"],
            }
        )
        emit(name, "done", f"{len(points)} point(s) in {spent:.0f}s")
    return RankBench(
        measurements=out,
        metric=metric,
        test_queries=len(test),
        pool_queries=len(pool),
        bench_docs=len(test.doc_ids),
        collection_docs=collection_docs,
        budget_s=budget_s,
        spent_s=time.perf_counter() - t_start,
        cancelled=cancel.is_set(),
        seed=seed,
        notes=notes,
    )


# ------------------------------------------------------------------------- forecast
def _mean_fn(values: np.ndarray, idx: np.ndarray) -> float:
    return float(np.mean(values[idx]))


def _flat(points: list[RankPoint], seed: int) -> tuple[float, float, float, list[float]]:
    """An untrained engine's score does not depend on the pairs: the measured mean, and its bootstrap
    over held-out queries drawn as ``advisor.curves`` draws them (so forecasts pair up)."""
    values = np.asarray(points[-1].per_query)
    row_rng = np.random.default_rng([seed, 0])
    boot = [_mean_fn(values, resample(row_rng, len(values))) for _ in range(N_BOOT)]
    lo, hi = interval(boot)
    value = float(values.mean())
    return value, min(lo, value), max(hi, value), boot


def forecast(bench: RankBench, n_target: int, *, docs_target: int, metric: str) -> dict[str, Forecast]:
    """Each measured approach at ``n_target`` training queries over ``docs_target`` documents."""
    out: dict[str, Forecast] = {}
    shrink = bench.bench_docs < docs_target
    for name, m in bench.measurements.items():
        assumptions: list[str] = []
        if shrink:
            assumptions.append(
                f"scored on a collection of {bench.bench_docs:,} of the {docs_target:,} documents: every approach "
                "finds more in a smaller collection, so the full run's scores will be lower for all of them"
            )
        if not m.points:
            out[name] = Forecast(
                approach=name,
                n_target=n_target,
                metric=metric,
                value=None,
                method="none",
                flagged=True,
                flag_reason="not measured: " + ("; ".join(m.notes) or "no point within this budget"),
            )
            continue
        trains = flag(name, "trains_backbone")
        if trains:
            obs = [Observation(p.n_train, 0, p.value, np.asarray(p.per_query)) for p in m.points]
            res = fit_learning_curve(obs, n_target, metric_fn=_mean_fn, n_test=bench.test_queries, seed=bench.seed)
            quality = {
                "value": res.value,
                "low": res.low,
                "high": res.high,
                "method": res.method,
                "flagged": res.flagged,
                "flag_reason": res.flag_reason,
                "extrapolation_factor": res.extrapolation_factor,
                "n_max_measured": res.n_max,
                "curve": res.curve,
                "measured": res.measured,
                "projection": res.projection,
                "boot": res.boot,
            }
        else:
            value, lo, hi, boot = _flat(m.points, bench.seed)
            quality = {
                "value": value,
                "low": lo,
                "high": hi,
                "method": "measured (learns nothing from pairs)",
                "boot": boot,
            }
            assumptions.append("no training: its score does not depend on the number of pairs")
        train_s = _train_time(m, n_target, docs_target)
        out[name] = Forecast(
            approach=name,
            n_target=n_target,
            metric=metric,
            train_time_s=train_s,
            peak_memory_bytes=m.peak_rss_bytes,
            infer_ms_per_text=m.query_ms_p50,
            assumptions=[*assumptions, *_time_assumptions(m, n_target, docs_target)],
            **quality,
        )
    return out


def _index_s(m: RankMeasurement, docs: int) -> float | None:
    return docs / m.docs_per_s if m.docs_per_s else None


def _train_time(m: RankMeasurement, n_target: int, docs_target: int) -> float | None:
    """Full-run seconds: training (the largest point's seconds per query, scaled) plus indexing the
    whole collection at the measured rate."""
    index = _index_s(m, docs_target)
    last = m.points[-1]
    fit = last.fit_s * n_target / max(1, last.n_train) if flag(m.approach, "trains_backbone") else last.fit_s
    return None if index is None else fit + index


def _time_assumptions(m: RankMeasurement, n_target: int, docs_target: int) -> list[str]:
    said = []
    if m.docs_per_s:
        said.append(f"indexes the {docs_target:,} documents at the measured {m.docs_per_s:,.0f} documents/s")
    if flag(m.approach, "trains_backbone") and m.points:
        last = m.points[-1]
        said.append(
            f"trains in time proportional to queries: {last.fit_s:.0f}s for {last.n_train:,} measured, "
            f"scaled to {n_target:,}"
        )
    return said
