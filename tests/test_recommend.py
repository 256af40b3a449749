"""recommend() as a pure function over a table of cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from recommend_helpers import Res, fc

from advisor.decide.goals import Goals, Weights
from advisor.decide.recommend import recommend


def line(c0, slope, lo=100, hi=8000):
    """Projection of a log-linear curve."""
    ns = [lo * (hi / lo) ** (i / 20) for i in range(21)]
    return [(n, c0 + slope * math.log(n)) for n in ns]


BASE = {
    "tfidf": fc("tfidf", 0.70, t=2, lat=0.2),
    "embedding": fc("embedding", 0.75, t=40, lat=5),
    "finetune": fc("finetune", 0.82, t=400, lat=5),
}


@pytest.mark.parametrize(
    "name, forecasts, goals, choice, too_close, ruled",
    [
        ("finetune clearly ahead", BASE, Goals(), "finetune", False, set()),
        (
            "tie goes to the cheaper option",
            {"embedding": fc("embedding", 0.780, half=0.03, t=40), "finetune": fc("finetune", 0.790, half=0.03, t=400)},
            Goals(),
            "embedding",
            True,
            set(),
        ),
        (
            "tfidf floor: no transformer beats it by more than the interval",
            {
                "tfidf": fc("tfidf", 0.80, half=0.02, t=2, lat=0.2),
                "embedding": fc("embedding", 0.805, half=0.02, t=40),
                "finetune": fc("finetune", 0.81, half=0.025, t=400),
            },
            Goals(),
            "tfidf",
            True,
            set(),
        ),
        ("deadline rules fine-tuning out", BASE, Goals(deadline_minutes=5), "embedding", False, {"finetune"}),
        (
            "latency budget rules transformers out",
            BASE,
            Goals(latency_budget_ms=1),
            "tfidf",
            False,
            {"embedding", "finetune"},
        ),
        (
            "memory rules fine-tuning out",
            {**BASE, "finetune": fc("finetune", 0.82, t=400, mem=20_000_000_000)},
            Goals(),
            "embedding",
            False,
            {"finetune"},
        ),
        ("min accuracy rules out the floor", BASE, Goals(min_accuracy=0.74), "finetune", False, {"tfidf"}),
        (
            "unmeasured fine-tune cannot be chosen, and leaves the call open: at 100 % it could win",
            {**BASE, "finetune": fc("finetune", None, t=400)},
            Goals(),
            "embedding",
            True,
            {"finetune"},
        ),
        (
            "unmeasured fine-tune, unknown time: still open",
            {**BASE, "finetune": fc("finetune", None, t=None)},
            Goals(),
            "embedding",
            True,
            {"finetune"},
        ),
        (
            "unmeasured fine-tune against a winner whose interval reaches 100 %: at best a tie, the cheaper holds",
            {"tfidf": fc("tfidf", 0.985, half=0.015, t=2, lat=0.2), "finetune": fc("finetune", None, t=400)},
            Goals(),
            "tfidf",
            False,
            {"finetune"},
        ),
        (
            "... unless its cost is unknown (it might be the cheaper one)",
            {"tfidf": fc("tfidf", 0.985, half=0.015, t=2, lat=0.2), "finetune": fc("finetune", None, t=None)},
            Goals(),
            "tfidf",
            True,
            {"finetune"},
        ),
        (
            "unmeasured fine-tune that could not win even at 100 %: the call stands",
            {"tfidf": fc("tfidf", 0.90, t=2, lat=0.2), "finetune": fc("finetune", None, t=400, lat=50)},
            Goals(weights=Weights(accuracy=0.05, training_time=0.5, latency=0.4, cost=0.05)),
            "tfidf",
            False,
            {"finetune"},
        ),
        (
            "accuracy-only weights: a tie keeps the higher forecast, still too close",
            {"embedding": fc("embedding", 0.780, half=0.03, t=40), "finetune": fc("finetune", 0.790, half=0.03, t=400)},
            Goals(weights=Weights(accuracy=1, training_time=0, latency=0, cost=0)),
            "finetune",
            True,
            set(),
        ),
        (
            "speed-first weights pick the cheap option",
            BASE,
            Goals(weights=Weights(accuracy=0.05, training_time=0.5, latency=0.4, cost=0.05)),
            "tfidf",
            False,
            set(),
        ),
    ],
)
def test_table(name, forecasts, goals, choice, too_close, ruled):
    rec = recommend(goals, Res(), {}, forecasts, budget="quick")
    assert rec.choice == choice, (name, rec)
    assert rec.too_close is too_close, name
    assert {r.approach for r in rec.ruled_out} == ruled, name
    if too_close:
        assert rec.confidence == "low"
        assert rec.settle and "standard" in rec.settle
    assert rec.reasons and all(r.text for r in rec.reasons)
    assert recommend(goals, Res(), {}, forecasts, budget="quick") == rec  # pure


def test_reasons_carry_numbers_and_deadline_message():
    rec = recommend(Goals(deadline_minutes=5), Res(), {}, BASE)
    assert any("deadline 5 min" in r.reason and "7 min" in r.reason for r in rec.ruled_out)
    assert rec.reasons[0].weight >= rec.reasons[-1].weight
    assert rec.reasons[0].numbers
    assert any("deadline" in f for f in rec.flips)


def test_memory_message_names_sizes():
    rec = recommend(Goals(), Res(), {}, {**BASE, "finetune": fc("finetune", 0.82, t=400, mem=20_000_000_000)})
    assert any("20.0 GB" in r.reason and "8.0 GB" in r.reason for r in rec.ruled_out)


def test_crossover_more_labels_flip_the_winner():
    # At 1,000 labels embeddings lead by 3 points; fine-tuning climbs faster and overtakes later.
    d0 = 0.025 * math.log(1000) + 0.03
    emb = fc("embedding", 0.70 + 0.01 * math.log(1000), half=0.01, t=40, projection=line(0.70, 0.01))
    ft = fc("finetune", 0.70 - d0 + 0.035 * math.log(1000), half=0.01, t=400, projection=line(0.70 - d0, 0.035))
    rec = recommend(Goals(), Res(), {}, {"embedding": emb, "finetune": ft})
    assert rec.choice == "embedding"
    flips = [f for f in rec.flips if "label" in f and "Fine-tune" in f]
    assert flips, rec.flips
    n = int(flips[0].split("≥ ")[1].split(" ")[0].replace(",", ""))
    assert f"re-run advise with --labelled-size {n}" in flips[0]
    # fine-tune leads by 2 points where −d0 + 0.025·ln n ≥ 0.02
    exact = math.exp((d0 + 0.02) / 0.025)
    assert exact * 0.99 <= n <= exact * 1.1
    # …and with that many labels the winner does change.
    emb2 = fc("embedding", 0.70 + 0.01 * math.log(n), half=0.01, t=40)
    ft2 = fc("finetune", 0.70 - d0 + 0.035 * math.log(n), half=0.01, t=400)
    assert recommend(Goals(), Res(), {}, {"embedding": emb2, "finetune": ft2}).choice == "finetune"


def test_a_flip_is_said_only_where_it_means_something():
    """No flip within FLIP_AWAY of the target (noise), and none read off two curves extrapolated past
    FLIP_REACH × the largest measured size: that says what to measure instead."""
    d0 = 0.025 * math.log(1000) + 0.03
    emb = fc("embedding", 0.70 + 0.01 * math.log(1000), half=0.01, t=40, projection=line(0.70, 0.01))
    ft = fc("finetune", 0.70 - d0 + 0.035 * math.log(1000), half=0.01, t=400, projection=line(0.70 - d0, 0.035))
    measured = {n: f.model_copy(update={"n_max_measured": 1000}) for n, f in (("embedding", emb), ("finetune", ft))}
    rec = recommend(Goals(), Res(), {}, measured)
    (line_,) = [f for f in rec.flips if "Fine-tune" in f and "label" in f]
    assert "extrapolation, not a forecast" in line_ and "past 2,000" in line_
    # Fine-tuning 2 points ahead from 1,100 labels on: that close to the 1,000 targeted, the line speaks
    # of 1,500 (FLIP_AWAY × the target), not 1,100.
    d1 = 0.025 * math.log(1100) - 0.02
    ft4 = fc("finetune", 0.70 - d1 + 0.035 * math.log(1000), half=0.01, t=4000, projection=line(0.70 - d1, 0.035))
    rec = recommend(Goals(), Res(), {}, {"embedding": emb, "finetune": ft4})
    assert rec.choice == "embedding"  # training time weighs; fine-tuning is 0.5 points ahead at 1,000
    (said,) = [f for f in rec.flips if "Fine-tune" in f and "label" in f]
    assert said.startswith("if you label ≥ 1,5"), said


def test_nothing_feasible():
    rec = recommend(Goals(latency_budget_ms=0.01), Res(), {}, BASE)
    assert rec.choice is None and rec.confidence == "low"
    assert len(rec.ruled_out) == 3


def test_shared_test_set_noise_does_not_make_a_tie():
    """Both runs are scored on the same rows: the observed-score intervals overlap once that
    noise is added, but the comparison uses the approaches' own intervals, which do not."""
    from advisor.forecast.accuracy import widen_for_eval

    emb, ft = fc("embedding", 0.74, half=0.015, t=40), fc("finetune", 0.79, half=0.015, t=400)
    wide = {"embedding": widen_for_eval(emb, 300), "finetune": widen_for_eval(ft, 300)}
    assert wide["embedding"].high > wide["finetune"].low  # observed intervals overlap
    rec = recommend(Goals(), Res(), {}, wide)
    assert rec.choice == "finetune" and not rec.too_close


def test_a_cheap_winner_is_too_close_while_a_wide_forecast_could_beat_it():
    wide = {"tfidf": fc("tfidf", 0.80, half=0.02, t=2, lat=0.2), "finetune": fc("finetune", 0.79, half=0.06, t=400)}
    rec = recommend(Goals(), Res(), {}, wide)
    assert rec.choice == "tfidf" and rec.too_close and rec.runner_up == "finetune" and rec.confidence == "low"
    narrow = {"tfidf": fc("tfidf", 0.80, half=0.02, t=2, lat=0.2), "finetune": fc("finetune", 0.72, half=0.02, t=400)}
    rec = recommend(Goals(), Res(), {}, narrow)
    assert rec.choice == "tfidf" and not rec.too_close


def test_paired_replicates_cancel_the_shared_bench_rows_noise():
    """Bench points of every approach are scored on the same test rows: a replicate that drew
    hard rows lowers both. The difference's interval is then much narrower than the two
    intervals side by side, and a 4-point lead stands; the same spread drawn independently
    does not."""
    rng = np.random.default_rng(0)
    shared = rng.normal(0.0, 0.02, 200)  # rows' difficulty, common to both approaches
    own_t, own_f = rng.normal(0.0, 0.005, 200), rng.normal(0.0, 0.005, 200)

    def with_boot(f, boot):
        return f.model_copy(update={"boot": list(f.value + boot)})

    tf, ft = fc("tfidf", 0.765, half=0.04, t=4, lat=0.2), fc("finetune", 0.805, half=0.04, t=180)
    paired = {"tfidf": with_boot(tf, shared + own_t), "finetune": with_boot(ft, shared + own_f)}
    rec = recommend(Goals(), Res(), {}, paired)
    assert rec.choice == "finetune" and not rec.too_close
    assert rec.confidence == "high"  # the two intervals overlap, the interval of the difference does not hold 0
    independent = {"tfidf": with_boot(tf, shared + own_t), "finetune": with_boot(ft, rng.permutation(shared) + own_f)}
    rec = recommend(Goals(), Res(), {}, independent)
    assert rec.too_close and rec.confidence == "low"


def test_what_an_interval_adds_beyond_its_bootstrap_still_counts_in_the_difference():
    """Extrapolation or model-choice widening is approach-specific: pairing cannot cancel it."""
    from advisor.decide.scoring import diff_band

    boot = list(np.random.default_rng(1).normal(0.0, 0.01, 200))
    a = fc("finetune", 0.80, half=0.01).model_copy(update={"boot": [0.80 + b for b in boot]})
    b = fc("tfidf", 0.76, half=0.01).model_copy(update={"boot": [0.76 + b for b in boot]})
    lo, hi = diff_band(a, b)
    assert lo == pytest.approx(0.04, abs=1e-6) and hi == pytest.approx(0.04, abs=1e-6)  # identical noise cancels
    wider = a.model_copy(update={"low": 0.74})  # 6 points below its value, from beyond the bootstrap
    lo, _ = diff_band(wider, b)
    assert lo < 0.0


def test_an_open_call_says_which_option_was_not_measured():
    rec = recommend(Goals(), Res(), {}, {**BASE, "finetune": fc("finetune", None, t=400)}, budget="quick")
    assert rec.too_close and rec.confidence == "low"
    assert "Fine-tune (full) could not be measured at this budget" in rec.reasons[0].text
    # The tie wording is kept for ties on the metric: embeddings lead TF-IDF clearly here.
    assert not any("inside the intervals' overlap" in r.text for r in rec.reasons)


def test_the_paired_tie_is_the_overlap_rule_applied_to_the_difference():
    """Unpaired, two intervals of half-width w tie when the lead is under w (their overlap is
    2w − lead). Paired forecasts whose noise happens to be independent must tie at the same
    lead, not at the 1.96·√2·σ where their difference's 95 % interval starts to hold zero."""
    from advisor.decide.scoring import diff_band, tie

    rng = np.random.default_rng(3)
    sd = 0.02
    noise_a, noise_b = rng.normal(0.0, sd, 4000), rng.normal(0.0, sd, 4000)
    w = 1.96 * sd  # each forecast's own 95 % half-width

    def pair(lead: float, paired: bool):
        a = fc("finetune", 0.75 + lead, half=w, t=300)
        b = fc("tfidf", 0.75, half=w, t=5, lat=0.2)
        if paired:
            a = a.model_copy(update={"boot": list(a.value + noise_a)})
            b = b.model_copy(update={"boot": list(b.value + noise_b)})
        return a, b

    for lead in (0.8 * w, 1.2 * w):
        unpaired, paired = tie(*pair(lead, False)), tie(*pair(lead, True))
        assert unpaired == paired == (lead < w)
    # At 1.2 w the difference's own 95 % interval still holds zero: a call, but not a sure one.
    a, b = pair(1.2 * w, True)
    assert diff_band(a, b)[0] < 0.0
    rec = recommend(Goals(), Res(), {}, {"finetune": a, "tfidf": b})
    assert rec.choice == "finetune" and rec.too_close and rec.confidence == "low"
    # The reason says why: not a tie, but the difference's interval reaches a TF-IDF win.
    first = rec.reasons[0].text
    assert "not a tie" in first and "reaches where TF-IDF baseline would win" in first and "so it is a tie" not in first
    rec = recommend(Goals(), Res(), {}, dict(zip(("finetune", "tfidf"), pair(0.8 * w, True), strict=True)))
    assert rec.choice == "tfidf" and rec.too_close
    assert "so it is a tie and the cheaper option wins" in rec.reasons[0].text
