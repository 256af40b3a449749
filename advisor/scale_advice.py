"""What ``advise --workers N`` adds after the benchmarks (classification and retrieval): the scaling
(given, or measured on 2 Ray workers), the call again on N workers, and the plan that runs it there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from advisor.decide.recommend import Recommendation
from advisor.decide.scaleout import ScaleOut, scale_out
from advisor.forecast.accuracy import Forecast
from advisor.forecast.scaleout import Scaling, can_scale, scale_forecasts, scaled_index_forecast
from advisor.measure import BenchEvent, BenchResult
from engines.base import Examples
from engines.errors import ConfigError


def check_workers(workers: int, efficiency: float | None) -> None:
    """Before any benchmark: a worker count that makes sense, and Ray when it must measure."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if efficiency is not None and not 0 < efficiency <= 1.5:
        raise ConfigError(f"--scaling-efficiency must be in (0, 1.5], got {efficiency:g}")
    if workers > 1 and efficiency is None:
        from engines.ray_cluster import require_ray

        require_ray()


def scale_out_advice(
    bench: BenchResult,
    forecasts: dict[str, Forecast],
    rec: Recommendation,
    goals: Any,
    resources: Any,
    *,
    configs: dict[str, Any],
    examples: Examples,
    workers: int,
    efficiency: float | None,
    ray_address: str | None,
    price_per_hour: float | None,
    budget: str,
    progress: Callable[[BenchEvent], None] | None,
    cancel: threading.Event | None,
) -> ScaleOut | None:
    """The scale-out part of the advice; None when cancelled while measuring."""
    measurement = None
    if efficiency is not None:
        scaling = Scaling(workers=workers, efficiency=efficiency, source="given")
    else:
        scalable = [n for n in forecasts if can_scale(n) and n in configs]
        if not scalable:
            scaling = Scaling(workers=workers, efficiency=1.0, source="nothing to measure")
        else:
            name = rec.choice if rec.choice in scalable else scalable[0]
            if progress is not None:
                progress(BenchEvent(approach=name, phase="scaling", message="measuring on 1 and 2 Ray workers"))
            from advisor.measure.scaling import measure_scaling

            measurement = measure_scaling(name, configs[name], examples, ray_address=ray_address, cancel=cancel)
            if measurement is None:
                return None
            scaling = measured_scaling(measurement, workers)
    return scale_out(
        goals,
        resources,
        bench.measurements,
        forecasts,
        rec,
        scaling,
        measurement=measurement,
        price_per_hour=price_per_hour,
        budget=budget,
    )


def measured_scaling(measurement: Any, workers: int, cap: float | None = None) -> Scaling:
    """The scaling a measurement on 2 Ray workers gives for ``workers`` (its efficiency at most ``cap``)."""
    efficiency = measurement.efficiency if cap is None else min(cap, measurement.efficiency)
    capped = f", capped at {cap:g} from {measurement.efficiency:.2f}" if efficiency < measurement.efficiency else ""
    return Scaling(
        workers=workers,
        efficiency=efficiency,
        source=f"measured on {measurement.workers} Ray workers ({measurement.where}{capped})",
        overhead_s=measurement.overhead_s,
        measured_workers=measurement.workers,
    )


def scaled_plan(
    scaled: ScaleOut, bench: BenchResult, forecasts: dict[str, Forecast], ray_address: str | None
) -> tuple[Recommendation, dict[str, Any], dict[str, Forecast]]:
    """(the call, engine overrides, forecasts) a plan takes to run the scale-out call: ``workers``
    (and the cluster's address) for an approach that spreads over workers."""
    rec = scaled.recommendation
    overrides: dict[str, Any] = {}
    if rec.choice and can_scale(rec.choice):
        overrides = {"workers": scaled.scaling.workers, **({"ray_address": ray_address} if ray_address else {})}
    return rec, overrides, scale_forecasts(forecasts, bench.measurements, scaled.scaling)


def rank_scale_out_advice(
    bench: Any,
    forecasts: dict[str, Forecast],
    rec: Recommendation,
    goals: Any,
    resources: Any,
    *,
    configs: dict[str, Any],
    docs: list[str],
    workers: int,
    efficiency: float | None,
    ray_address: str | None,
    price_per_hour: float | None,
    budget: str,
    progress: Callable[[BenchEvent], None] | None,
    cancel: threading.Event | None,
) -> tuple[ScaleOut, dict[str, Forecast]] | None:
    """A retrieval advice's scale-out part: the approaches whose full run embeds the collection on Ray
        workers (``index_scales_out``) get that part ÷ the workers, at the given efficiency or the one
        measured by indexing on 1 and 2 Ray workers; then the call again. Returns it with the scaled forecasts
    (the plan's); None when cancelled while measuring."""
    from advisor.common.capabilities import flag

    index_s = {
        n: len(docs) / m.docs_per_s
        for n, m in bench.measurements.items()
        if flag(n, "index_scales_out") and m.docs_per_s and n in configs and forecasts.get(n) is not None
    }
    measurement = None
    if efficiency is not None:
        scaling = Scaling(workers=workers, efficiency=efficiency, source="given")
    elif not index_s:
        scaling = Scaling(workers=workers, efficiency=1.0, source="nothing to measure")
    else:
        name = rec.choice if rec.choice is not None and rec.choice in index_s else next(iter(index_s))
        if progress is not None:
            progress(BenchEvent(approach=name, phase="scaling", message="indexing on 1 and 2 Ray workers"))
        from advisor.measure.scaling import measure_index_scaling

        measurement = measure_index_scaling(name, configs[name], docs, ray_address=ray_address, cancel=cancel)
        if measurement is None:
            return None
        # Embedding splits into independent blocks: N workers cannot beat N × one. More than that measured
        # says one pool worker ran below its share (locally: one core, its blocks waiting on the writes).
        scaling = measured_scaling(measurement, workers, cap=1.0)
    scaled = {n: scaled_index_forecast(f, index_s[n], scaling) if n in index_s else f for n, f in forecasts.items()}
    out = scale_out(
        goals,
        resources,
        {},
        forecasts,
        rec,
        scaling,
        measurement=measurement,
        price_per_hour=price_per_hour,
        budget=budget,
        scaled=scaled,
    )
    return out, scaled


def rank_plan_overrides(scaled: ScaleOut, ray_address: str | None) -> dict[str, Any]:
    """The engine settings a retrieval plan takes to run the scale-out call: its index on the workers."""
    run = scaled.runs.get(scaled.recommendation.choice or "")
    if run is None:
        return {}
    return {"workers": scaled.scaling.workers, **({"ray_address": ray_address} if ray_address else {})}
