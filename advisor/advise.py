"""``advise``: sample → micro-benchmarks → forecasts → recommendation → plan. One plain
function that the CLI and the TUI both call (the TUI from a worker thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from advisor.data.heldout import read_test_file
from advisor.decide.goals import BUDGETS, Goals, budget_seconds
from advisor.decide.recommend import Recommendation, recommend
from advisor.decide.scaleout import ScaleOut
from advisor.decide.settle import next_budget, outlook
from advisor.forecast import crossfit
from advisor.forecast.accuracy import Forecast, forecast_all
from advisor.machine.probe import Resources
from advisor.measure import BenchEvent, BenchResult, run_benchmarks
from advisor.run.plan import Plan, make_plan
from advisor.scale_advice import check_workers, scale_out_advice, scaled_plan
from engines.base import Record

if TYPE_CHECKING:
    from advisor.data.labelled import Dataset

FULL_RUN_TEST_SHARE = 0.2
FULL_RUN_TEST_MAX = 2000
DEFAULT_SAMPLE = 4000


class DataInfo(Record):
    """The data the advice is about."""

    ref: str
    path: str = ""
    text_col: str = ""
    label_col: str = ""
    encoding: str | None = None
    total_rows: int = Field(description="Valid rows in the full data.")
    sample_rows: int = Field(description="Rows of the sample the benchmarks drew from.")
    classes: dict[str, int] = Field(default_factory=dict, description="Rows per class (full data).")
    fingerprint: str = ""
    test_overlap: int | None = Field(
        None, description="Rows of the separate test file whose text is also in the data (None: no test file)."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What the user should know about the data (drops, overlap with the test file).",
    )


class Advice(Record):
    """Everything ``advise`` found, measured, forecast and decided."""

    goals: Goals
    profile: str
    budget: str
    budget_s: float
    resources: Resources | None = Field(None, description="This machine, as probed.")
    data: DataInfo
    n_target: int = Field(description="Labelled examples the full run will train on (the forecast target).")
    full_run_test_size: int = Field(description="Rows the full run holds out for its test score.")
    bench: BenchResult
    forecasts: dict[str, Forecast]
    recommendation: Recommendation
    plan: Plan | None = None
    hardware: str | None = None
    scale_out: ScaleOut | None = Field(None, description="The call again on N Ray workers (advise --workers N).")
    cancelled: bool = False
    wall_s: float = 0.0
    tool_version: str = ""
    created_at: str = ""


def tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("tune-or-embed")
    except Exception:  # noqa: BLE001  (not installed as a package: a source checkout)
        return "0+unknown"


def machine_profile_budget(resources: Any, profile: Any, budget: str | float) -> tuple[Any, Any, tuple[str, float]]:
    """What any task's advice starts from: the machine (probed unless given), the profile (by name, or
    picked for the machine) and the budget in seconds (the profile may redefine the named ones)."""
    from advisor.machine.profiles import load_profile

    if resources is None:
        from advisor.machine.probe import probe

        resources = probe()
    if profile is None or isinstance(profile, str):
        profile = load_profile(profile, resources=resources)
    return resources, profile, budget_seconds(budget, getattr(_settings(profile), "budgets_s", None))


def default_engines(budget_s: float) -> list[str]:
    engines = ["tfidf", "embedding", "finetune"]
    if budget_s >= BUDGETS["standard"]:
        engines.append("lora")
    return engines


def full_finetune_fits(config: Any, resources: Any) -> tuple[bool, str]:
    """Whether full fine-tuning fits in this machine's memory (the Adam rule on the model's config:
    weights, gradients, two AdamW states and activations at the training batch), with the figures.
    Unknown model or memory: assumed to fit (the benchmark's own run will tell)."""
    from advisor.common.output import gigabytes
    from advisor.decide.scoring import available_memory
    from advisor.forecast.hardware import model_shape, training_memory_bytes
    from advisor.measure import config_get

    shape = model_shape(str(config_get(config, "model", "")))
    device = str(config_get(config, "device", "cpu"))
    if device == "auto":
        device = "cuda" if (getattr(resources, "gpus", None) or []) else "cpu"
    have = available_memory(resources, device)
    if shape is None or not have:
        return True, ""
    need = training_memory_bytes(
        shape, "finetune", int(config_get(config, "train_batch_size", 16)), int(config_get(config, "max_length", 128))
    )
    said = f"{gigabytes(need)} needed, {gigabytes(have)} {'on the GPU' if device.startswith('cuda') else 'free'}"
    return need <= 0.8 * have, said


def full_run_split(total_rows: int, labelled_size: int | None, *, separate_test: bool = False) -> tuple[int, int]:
    """(test rows the full run holds out, training rows = the forecast target).

    With ``separate_test`` (the full run is scored on its own test file) no row of the
    data is held out: every row is a training row."""
    test = 0 if separate_test else min(FULL_RUN_TEST_MAX, max(2, int(total_rows * FULL_RUN_TEST_SHARE)))
    train = total_rows - test
    if labelled_size is not None:
        train = min(train, labelled_size)
    return test, max(2, train)


def _settings(profile: Any) -> Any:
    return getattr(profile, "bench", None)


def forecast_and_decide(
    bench: BenchResult,
    goals: Goals,
    resources: Any,
    *,
    configs: dict[str, Any],
    n_target: int,
    eval_rows: int | None,
    budget: tuple[str, float],
    settings: Any,
    hardware: str | None = None,
) -> tuple[dict[str, Forecast], Recommendation]:
    """What ``advise`` does once the benchmarks are measured: the forecasts, the call, and the
    call's settle line judged against the next budget (``budget`` = (name, seconds)). Pure given
    its inputs, so a saved ``BenchResult`` can be forecast and decided again (the calibration's
    ``--reforecast``)."""
    name, seconds = budget
    forecasts = forecast_all(
        bench,
        n_target=n_target,
        metric=goals.metric,
        configs=configs,
        hardware=[hardware] if hardware else None,
        predictions_per_day=goals.predictions_per_day,
        eval_rows=eval_rows,
    )
    rec = recommend(goals, resources, bench.measurements, forecasts, budget=name)
    nxt = next_budget(
        settings,
        seconds,
        rows_now=bench.test_size,
        sample_n=bench.sample_size,
        n_classes=len(bench.classes),
        crossfit_rows=crossfit.rows_used(bench, forecasts),
    )
    return forecasts, outlook(rec, goals, resources, bench.measurements, forecasts, nxt, n_target=n_target)


def advise(
    data: Dataset | str,
    goals: Goals,
    *,
    profile: Any = None,
    budget: str | float = "quick",
    resources: Any = None,
    hardware: str | None = None,
    progress: Callable[[BenchEvent], None] | None = None,
    cancel: threading.Event | None = None,
    engines: list[str] | None = None,
    seed: int = 0,
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str | None = None,
    test_file: str | None = None,
    workers: int | None = None,
    scaling_efficiency: float | None = None,
    ray_address: str | None = None,
) -> Advice:
    """Measure, forecast, decide. Cancel (event or Ctrl-C) → an Advice from what was measured, ``cancelled``.

    ``workers`` (≥ 2): decide again with the full runs on that many Ray workers, at
    ``scaling_efficiency`` or, when neither it nor the profile's cluster gives one, at the
    efficiency measured on 2 Ray workers after the benchmarks (outside the budget); the plan then
    runs the scaled call with ``workers``.

    ``test_file``: the full run will be scored on this separate file, so it trains on every
    row of ``data`` (the forecast target). The benchmarks never read it: they score on a
    part of ``data`` held out from their own training pool."""
    from advisor.machine.profiles import engine_config

    t0 = time.perf_counter()
    resources, profile, (budget_name, budget_s) = machine_profile_budget(resources, profile, budget)
    settings = _settings(profile)
    if hardware:
        from advisor.forecast.hardware_profiles import get_hardware

        get_hardware(hardware)  # unknown names fail now, not after the benchmarks
    cluster = getattr(profile, "cluster", None)
    workers = workers if workers is not None else getattr(cluster, "workers", None)
    scaling_efficiency = scaling_efficiency or getattr(cluster, "scaling_efficiency", None)
    if workers is not None:
        check_workers(
            workers, scaling_efficiency, getattr(cluster, "hardware", None), getattr(cluster, "gpus_per_worker", None)
        )
    engines = list(engines or default_engines(budget_s))
    left_out: dict[str, str] = {}
    if "finetune" in engines:
        fits, said = full_finetune_fits(engine_config(profile, "finetune"), resources)
        if not fits:  # where full fine-tuning does not fit in memory, LoRA is the fine-tune option
            engines.remove("finetune")
            if "lora" not in engines:
                engines.append("lora")
            left_out["finetune"] = f"full fine-tuning left out: it does not fit in memory ({said}); LoRA instead"
    if isinstance(data, str):
        from advisor.data.labelled import load_dataset

        sample = getattr(settings, "sample_size", None) or DEFAULT_SAMPLE
        data = load_dataset(data, text_col=text_col, label_col=label_col, encoding=encoding, sample=sample, seed=seed)
    eval_rows = None
    held_out = None
    if test_file is not None:
        held_out = read_test_file(test_file, data, text_col=text_col, label_col=label_col, encoding=encoding)
        eval_rows = held_out.rows
    test_rows, n_target = full_run_split(data.total_rows, goals.labelled_size, separate_test=test_file is not None)
    eval_rows = eval_rows or test_rows
    configs = {name: engine_config(profile, name) for name in engines}

    def settled(partial: BenchResult) -> bool:
        # The same forecasts and rule as the final advice, on what was measured so far.
        fc = forecast_all(
            partial,
            n_target=n_target,
            metric=goals.metric,
            configs=configs,
            eval_rows=eval_rows,
            predictions_per_day=goals.predictions_per_day,
        )
        rec = recommend(goals, resources, partial.measurements, fc, budget=budget_name)
        return rec.confidence == "high" and not rec.too_close

    def time_worth(faster_s: float, slower_s: float) -> float:
        # Points of the goals' metric that training in faster_s instead of slower_s is worth.
        from advisor.decide.scoring import points_worth

        return points_worth(goals, {"train_time_s": faster_s}, {"train_time_s": slower_s})

    bench = run_benchmarks(
        data.examples,
        engines=engines,
        configs=configs,
        settings=settings,
        budget_s=budget_s,
        labelled_size=n_target,
        seed=seed,
        progress=progress,
        cancel=cancel,
        settled=settled,
        time_worth=time_worth,
    )
    if left_out:
        bench = bench.model_copy(update={"left_out": {**left_out, **bench.left_out}})
    forecasts, rec = forecast_and_decide(
        bench,
        goals,
        resources,
        configs=configs,
        n_target=n_target,
        eval_rows=eval_rows,
        budget=(budget_name, budget_s),
        settings=settings,
        hardware=hardware,
    )
    scaled = None
    if workers is not None and workers > 1 and not bench.cancelled:
        scaled = scale_out_advice(
            bench,
            forecasts,
            rec,
            goals,
            resources,
            configs=configs,
            examples=data.examples,
            workers=workers,
            efficiency=scaling_efficiency,
            ray_address=ray_address or getattr(cluster, "ray_address", None),
            price_per_hour=getattr(cluster, "price_per_hour", None),
            hardware=getattr(cluster, "hardware", None),
            gpus_per_worker=getattr(cluster, "gpus_per_worker", None),
            budget=budget_name,
            progress=progress,
            cancel=cancel,
        )
    info = DataInfo(
        ref=data.ref,
        path=data.path,
        text_col=data.text_col,
        label_col=data.label_col,
        encoding=data.encoding,
        total_rows=data.total_rows,
        sample_rows=len(data.examples),
        classes=dict(data.class_counts),
        fingerprint=data.fingerprint,
        test_overlap=held_out.overlap if held_out else None,
        warnings=[*data.warnings, *([held_out.warning] if held_out and held_out.warning else [])],
    )
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    version = tool_version()
    overrides: dict[str, Any] = {}
    plan_rec, plan_forecasts = rec, forecasts
    if scaled is not None:  # the plan runs the call on the workers
        plan_rec, overrides, plan_forecasts = scaled_plan(scaled, bench, forecasts, ray_address)
    plan = (
        make_plan(
            plan_rec,
            info,
            profile_name=getattr(profile, "name", str(profile)),
            engine_overrides=overrides,
            split_seed=seed,
            test_size=test_rows,
            labelled_size=n_target,
            forecast=plan_forecasts.get(plan_rec.choice) if plan_rec.choice else None,
            created_at=created,
            test_file=test_file,
            tool_version=version,
        )
        if plan_rec.choice
        else None
    )
    return Advice(
        goals=goals,
        profile=getattr(profile, "name", str(profile)),
        budget=budget_name,
        budget_s=budget_s,
        resources=resources,
        data=info,
        n_target=n_target,
        full_run_test_size=test_rows,
        bench=bench,
        forecasts=forecasts,
        recommendation=rec,
        plan=plan,
        hardware=hardware,
        scale_out=scaled,
        cancelled=bench.cancelled,
        wall_s=time.perf_counter() - t0,
        tool_version=version,
        created_at=created,
    )
