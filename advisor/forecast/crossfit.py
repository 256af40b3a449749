"""Forecasts from the benchmark's cross-fit: the out-of-fold score at half the rows, plus the
learning curve's gain from there to the labelled size.

The cross-fit (``bench.CrossFit``, the benchmark's last stage when the decision was still open)
scores every sample row with a model that never saw it, at about half the rows, for every
approach on the same rows. What it cannot measure is the last doubling, from half the rows to
the labelled size: that gain comes from each approach's own learning curve (its forecast at the
target minus its forecast at the cross-fit's size, replicate by replicate, so that the curve's
noise is carried). The interval's lower end allows no gain at all (curves can flatten right
there); the upper end allows the largest gain any of the curve's fits gives (log-linear or
power law: the model-choice spread the curve forecasts also carry), or with no fit the generic
prior per doubling. Bootstrap replicates resample the cross-fit rows with one generator for every
approach, so differences between approaches pair up as ``recommend`` expects.

Only numpy here (the forecasts are made in the CLI's process).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.common.bootstrap import accuracy_fn, interval, macro_f1_fn, replicates
from advisor.forecast.curves import MAX_EXTRAPOLATION, PRIOR_GAIN_PER_DOUBLING

N_BOOT = 200
METHOD = "cross-fit + curve gain"


def covered(bench: Any, forecasts: dict[str, Any]) -> list[str]:
    """The approaches with a forecast value whose cross-fit can re-make it (with its predictions:
    a saved benchmark without them cannot be re-forecast from the cross-fit)."""
    fits = getattr(bench, "crossfits", None) or {}
    labels = getattr(bench, "crossfit_labels", None)
    if not labels:
        return []
    return [
        name
        for name, f in forecasts.items()
        if f.value is not None
        and name in fits
        and fits[name].y_pred is not None
        and len(fits[name].y_pred) == len(labels)
    ]


def usable(bench: Any, forecasts: dict[str, Any]) -> bool:
    """Whether the bench's cross-fit covers every approach that has a forecast value."""
    valued = [name for name, f in forecasts.items() if f.value is not None]
    return len(valued) >= 2 and len(covered(bench, forecasts)) == len(valued)


def rows_used(bench: Any, forecasts: dict[str, Any]) -> int | None:
    """Rows the cross-fit scored, when the forecasts were made from it (else None)."""
    if any(getattr(f, "method", None) == METHOD for f in forecasts.values()):
        return len(bench.crossfit_labels or []) or None
    return None


def _gain(at_target: Any, at_half: Any) -> tuple[float, np.ndarray | None, float | None]:
    """The curve's gain from the cross-fit's size to the target (never below zero): the point
    value; when both forecasts carry paired bootstrap replicates, one per replicate; and the
    largest gain any of the curve's fits gives (log-linear, power law: the model-choice spread;
    None when none was fitted)."""
    gain = max(0.0, (at_target.value or 0.0) - (at_half.value or 0.0))
    a, b = at_target.boot or [], at_half.boot or []
    boot = np.maximum(0.0, np.asarray(a) - np.asarray(b)) if len(a) >= 20 and len(a) == len(b) else None
    far, near = getattr(at_target, "candidates", None) or {}, getattr(at_half, "candidates", None) or {}
    fits = [far[k] - near[k] for k in far if k != "flat" and k in near]
    return gain, boot, (max(0.0, *fits) if fits else None)


def _test_part_shifts(pred: np.ndarray, y: np.ndarray, rows: int, n_classes: int, metric: str, seed: int) -> np.ndarray:
    """Per bootstrap replicate, how much the score on the first ``rows`` rows (the test part)
    moves when they are resampled as the learning curves resample them (the same generator and
    draws as ``advisor.forecast.curves.fit_learning_curve``): added to the cross-fit's value, the replicates
    pair with the curves' forecasts of the other approaches, scored on those rows."""
    yt, pt = y[:rows], pred[:rows]
    fn = accuracy_fn(yt) if metric == "accuracy" else macro_f1_fn(yt, n_classes)
    base = fn(pt, np.arange(rows))
    row_rng = np.random.default_rng([seed, 0])
    return replicates(fn, pt, row_rng, rows, N_BOOT) - base


def from_crossfit(
    f: Any,
    at_half: Any,
    fit: Any,
    labels: list[int],
    *,
    n_classes: int,
    metric: str,
    seed: int,
    test_rows: int | None = None,
) -> Any:
    """Forecast ``f`` (the curve's, at the target) re-made from cross-fit ``fit``; ``at_half`` is
    the same curve's forecast at the cross-fit's training size. With ``test_rows`` (not every
    approach was cross-fitted) the bootstrap replicates resample the test part, which leads the
    cross-fit rows, so that they pair with the other approaches' curves; the interval is still
    the one over every cross-fit row."""
    y = np.asarray(labels)
    pred = np.asarray(fit.y_pred)
    fn = accuracy_fn(y) if metric == "accuracy" else macro_f1_fn(y, n_classes)
    every = np.arange(len(y))
    oof = fn(pred, every)
    rng = np.random.default_rng([seed, 2])  # the same rows for every approach: paired replicates
    oof_boot = replicates(fn, pred, rng, len(y), N_BOOT)
    gain, gain_boot, fits_gain = _gain(f, at_half)
    paired = oof + _test_part_shifts(pred, y, test_rows, n_classes, metric, seed) if test_rows else oof_boot
    boot = np.clip(paired + (gain_boot if gain_boot is not None else gain), 0.0, 1.0)
    unpaired = np.clip(oof_boot + (gain_boot if gain_boot is not None else gain), 0.0, 1.0)
    value = min(1.0, oof + gain)
    doublings = max(0.0, math.log2(max(f.n_target / max(fit.n_train, 1), 1.0)))
    # Upper end: the largest gain one of the curve's fits gives; with none fitted, the generic prior.
    allowance = max(gain, fits_gain if fits_gain is not None else PRIOR_GAIN_PER_DOUBLING * doublings)
    (u_lo, u_hi), (o_lo, o_hi) = interval(unpaired), interval(oof_boot)
    low = min(u_lo, o_lo, value)
    high = max(u_hi, o_hi + allowance, value)
    factor = f.n_target / max(fit.n_train, 1)
    reason = f"measured out of fold on {fit.rows:,} rows ({fit.folds} folds) at {fit.n_train:,} labels" + (
        f"; the gain to {f.n_target:,} (+{gain * 100:.1f} points) from the learning curve ({f.method})"
        if fit.n_train < f.n_target
        else ""
    )
    return f.model_copy(
        update={
            "value": value,
            "low": max(0.0, low),
            "high": min(1.0, high),
            "boot": [round(float(b), 5) for b in boot],
            "method": METHOD,
            "flagged": factor > MAX_EXTRAPOLATION,
            "flag_reason": reason if factor > MAX_EXTRAPOLATION else "",
            "extrapolation_factor": factor,
            "assumptions": [*f.assumptions, reason],
        }
    )
