"""The retrieval task's micro-benchmark: BM25, a frozen index and contrastive fine-tuning measured on
a held-out part of the user's queries within the budget (``measure``); ``advisor.forecast.ranking`` turns
what it measured into forecasts for the shared decision (``advisor.decide.recommend``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from advisor.common.capabilities import flag
from advisor.measure import BenchEvent
from advisor.measure.rank_records import RankBench, RankMeasurement, RankPoint
from engines.errors import Cancelled, DataError
from engines.records import Pairs
from engines.search_cost import SearchCost

DEFAULT_ENGINES = ("bm25", "frozen-index", "contrastive")
# The benchmark scores two held-out sets of queries (folds) over one collection. A trained engine is fitted
# once per fold, on the queries outside it, and scored on it (cross-fitting): its score then covers twice
# the queries at the same training size, so the comparisons the decision makes are tighter for the same
# training cost. Untrained engines are scored on both folds from one index.
TEST_MIN, TEST_MAX = 20, 300  # queries per fold
# Documents the benchmark indexes: every trained fit re-embeds them, so the collection is cut to what
# the budget affords (DOCS_PER_BUDGET_S per second of budget, at least MIN_BENCH_DOCS), always keeping
# the folds' relevant documents; the folds' queries are at most a third of it.
DOCS_PER_BUDGET_S = 5
MIN_BENCH_DOCS = 400
LATENCY_QUERIES = 30
# The collection-size effect: each fold is also scored against a seeded half of the collection's other
# documents (the hits of one wider search, filtered), and the forecast extrapolates the drop per
# doubling of the collection to the full one (``advisor.forecast.ranking``).
WIDE_K = 40
# After both folds, smaller training sizes (shares of a fold's training queries) scored on the first
# fold, while the budget lasts: the learning curve's gain from the folds' size to the full run's.
CURVE_SHARES = (0.5, 0.25)
PARTIAL_MIN = 0.5  # a fit the budget stopped before this share of its planned steps is not scored
PACE_STEPS = 5  # steps a trained fit runs before its pace decides whether it can finish in the budget


# -------------------------------------------------------------------------- measure
def bench_docs(budget_s: float) -> int:
    """Documents the benchmark's collection holds at this budget."""
    return max(MIN_BENCH_DOCS, int(DOCS_PER_BUDGET_S * budget_s))


class BenchSplit(NamedTuple):
    """The benchmark's queries: two held-out folds over one (cut) collection, and each fold's training
    queries (every other query, at most the full run's count)."""

    folds: tuple[Pairs, ...]
    trains: tuple[Pairs, ...]
    half: frozenset[str] = frozenset()


def bench_split(pairs: Pairs, seed: int, budget_s: float, max_train: int | None = None) -> BenchSplit:
    """Two disjoint folds of held-out queries (one when the data is too small for two), over a collection
    cut to ``bench_docs(budget_s)`` documents that keeps every fold query's relevant documents."""
    from advisor.data.pairs import sample_pairs, split_pairs

    docs = bench_docs(budget_s)
    n_fold = int(min(TEST_MAX, max(TEST_MIN, docs // 6), len(pairs) // 2))
    rest, f0 = split_pairs(pairs, max(1, n_fold), seed)
    folds = [f0]
    try:
        folds.append(split_pairs(rest, min(len(f0), len(rest) - 1), seed + 1)[1])
    except DataError:  # too few distinct queries left for a second fold
        pass
    scored = Pairs.model_construct(
        query_ids=[q for f in folds for q in f.query_ids],
        queries=[q for f in folds for q in f.queries],
        relevant=[r for f in folds for r in f.relevant],
        negatives=[n for f in folds for n in f.negatives] if pairs.negatives else [],
        doc_ids=pairs.doc_ids,
        docs=pairs.docs,
    )
    if len(scored.doc_ids) > docs:
        scored = sample_pairs(scored, len(scored), seed, max_docs=docs)
    where = {q: i for i, q in enumerate(scored.query_ids)}
    cut = tuple(scored.subset([where[q] for q in f.query_ids]) for f in folds)
    trains = []
    for f in folds:
        held = set(f.query_ids)
        keep = [i for i, q in enumerate(pairs.query_ids) if q not in held][: max_train or None]
        trains.append(pairs.subset(keep))
    needed = {d for rel in scored.relevant for d in rel}
    others = [d for d in scored.doc_ids if d not in needed]
    rng = np.random.default_rng([seed, 3])
    half = needed | {others[i] for i in rng.permutation(len(others))[: len(others) // 2]}
    return BenchSplit(cut, tuple(trains), frozenset(half) if len(others) >= 2 else frozenset())


def _query_ms(engine: Any, queries: Sequence[str]) -> float:
    engine.search_many(list(queries[:2]), 10)  # warm-up
    times = []
    for q in queries[:LATENCY_QUERIES]:
        t0 = time.perf_counter()
        engine.search_many([q], 10)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def _search_cost(engine: Any, n_docs: int, queries: Sequence[str]) -> SearchCost | None:
    """One query over the full collection, as the engine forecasts it (``search_cost``)."""
    return engine.search_cost(n_docs, queries)


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


def _points(
    name: str,
    engine: Any,
    train: Pairs,
    folds: dict[int, Pairs],
    half: frozenset[str],
    metric: str,
    budget_s: float | None,
    cancel: Any,
    pace: Any = None,
) -> list[RankPoint]:
    """Fit ``engine`` on ``train``, index the folds' collection once and score each fold, searching the
    whole (benchmark) collection and, from the same hits, its ``half``."""
    from engines.retrieval import EVAL_K, rank_score

    if pace is not None:
        fit = engine.fit(train, budget_s=budget_s, cancel=pace.event, progress=pace)
    else:
        fit = engine.fit(train, budget_s=budget_s, cancel=cancel)
    if fit.stopped == "cancelled":
        raise Cancelled(f"{name}: cancelled while training")
    first = next(iter(folds.values()))
    t0 = time.perf_counter()
    engine.index(first.doc_ids, first.docs, cancel=cancel)
    index_s = time.perf_counter() - t0
    out = []
    for k, fold in folds.items():
        hits = engine.search_many(fold.queries, WIDE_K if half else EVAL_K)
        report = rank_score(fold, [h[:EVAL_K] for h in hits])
        in_half = rank_score(fold, [[x for x in h if x.doc_id in half][:EVAL_K] for h in hits]) if half else None
        out.append(
            RankPoint(
                approach=name,
                n_train=len(train),
                fold=k,
                value=report.metrics[metric],
                metrics=report.metrics,
                fit_s=fit.wall_s,
                index_s=index_s,
                steps=fit.steps,
                examples_seen=fit.examples_seen,
                stopped=fit.stopped,
                per_query=report.per_query[metric],
                per_query_half=in_half.per_query[metric] if in_half else [],
            )
        )
    return out


def _jobs(trains_backbone: bool, split: BenchSplit) -> list[tuple[Pairs, dict[int, Pairs]]]:
    """(training queries, the folds to score) in the order they are measured: an untrained engine
    once, on every fold; a trained one once per fold (the cross-fit), then smaller sizes on fold 0."""
    folds, trains = split.folds, split.trains
    if not trains_backbone:
        return [(trains[0], dict(enumerate(folds)))]
    jobs = [(trains[k], {k: folds[k]}) for k in range(len(folds))]
    base = len(trains[0])
    for share in CURVE_SHARES:
        n = int(round(share * base))
        if 8 <= n < base:
            jobs.append((trains[0].subset(list(range(n))), {0: folds[0]}))
    return jobs


def measure(
    split: BenchSplit,
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
    """Measure each engine within ``budget_s``: the untrained ones once, the trained ones once per fold
    and then on smaller training sizes (see ``_jobs``); a fit is started only if its forecast cost fits."""
    from engines.base import get_engine
    from engines.metrics import PeakMemory

    t_start = time.perf_counter()
    cancel = cancel or threading.Event()
    out: dict[str, RankMeasurement] = {}
    notes: list[str] = []
    folds = split.folds

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
        points: list[RankPoint] = []
        said: list[str] = []
        rss: list[int] = []
        query_ms, search = None, None
        config = configs.get(name)
        try:
            for train, scored in _jobs(trains, split):
                n = len(train)
                plan = planned_steps(config, n) if trains else None
                where = f"n={n:,}, fold {'+'.join(map(str, scored))}"
                if trains and points:
                    # The next fit's cost: the measured seconds per step times its steps, plus the same indexing.
                    last = points[-1]
                    need = last.fit_s / max(1, last.steps) * (plan or 1) + last.index_s
                    if need > left():
                        said.append(f"{where} not started: ~{need:.0f}s needed, {left():.0f}s left")
                        break
                if left() <= 0:
                    break
                emit(name, "fit", f"{where}" + (f", {plan} steps planned" if plan else ""))
                engine = cls(config)
                # A trained fit that cannot end before the budget does (its indexing included) stops early.
                index_guess = len(folds[0].doc_ids) / rate if (rate := _docs_rate(out)) else 0.0
                pace = Pace(time.perf_counter() + left() - index_guess, cancel) if trains else None
                with PeakMemory() as mem:
                    try:
                        got = _points(
                            name,
                            engine,
                            train,
                            scored,
                            split.half,
                            metric,
                            max(1.0, left()) if trains else None,
                            cancel,
                            pace,
                        )
                    except Cancelled:
                        if pace is None or pace.hopeless is None or cancel.is_set():
                            raise
                        indexing = f" and ~{index_guess:.0f}s of indexing" if index_guess >= 1 else ""
                        said.append(
                            f"{where} stopped after its first steps: at the measured pace its {plan} steps need "
                            f"~{pace.hopeless:.0f}s of training{indexing}, {left():.0f}s were left"
                        )
                        emit(name, "eval", said[-1])
                        break
                rss.append(int(mem.peak_rss_bytes or 0))
                got = [p.model_copy(update={"planned_steps": plan}) for p in got]
                p = got[0]
                if plan and p.stopped == "budget" and p.steps < PARTIAL_MIN * plan:
                    need = p.fit_s / max(1, p.steps) * plan + p.index_s
                    said.append(
                        f"{where} stopped by the budget at {p.steps} of {plan} steps, too few to score "
                        f"(~{need:.0f}s would measure it)"
                    )
                    emit(name, "eval", said[-1])
                    break
                points += got
                emit(name, "eval", f"{where}: {metric} {p.value:.3f} ({p.stopped})")
                if query_ms is None:
                    query_ms = _query_ms(engine, folds[0].queries)
                    if collection_docs > len(folds[0].doc_ids):
                        search = _search_cost(engine, collection_docs, folds[0].queries)
        except Cancelled:
            notes.append(f"{name}: cancelled")
        spent = time.perf_counter() - t0
        index_rates = [len(folds[0].doc_ids) / p.index_s for p in points if p.index_s > 0]
        out[name] = RankMeasurement(
            approach=name,
            points=points,
            docs_per_s=float(np.median(index_rates)) if index_rates else None,
            query_ms_p50=query_ms,
            search=search,
            peak_rss_bytes=max(rss) if rss else None,
            spent_s=spent,
            notes=said if points or said else ["no point finished within the budget"],
        )
        emit(name, "done", f"{len(points)} point(s) in {spent:.0f}s")
    return RankBench(
        measurements=out,
        metric=metric,
        test_queries=len(folds[0]),
        fold1_queries=len(folds[1]) if len(folds) > 1 else 0,
        pool_queries=len(split.trains[0]),
        bench_docs=len(folds[0].doc_ids),
        half_docs=len(split.half),
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
