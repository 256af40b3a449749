"""Full-run time on N Ray workers: the one-machine forecast's training (or, for a retrieval index, its
embedding) part divided by N × the measured (or given) scaling efficiency, plus the workers' start-up;
on workers of a named GPU that part is first the ``--hardware`` what-if's time on one such GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from advisor.common.capabilities import scales_out, trains_weights
from advisor.common.output import human_seconds
from advisor.forecast.accuracy import Forecast
from advisor.forecast.hardware import hardware_forecast, model_shape
from advisor.forecast.hardware_profiles import get_hardware
from advisor.measure import ApproachMeasurement, config_get
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
    hardware: str | None = Field(
        None, description="The named GPU each worker has (hardware_profiles.HARDWARE); None: like this machine."
    )
    gpus_per_worker: int = Field(1, ge=1, description="GPUs of that hardware in each worker (one Ray worker each).")

    @property
    def ranks(self) -> int:
        """Data-parallel processes the run starts: one per GPU on GPU workers, else one per worker."""
        return self.workers * self.gpus_per_worker if self.hardware else self.workers

    def each_worker(self) -> str:
        """What one worker is assumed to be, in words."""
        if not self.hardware:
            return "each worker as fast as this machine"
        return f"each worker {self.gpus_per_worker} × {get_hardware(self.hardware).label}"


def can_scale(name: str) -> bool:
    """A full run that spreads its optimizer steps over Ray workers (its time model is steps × batch)."""
    return scales_out(name) and trains_weights(name)


def scaled_forecast(
    f: Forecast, m: ApproachMeasurement | None, scaling: Scaling, gpu_s: float | None = None
) -> Forecast:
    """``f`` as a full run on ``scaling.workers`` workers: its training part (the time without the
    one-process start-up) ÷ (ranks × efficiency), plus the workers' start-up; ``train_workers``
    records the workers, so its cost counts worker-hours. On GPU workers (``scaling.hardware``)
    ``gpu_s``, the what-if's training time on one such GPU (``one_gpu_s``), replaces this machine's
    training part (its interval kept in proportion); without it the workers are taken as this machine."""
    if f.train_time_s is None:
        return f
    start = 0.0 if m is None else (m.start_s if m.start_s is not None else (m.load_s or 0.0))
    overhead = scaling.overhead_s if scaling.overhead_s is not None else start + ASSUMED_RAY_START_S
    gpu_s = gpu_s if scaling.hardware else None
    factor, ranks = (
        (1.0, scaling.workers) if gpu_s is None else (gpu_s / max(f.train_time_s - start, 1e-9), scaling.ranks)
    )
    speed_up = ranks * scaling.efficiency

    def scale(t: float | None) -> float | None:
        return None if t is None else max(t - start, 0.0) * factor / speed_up + overhead

    notes = [
        f"on {scaling.workers} Ray workers at scaling efficiency {scaling.efficiency:.2f} ({scaling.source}), "
        + _each(scaling, gpu_s, "training"),
        _start_note(overhead, scaling),
    ]
    if scaling.measured_workers is not None and scaling.workers > scaling.measured_workers:
        notes.append(
            f"assumes each worker past {scaling.measured_workers} keeps that efficiency (a ring all-reduce "
            "sends about the same bytes per worker at any N); measured only at "
            f"{scaling.measured_workers}"
        )
    return _on_workers(f, scale, scaling.workers, notes)


def one_gpu_s(f: Forecast, m: ApproachMeasurement | None, config: Any, scaling: Scaling) -> float | None:
    """The full run's training time on one GPU of ``scaling.hardware``: the ``--hardware`` what-if
    (``advisor.forecast.hardware.hardware_forecast``), taken from ``f`` when it was made for that GPU.
    None without named hardware, or where the model's size is unknown."""
    if not scaling.hardware or m is None or f.train_time_s is None:
        return None
    hw = get_hardware(scaling.hardware)
    made = next((h.train_time_s for h in f.hardware if h.hardware == hw.name), None)
    if made is not None:
        return made
    shape = model_shape(str(config_get(config, "model", ""))) if config is not None else None
    if shape is None:
        return None
    return hardware_forecast(m, hw, shape, f.n_target, config, predictions_per_day=0).train_time_s


def one_gpu_index_s(docs: int, config: Any, scaling: Scaling) -> float | None:
    """Seconds to embed ``docs`` documents on one GPU of ``scaling.hardware``: the ``--hardware``
    what-if of the frozen encoder (forward passes only, whatever trained its weights; 64 tokens per
    document assumed, as nothing measured them). None without named hardware or a known model size."""
    if not scaling.hardware or docs <= 0 or config is None:
        return None
    shape = model_shape(str(config_get(config, "model", "")))
    if shape is None:
        return None
    encoder = ApproachMeasurement(approach="frozen-index")  # no points: no head to fit, only the passes
    return hardware_forecast(
        encoder, get_hardware(scaling.hardware), shape, docs, config, predictions_per_day=0
    ).train_time_s


def scale_forecasts(
    forecasts: dict[str, Forecast],
    measurements: dict[str, ApproachMeasurement],
    scaling: Scaling,
    configs: dict[str, Any] | None = None,
) -> dict[str, Forecast]:
    """Every forecast, the ones that scale out put on ``scaling.workers`` workers, the rest as they are
    (on GPU workers each scaled from its what-if on one such GPU, for which it needs ``configs``)."""
    configs = configs or {}
    out = {}
    for n, f in forecasts.items():
        if can_scale(n):
            m = measurements.get(n)
            out[n] = scaled_forecast(f, m, scaling, one_gpu_s(f, m, configs.get(n), scaling))
        else:
            out[n] = f
    return out


def scaled_index_forecast(f: Forecast, index_s: float, scaling: Scaling, gpu_s: float | None = None) -> Forecast:
    """``f``, a retrieval full run of which ``index_s`` seconds embed the collection, with that embedding
    on ``scaling.workers`` encoder workers: ÷ (workers × efficiency), plus the workers' start-up; its
    training (if any) and search structure stay in the run's own process. On GPU workers ``gpu_s``
    (``one_gpu_index_s``) replaces ``index_s`` as what is divided, over ``scaling.ranks``."""
    if f.train_time_s is None or index_s <= 0:
        return f
    overhead = scaling.overhead_s if scaling.overhead_s is not None else ASSUMED_RAY_START_S
    gpu_s = gpu_s if scaling.hardware else None
    spread = (
        index_s / (scaling.workers * scaling.efficiency)
        if gpu_s is None
        else gpu_s / (scaling.ranks * scaling.efficiency)
    )
    saved = index_s - spread - overhead

    def scale(t: float | None) -> float | None:
        return None if t is None else max(t - saved, 0.0)

    notes = [
        f"embeds the collection on {scaling.workers} Ray workers at scaling efficiency {scaling.efficiency:.2f} "
        f"({scaling.source}), {_each(scaling, gpu_s, 'indexing')}: "
        f"{human_seconds(index_s)} of indexing becomes {human_seconds(spread)}",
        _start_note(overhead, scaling),
    ]
    return _on_workers(f, scale, scaling.workers, notes)


def _each(scaling: Scaling, gpu_s: float | None, what: str) -> str:
    """The worker assumption of a note: this machine, or the GPUs with the what-if's time on one."""
    if not scaling.hardware:
        return "each worker as fast as this machine"
    if gpu_s is None:
        return (
            f"each worker as fast as this machine: no forecast on {get_hardware(scaling.hardware).label} "
            "(the model's size is unknown)"
        )
    return (
        f"{scaling.each_worker()} ({scaling.ranks} GPUs, one Ray worker each), {what} as the --hardware what-if "
        f"forecasts it on one: {human_seconds(gpu_s)}"
    )


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
