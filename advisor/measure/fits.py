"""The single fits the stages share: ``fit`` (one engine fit, cancellable), ``fit_point`` (a fit
scored on the test part as a curve point, or a throughput probe) and ``record_fit`` (a fit's
throughput, memory and notes folded into the engine's tally)."""

from __future__ import annotations

import math
import tempfile
from contextlib import nullcontext
from pathlib import Path

from advisor.measure import plan
from advisor.measure.records import CurvePoint
from advisor.measure.session import Session, Stop
from engines.base import Examples, FitReport


def fit(s: Session, name: str, train: Examples, seed: int, budget_s: float | None, what: str = "") -> FitReport:
    """One fit of ``name`` on ``train`` with ``seed`` (raises ``Stop`` when cancelled)."""
    eng = s.engine(name)
    if eng.supports_resume and getattr(eng.config, "seed", seed) != seed:
        # Trainers draw their head init, dropout and batch order from the config's seed: a
        # new seed is a new run even on the same rows (the pool itself).
        eng.config = eng.config.model_copy(update={"seed": seed})
    s.emit(name, "fit", f"{what}n={len(train)} seed={seed}", 0, len(train))
    # Engines that checkpoint do so here too, as in the full run: their cost is part of its time.
    scratch = tempfile.TemporaryDirectory(prefix="toe-bench-") if eng.supports_resume else nullcontext()
    with scratch as workdir:
        report = eng.fit(
            train,
            budget_s=budget_s,
            progress=s.relay(name),
            cancel=s.cancel,
            workdir=Path(workdir) if workdir else None,
        )
    if report.stopped == "cancelled" or s.cancel.is_set():
        raise Stop
    return report


def fit_point(
    s: Session,
    name: str,
    train: Examples,
    seed: int,
    budget_s: float | None,
    usable_if: tuple[str, ...] = plan.CURVE_STOPS,
) -> tuple[CurvePoint, FitReport]:
    """One fit scored on the test part as a curve point; a probe (not scored, not usable) when it
    stopped otherwise than ``usable_if`` allows, unless a trainer stopped late (``PARTIAL_MIN``)."""
    eng = s.engine(name)
    report = fit(s, name, train, seed, budget_s)
    planned = None
    if report.stopped == "budget" and usable_if == plan.CURVE_STOPS and eng.trains_backbone:
        recipe = plan.finetune_steps(s.configs.get(name), len(train))[0]
        planned = recipe if report.steps >= plan.PARTIAL_MIN * recipe else None
    if report.stopped not in usable_if and planned is None:
        # A throughput probe (or a fit the budget cut short): no curve point, so no scoring.
        point = CurvePoint(
            approach=name,
            n_train=len(train),
            seed=seed,
            accuracy=None,
            macro_f1=None,
            fit_s=report.wall_s,
            stopped=report.stopped,
            steps=report.steps,
            usable=False,
        )
        s.points[name].append(point)
        record_fit(s, name, report)
        s.emit(
            name,
            "fit",
            f"n={len(train)} seed={seed}: stopped ({report.stopped}) after "
            f"{report.steps} steps; throughput only, not a curve point",
            len(train),
            len(train),
            point=point,
        )
        return point, report
    test = s.split_test
    s.emit(name, "eval", f"scoring on {len(test)} held-out rows")
    ev = eng.evaluate(test)
    y_pred = s.class_ids(ev.y_pred) if ev.y_pred else None
    point = CurvePoint(
        approach=name,
        n_train=len(train),
        seed=seed,
        accuracy=ev.accuracy,
        macro_f1=ev.macro_f1,
        fit_s=report.wall_s,
        stopped=report.stopped,
        steps=report.steps,
        best_step=report.best_step,
        usable=report.stopped in usable_if or planned is not None,
        planned_steps=planned,
        y_pred=y_pred,
    )
    s.points[name].append(point)
    record_fit(s, name, report)
    s.emit(
        name,
        "fit",
        f"n={len(train)} seed={seed}: accuracy {ev.accuracy:.3f}"
        + (
            f" (the budget stopped it at {report.steps} of {planned} steps: scored as it is)"
            if planned is not None
            else ""
        ),
        len(train),
        len(train),
        point=point,
    )
    return point, report


def record_fit(s: Session, name: str, report: FitReport) -> None:
    """Fold one fit's throughput, memory, device and notes into ``name``'s tally."""
    t = s.tally[name]
    # Throughput from the longest fit so far: the nearest to a full run's (warm-up and
    # first-batch costs weigh less), and a short throughput probe never overrides a real point.
    if report.train_examples_per_s and report.steps >= t.rate_steps:
        t.rate_steps = report.steps
        t.train_examples_per_s = report.train_examples_per_s
        if report.train_tokens_per_s:
            t.train_tokens_per_s = report.train_tokens_per_s
        if report.tokens_seen and report.examples_seen:
            t.tokens_per_example = report.tokens_seen / report.examples_seen
    if report.steps and "checkpoint" in report.phase_s:
        t.checkpoint_s_each = report.phase_s["checkpoint"] / math.ceil(report.steps / plan.BENCH_CHECKPOINT_EVERY)
    t.peak_rss_bytes = max(t.peak_rss_bytes or 0, report.peak_rss_bytes or 0) or None
    if report.peak_gpu_bytes:
        t.peak_gpu_bytes = max(t.peak_gpu_bytes or 0, report.peak_gpu_bytes)
    t.device = report.device
    if "load" in report.phase_s and t.load_s is None:
        t.load_s = report.phase_s["load"]
    t.last_fit = report
    from engines.finetune_stopping import is_stop_note

    for note in report.notes:
        # A fit the budget stopped is told by its point (scored as it is, or why not): the engine's
        # note offers to resume a checkpoint the benchmark does not keep.
        if note not in t.notes and not (report.stopped == "budget" and is_stop_note(note, "budget")):
            t.notes.append(note)
