"""Learning-curve fits: from (training size, score) points to a forecast at a larger size.

Candidates are deliberately constrained (a free 3-parameter power law is poorly
determined on ≤ 4 sizes):

* ``log-linear``: ``y = α + β·ln n`` (2 parameters, β ≥ 0);
* ``power-law(b∈[lo, hi])``: ``y = c − a·n^(−b)`` with ``b`` on a small fixed grid and
  ``c, a`` by linear least squares at each ``b`` (a ≥ 0);
* ``flat``: the mean at the largest measured size (the fallback).

With ≥ 3 sizes the fit is chosen by its error on the largest size when fitted on the
others (leave-last-size-out); fewer sizes, a non-monotone curve or a failed fit give a
flat forecast, flagged. The interval is a bootstrap over seeds and over test examples
(the same resampled test rows for every point: they share one test set), refitting each
time, widened by the spread between viable candidates and by the held-out fit error
scaled by how far the forecast extrapolates compared with the held-back step.
Forecasts are capped at 1.0 and at ``MAX_EXTRAPOLATION`` × the largest measured size.

Only numpy here: this module is imported by the CLI at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from advisor.common.bootstrap import interval as boot_interval
from advisor.common.bootstrap import resample

B_GRID: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
MAX_EXTRAPOLATION = 8.0
LONG_REACH = 2.0  # beyond this × the largest measured size, prefer a saturating fit
# Flat fallback from one measured size: the upper end of the interval assumes at most
# this gain per doubling of the labels. A generic prior (not from this data), printed as such.
PRIOR_GAIN_PER_DOUBLING = 0.03
SAME_SIZE = 1.1  # sizes within 10 % of each other are one size of the curve
MIN_STEP = 1.5  # the held-back step the extrapolation error is scaled from is taken as at least this ratio


@dataclass(frozen=True)
class Observation:
    """One measured point: a model trained on ``n`` examples (one seed) scored on the shared test set."""

    n: int
    seed: int
    value: float
    y_pred: np.ndarray | None = None  # predicted class ids on the shared test set (for the bootstrap)


@dataclass
class CurveResult:
    """What a fit says about the score at ``n_target``."""

    method: str
    value: float
    low: float
    high: float
    flagged: bool
    flag_reason: str
    n_target: int
    n_max: int
    extrapolation_factor: float
    holdout_error: float | None
    curve: list[tuple[float, float]] = field(default_factory=list)
    measured: list[tuple[int, float, float]] = field(default_factory=list)  # n, mean, seed sd
    candidates: dict[str, float] = field(default_factory=dict)  # method -> forecast
    projection: list[tuple[float, float]] = field(default_factory=list)  # fitted values up to the cap
    # Bootstrap replicates of the forecast. Replicate i resamples the same test rows for every
    # approach fitted with the same seed on the same test part: differences pair up.
    boot: list[float] = field(default_factory=list)


# ---------------------------------------------------------------------- fits
class _Fit:
    """A fitted candidate: ``predict(n)``."""

    def __init__(self, method: str, predict: Callable[[np.ndarray], np.ndarray]) -> None:
        self.method = method
        self.predict = predict


def _fit_log_linear(n: np.ndarray, y: np.ndarray) -> _Fit | None:
    if len(np.unique(n)) < 2:
        return None
    x = np.log(n)
    beta, alpha = np.polyfit(x, y, 1)
    if not np.isfinite(beta) or beta < 0:
        return None

    def predict(m: np.ndarray) -> np.ndarray:
        return alpha + beta * np.log(m)

    return _Fit("log-linear", predict)


def _fit_power_law(n: np.ndarray, y: np.ndarray) -> _Fit | None:
    if len(np.unique(n)) < 2:
        return None
    best: tuple[float, float, float, float] | None = None
    for b in B_GRID:
        design = np.column_stack([np.ones_like(n, dtype=float), -np.power(n, -b)])
        (c, a), *_ = np.linalg.lstsq(design, y, rcond=None)
        if not (np.isfinite(c) and np.isfinite(a)) or a < 0:
            continue
        sse = float(np.sum((design @ np.array([c, a]) - y) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, float(c), float(a), b)
    if best is None:
        return None
    _, c_best, a_best, b_best = best

    def predict(m: np.ndarray) -> np.ndarray:
        return c_best - a_best * np.power(m, -b_best)

    return _Fit(f"power-law(b∈[{B_GRID[0]}, {B_GRID[-1]}])", predict)


FITTERS: dict[str, Callable[[np.ndarray, np.ndarray], _Fit | None]] = {
    "log-linear": _fit_log_linear,
    "power-law": _fit_power_law,
}


def _means(obs: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    sizes = sorted({n for n, _ in obs})
    means = [float(np.mean([v for m, v in obs if m == s])) for s in sizes]
    return np.asarray(sizes, dtype=float), np.asarray(means, dtype=float)


def _holdout_error(name: str, n: np.ndarray, y: np.ndarray) -> float | None:
    """|error| at the largest size when fitted on the smaller ones (needs ≥ 3 sizes)."""
    if len(n) < 3:
        return None
    fit = FITTERS[name](n[:-1], y[:-1])
    if fit is None:
        return None
    return float(abs(fit.predict(np.array([n[-1]]))[0] - y[-1]))


def _is_monotone(n: np.ndarray, y: np.ndarray, noise: float) -> bool:
    """No drop between consecutive sizes larger than the noise (2 standard errors)."""
    return bool(np.all(np.diff(y) >= -2 * noise)) and y[-1] >= y[0] - noise


def _adjusted(p: float, rows: int, z: float) -> tuple[float, float]:
    """Agresti–Coull: (adjusted proportion, its standard error) after adding z²/2 successes and
    z²/2 failures to ``rows`` rows scored at ``p``."""
    n = rows + z * z
    q = (min(1.0, max(0.0, p)) * rows + z * z / 2) / n
    return q, math.sqrt(q * (1 - q) / n)


def binomial_se(p: float, rows: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``rows`` rows, Agresti–Coull style: two
    successes and two failures added, so that 100 % (or 0 %) on a few hundred rows still has
    a width (a plain √(p(1−p)/n) collapses to zero there, and the interval with it)."""
    return _adjusted(p, rows, 2.0)[1]


def binomial_interval(p: float, rows: int, z: float = 1.96) -> tuple[float, float]:
    """Agresti–Coull interval of an accuracy ``p`` measured on ``rows`` rows (centred on the
    adjusted proportion: 100 % on 300 rows gives [98.4 %, 100 %], not a point)."""
    q, se = _adjusted(p, rows, z)
    return max(0.0, q - z * se), min(1.0, q + z * se)


def _clip(v: float) -> float:
    return float(min(1.0, max(0.0, v)))


def _merge_close_sizes(observations: Sequence[Observation]) -> list[Observation]:
    """Observations whose sizes lie within ``SAME_SIZE`` of each other, as one size (their geometric
    mean): 1,778 and 1,782 labels are one point of the curve, several seeds of it, not a slope."""
    sizes = sorted({o.n for o in observations})
    rep: dict[int, int] = {}
    group: list[int] = []
    for n in sizes + [0]:
        if group and (n == 0 or n > SAME_SIZE * group[0]):
            mean = round(math.exp(sum(math.log(g) for g in group) / len(group)))
            rep.update({g: mean for g in group})
            group = []
        group.append(n)
    return [o if rep[o.n] == o.n else Observation(rep[o.n], o.seed, o.value, o.y_pred) for o in observations]


def fit_learning_curve(
    observations: Sequence[Observation],
    n_target: int,
    *,
    metric_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
    n_test: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> CurveResult:
    """Forecast the score at ``n_target`` from measured points.

    ``metric_fn(y_pred, idx)`` recomputes a point's score on resampled test rows ``idx``
    (observations then need ``y_pred``); without it the bootstrap is over seeds only and
    the test-set noise is approximated as binomial (``n_test`` rows).
    """
    if not observations:
        raise ValueError("no observations to fit")
    obs = sorted(_merge_close_sizes(observations), key=lambda o: (o.n, o.seed))
    n_arr, y_arr = _means([(o.n, o.value) for o in obs])
    n_max = int(n_arr[-1])
    factor = n_target / n_max
    n_eval = min(float(n_target), MAX_EXTRAPOLATION * n_max)
    sds = [
        float(np.std([o.value for o in obs if o.n == s], ddof=1)) if sum(o.n == s for o in obs) > 1 else 0.0
        for s in n_arr
    ]
    measured = [(int(s), float(m), sd) for s, m, sd in zip(n_arr, y_arr, sds, strict=True)]
    # Test-set noise of one point: binomial standard error at the last mean.
    rows = n_test or (len(obs[-1].y_pred) if obs[-1].y_pred is not None else 0)
    se_test = binomial_se(float(y_arr[-1]), rows) if rows else 0.02
    last_sd = sds[-1]
    noise = math.sqrt(se_test**2 + last_sd**2)

    reasons: list[str] = []
    errors = {name: _holdout_error(name, n_arr, y_arr) for name in FITTERS}
    fits = {name: FITTERS[name](n_arr, y_arr) for name in FITTERS}
    viable = {k: v for k, v in fits.items() if v is not None}
    chosen: str | None = None
    if len(n_arr) < 3:
        reasons.append(f"only {len(n_arr)} training size(s) measured")
    elif not _is_monotone(n_arr, y_arr, noise):
        reasons.append("the measured curve is not monotone (drops beyond noise)")
    elif not viable:
        reasons.append("no constrained fit matched the points")
    else:
        scored = {k: err for k in viable if (err := errors[k]) is not None}
        if not scored:
            reasons.append("the fits could not be checked on a held-back size")
        else:
            chosen = min(scored, key=lambda k: scored[k])
            # Far beyond the data, an unbounded log-linear curve overshoots where real curves
            # bend: past LONG_REACH× prefer the saturating power law when it fits about as well.
            if (
                chosen == "log-linear"
                and factor > LONG_REACH
                and "power-law" in scored
                and scored["power-law"] <= scored[chosen] + noise
            ):
                chosen = "power-law"
            # A fit worse on the held-back size than simply carrying the previous size forward is no fit.
            flat_err = abs(y_arr[-2] - y_arr[-1])
            if scored[chosen] > flat_err + noise:
                reasons.append("fits missed the held-back size by more than the flat guess")
                chosen = None

    candidates: dict[str, float] = {}
    for f in viable.values():
        candidates[f.method] = float(f.predict(np.array([n_eval]))[0])
    candidates["flat"] = float(y_arr[-1])

    if factor > MAX_EXTRAPOLATION:
        reasons.append(
            f"target is {factor:.1f}× the largest measured size; forecast held at {MAX_EXTRAPOLATION:g}× "
            f"({int(n_eval)}) and the interval widened"
        )

    hold_err = errors[chosen] if chosen else None

    def point_forecast(o_n: np.ndarray, o_y: np.ndarray, name: str | None) -> float:
        if name is None:
            return float(o_y[-1])
        f = FITTERS[name](o_n, o_y)
        if f is None:
            return float(o_y[-1])
        return float(f.predict(np.array([min(float(n_target), MAX_EXTRAPOLATION * o_n[-1])]))[0])

    value = _clip(point_forecast(n_arr, y_arr, chosen))
    method = viable[chosen].method if chosen else "flat-fallback"

    # ---------------------------------------------------------------- bootstrap
    # Two generators: rows drawn from one stream are the same for every approach (paired
    # comparisons); seed picks, whose count differs between approaches, from the other.
    rng = np.random.default_rng([seed, 1])
    row_rng = np.random.default_rng([seed, 0])
    sizes = [int(s) for s in n_arr]
    by_size = {s: [o for o in obs if o.n == s] for s in sizes}
    y_preds = [o.y_pred for o in obs if o.y_pred is not None]
    can_resample_rows = metric_fn is not None and len(y_preds) == len(obs)
    n_rows = len(y_preds[0]) if can_resample_rows else 0
    boot: list[float] = []
    # Flat: what each viable (unchecked) fit would forecast on the same resampled points, so that
    # the upper end carries the noise of the points the fit was drawn through, not only its value.
    fit_boot: dict[str, list[float]] = {name: [] for name in viable} if chosen is None else {}
    for _ in range(n_boot):
        idx = resample(row_rng, n_rows) if can_resample_rows else None
        ys = []
        for s in sizes:
            group = by_size[s]
            picks = resample(rng, len(group))
            vals = []
            for p in picks:
                o = group[p]
                if idx is not None:  # drawn only when can_resample_rows: metric_fn and every y_pred are set
                    assert metric_fn is not None and o.y_pred is not None
                    vals.append(metric_fn(o.y_pred, idx))
                else:
                    vals.append(o.value + rng.normal(0.0, se_test))
            ys.append(float(np.mean(vals)))
        boot.append(point_forecast(n_arr, np.asarray(ys), chosen))
        for name, got in fit_boot.items():
            refit = FITTERS[name](n_arr, np.asarray(ys))
            if refit is not None:
                got.append(float(refit.predict(np.array([n_eval]))[0]))
    lo, hi = boot_interval(boot) if boot else (value, value)
    lo, hi = float(min(lo, value)), float(max(hi, value))

    if chosen is None:
        # Flat: the truth at n_target is most likely higher. Upper end: the most
        # optimistic viable fit at the top of its bootstrap (a fit through two noisy points
        # is as unsure as they are), or (one size, or none viable) the generic prior.
        doublings = max(0.0, math.log2(max(factor, 1.0)))
        upper = [c for k, c in candidates.items() if k != "flat"]
        upper += [boot_interval(got)[1] for got in fit_boot.values() if len(got) >= 20]
        prior_upper = y_arr[-1] + PRIOR_GAIN_PER_DOUBLING * doublings
        hi = max(hi, *(upper or [prior_upper]))
        if not upper and doublings > 0:
            reasons.append(
                f"upper bound assumes ≤ {PRIOR_GAIN_PER_DOUBLING * 100:.0f} points per doubling of labels "
                "(a generic prior, not measured)"
            )
        lo = min(lo, y_arr[-1] - 2 * noise)
    else:
        # Model-choice spread (other viable fits) and the held-out error, when extrapolating.
        others = [c for k, c in candidates.items() if k != "flat"]
        lo, hi = min([lo, *others]), max([hi, *others])
        if factor > 1 and hold_err is not None:
            # The held-back error was made extrapolating one step (n[-2] → n[-1]); the forecast
            # extrapolates log(n_eval / n_max). Misfit grows with that distance: scale by the ratio.
            # At least SAME_SIZE's step: two close sizes would make reach / step explode (a forecast of
            # [0 %, 100 %] says nothing; the extrapolation is as unsure as one real step makes it).
            step = max(math.log(n_arr[-1] / n_arr[-2]), math.log(MIN_STEP))
            reach = math.log(n_eval / n_max)
            widen_by = hold_err * max(1.0, reach / step)
            lo, hi = lo - widen_by, hi + widen_by
        if factor > 1:
            # Learning curves can flatten right after the last measured size: the lower end
            # reaches down to what was measured there (less its noise).
            lo = min(lo, y_arr[-1] - 2 * noise)
    if factor > MAX_EXTRAPOLATION:
        widen = math.sqrt(factor / MAX_EXTRAPOLATION)
        lo, hi = value - (value - lo) * widen, value + (hi - value) * widen
    low, high = _clip(lo), _clip(hi)

    # ------------------------------------------------------------------- curve
    grid = np.unique(np.geomspace(max(1.0, n_arr[0] / 2), max(n_eval, n_arr[-1]), 24))
    fit = viable.get(chosen) if chosen else None
    if fit is not None:
        curve = [(float(g), _clip(float(fit.predict(np.array([g]))[0]))) for g in grid]
    else:
        curve = [(float(s), float(m)) for s, m in zip(n_arr, y_arr, strict=True)]
        curve.append((float(max(n_target, n_max)), float(y_arr[-1])))

    # Projection over every size the curve supports (for "with ≥ N labels …" lines).
    span = np.unique(np.geomspace(n_arr[0], MAX_EXTRAPOLATION * n_max, 32))
    if fit is not None:
        projection = [(float(g), _clip(float(fit.predict(np.array([g]))[0]))) for g in span]
    else:
        projection = [(float(g), float(np.interp(np.log(g), np.log(n_arr), y_arr))) for g in span]

    flagged = chosen is None or factor > MAX_EXTRAPOLATION
    return CurveResult(
        method=method,
        value=value,
        low=low,
        high=high,
        flagged=flagged,
        flag_reason="; ".join(reasons),
        n_target=int(n_target),
        n_max=n_max,
        extrapolation_factor=float(factor),
        holdout_error=hold_err,
        curve=curve,
        measured=measured,
        candidates=candidates,
        projection=projection,
        boot=[round(_clip(b), 5) for b in boot],
    )
