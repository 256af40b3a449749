"""Learning-curve fits on synthetic curves with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.common.bootstrap import accuracy_fn, macro_f1_fn
from advisor.forecast.curves import LONG_REACH, MAX_EXTRAPOLATION, Observation, fit_learning_curve

SIZES = [100, 200, 400, 800]


def power(n, c=0.85, a=0.9, b=0.5):
    return c - a * n ** (-b)


def synth(truth, sizes=SIZES, seeds=3, noise=0.0, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    return [Observation(n, s, float(truth(n) + rng.normal(0, noise))) for n in sizes for s in range(seeds)]


def test_exact_power_law_is_recovered():
    res = fit_learning_curve(synth(power), 3000, n_test=1000)
    assert not res.flagged
    assert res.method.startswith("power-law") or res.method == "log-linear"
    assert res.value == pytest.approx(power(3000), abs=0.01)
    assert res.low <= power(3000) <= res.high
    assert res.extrapolation_factor == pytest.approx(3000 / 800)


def test_log_linear_truth_is_recovered_within_long_reach():
    truth = lambda n: 0.4 + 0.04 * np.log(n)
    res = fit_learning_curve(synth(truth), 1600, n_test=1000)
    assert res.method == "log-linear"
    assert res.value == pytest.approx(truth(1600), abs=0.015)
    assert res.low <= truth(1600) <= res.high


def test_beyond_long_reach_the_saturating_fit_is_preferred_and_the_interval_keeps_both():
    truth = lambda n: 0.4 + 0.04 * np.log(n)
    res = fit_learning_curve(synth(truth), 3200, n_test=1000)
    assert res.extrapolation_factor > LONG_REACH
    assert res.method.startswith("power-law")
    assert res.value < truth(3200)  # conservative: it does not assume unbounded growth …
    assert res.low <= truth(3200) <= res.high  # … and the interval still holds the log-linear truth
    assert res.low <= 0.4 + 0.04 * np.log(800)  # curves may flatten right after the last size


def test_noisy_curve_interval_covers_truth_mostly():
    hits = 0
    for k in range(10):
        res = fit_learning_curve(synth(power, noise=0.01, rng_seed=k), 3000, n_test=1000, n_boot=100, seed=k)
        hits += res.low <= power(3000) <= res.high
        assert res.low <= res.value <= res.high
    assert hits >= 8


def test_non_monotone_curve_falls_back_flat_and_flagged():
    values = {100: 0.70, 200: 0.60, 400: 0.72, 800: 0.58}
    obs = [Observation(n, s, values[n]) for n in SIZES for s in range(2)]
    res = fit_learning_curve(obs, 3000, n_test=1000)
    assert res.flagged and res.method == "flat-fallback"
    assert "monotone" in res.flag_reason
    assert res.value == pytest.approx(0.58)


def test_one_size_is_flat_with_prior_upper_bound():
    obs = [Observation(400, 0, 0.75), Observation(400, 1, 0.76)]
    res = fit_learning_curve(obs, 1600, n_test=1000)
    assert res.flagged and res.method == "flat-fallback"
    assert res.value == pytest.approx(0.755)
    # Two doublings at ≤ 3 points each: the upper end says so, and is labelled a prior.
    assert res.high == pytest.approx(0.755 + 0.06, abs=1e-6)
    assert "prior" in res.flag_reason


def test_two_sizes_are_flat_with_the_fits_own_noise_in_the_upper_end():
    # Two sizes on noisy test rows: no fit can be checked, so the forecast is flat; the fit drawn
    # through the two points is as unsure as they are, and the upper end says so.
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 280)

    def point(n, seed, acc):
        right = rng.random(280) < acc
        return Observation(n, seed, float(right.mean()), y_pred=np.where(right, y_true, 1 - y_true))

    obs = [point(100, 0, 0.61), point(100, 1, 0.64), point(200, 0, 0.67)]
    res = fit_learning_curve(obs, 700, metric_fn=accuracy_fn(y_true), n_boot=200)
    assert res.method == "flat-fallback" and res.flagged
    through_the_points = res.candidates["log-linear"]
    assert res.value < through_the_points < res.high  # not just the fit's value: its spread too
    assert res.high - through_the_points > 0.02


def test_far_extrapolation_is_capped_and_flagged():
    res = fit_learning_curve(synth(lambda n: 0.4 + 0.04 * np.log(n)), 800 * 50, n_test=1000)
    assert res.flagged and "×" in res.flag_reason
    capped = 0.4 + 0.04 * np.log(800 * MAX_EXTRAPOLATION)
    assert res.value <= capped + 0.005  # never beyond what the capped curve supports
    assert res.low <= capped <= res.high
    assert res.high - res.low > 0.02


def test_forecast_never_above_one():
    res = fit_learning_curve(synth(lambda n: 0.5 + 0.1 * np.log(n)), 100_000, n_test=1000)
    assert res.value <= 1.0 and res.high <= 1.0


def test_bootstrap_over_test_rows_uses_predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    obs = []
    for n in SIZES:
        for s in range(2):
            pred = y.copy()
            wrong = rng.random(500) > power(n)
            pred[wrong] = 1 - pred[wrong]
            obs.append(Observation(n, s, float(np.mean(pred == y)), pred))
    res = fit_learning_curve(obs, 3000, metric_fn=accuracy_fn(y), n_boot=100)
    assert res.low < res.value < res.high
    assert res.low <= power(3000) + 0.03 and res.high >= power(3000) - 0.03
    f1 = macro_f1_fn(y, 2)
    from sklearn.metrics import f1_score

    idx = np.arange(500)
    assert f1(obs[0].y_pred, idx) == pytest.approx(f1_score(y, obs[0].y_pred, average="macro"))


def test_replicates_resample_the_same_rows_for_every_curve():
    """Two approaches fitted with the same seed on the same test rows get replicate i from the
    same resampled rows, whatever their seed counts: identical predictions, identical replicates."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    preds = {}
    for n in SIZES:
        p = y.copy()
        wrong = rng.random(400) > power(n)
        p[wrong] = 1 - p[wrong]
        preds[n] = p
    one_seed = [Observation(n, 0, float(np.mean(preds[n] == y)), preds[n]) for n in SIZES]
    three_seeds = [Observation(n, s, float(np.mean(preds[n] == y)), preds[n]) for n in SIZES for s in range(3)]
    a = fit_learning_curve(one_seed, 3000, metric_fn=accuracy_fn(y), n_boot=50)
    b = fit_learning_curve(three_seeds, 3000, metric_fn=accuracy_fn(y), n_boot=50)
    assert len(a.boot) == 50 and a.boot == pytest.approx(b.boot)
    assert np.std(a.boot) > 0.001  # the rows really were resampled


def test_sizes_a_few_rows_apart_are_one_size_not_a_slope():
    """Six seeds at ~1,780 rows (a GPU benchmark measured fine-tuning so) are one size: the forecast
    is a flat one from there with an informative interval, never [0 %, 100 %]."""
    obs = [
        Observation(n, s, v)
        for s, (n, v) in enumerate([(1776, 0.72), (1778, 0.74), (1780, 0.73), (1781, 0.75), (1782, 0.71), (1784, 0.74)])
    ]
    res = fit_learning_curve(obs, 3000, n_test=600)
    assert res.method == "flat-fallback" and res.n_max == 1780
    assert 0.6 < res.low < res.value < res.high < 0.9
    # Three close groups: a real curve, with its extrapolation error scaled from a sensible step.
    obs = [Observation(n, 0, v) for n, v in [(400, 0.60), (800, 0.66), (1600, 0.70), (1620, 0.71)]]
    res = fit_learning_curve(obs, 3200, n_test=600)
    assert res.n_max == 1610 and res.high - res.low < 0.3
