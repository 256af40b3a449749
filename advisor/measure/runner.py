"""The benchmark's order of stages and its entry point: start-ups, the split, the cheap
approaches (TF-IDF, then embeddings), the trainers, then a cross-fit or top-up seeds. Cancel
(the ``cancel`` event or Ctrl-C) returns what was measured so far with ``cancelled=True``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from advisor.measure import cheap, crossfits, plan, probes, train_speed, trainers
from advisor.measure.records import BenchProgress, BenchResult
from advisor.measure.results import borrowed_speed, result
from advisor.measure.session import Session, Stop
from engines.base import Examples


def _cheap_stages(s: Session, embed_rate: float | None) -> None:
    """The cheap approaches: those that cache nothing on the cheap pool (the labelled rows), then
    the vector-caching ones on the pool they could embed, each with its speed and cross-validation."""
    reserve = s.trainer_reserve
    has_trainers = bool(s.trainers())
    for name in (e for e in s.engines if s.kind(e).cheap_fits and not s.kind(e).caches_vectors):
        s.stage_pool = s.cheap_pool
        # At least 8 % of the budget: a TF-IDF point near the labelled size costs seconds
        # and removes most of its extrapolation.
        cheap.cheap_curve(
            s,
            name,
            s.split_cheap_pool,
            plan.SHARE_CHEAP if len(s.engines) > 1 else 1.0,
            reserve_s=reserve,
            floor_s=0.08 * s.clock.budget_s,
        )
        probes.speed(s, name)
        crossfits.cheap_crossfit(s, name, reserve_s=reserve)
        s.stage_pool = s.pool
    for name in (e for e in s.engines if s.kind(e).cheap_fits and s.kind(e).caches_vectors):
        rate = s.tally[name].prepare_texts_per_s or embed_rate
        speed_s = (8 + 2 * 32) / rate + 1 if rate else 5.0
        cut = cheap.prepare_vectors(s, name, plan.SHARE_PREPARE if has_trainers else 0.8, reserve_s=reserve + speed_s)
        full_pool = s.split_pool
        pool = Examples(texts=full_pool.texts[:cut], labels=full_pool.labels[:cut]) if cut else full_pool
        s.stage_pool = pool
        # Not all of what is left: its cross-validation at full size is worth more than more seeds.
        share = 0.6 if plan.setting(s.settings, "crossfit") else 1.0
        cheap.cheap_curve(s, name, pool, share, reserve_s=reserve + speed_s)
        probes.speed(s, name)
        crossfits.cheap_crossfit(s, name, reserve_s=reserve)
        s.stage_pool = s.pool


def _trainer_stages(s: Session) -> None:
    """The trainers on the cheap pool (fine-tuning needs no embedding: its points may climb to the
    labelled size), each with its speed; then a cross-fit while the decision is open, else top-ups."""
    pool = s.stage_pool = s.split_cheap_pool
    names = s.trainers()
    for i, name in enumerate(names):
        if s.kind(name).alternative_to and trainers.alternative_left_out(s, name, pool):
            continue
        # Leave time for this engine's speed measurement and the later engines.
        later = len(names) - i - 1
        share = plan.SHARE_TRAINER if later else 1.0
        trainers.finetune_curve(s, name, pool, share, reserve_s=min(10.0, s.clock.left * 0.1))
        borrowed = borrowed_speed(s, name)
        if s.clock.left < 5.0 and borrowed:
            # Out of budget: a fine-tuned classifier runs the same encoder forward pass.
            s.tally[name].latency_ms = borrowed["latency_ms"]
            s.tally[name].infer_texts_per_s = borrowed["infer_texts_per_s"]
            s.tally[name].notes.append(
                "inference speed taken from the embedding engine "
                "(same encoder; not measured separately to stay in budget)"
            )
        else:
            probes.speed(s, name)
    names = [t for t in names if t not in s.left_out]
    reserve = min(10.0, s.clock.left * 0.1)
    if not crossfits.cross_fit(s, reserve_s=reserve):  # it draws its rows from the sample, not the pool
        trainers.top_up(s, names, pool, reserve_s=reserve)
    s.stage_pool = s.pool


def run(s: Session) -> None:
    """Every stage in order, within the session's budget (raises ``Stop`` when cancelled).

    The same engine code a full run uses is fitted on nested, stratified subsets of a
    training pool and scored on ONE held-out test part that no engine ever trains on.
    The budget is spent where it buys the most: TF-IDF and the frozen-embedding head are
    cheap (many sizes × seeds, embeddings cached once by ``prepare``); fine-tuning gets the
    largest sizes it can afford, each with the full run's minimum-steps recipe, planned
    from measured throughput. A fine-tune point that cannot finish inside the budget is
    still run briefly as a throughput probe (time and memory forecasts need it), but it is
    never used as a learning-curve point.
    """
    for name in s.engines:
        probes.start_up(s, name)
    train_speed.recall(s)
    probes.note_remembered(s)
    rate = probes.probe_embedding(s)
    s.check()
    s.trainer_reserve = trainers.plan_trainers(s, rate)
    test_n, pool_n = plan.split_rows(
        len(s.sample),
        len(s.classes),
        wanted_test=plan.wanted_test_rows(s.settings, s.clock.budget_s),
        labelled_size=s.labelled_size,
        left_s=s.clock.left,
        trainer_reserve_s=s.trainer_reserve,
        embed_rate=rate,
    )
    s.split(test_n, pool_n)
    _cheap_stages(s, rate)
    _trainer_stages(s)
    train_speed.remember(s)
    s.emit("all", "done", f"benchmarks done in {s.clock.elapsed:.0f}s")


def run_benchmarks(
    sample: Examples,
    *,
    engines: Sequence[str] = ("tfidf", "embedding", "finetune"),
    configs: Mapping[str, BaseModel | dict[str, Any] | None] | None = None,
    settings: Any = None,
    budget_s: float = 90.0,
    labelled_size: int | None = None,
    seed: int = 0,
    progress: BenchProgress | None = None,
    cancel: threading.Event | None = None,
    settled: Callable[[BenchResult], bool] | None = None,
    time_worth: Callable[[float, float], float] | None = None,
) -> BenchResult:
    """Benchmark ``engines`` on ``sample`` within ``budget_s`` seconds.

    ``settings`` is a profile's BenchSettings (missing fields fall back to ``plan.DEFAULTS``);
    ``configs`` maps engine name → its config; ``labelled_size`` caps the training pool;
    ``settled(partial_result)`` may end fine-tune points early once the decision is clear;
    ``time_worth(faster_s, slower_s)`` says how many points of the goals' metric a full run taking
    ``faster_s`` instead of ``slower_s`` is worth (None: LoRA is benchmarked whenever asked for).
    """
    session = Session(
        sample,
        engines=engines,
        configs=configs or {},
        settings=settings,
        budget_s=budget_s,
        labelled_size=labelled_size,
        seed=seed,
        progress=progress,
        cancel=cancel,
        settled=settled,
        time_worth=time_worth,
    )
    try:
        run(session)
    except (Stop, KeyboardInterrupt):
        session.cancelled = True
        session.notes.append(f"cancelled after {session.clock.elapsed:.0f}s: results are what was measured so far")
        session.emit("all", "done", "cancelled")
    return result(session)
