"""What ``advise --workers N`` adds after the benchmarks (classification and retrieval): the scaling
(given, or measured on 2 Ray workers), the call again on N workers, and the plan that runs it there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from advisor.decide.recommend import Recommendation
from advisor.decide.scaleout import ScaleOut, scale_out
from advisor.forecast.accuracy import Forecast
from advisor.forecast.hardware_profiles import get_hardware
from advisor.forecast.scaleout import Scaling, can_scale, one_gpu_index_s, scale_forecasts, scaled_index_forecast
from advisor.measure import BenchEvent, BenchResult
from engines.base import Examples
from engines.errors import ConfigError


def check_workers(
    workers: int, efficiency: float | None, hardware: str | None = None, gpus_per_worker: int | None = None
) -> None:
    """Before any benchmark: a worker count that makes sense, the workers' GPU by a name the
    ``--hardware`` what-if knows, and Ray when it must measure."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if efficiency is not None and not 0 < efficiency <= 1.5:
        raise ConfigError(f"--scaling-efficiency must be in (0, 1.5], got {efficiency:g}")
    worker_gpus(hardware, gpus_per_worker)
    if workers > 1 and efficiency is None:
        from engines.ray_cluster import require_ray

        require_ray()


def worker_gpus(hardware: str | None, gpus_per_worker: int | None) -> dict[str, Any]:
    """The ``Scaling`` fields of a cluster's ``[cluster]`` hardware and gpus_per_worker (the
    hardware by its table name); a ConfigError in one line for a name the what-if does not know."""
    if gpus_per_worker is not None and gpus_per_worker < 1:
        raise ConfigError(f"[cluster] gpus_per_worker must be at least 1, got {gpus_per_worker}")
    if not hardware:
        if gpus_per_worker is not None:
            raise ConfigError(
                "[cluster] gpus_per_worker needs hardware, the GPU each worker has (e.g. hardware = 'a100')"
            )
        return {}
    try:
        hw = get_hardware(hardware)
    except ConfigError as exc:
        raise ConfigError(f"[cluster] hardware: {exc}") from None
    return {"hardware": hw.name, "gpus_per_worker": gpus_per_worker or 1}


def worker_price(scaling: Scaling, price_per_hour: float | None) -> tuple[float | None, str]:
    """The price of one worker-hour and where it comes from: the cluster's own, else (on GPU workers) the
    named GPU's indicative price × the GPUs in a worker, else None (the goals' price)."""
    if price_per_hour is not None or not scaling.hardware:
        return price_per_hour, ""
    hw = get_hardware(scaling.hardware)
    price = hw.price_per_hour * scaling.gpus_per_worker
    return price, (
        f"a worker-hour priced {scaling.gpus_per_worker} × {hw.price_per_hour:.2f} = {price:.2f} ({hw.label}, "
        "indicative; [cluster] price_per_hour sets yours)"
    )


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
    hardware: str | None = None,
    gpus_per_worker: int | None = None,
) -> ScaleOut | None:
    """The scale-out part of the advice; None when cancelled while measuring. With ``hardware`` (the
    profile's ``[cluster]``) the workers are ``gpus_per_worker`` of that GPU each, forecast from the
    ``--hardware`` what-if and priced at its price unless ``price_per_hour`` is given."""
    gpus = worker_gpus(hardware, gpus_per_worker)
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
    scaling = scaling.model_copy(update=gpus)
    price, said = worker_price(scaling, price_per_hour)
    return scale_out(
        goals,
        resources,
        bench.measurements,
        forecasts,
        rec,
        scaling,
        measurement=measurement,
        price_per_hour=price,
        budget=budget,
        configs=configs,
        price_note=said,
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
    (and the cluster's address) for an approach that spreads over workers; on GPU workers one Ray
    worker per GPU (``Scaling.ranks``), as Ray Train and the encoder pool use one GPU each."""
    rec = scaled.recommendation
    overrides: dict[str, Any] = {}
    if rec.choice and can_scale(rec.choice):
        overrides = {"workers": scaled.scaling.ranks, **({"ray_address": ray_address} if ray_address else {})}
    return rec, overrides, scaled.forecasts or scale_forecasts(forecasts, bench.measurements, scaled.scaling)


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
    hardware: str | None = None,
    gpus_per_worker: int | None = None,
) -> tuple[ScaleOut, dict[str, Forecast]] | None:
    """A retrieval advice's scale-out part: the approaches whose full run embeds the collection on Ray
        workers (``index_scales_out``) get that part ÷ the workers, at the given efficiency or the one
        measured by indexing on 1 and 2 Ray workers; then the call again. Returns it with the scaled forecasts
    (the plan's); None when cancelled while measuring. ``hardware``, ``gpus_per_worker``: as for
    ``scale_out_advice``, the embedding then the what-if's on one such GPU ÷ the GPUs."""
    from advisor.common.capabilities import flag

    gpus = worker_gpus(hardware, gpus_per_worker)

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
    scaling = scaling.model_copy(update=gpus)
    scaled = {
        n: scaled_index_forecast(f, index_s[n], scaling, one_gpu_index_s(len(docs), configs.get(n), scaling))
        if n in index_s
        else f
        for n, f in forecasts.items()
    }
    price, said = worker_price(scaling, price_per_hour)
    out = scale_out(
        goals,
        resources,
        {},
        forecasts,
        rec,
        scaling,
        measurement=measurement,
        price_per_hour=price,
        budget=budget,
        scaled=scaled,
        price_note=said,
    )
    return out, scaled


def rank_plan_overrides(scaled: ScaleOut, ray_address: str | None) -> dict[str, Any]:
    """The engine settings a retrieval plan takes to run the scale-out call: its index on the workers."""
    run = scaled.runs.get(scaled.recommendation.choice or "")
    if run is None:
        return {}
    return {"workers": scaled.scaling.ranks, **({"ray_address": ray_address} if ray_address else {})}
