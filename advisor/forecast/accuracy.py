"""The accuracy forecast of a full run of each approach at the user's labelled size (learning
curves, cross-fits, the full run's test-set noise), joined with ``advisor.forecast.hardware``'s time and
memory into one ``Forecast`` per approach whose ``assumptions`` the summary and report print."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field

from advisor.common.bootstrap import accuracy_fn, macro_f1_fn
from advisor.common.capabilities import flag, memory_model, trains_weights, uses_transformer
from advisor.forecast.curves import PRIOR_GAIN_PER_DOUBLING, Observation, binomial_interval, fit_learning_curve
from advisor.forecast.hardware import (
    HardwareForecast,
    ModelShape,
    hardware_forecast,
    model_shape,
    time_forecast,
)
from advisor.forecast.hardware_profiles import get_hardware
from advisor.measure import ApproachMeasurement, BenchResult, config_get
from engines.base import Record

# A fit stopped short by the budget: what its missing steps may still have added, per share of the
# recipe missed (10 points for a whole run; a generic allowance, not measured), and the share missed
# above which its forecast is flagged.
PARTIAL_GAIN = 0.10
PARTIAL_FLAG = 0.1


class Forecast(Record):
    """A full run of one approach, forecast from the micro-benchmark."""

    approach: str
    n_target: int = Field(description="Labelled examples the full run trains on.")
    metric: str
    value: float | None = Field(description="Forecast metric at n_target (None: no usable measurement).")
    low: float | None = None
    high: float | None = None
    method: str = Field(description="Curve fit used: 'log-linear', 'power-law(b∈[..])', 'flat-fallback', 'none'.")
    flagged: bool = False
    flag_reason: str = ""
    extrapolation_factor: float | None = Field(None, description="n_target / largest measured size.")
    n_max_measured: int | None = None
    holdout_error: float | None = Field(None, description="Fit's |error| on the held-back largest size.")
    curve: list[tuple[float, float]] = Field(default_factory=list, description="(n, fitted value) for plots.")
    measured: list[tuple[int, float, float]] = Field(default_factory=list, description="(n, mean, seed sd).")
    projection: list[tuple[float, float]] = Field(
        default_factory=list, description="(n, fitted value) over every size the curve supports (≤ 8× measured)."
    )
    train_time_s: float | None = Field(None, description="Full run wall seconds on this machine.")
    train_time_low_s: float | None = None
    train_time_high_s: float | None = None
    train_workers: int = Field(1, description="Machines the full run trains on (its cost counts each one's hours).")
    peak_memory_bytes: int | None = Field(None, description="Peak memory of the full run on this machine.")
    infer_ms_per_text: float | None = Field(None, description="p50 ms per text at batch 1 on this machine.")
    infer_ms_per_text_batch: float | None = Field(None, description="p50 ms per text at the large batch.")
    hardware: list[HardwareForecast] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    eval_rows: int | None = Field(
        None, description="Rows the full run is scored on: the interval also covers that score's sampling noise."
    )
    curve_low: float | None = Field(
        None,
        description="Interval of the approach's accuracy itself (without the full run's test-set noise, which "
        "approaches scored on the same rows share): what comparisons between approaches use.",
    )
    curve_high: float | None = None
    boot: list[float] = Field(
        default_factory=list,
        description="Bootstrap replicates of the forecast: replicate i resamples the same "
        "benchmark test rows for every approach, so differences between approaches pair up.",
    )
    candidates: dict[str, float] = Field(
        default_factory=dict,
        exclude=True,
        description="What each of the curve's fits (and 'flat') gives at the "
        "target: the cross-fit's gain takes its model-choice spread from them.",
    )


# --------------------------------------------------------------- the forecasts
def quality_forecast(
    m: ApproachMeasurement, bench: BenchResult, n_target: int, metric: str, *, seed: int = 0
) -> dict[str, Any]:
    usable = [p for p in m.points if p.usable]
    if not usable:
        reason = m.unmeasured or "no completed training run within this budget"
        return {
            "value": None,
            "low": None,
            "high": None,
            "method": "none",
            "flagged": True,
            "flag_reason": f"not measured: {reason}",
        }
    y_true = np.asarray(bench.test_labels) if bench.test_labels else None
    if y_true is not None and all(p.y_pred is not None and len(p.y_pred) == len(y_true) for p in usable):
        fn = accuracy_fn(y_true) if metric == "accuracy" else macro_f1_fn(y_true, len(bench.classes) + 1)
        obs = [Observation(p.n_train, p.seed, getattr(p, metric), np.asarray(p.y_pred)) for p in usable]
    else:
        fn = None
        obs = [Observation(p.n_train, p.seed, getattr(p, metric)) for p in usable]
    res = fit_learning_curve(obs, n_target, metric_fn=fn, n_test=bench.test_size or None, seed=seed)
    high, flagged, reasons = res.high, res.flagged, [res.flag_reason] if res.flag_reason else []
    partial = [p for p in usable if p.planned_steps and p.n_train == res.n_max]
    if partial:
        # The budget stopped the largest size's fit(s) before the recipe's last steps: scored as they
        # were, so the upper end allows for the steps they missed (a generic allowance, said as such).
        # (each of them has planned steps: the walrus only tells the type checker)
        missing = float(np.mean([1 - p.steps / planned for p in partial if (planned := p.planned_steps)]))
        high = min(1.0, high + PARTIAL_GAIN * missing)
        p = partial[0]
        said = (
            f"the budget stopped the n={p.n_train:,} fit at {p.steps} of its {p.planned_steps} steps; scored as it "
            f"was, the upper end allows up to +{100 * PARTIAL_GAIN * missing:.1f} points for the steps it missed"
        )
        if missing > PARTIAL_FLAG:
            flagged = True
            reasons.append(said)
    return {
        "assumption": said if partial else None,
        "value": res.value,
        "low": res.low,
        "high": high,
        "method": res.method,
        "flagged": flagged,
        "flag_reason": "; ".join(reasons),
        "extrapolation_factor": res.extrapolation_factor,
        "n_max_measured": res.n_max,
        "holdout_error": res.holdout_error,
        "curve": res.curve,
        "measured": res.measured,
        "projection": res.projection,
        "boot": res.boot,
        "candidates": res.candidates,
    }


def forecast_approach(
    m: ApproachMeasurement,
    bench: BenchResult,
    *,
    n_target: int,
    metric: str = "accuracy",
    config: Any = None,
    shape: ModelShape | None = None,
    hardware: list[str] | None = None,
    predictions_per_day: int = 10_000,
    embed_rate: float | None = None,
) -> Forecast:
    """Everything forecast for one approach."""
    q = quality_forecast(m, bench, n_target, metric, seed=bench.seed)
    t, notes = time_forecast(m, n_target, config, embed_rate=embed_rate, train_vs_infer=bench.train_vs_infer)
    said = q.pop("assumption", None)
    if said:
        notes = [said, *notes]
    if flag(m.approach, "caches_vectors") and t.get("peak_memory_bytes") and shape is not None:
        t["peak_memory_bytes"] = int(t["peak_memory_bytes"] + n_target * shape.hidden * 4)
    hws: list[HardwareForecast] = []
    if hardware and shape is not None and uses_transformer(m.approach):
        for name in hardware:
            hws.append(
                hardware_forecast(
                    m, get_hardware(name), shape, n_target, config, predictions_per_day=predictions_per_day
                )
            )
    lat = m.latency_ms
    big = next((v for k, v in lat.items() if k.startswith("p50_b") and k != "p50_b1"), None)
    return Forecast(
        approach=m.approach,
        n_target=n_target,
        metric=metric,
        hardware=hws,
        infer_ms_per_text=lat.get("p50_b1"),
        infer_ms_per_text_batch=big,
        assumptions=notes,
        **q,
        **t,
    )


def forecast_all(
    bench: BenchResult,
    *,
    n_target: int,
    metric: str = "accuracy",
    configs: dict[str, Any] | None = None,
    hardware: list[str] | None = None,
    predictions_per_day: int = 10_000,
    eval_rows: int | None = None,
) -> dict[str, Forecast]:
    """A forecast per measured approach; with ``eval_rows`` (rows the full run is scored on)
    the intervals cover the sampling noise of that score too."""
    configs = configs or {}
    shape = None
    models = {str(config_get(configs.get(a), "model", "")) for a in bench.measurements if uses_transformer(a)}
    models.discard("")
    if hardware and models:
        shape = model_shape(min(models))
    emb = next((m for a, m in bench.measurements.items() if memory_model(a) == "frozen"), None)
    embed_rate = (emb.prepare_texts_per_s or emb.infer_texts_per_s) if emb else None
    measured = bench.measurements
    if hardware and len(models) == 1:
        # One encoder, one tokenizer: tokens per text measured by one approach (the trainers
        # count them) hold for the others, whose what-if would otherwise assume a length.
        tokens = next(
            (m.tokens_per_example for a, m in measured.items() if uses_transformer(a) and m.tokens_per_example), None
        )
        if tokens:
            measured = {
                a: (
                    m.model_copy(update={"tokens_per_example": tokens})
                    if uses_transformer(a) and not m.tokens_per_example
                    else m
                )
                for a, m in measured.items()
            }
    out = {
        name: forecast_approach(
            m,
            bench,
            n_target=n_target,
            metric=metric,
            config=configs.get(name),
            shape=shape,
            hardware=hardware,
            predictions_per_day=predictions_per_day,
            embed_rate=embed_rate,
        )
        for name, m in measured.items()
    }
    # Trainers measured at one size borrow the gain of the frozen encoder's curve (``borrow_gain``).
    donor = next((n for n in out if memory_model(n) == "frozen"), None)
    for name in list(out):
        if donor is not None and trains_weights(name):
            out[name] = borrow_gain(out[name], out[donor])
    out = with_crossfit(out, bench, measured, metric)
    if eval_rows:
        out = {name: widen_for_eval(f, eval_rows) for name, f in out.items()}
    return out


def with_crossfit(
    out: dict[str, Forecast], bench: BenchResult, measured: dict[str, ApproachMeasurement], metric: str
) -> dict[str, Forecast]:
    """The forecasts re-made from the benchmark's cross-fits (``advisor.forecast.crossfit``). When every
    approach with a value has one, all are paired over every cross-fit row; when only some have
    (the cheap approaches cross-validated at full size, the trainers' cross-fit unaffordable),
    theirs pair with the others' curves over the test part, which leads the cross-fit rows."""
    from types import SimpleNamespace

    from advisor.forecast import crossfit

    have = crossfit.covered(bench, out)
    labels = bench.crossfit_labels
    if not have or labels is None:  # covered() finds none without the cross-fit's labels
        return out
    everyone = len(have) == sum(f.value is not None for f in out.values()) >= 2
    test_rows = None if everyone else bench.crossfit_test_rows
    if not everyone and not test_rows:
        return out  # a benchmark from before cross-fits pair with the test part: all or none
    done = dict(out)
    for name in have:
        f, fit = out[name], bench.crossfits[name]
        half = quality_forecast(measured[name], bench, fit.n_train, metric, seed=bench.seed)
        at_half = SimpleNamespace(
            value=half["value"], boot=half.get("boot") or [], candidates=half.get("candidates") or {}
        )
        done[name] = crossfit.from_crossfit(
            f,
            at_half,
            fit,
            labels,
            n_classes=len(bench.classes) + 1,
            metric=metric,
            seed=bench.seed,
            test_rows=test_rows,
        )
    return done


def widen_for_eval(f: Forecast, eval_rows: int) -> Forecast:
    """The full run reports its score on ``eval_rows`` held-out rows, and that number has its own
    sampling noise (binomial, ≈ ±1.96·√(p(1−p)/rows); Agresti–Coull, so that 100 % keeps a
    width): a 1,000-row test set alone moves it by ±2.7 points at 75 %. The interval is for the
    number the user will see, so it adds that noise in quadrature to each side of the curve's
    interval."""
    if f.value is None or f.low is None or f.high is None:
        return f.model_copy(update={"eval_rows": eval_rows})
    v = f.value
    lo_e, hi_e = binomial_interval(v, eval_rows)
    return f.model_copy(
        update={
            "low": max(0.0, v - math.hypot(v - f.low, max(0.0, v - lo_e))),
            "high": min(1.0, v + math.hypot(f.high - v, max(0.0, hi_e - v))),
            "eval_rows": eval_rows,
            "curve_low": f.low,
            "curve_high": f.high,
        }
    )


def _at(projection: list[tuple[float, float]], n: float) -> float:
    ns = np.log([p[0] for p in projection])
    return float(np.interp(math.log(n), ns, [p[1] for p in projection]))


def borrow_gain(f: Forecast, donor: Forecast) -> Forecast:
    """A fine-tune forecast measured at one size is flat: it assumes more labels add nothing,
    and on every curve measured so far they do. When the frozen-embedding curve on the *same
    data and encoder* was fitted, borrow its gain from the fine-tune's largest measured size
    to the target: the point forecast becomes measured + that gain, the upper end measured +
    twice it, the lower end stays where the flat forecast put it. Still flagged, and said so."""
    if (
        f.value is None
        or not f.method.startswith("flat")
        or not f.n_max_measured
        or f.n_target <= f.n_max_measured
        or donor.value is None
        or donor.method.startswith(("flat", "none"))
        or len(donor.projection) < 2
    ):
        return f
    top = donor.projection[-1][0]
    n_eval = min(float(f.n_target), top)
    if n_eval <= f.n_max_measured:
        return f
    gain = _at(donor.projection, n_eval) - _at(donor.projection, f.n_max_measured)
    if gain <= 0:
        return f
    base = f.value
    shifted = [
        (n, min(1.0, base + _at(donor.projection, n) - _at(donor.projection, f.n_max_measured)))
        for n, _ in donor.projection
        if n >= f.n_max_measured
    ]
    # Fine-tuning's curve is steeper than the frozen encoder's (it learns the encoder too): the upper
    # end allows twice the borrowed gain, and at least the generic prior per doubling of the labels.
    doublings = math.log2(f.n_target / f.n_max_measured)
    allowance = max(2 * gain, PRIOR_GAIN_PER_DOUBLING * doublings)
    reason = (
        f"gain from {f.n_max_measured:,} to {int(n_eval):,} labels borrowed from the frozen-embedding "
        f"curve on the same data (+{gain * 100:.1f} points; the upper end allows +{allowance * 100:.1f})"
    )
    return f.model_copy(
        update={
            "value": min(1.0, base + gain),
            "boot": [min(1.0, b + gain) for b in f.boot],
            "high": min(1.0, max(f.high or base, base + allowance)),
            "method": "flat + embedding gain",
            "flag_reason": "; ".join(r for r in (f.flag_reason, reason) if r),
            "curve": [*[c for c in f.curve if c[0] <= f.n_max_measured], *shifted],
        }
    )
