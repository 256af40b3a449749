"""``advise`` for the retrieval task: read the pairs, measure (``advisor.measure.ranking``), forecast, decide with
``advisor.decide.recommend``, and a plan for ``run``; plus the terminal summary of that advice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import Field

from advisor.advise import machine_profile_budget, tool_version
from advisor.common.output import format_table, human_bytes, human_seconds, number
from advisor.decide.goals import Goals
from advisor.decide.recommend import Recommendation, recommend
from advisor.decide.scaleout import ScaleOut, scale_out_lines
from advisor.forecast.accuracy import Forecast
from advisor.forecast.ranking import forecast
from advisor.machine.probe import Resources
from advisor.measure import BenchEvent
from advisor.measure.rank_records import RankBench
from advisor.measure.ranking import DEFAULT_ENGINES, bench_split, measure
from advisor.report import recommendation_lines
from advisor.scale_advice import check_workers, rank_plan_overrides, rank_scale_out_advice
from engines.base import Record
from engines.errors import ConfigError

FULL_RUN_TEST_SHARE = 0.2
FULL_RUN_TEST_MAX = 1000


class RankDataInfo(Record):
    """The pairs the advice is about."""

    ref: str
    corpus: str | None = None
    queries: int = Field(description="Queries with at least one relevant document.")
    documents: int = Field(description="Documents in the collection searched.")
    fingerprint: str = ""


class RankPlan(Record):
    """What ``tune-or-embed run`` executes for a retrieval advice."""

    task: str = "retrieval"
    engine: str
    data: str
    corpus: str | None = None
    profile: str
    split_seed: int
    test_queries: int
    labelled_size: int | None = None
    choice_label: str = ""
    confidence: str = ""
    too_close: bool = False
    expected: Forecast | None = None
    engine_config: dict[str, Any] = Field(
        default_factory=dict, description="Engine settings the run takes (the scale-out call: its workers)."
    )
    created_at: str = ""
    tool_version: str = ""


class RankAdvice(Record):
    """Everything the retrieval ``advise`` found, measured, forecast and decided."""

    task: str = "retrieval"
    goals: Goals
    profile: str
    budget: str
    budget_s: float
    resources: Resources | None = None
    data: RankDataInfo
    n_target: int = Field(description="Training queries the full run learns from (the forecast target).")
    full_run_test_queries: int
    bench: RankBench
    forecasts: dict[str, Forecast]
    recommendation: Recommendation
    scale_out: ScaleOut | None = Field(None, description="The call again on N Ray workers (advise --workers N).")
    plan: RankPlan | None = None
    cancelled: bool = False
    wall_s: float = 0.0
    tool_version: str = ""
    created_at: str = ""


def full_run_split(queries: int, labelled_size: int | None) -> tuple[int, int]:
    """(held-out queries of the full run, training queries = the forecast target)."""
    test = min(FULL_RUN_TEST_MAX, max(1, int(queries * FULL_RUN_TEST_SHARE)))
    train = queries - test
    if labelled_size is not None:
        train = min(train, labelled_size)
    return test, max(2, train)


def advise_retrieval(
    data: Any,
    goals: Goals,
    *,
    corpus: str | None = None,
    profile: Any = None,
    budget: str | float = "quick",
    resources: Any = None,
    progress: Callable[[BenchEvent], None] | None = None,
    cancel: threading.Event | None = None,
    engines: list[str] | None = None,
    seed: int = 0,
    separate_test: bool = False,
    eval_queries: int | None = None,
    workers: int | None = None,
    scaling_efficiency: float | None = None,
    ray_address: str | None = None,
) -> RankAdvice:
    """Measure BM25, the frozen index and contrastive fine-tuning on the pairs; forecast; decide.

    ``separate_test``: the full run will be scored on ``eval_queries`` queries kept elsewhere, so it
    trains on every query of ``data`` (the forecast target).

    ``workers`` (≥ 2): decide again with the collection embedded on that many Ray workers, at
    ``scaling_efficiency`` or the one measured by indexing on 2 Ray workers after the benchmarks
    (outside the budget); the plan then runs the scaled call with ``workers``."""
    from advisor.data.pairs import load_pairs
    from advisor.machine.profiles import retrieval_config
    from engines.base import get_engine

    t0 = time.perf_counter()
    if goals.task != "retrieval":
        goals = goals.model_copy(update={"task": "retrieval", "metric": "ndcg@10"})
    resources, profile, (budget_name, budget_s) = machine_profile_budget(resources, profile, budget)
    cluster = getattr(profile, "cluster", None)
    workers = workers if workers is not None else getattr(cluster, "workers", None)
    scaling_efficiency = scaling_efficiency or getattr(cluster, "scaling_efficiency", None)
    ray_address = ray_address or getattr(cluster, "ray_address", None)
    if workers is not None:
        check_workers(
            workers, scaling_efficiency, getattr(cluster, "hardware", None), getattr(cluster, "gpus_per_worker", None)
        )
    engines = list(engines or DEFAULT_ENGINES)
    for name in engines:
        if "retrieval" not in get_engine(name).tasks:
            raise ConfigError(f"engine {name!r} is not a retrieval engine; try {', '.join(DEFAULT_ENGINES)}")
    ds = load_pairs(data, corpus=corpus) if isinstance(data, str) else data
    pairs = ds.pairs
    test_q, n_target = full_run_split(len(pairs), goals.labelled_size)
    if separate_test:
        test_q, n_target = 0, min(len(pairs), goals.labelled_size or len(pairs))
    configs = {name: retrieval_config(profile, name) for name in engines}
    split = bench_split(pairs, seed, budget_s, max_train=n_target)  # never train on more than the full run will
    bench = measure(
        split,
        engines=engines,
        configs=configs,
        metric=goals.metric,
        budget_s=budget_s,
        collection_docs=len(pairs.doc_ids),
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    forecasts = forecast(
        bench,
        n_target,
        docs_target=len(pairs.doc_ids),
        metric=goals.metric,
        configs=configs,
        eval_queries=eval_queries if separate_test else test_q,
    )
    rec = recommend(goals, resources, {}, forecasts, budget=budget_name)
    scaled, plan_rec, plan_forecasts, overrides = None, rec, forecasts, {}
    if workers is not None and workers > 1 and not bench.cancelled:
        got = rank_scale_out_advice(
            bench,
            forecasts,
            rec,
            goals,
            resources,
            configs=configs,
            docs=list(pairs.docs),
            workers=workers,
            efficiency=scaling_efficiency,
            ray_address=ray_address,
            price_per_hour=getattr(cluster, "price_per_hour", None),
            hardware=getattr(cluster, "hardware", None),
            gpus_per_worker=getattr(cluster, "gpus_per_worker", None),
            budget=budget_name,
            progress=progress,
            cancel=cancel,
        )
        if got is not None:  # the plan runs the call on the workers
            scaled, plan_forecasts = got
            plan_rec, overrides = scaled.recommendation, rank_plan_overrides(scaled, ray_address)
    created, version = time.strftime("%Y-%m-%dT%H:%M:%S%z"), tool_version()
    info = RankDataInfo(
        ref=ds.source,
        corpus=corpus,
        queries=len(pairs),
        documents=len(pairs.doc_ids),
        fingerprint=getattr(ds, "fingerprint", ""),
    )
    plan = None
    if plan_rec.choice:
        plan = RankPlan(
            engine=plan_rec.choice,
            data=ds.source,
            corpus=corpus,
            profile=getattr(profile, "name", str(profile)),
            split_seed=seed,
            test_queries=test_q,
            labelled_size=n_target,
            choice_label=plan_rec.label,
            confidence=plan_rec.confidence,
            too_close=plan_rec.too_close,
            expected=plan_forecasts.get(plan_rec.choice),
            engine_config=overrides,
            created_at=created,
            tool_version=version,
        )
    return RankAdvice(
        goals=goals,
        profile=getattr(profile, "name", str(profile)),
        budget=budget_name,
        budget_s=budget_s,
        resources=resources,
        data=info,
        n_target=n_target,
        full_run_test_queries=test_q,
        bench=bench,
        forecasts=forecasts,
        recommendation=rec,
        scale_out=scaled,
        plan=plan,
        cancelled=bench.cancelled,
        wall_s=time.perf_counter() - t0,
        tool_version=version,
        created_at=created,
    )


def render_rank_summary(advice: RankAdvice) -> str:
    """The readable summary for the terminal."""
    from advisor.common.capabilities import label

    b, rec, metric = advice.bench, advice.recommendation, advice.goals.metric
    out = [
        f"Data: {advice.data.ref} — {advice.data.queries:,} queries, {advice.data.documents:,} documents; "
        f"forecast for a full run on {advice.n_target:,} training queries",
        f"Benchmarks: budget {advice.budget} ({advice.budget_s:.0f}s), spent {b.spent_s:.0f}s; "
        f"{b.test_queries + b.fold1_queries:,} held-out queries in {1 + bool(b.fold1_queries)} fold(s) over "
        f"{b.bench_docs:,} documents, {b.pool_queries:,} training queries per fold; "
        f"profile {advice.profile}" + ("  [CANCELLED: partial results]" if advice.cancelled else ""),
        "",
        f"Measured ({metric} on each fold's held-out queries; n = training queries):",
    ]
    rows = []
    for name, m in b.measurements.items():
        for p in m.points:
            rows.append(
                [label(name), f"{p.n_train:,}", str(p.fold), number(100 * p.value), human_seconds(p.fit_s), p.stopped]
            )
        if not m.points:
            rows.append([label(name), "–", "–", "–", "–", "; ".join(m.notes) or "not measured"])
    out += format_table(rows, ["approach", "n", "fold", metric, "fit", "stopped"]).splitlines()
    out += ["", f"Forecast at {advice.n_target:,} training queries ({metric}; ⚑ = flagged):"]
    frows = []
    for name, f in advice.forecasts.items():
        shown = "–" if f.value is None else f"{100 * f.value:.1f} [{100 * (f.low or 0):.1f}–{100 * (f.high or 0):.1f}]"
        frows.append(
            [
                label(name) + (" ⚑" if f.flagged else ""),
                shown,
                f.method,
                human_seconds(f.train_time_s, coarse=True),
                human_bytes(f.peak_memory_bytes),
                "–" if f.infer_ms_per_text is None else f"{f.infer_ms_per_text:.1f}",
            ]
        )
    out += format_table(frows, ["approach", metric, "fit", "full run", "memory", "ms/query"]).splitlines()
    for name, f in advice.forecasts.items():
        if f.flagged and f.flag_reason:
            out.append(f"  ⚑ {label(name)}: {f.flag_reason}")
    for name, f in advice.forecasts.items():
        out += [f"  note: {label(name)}: {a}" for a in f.assumptions if a.startswith("scored on a collection")]
    out += recommendation_lines(rec)
    if advice.scale_out is not None:
        out += ["", *scale_out_lines(advice.scale_out)]
    return "\n".join(out) + "\n"
