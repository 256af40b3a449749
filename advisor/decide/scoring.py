"""Goal-weighted scoring of the candidates: fixed scales per criterion, intervals of the metric,
and the tie and upset rules that decide whether one forecast really leads another."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, overload

import numpy as np

from advisor.common.bootstrap import interval as boot_interval

ACC_UNIT = 0.10  # 10 points of the metric = 1 score unit
MONTH_DAYS = 30
# Where each cost starts to matter: 10 min of training, 10 ms per prediction, one
# machine-hour (or price unit) of training + a month of serving. Scales of perception,
# not of any data set; documented in the summary's scoring note.
SCALE = {"training_time": 600.0, "latency": 10.0, "cost": 1.0}


def get_field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` of a mapping, else ``obj.key``: forecasts may be records or plain dicts."""
    return obj.get(key, default) if isinstance(obj, Mapping) else getattr(obj, key, default)


def available_memory(resources: Any, device: str) -> int | None:
    """Memory a run on ``device`` may use: the GPU's total, or the free RAM; None when unknown."""
    if resources is None:
        return None
    if device.startswith("cuda"):
        gpus = get_field(resources, "gpus") or []
        index = int(device.split(":")[1]) if ":" in device else 0
        for g in gpus:
            if get_field(g, "index", 0) == index:
                return get_field(g, "memory_total_bytes")
        return None
    return get_field(resources, "ram_available_bytes")


def serving_hours(f: Any, goals: Any) -> float:
    """Machine-hours of a month of predictions at the goals' volume (batched latency when known)."""
    ms = get_field(f, "infer_ms_per_text_batch") or get_field(f, "infer_ms_per_text") or 0.0
    return goals.predictions_per_day * MONTH_DAYS * ms / 3.6e6


def cost(f: Any, goals: Any) -> float:
    """Training (on each of its machines) + a month of serving, in the goals' price unit
    (machine-hours without a price)."""
    price = goals.price_per_hour if goals.price_per_hour is not None else 1.0
    train_h = (get_field(f, "train_time_s") or 0.0) * (get_field(f, "train_workers") or 1) / 3600
    return (train_h + serving_hours(f, goals)) * price


def features(f: Any, goals: Any) -> dict[str, float]:
    """Each criterion on its fixed scale: accuracy in units of ``ACC_UNIT``, the costs in decades."""

    def decades(x: float | None, scale: float) -> float:
        # log10(1 + x/scale): differences far below the scale barely count, 10× above it = 1 unit.
        return -math.log10(1 + max(x or 0.0, 0.0) / scale)

    return {
        "accuracy": (get_field(f, "value") or 0.0) / ACC_UNIT,
        "training_time": decades(get_field(f, "train_time_s"), SCALE["training_time"]),
        "latency": decades(get_field(f, "infer_ms_per_text"), SCALE["latency"]),
        "cost": decades(cost(f, goals), SCALE["cost"]),
    }


def points_worth(goals: Any, faster: Any, slower: Any) -> float:
    """How many points of the goals' metric being ``faster`` (training time, latency, cost) instead
    of ``slower`` is worth under the goals' weights: the accuracy lead ``slower`` needs to tie.
    Infinite when accuracy carries no weight."""
    weights = goals.weights.normalised()
    if weights["accuracy"] <= 0:
        return math.inf
    gain = sum(
        weights[k] * (a - b)
        for k, a, b in zip(
            ("training_time", "latency", "cost"),
            (v for k, v in features(faster, goals).items() if k != "accuracy"),
            (v for k, v in features(slower, goals).items() if k != "accuracy"),
            strict=True,
        )
    )
    return gain / weights["accuracy"] * ACC_UNIT


def score(f: Any, goals: Any, weights: Mapping[str, float]) -> float:
    """The goals' weighted sum of ``features``: higher is better."""
    return sum(weights[k] * v for k, v in features(f, goals).items())


@overload
def band(f: Any, default: float) -> tuple[float, float]: ...
@overload
def band(f: Any, default: None = None) -> tuple[float | None, float | None]: ...
def band(f: Any, default: float | None = None) -> tuple[float | None, float | None]:
    """The interval comparisons use: the approach's own accuracy, without the full run's test-set
    noise (approaches scored on the same rows share it), when the forecast has it; a missing
    end is ``default``."""
    lo, hi = get_field(f, "curve_low"), get_field(f, "curve_high")
    if lo is None or hi is None:
        lo, hi = get_field(f, "low"), get_field(f, "high")
    return (default if lo is None else lo), (default if hi is None else hi)


def paired(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Both forecasts' bootstrap replicates, when they pair up (same count: same rows resampled)."""
    ba, bb = get_field(a, "boot") or [], get_field(b, "boot") or []
    if len(ba) < 20 or len(ba) != len(bb):
        return None
    return np.asarray(ba, dtype=float), np.asarray(bb, dtype=float)


def diff_band(a: Any, b: Any) -> tuple[float, float] | None:
    """95 % interval of a's metric minus b's.

    Paired when both carry bootstrap replicates over the same resampled benchmark test rows:
    the noise of rows both were scored on cancels in the difference. What each forecast's
    interval adds beyond its bootstrap (other fits, extrapolation error, priors) is
    approach-specific and added in quadrature. Unpaired: the two half-widths in quadrature."""
    va, vb = get_field(a, "value"), get_field(b, "value")
    if va is None or vb is None:
        return None
    (la, ha), (lb, hb) = band(a, va), band(b, vb)
    lead = va - vb
    pair = paired(a, b)
    if pair is None:
        return lead - math.hypot(va - la, hb - vb), lead + math.hypot(ha - va, vb - lb)
    ra, rb = pair
    d = ra - rb
    d_lo, d_hi = boot_interval(d - d.mean())
    (a_lo, a_hi), (b_lo, b_hi) = boot_interval(ra), boot_interval(rb)
    extra_a = (max(0.0, min(a_lo, va) - la), max(0.0, ha - max(a_hi, va)))
    extra_b = (max(0.0, min(b_lo, vb) - lb), max(0.0, hb - max(b_hi, vb)))
    return (
        lead - math.hypot(max(-d_lo, 0.0), extra_a[0], extra_b[1]),
        lead + math.hypot(max(d_hi, 0.0), extra_a[1], extra_b[0]),
    )


def tie(a: Any, b: Any) -> bool:
    """The lead of one over the other is smaller than the overlap of their intervals.

    Two independent intervals of half-width ``w`` overlap by ``2w − lead``: the lead is smaller
    than the overlap exactly when it is smaller than ``w``, which is the half-width of their
    difference's interval divided by √2. Paired forecasts (scored on the same rows) apply that
    same threshold to the half-width of their difference's own interval, on the side towards
    zero — the same rule, with the noise both share cancelled — so pairing can only narrow a
    tie, never make the rule stricter than the unpaired one."""
    va, vb = get_field(a, "value"), get_field(b, "value")
    if va is None or vb is None:
        return False
    if paired(a, b) is not None:
        lo, hi = diff_band(a, b)  # type: ignore[misc]
        lead = va - vb
        towards_zero = (lead - lo) if lead >= 0 else (hi - lead)
        return abs(lead) <= towards_zero / math.sqrt(2)
    lead = abs(va - vb)
    (la, ha), (lb, hb) = band(a, va), band(b, vb)
    return lead <= min(ha, hb) - max(la, lb)


def with_value(f: Any, value: float) -> Any:
    """``f`` with its metric set to ``value`` (records copied, dicts merged)."""
    if hasattr(f, "model_copy"):
        return f.model_copy(update={"value": value})
    return {**f, "value": value}


def plausible_upset(other: Any, winner: Any, goals: Any, weights: Mapping[str, float]) -> bool:
    """Whether ``other`` would outscore ``winner`` if its metric sat at the top of the interval of
    their difference (paired when the forecasts allow, see ``diff_band``). This is what makes
    a call robust to the forecasts' uncertainty, not just to their point values."""
    span = diff_band(other, winner)  # None when either has no value
    if span is None:
        return False
    return score(with_value(other, get_field(winner, "value") + span[1]), goals, weights) > score(
        winner, goals, weights
    )


def unmeasured_could_win(f: Any, winner: Any, goals: Any, weights: Mapping[str, float], cost_matters: bool) -> bool:
    """Could an option this budget did not measure still beat the winner? Only if it would with a
    perfect score (its time, latency and cost as forecast; unknown ones count as free). When the
    winner's interval already reaches 100 %, even a perfect score is a tie, and a tie goes to the
    cheaper option: the winner holds if the other's forecast cost is known and not lower."""
    best_case = with_value(f, 1.0)
    if score(best_case, goals, weights) <= score(winner, goals, weights):
        return False
    at_top = (band(winner)[1] or 0.0) >= 1.0 - 1e-9
    known_cost = get_field(f, "train_time_s") is not None
    return not (at_top and cost_matters and known_cost and cost(f, goals) >= cost(winner, goals))
