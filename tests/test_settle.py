"""advisor.decide.settle: would a longer budget settle a too-close call?"""

from __future__ import annotations

import numpy as np
import pytest
from recommend_helpers import Res, fc

from advisor.decide.goals import Goals
from advisor.decide.recommend import recommend
from advisor.decide.settle import NextBudget, narrowed, next_budget, outlook
from advisor.machine.profiles import load_profile

Z = np.random.default_rng(0).normal(0.0, 1.0, 200)  # one draw per resample of the benchmark rows


def pair(lead: float, sd: float, **ft_update) -> dict:
    """TF-IDF at 75 % and fine-tuning ``lead`` above it, paired replicates whose difference spreads by ``sd``."""
    tf = fc("tfidf", 0.75, half=0.001, t=5, lat=0.2).model_copy(update={"boot": [0.75] * len(Z)})
    ft = fc("finetune", 0.75 + lead, half=0.001, t=300, lat=5)
    ft = ft.model_copy(update={"boot": list(0.75 + lead + sd * Z), **ft_update})
    return {"tfidf": tf, "finetune": ft}


def judge(forecasts: dict, nxt: NextBudget | None):
    rec = recommend(Goals(), Res(), {}, forecasts, budget="quick")
    return rec, outlook(rec, Goals(), Res(), {}, forecasts, nxt, n_target=6000)


FOUR_TIMES = NextBudget(name="standard", seconds=600, rows_now=1000, rows_next=4000)


def test_next_budget_scores_on_the_profiles_rows_for_it_within_the_sample():
    settings = load_profile("cpu-small").bench
    nxt = next_budget(settings, 600.0, rows_now=2000, sample_n=6000, n_classes=2)
    assert (nxt.name, nxt.seconds, nxt.rows_next) == ("thorough", 1800.0, 2400)  # 3,000 wanted, 40 % of 6,000
    assert nxt.data_bound
    small = next_budget(settings, 600.0, rows_now=1200, sample_n=3000, n_classes=2)
    assert small.rows_next == 1200 and small.data_bound
    assert not next_budget(settings, 600.0, rows_now=2000, sample_n=12000, n_classes=2).data_bound
    assert next_budget(settings, 90.0, rows_now=800, sample_n=12000, n_classes=2).rows_next == 2000
    assert next_budget(settings, 300.0, rows_now=800, sample_n=12000, n_classes=2).name == "standard"
    assert next_budget(settings, 1800.0, rows_now=3000, sample_n=12000, n_classes=2) is None


def test_narrowed_pulls_the_replicates_in_and_keeps_what_the_interval_adds_beyond_them():
    f = pair(0.05, 0.03)["finetune"]
    lo, hi = np.percentile(f.boot, [2.5, 97.5])
    f = f.model_copy(update={"curve_low": float(lo) - 0.02, "curve_high": float(hi) + 0.01})
    n = narrowed(f, 0.5)
    assert np.std(n.boot) == pytest.approx(0.5 * np.std(f.boot))
    assert np.mean(n.boot) == pytest.approx(np.mean(f.boot))
    nlo, nhi = np.percentile(n.boot, [2.5, 97.5])
    assert n.curve_low == pytest.approx(nlo - 0.02) and n.curve_high == pytest.approx(nhi + 0.01)
    assert n.value == f.value


def test_a_tie_that_four_times_the_rows_would_resolve_is_likely_to_settle():
    rec, judged = judge(pair(0.05, 0.04), FOUR_TIMES)
    assert rec.too_close and rec.choice == "tfidf"
    assert judged.settle_likely is True
    assert "4,000 held-out rows instead of 1,000" in judged.settle and "would likely settle it" in judged.settle
    assert "running both in full" in judged.settle  # 305 s of training for the two: less than the 10-min budget
    assert judged.choice == rec.choice and judged.too_close  # the call itself is unchanged


def test_a_lead_inside_the_noise_even_at_four_times_the_rows_is_unlikely_to_settle():
    _, judged = judge(pair(0.03, 0.03), FOUR_TIMES)
    assert judged.settle_likely is False
    assert "unlikely to settle it" in judged.settle and "stay inside the noise" in judged.settle
    assert "run both in full" in judged.settle


def test_when_the_data_allows_no_more_held_out_rows_more_time_buys_only_seeds():
    same = NextBudget(name="thorough", seconds=1800, rows_now=1200, rows_next=1200, data_bound=True)
    _, judged = judge(pair(0.05, 0.03), same)
    assert judged.settle_likely is False
    assert "most held-out rows this data allows (1,200)" in judged.settle
    # The same rows by the profile's choice, not the data's: said as such.
    _, judged = judge(pair(0.05, 0.03), same.model_copy(update={"data_bound": False}))
    assert judged.settle_likely is False and "the same 1,200 held-out rows" in judged.settle


def test_uncertainty_from_extrapolation_is_not_narrowed_by_more_rows():
    forecasts = pair(0.05, 0.03, curve_low=0.70, curve_high=0.90)
    _, judged = judge(forecasts, FOUR_TIMES)
    assert judged.settle_likely is False
    assert "extrapolating the learning curves to 6,000 labels" in judged.settle


def test_a_clear_call_is_left_alone_and_the_largest_budget_points_to_full_runs():
    clear = pair(0.10, 0.01)
    rec, judged = judge(clear, FOUR_TIMES)
    assert not rec.too_close and judged == rec
    _, last = judge(pair(0.05, 0.03), None)
    assert last.settle_likely is None and last.settle.startswith("too close even at the largest budget")


def test_an_option_this_budget_could_not_measure_leaves_the_outlook_unjudged():
    forecasts = {**pair(0.03, 0.03), "embedding": fc("embedding", None, t=40)}
    rec, judged = judge(forecasts, FOUR_TIMES)
    assert rec.too_close and [r.kind for r in rec.ruled_out] == ["unmeasured"]
    assert judged.settle_likely is None
    assert "could not measure Frozen embeddings + head" in judged.settle and "cannot be judged" in judged.settle


def test_forecasts_from_a_cross_fit_say_a_longer_budget_scores_the_same_rows():
    """A cross-fit already scores every sample row: the next budget would score the same rows,
    so it is not expected to settle the call, whatever its profile's test part."""
    settings = load_profile("cpu-small").bench
    nxt = next_budget(settings, 600.0, rows_now=2000, sample_n=6000, n_classes=2, crossfit_rows=6000)
    assert (nxt.rows_now, nxt.rows_next, nxt.crossfit_rows) == (6000, 6000, 6000)
    _, judged = judge(pair(0.05, 0.04), nxt)
    assert judged.settle_likely is False
    assert "every one of the 6,000 sample rows out of fold" in judged.settle
