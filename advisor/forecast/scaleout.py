"""Full-run time on N Ray workers: the one-machine forecast's training (or, for a retrieval index, its
embedding) part divided by N × the measured (or given) scaling efficiency, plus the workers' start-up."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from advisor.common.capabilities import scales_out, trains_weights
from advisor.common.output import human_seconds
from advisor.forecast.accuracy import Forecast
from advisor.measure import ApproachMeasurement
from engines.base import Record

# Without a measurement: Ray's workers starting and the model loading in each, on top of the
# one-process start-up (benchmarks/results/ray/finetune.md: 1 worker 56 s wall vs 39 s in one process).
ASSUMED_RAY_START_S = 17.0


class Scaling(Record):
    """The scaling a scale-out forecast assumes, and where it comes from."""

    workers: int = Field(description="Workers the full run is forecast on.")
    efficiency: float = Field(description="Examples/s of N workers ÷ (N × one worker's).")
    source: str = Field(description="'measured on 2 Ray workers (local)', 'given', …")
    overhead_s: float | None = Field(None, description="Workers' start-up measured at 2 workers; None: assumed.")
    measured_workers: int | None = Field(None, description="Workers the efficiency was measured on.")


def can_scale(name: str) -> bool:
    """A full run that spreads its optimizer steps over Ray workers (its time model is steps × batch)."""
    return scales_out(name) and trains_weights(name)


def scaled_forecast(f: Forecast, m: ApproachMeasurement | None, scaling: Scaling) -> Forecast:
    """``f`` as a full run on ``scaling.workers`` workers: its training part (the time without the
    one-process start-up) ÷ (workers × efficiency), plus the workers' start-up; ``train_workers``
    records the workers, so its cost counts worker-hours."""
    if f.train_time_s is None:
        return f
    start = 0.0 if m is None else (m.start_s if m.start_s is not None else (m.load_s or 0.0))
    speed_up = scaling.workers * scaling.efficiency
    overhead = scaling.overhead_s if scaling.overhead_s is not None else start + ASSUMED_RAY_START_S

    def scale(t: float | None) -> float | None:
        return None if t is None else max(t - start, 0.0) / speed_up + overhead

    notes = [
        f"on {scaling.workers} Ray workers at scaling efficiency {scaling.efficiency:.2f} ({scaling.source}), "
        "each worker as fast as this machine",
        _start_note(overhead, scaling),
    ]
    if scaling.measured_workers is not None and scaling.workers > scaling.measured_workers:
        notes.append(
            f"assumes each worker past {scaling.measured_workers} keeps that efficiency (a ring all-reduce "
            "sends about the same bytes per worker at any N); measured only at "
            f"{scaling.measured_workers}"
        )
    return _on_workers(f, scale, scaling.workers, notes)


def scale_forecasts(
    forecasts: dict[str, Forecast], measurements: dict[str, ApproachMeasurement], scaling: Scaling
) -> dict[str, Forecast]:
    """Every forecast, the ones that scale out put on ``scaling.workers`` workers, the rest as they are."""
    return {n: scaled_forecast(f, measurements.get(n), scaling) if can_scale(n) else f for n, f in forecasts.items()}


def scaled_index_forecast(f: Forecast, index_s: float, scaling: Scaling) -> Forecast:
    """``f``, a retrieval full run of which ``index_s`` seconds embed the collection, with that embedding
    on ``scaling.workers`` encoder workers: ÷ (workers × efficiency), plus the workers' start-up; its
    training (if any) and search structure stay in the run's own process."""
    if f.train_time_s is None or index_s <= 0:
        return f
    overhead = scaling.overhead_s if scaling.overhead_s is not None else ASSUMED_RAY_START_S
    saved = index_s - index_s / (scaling.workers * scaling.efficiency) - overhead

    def scale(t: float | None) -> float | None:
        return None if t is None else max(t - saved, 0.0)

    notes = [
        f"embeds the collection on {scaling.workers} Ray workers at scaling efficiency {scaling.efficiency:.2f} "
        f"({scaling.source}), each worker as fast as this machine: {human_seconds(index_s)} of indexing becomes "
        f"{human_seconds(index_s / (scaling.workers * scaling.efficiency))}",
        _start_note(overhead, scaling),
    ]
    return _on_workers(f, scale, scaling.workers, notes)


def _start_note(overhead: float, scaling: Scaling) -> str:
    return f"+ {overhead:.0f}s for the workers to start and load the model" + (
        " (measured)" if scaling.overhead_s is not None else " (assumed)"
    )


def _on_workers(f: Forecast, scale: Callable[[float | None], float | None], workers: int, notes: list[str]) -> Forecast:
    """``f`` with its times through ``scale``, run on ``workers`` (its cost counts each one's hours)."""
    return f.model_copy(
        update={
            "train_time_s": scale(f.train_time_s),
            "train_time_low_s": scale(f.train_time_low_s),
            "train_time_high_s": scale(f.train_time_high_s),
            "train_workers": workers,
            "assumptions": [*f.assumptions, *notes],
        }
    )
