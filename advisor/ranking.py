"""The retrieval task's micro-benchmark: BM25, a frozen index and contrastive fine-tuning measured on
a held-out part of the user's queries within the budget (``measure``); ``advisor.rank_forecast`` turns
what it measured into forecasts for the shared decision (``advisor.recommend``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from advisor.capabilities import flag
from advisor.measure import BenchEvent
from engines.base import Record
from engines.errors import Cancelled
from engines.records import Pairs

DEFAULT_ENGINES = ("bm25", "frozen-index", "contrastive")
TEST_SHARE = 0.2
TEST_MIN, TEST_MAX = 20, 300  # held-out queries of the benchmark
# Documents the benchmark indexes: every trained point re-embeds them, so the collection is cut to
# what the budget affords (DOCS_PER_BUDGET_S per second of budget, at least MIN_BENCH_DOCS), always
# keeping the held-out queries' relevant documents.
DOCS_PER_BUDGET_S = 5
MIN_BENCH_DOCS = 400
LATENCY_QUERIES = 30
# Of the training pool: the trained engines' learning-curve sizes, largest first (the recipe's minimum
# steps make small sizes cost about as much, and the largest is closest to the full run).
CURVE_SHARES = (1.0, 0.5, 0.25)
PARTIAL_MIN = 0.5  # a fit the budget stopped before this share of its planned steps is not scored
PACE_STEPS = 5  # steps a trained fit runs before its pace decides whether it can finish in the budget


class RankPoint(Record):
    """One trained (or untrained) engine scored on the benchmark's held-out queries."""

    approach: str
    n_train: int = Field(description="Training pairs' queries given to fit.")
    value: float = Field(description="The goals' metric, mean over the held-out queries.")
    metrics: dict[str, float] = Field(default_factory=dict)
    fit_s: float = 0.0
    index_s: float = Field(0.0, description="Seconds to index the benchmark's collection.")
    steps: int = 0
    planned_steps: int | None = Field(None, description="Steps the recipe planned (trained engines).")
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
def bench_docs(budget_s: float) -> int:
    """Documents the benchmark's collection holds at this budget."""
    return max(MIN_BENCH_DOCS, int(DOCS_PER_BUDGET_S * budget_s))


def bench_split(pairs: Pairs, seed: int, budget_s: float) -> tuple[Pairs, Pairs]:
    """(training pool, held-out queries over a collection cut to ``bench_docs(budget_s)`` documents;
    the held-out queries are at most a third of that, so most of the collection is not their answer)."""
    from advisor.pairs import sample_pairs, split_pairs

    docs = bench_docs(budget_s)
    n_test = int(min(TEST_MAX, docs // 3, max(TEST_MIN, TEST_SHARE * len(pairs))))
    n_test = min(n_test, len(pairs) // 2)
    pool, test = split_pairs(pairs, n_test, seed)
    if len(test.doc_ids) > docs:
        test = sample_pairs(test, len(test), seed, max_docs=docs)
    return pool, test


def _query_ms(engine: Any, queries: Sequence[str]) -> float:
    engine.search_many(list(queries[:2]), 10)  # warm-up
    times = []
    for q in queries[:LATENCY_QUERIES]:
        t0 = time.perf_counter()
        engine.search_many([q], 10)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def planned_steps(config: Any, n: int) -> int:
    """Optimizer steps a trained engine's fit takes on ``n`` queries: the fine-tune recipe (its one home)."""
    from engines.finetune import recipe

    return int(recipe(config, n)[0])


class Pace:
    """A trained fit's progress callback: once PACE_STEPS steps have run, it stops the fit (through its
    own ``event``) if the measured pace says the planned steps cannot end by ``deadline`` (a perf_counter
    time); the run's cancel stops it too. ``hopeless`` then holds the projected training seconds."""

    def __init__(self, deadline: float, cancel: threading.Event) -> None:
        self.deadline, self.cancel = deadline, cancel
        self.event = threading.Event()
        self.started: float | None = None
        self.hopeless: float | None = None

    def __call__(self, ev: Any) -> None:
        if self.cancel.is_set():
            self.event.set()
        if ev.phase != "train" or ev.unit != "steps" or not ev.total:
            return
        now = time.perf_counter()
        if self.started is None:
            self.started = now
            return
        if ev.done >= PACE_STEPS and self.hopeless is None:
            projected = (now - self.started) / max(1, ev.done - 1) * ev.total
            if self.started + projected > self.deadline:
                self.hopeless = projected
                self.event.set()


def _point(
    name: str,
    engine: Any,
    train: Pairs,
    test: Pairs,
    metric: str,
    budget_s: float | None,
    cancel: Any,
    pace: Any = None,
) -> RankPoint:
    if pace is not None:
        fit = engine.fit(train, budget_s=budget_s, cancel=pace.event, progress=pace)
    else:
        fit = engine.fit(train, budget_s=budget_s, cancel=cancel)
    if fit.stopped == "cancelled":
        raise Cancelled(f"{name}: cancelled while training")
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
        cls = get_engine(name)
        trains = bool(cls.trains_backbone)
        sizes = list(dict.fromkeys(max(8, int(round(s * len(pool)))) for s in CURVE_SHARES)) if trains else [len(pool)]
        points: list[RankPoint] = []
        said: list[str] = []
        rss: list[int] = []
        query_ms = None
        try:
            for n in sizes:
                config = configs.get(name)
                plan = planned_steps(config, n) if trains else None
                if trains and points:
                    # The next size's cost: the measured seconds per step times its steps, plus the same indexing.
                    last = points[-1]
                    need = last.fit_s / max(1, last.steps) * (plan or 1) + last.index_s
                    if need > left():
                        said.append(f"n={n:,} not started: ~{need:.0f}s needed, {left():.0f}s left")
                        break
                if left() <= 0:
                    break
                emit(name, "fit", f"n={n:,} queries" + (f", {plan} steps planned" if plan else ""))
                engine = cls(config)
                train = pool.subset(list(range(n)))
                # A trained fit that cannot end before the budget does (its indexing included) stops early.
                index_guess = len(test.doc_ids) / rate if (rate := _docs_rate(out)) else 0.0
                pace = Pace(time.perf_counter() + left() - index_guess, cancel) if trains else None
                with PeakMemory() as mem:
                    try:
                        p = _point(
                            name, engine, train, test, metric, max(1.0, left()) if trains else None, cancel, pace
                        )
                    except Cancelled:
                        if pace is None or pace.hopeless is None or cancel.is_set():
                            raise
                        said.append(
                            f"n={n:,} stopped after its first steps: at the measured pace its {plan} steps need "
                            f"~{pace.hopeless:.0f}s of training, {left():.0f}s were left"
                        )
                        emit(name, "eval", said[-1])
                        break
                rss.append(int(mem.peak_rss_bytes or 0))
                p = p.model_copy(update={"planned_steps": plan})
                if plan and p.stopped == "budget" and p.steps < PARTIAL_MIN * plan:
                    need = p.fit_s / max(1, p.steps) * plan + p.index_s
                    said.append(
                        f"n={n:,} stopped by the budget at {p.steps} of {plan} steps, too few to score "
                        f"(~{need:.0f}s would measure it)"
                    )
                    emit(name, "eval", said[-1])
                    break
                points.append(p)
                emit(name, "eval", f"n={n:,}: {metric} {p.value:.3f} ({p.stopped})")
                if query_ms is None:
                    query_ms = _query_ms(engine, test.queries)
        except Cancelled:
            notes.append(f"{name}: cancelled")
        spent = time.perf_counter() - t0
        index_rates = [len(test.doc_ids) / p.index_s for p in points if p.index_s > 0]
        out[name] = RankMeasurement(
            approach=name,
            points=points,
            docs_per_s=float(np.median(index_rates)) if index_rates else None,
            query_ms_p50=query_ms,
            peak_rss_bytes=max(rss) if rss else None,
            spent_s=spent,
            notes=said if points or said else ["no point finished within the budget"],
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


def _docs_rate(measured: dict[str, RankMeasurement]) -> float | None:
    """The fastest indexing rate measured so far (documents/s), to guess a trained point's indexing."""
    rates = [m.docs_per_s for m in measured.values() if m.docs_per_s and flag(m.approach, "uses_transformer")]
    return max(rates) if rates else None
