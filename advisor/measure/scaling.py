"""Scaling efficiency on Ray workers, measured on one worker and on two with the same cores each
(``advise --workers``): a fine-tune's optimizer steps on Ray Train, or a retrieval collection embedded
into the index by the encoder pool."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from engines.base import Examples, Record, no_progress
from engines.errors import ConfigError

MEASURE_STEPS = 24  # optimizer steps per side: enough for a steady rate after the first few
MEASURE_ROWS = 2000  # rows handed to each side (the step cap decides how many are seen)
MEASURE_DOCS = 512  # documents each side of an index measurement embeds (8 blocks of 64 over 2 workers)


class ScalingMeasurement(Record):
    """One worker against ``workers`` workers on the same steps, each worker with the same cores."""

    approach: str
    workers: int = Field(description="Workers of the second side (the first has one).")
    steps: int = Field(description="Optimizer steps (a fine-tune) or documents (an index) each side took.")
    unit: str = Field("steps", description="What ``steps`` counts: 'steps' or 'documents'.")
    one_examples_per_s: float = Field(description="Training examples (or documents embedded)/s of one worker.")
    many_examples_per_s: float = Field(description="The same of all the workers together.")
    efficiency: float = Field(description="many ÷ (workers × one): what the all-reduce and split batches cost.")
    overhead_s: float = Field(
        description="Wall seconds of the many-worker fit outside its training steps: Ray's workers "
        "starting, the model loading in each, the final model saved and loaded back."
    )
    cpus_per_worker: int | None = Field(None, description="Cores each local worker had (None on a cluster).")
    where: str = Field(description="'local' or the cluster's address.")
    wall_s: float = Field(description="Wall seconds the measurement took.")


def measure_scaling(
    approach: str,
    config: Any,
    examples: Examples,
    *,
    workers: int = 2,
    steps: int = MEASURE_STEPS,
    ray_address: str | None = None,
    cancel: threading.Event | None = None,
) -> ScalingMeasurement | None:
    """Fit engine ``approach`` with ``config`` (a FinetuneConfig) for ``steps`` steps on one Ray Train worker, then on
    ``workers``; locally each worker gets the machine's cores ÷ ``workers``. Starts a local Ray
    cluster when none is running (and stops it after). None when ``cancel`` was set."""
    from engines import ray_finetune
    from engines.base import get_engine

    t0 = time.perf_counter()
    started, where, local_cpus = _join(workers, ray_address or getattr(config, "ray_address", None))
    import ray  # installed: _join checked

    threads = local_cpus if where == "local" else None
    base = config.model_dump() | {
        "max_steps": steps,
        "min_steps": 1,
        "early_stopping_patience": 0,
        "checkpoint_every_steps": 10 * steps,  # no checkpoint inside the timed steps
        "ray_address": None if where == "local" else where,
        "threads": threads,
    }
    train = Examples(texts=examples.texts[:MEASURE_ROWS], labels=examples.labels[:MEASURE_ROWS])
    try:
        sides = []
        for n in (1, workers):
            if cancel is not None and cancel.is_set():
                return None
            engine = get_engine(approach)(base | {"workers": n})
            with tempfile.TemporaryDirectory(prefix="toe-scaling-") as work:
                start = time.perf_counter()
                record = ray_finetune.fit(
                    engine, train, None, workdir=Path(work), resume=False, progress=no_progress, cancel=cancel
                )
                wall = time.perf_counter() - start
            sides.append((record, wall))
    finally:
        if started:
            ray.shutdown()
    if cancel is not None and cancel.is_set():
        return None
    (one, _), (many, many_wall) = sides
    one_rate, many_rate = float(one["train_examples_per_s"]), float(many["train_examples_per_s"])
    train_s = float((many.get("phase_s") or {}).get("train") or 0.0)
    return ScalingMeasurement(
        approach=approach,
        workers=workers,
        steps=int(many["steps"]),
        one_examples_per_s=one_rate,
        many_examples_per_s=many_rate,
        efficiency=many_rate / (workers * one_rate),
        overhead_s=max(0.0, many_wall - train_s),
        cpus_per_worker=threads,
        where=where,
        wall_s=time.perf_counter() - t0,
    )


def measure_index_scaling(
    approach: str,
    config: Any,
    docs: list[str],
    *,
    workers: int = 2,
    ray_address: str | None = None,
    cancel: threading.Event | None = None,
) -> ScalingMeasurement | None:
    """Index up to ``MEASURE_DOCS`` of ``docs`` with engine ``approach`` (a frozen-index config) on one
    Ray encoder worker, then on ``workers``, as its full run's ``index`` does with ``workers > 1``; locally
    each worker gets the machine's cores ÷ ``workers``. Starts a local Ray cluster when none is running
    (and stops it after). None when ``cancel`` was set."""
    from engines import ray_embed
    from engines.base import get_engine
    from engines.dense import FrozenIndexEngine

    t0 = time.perf_counter()
    started, where, local_cpus = _join(workers, ray_address or getattr(config, "ray_address", None))
    import ray  # installed: _join checked

    sample = list(docs[:MEASURE_DOCS])
    cls = get_engine(approach)
    if not issubclass(cls, FrozenIndexEngine):
        raise ConfigError(f"{approach} does not index on Ray workers")
    encoder = cls(config.model_dump() | {"threads": local_cpus if where == "local" else None})
    enc = encoder._encoder()  # the encoder the engine's index hands to the pool
    enc._ensure_model()
    try:
        sides = []
        for n in (1, workers):
            if cancel is not None and cancel.is_set():
                return None
            arrived: list[tuple[float, int]] = []  # (when, documents in the store) as each block lands
            with tempfile.TemporaryDirectory(prefix="toe-scaling-") as work:
                start = time.perf_counter()
                ray_embed.index_to_store(
                    [str(i) for i in range(len(sample))],
                    sample,
                    Path(work) / "store",
                    config=enc.config,
                    model_dir=enc._model_dir,
                    pooling=enc._pooling,
                    workers=n,
                    address=None if where == "local" else where,
                    cancel=cancel,
                    progress=_arrivals(arrived),
                    rows_per_block=ray_embed.MIN_BLOCK_ROWS,
                )
                sides.append((_steady_rate(arrived, n), time.perf_counter() - start))
    finally:
        if started:
            ray.shutdown()
    (one_rate, _), (many_rate, many_wall) = sides
    return ScalingMeasurement(
        approach=approach,
        workers=workers,
        steps=len(sample),
        unit="documents",
        one_examples_per_s=one_rate,
        many_examples_per_s=many_rate,
        efficiency=many_rate / (workers * one_rate),
        overhead_s=max(0.0, many_wall - len(sample) / many_rate),
        cpus_per_worker=local_cpus if where == "local" else None,
        where=where,
        wall_s=time.perf_counter() - t0,
    )


def _join(workers: int, address: str | None) -> tuple[bool, str, int]:
    """Ray joined for a 1-against-``workers`` measurement: (whether this call started the cluster, 'local'
    or the address, each local worker's cores: the machine's ÷ ``workers``)."""
    import os

    from engines.ray_cluster import connect, require_ray

    require_ray()
    import ray

    if workers < 2:
        raise ConfigError(f"scaling is measured on at least 2 workers, got {workers}")
    started = not ray.is_initialized()
    local_cpus = max(1, (os.cpu_count() or 1) // workers)
    return started, connect(workers, address, cpus_per_worker=local_cpus), local_cpus


def _arrivals(into: list[tuple[float, int]]) -> Any:
    """A progress callback that notes (when, documents stored) as each block lands."""

    def note(event: Any) -> None:
        if event.done:
            into.append((time.perf_counter(), event.done))

    return note


def _steady_rate(arrived: list[tuple[float, int]], workers: int) -> float:
    """Documents/s once every worker is up: from the ``workers``-th block's arrival (each worker's first
    block also paid its start and model load) to the last."""
    if len(arrived) <= workers:
        raise ConfigError(f"too few documents to time {workers} workers: {arrived[-1][1] if arrived else 0}")
    (t_first, n_first), (t_last, n_last) = arrived[workers - 1], arrived[-1]
    return (n_last - n_first) / max(t_last - t_first, 1e-9)
