"""The call again with the full runs on N Ray workers (``advise --workers N``): each scaled time
and its worker-hours, and one line on whether scaling out changes the call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from advisor.common.capabilities import label
from advisor.common.output import human_seconds
from advisor.decide.recommend import Recommendation, recommend
from advisor.forecast.accuracy import Forecast
from advisor.forecast.hardware_profiles import get_hardware
from advisor.forecast.scaleout import Scaling, scale_forecasts
from advisor.measure import ApproachMeasurement
from advisor.measure.scaling import ScalingMeasurement
from engines.base import Record


class ScaledRun(Record):
    """One approach's full run on the workers."""

    approach: str
    train_time_s: float
    train_time_low_s: float | None = None
    train_time_high_s: float | None = None
    one_machine_s: float = Field(description="The same run's forecast on this machine alone.")
    worker_hours: float = Field(description="Workers × hours: what the run is billed for.")
    price: float | None = Field(None, description="worker_hours × the price per worker-hour, when one is set.")


class ScaleOut(Record):
    """What ``advise --workers N`` adds to the advice."""

    scaling: Scaling
    measurement: ScalingMeasurement | None = Field(None, description="The 2-worker measurement, when taken.")
    runs: dict[str, ScaledRun] = Field(default_factory=dict)
    not_scaled: list[str] = Field(default_factory=list, description="Approaches whose full run stays on one machine.")
    recommendation: Recommendation
    changes_call: bool = Field(description="The call on N workers differs from the call on this machine.")
    line: str = Field(description="What scaling out changes, in one line.")
    price_note: str = Field("", description="Where the price of a worker-hour comes from, when not the goals'.")
    forecasts: dict[str, Forecast] = Field(
        default_factory=dict,
        exclude=True,
        description="Every forecast with the scaled ones on the workers (the plan's).",
    )


def scale_out(
    goals: Any,
    resources: Any,
    measurements: Mapping[str, ApproachMeasurement],
    forecasts: dict[str, Forecast],
    rec: Recommendation,
    scaling: Scaling,
    *,
    measurement: ScalingMeasurement | None = None,
    price_per_hour: float | None = None,
    budget: str | None = None,
    scaled: dict[str, Forecast] | None = None,
    configs: dict[str, Any] | None = None,
    price_note: str = "",
) -> ScaleOut:
    """Put the approaches that scale out on ``scaling.workers`` workers and decide again (a
    cluster's ``price_per_hour`` replaces the goals' for that call). ``scaled``: the forecasts already
    put there (a retrieval advice's, by ``scaled_index_forecast``); None: ``scale_forecasts`` (with the
    engines' ``configs`` on GPU workers)."""
    if scaled is None:
        scaled = scale_forecasts(forecasts, dict(measurements), scaling, configs)
    on_cluster = goals if price_per_hour is None else goals.model_copy(update={"price_per_hour": price_per_hour})
    again = recommend(on_cluster, resources, measurements, scaled, budget=budget)
    price = price_per_hour if price_per_hour is not None else goals.price_per_hour
    runs = {}
    for name, f in scaled.items():
        if f.train_workers <= 1 or f.train_time_s is None:
            continue
        hours = f.train_time_s * scaling.workers / 3600
        runs[name] = ScaledRun(
            approach=name,
            train_time_s=f.train_time_s,
            train_time_low_s=f.train_time_low_s,
            train_time_high_s=f.train_time_high_s,
            one_machine_s=forecasts[name].train_time_s or 0.0,
            worker_hours=hours,
            price=None if price is None else hours * price,
        )
    changes = again.choice != rec.choice
    return ScaleOut(
        scaling=scaling,
        measurement=measurement,
        runs=runs,
        not_scaled=[n for n, f in scaled.items() if f.train_workers <= 1],
        recommendation=again,
        changes_call=changes,
        line=_line(rec, again, runs, scaling, goals),
        price_note=price_note,
        forecasts=scaled,
    )


def _line(rec: Recommendation, again: Recommendation, runs: dict[str, ScaledRun], scaling: Scaling, goals: Any) -> str:
    n = scaling.workers
    if again.choice != rec.choice:
        why = ""
        run = runs.get(again.choice or "")
        deadline = goals.deadline_minutes
        if run is not None and deadline is not None and run.one_machine_s > deadline * 60 >= run.train_time_s:
            why = (
                f": it finishes in {human_seconds(run.train_time_s, coarse=True)}, inside your "
                f"{deadline:g}-min deadline (one machine: {human_seconds(run.one_machine_s, coarse=True)})"
            )
        return f"On {n} workers the call becomes {again.label} ({again.confidence} confidence){why}."
    if not runs:
        return f"On {n} workers: no approach here spreads its full run over workers; the call stays."
    best = runs.get(rec.choice or "") or next(iter(runs.values()))
    return (
        f"On {n} workers the call stays {rec.label}; {label(best.approach)} would take "
        f"{human_seconds(best.train_time_s, coarse=True)} instead of {human_seconds(best.one_machine_s, coarse=True)} "
        f"({best.worker_hours:.2f} worker-hours)."
    )


def scale_out_lines(s: ScaleOut) -> list[str]:
    """The report's lines for a scale-out: the assumption, each scaled run, the call."""
    sc = s.scaling
    lines = [
        f"Scale-out on {sc.workers} Ray workers{_of_gpus(sc)}: efficiency {sc.efficiency:.2f} ({sc.source})"
        + (
            f"; measured in {s.measurement.wall_s:.0f}s, {s.measurement.steps} {s.measurement.unit}: 1 worker "
            f"{s.measurement.one_examples_per_s:.1f} {_per_s(s.measurement.unit)}, {s.measurement.workers} workers "
            f"{s.measurement.many_examples_per_s:.1f} {_per_s(s.measurement.unit)}"
            if s.measurement is not None
            else ""
        )
    ]
    for r in s.runs.values():
        cost = f", {r.price:.2f} at the price per hour" if r.price is not None else ""
        lines.append(
            f"  {label(r.approach)}: {human_seconds(r.train_time_s, coarse=True)} "
            f"(one machine {human_seconds(r.one_machine_s, coarse=True)}), {r.worker_hours:.2f} worker-hours{cost}"
        )
    if s.not_scaled:
        lines.append("  on one machine as before: " + ", ".join(label(n) for n in s.not_scaled))
    if sc.measured_workers is not None and sc.workers > sc.measured_workers:
        lines.append(f"  beyond {sc.measured_workers} workers the efficiency is assumed to hold, not measured")
    if sc.hardware:
        lines.append(
            f"  {sc.each_worker()}: each scaled time is the --hardware what-if on one GPU ÷ ({sc.ranks} GPUs × the "
            "efficiency) + the start-up; neither efficiency nor start-up was measured on GPUs"
        )
    if s.price_note:
        lines.append(f"  {s.price_note}")
    lines.append(s.line)
    return lines


def _of_gpus(sc: Scaling) -> str:
    if not sc.hardware:
        return ""
    return f" of {sc.gpus_per_worker} × {get_hardware(sc.hardware).label} each ({sc.ranks} GPUs)"


def _per_s(unit: str) -> str:
    return "docs/s" if unit == "documents" else "ex/s"
