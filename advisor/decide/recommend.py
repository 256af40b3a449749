"""The decision: a pure function of goals, resources, measurements and forecasts (``recommend``);
scoring lives in ``advisor.decide.scoring``, the explanation in ``advisor.decide.explain``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from advisor.common.capabilities import label
from advisor.common.output import gigabytes, human_seconds, percent
from advisor.decide import explain
from advisor.decide.explain import Reason, RuledOut
from advisor.decide.scoring import (
    available_memory,
    band,
    cost,
    diff_band,
    get_field,
    paired,
    plausible_upset,
    points_worth,
    score,
    tie,
    unmeasured_could_win,
)
from engines.base import Record

# ``points_worth`` is the scoring's, imported here for the callers that still ask this module for it.
__all__ = ["Reason", "Recommendation", "RuledOut", "points_worth", "recommend", "rule_out"]


class Recommendation(Record):
    """The call: the option to run (or none), how sure, why, and what would change it."""

    choice: str | None = Field(description="Engine name to run; None when nothing is feasible.")
    label: str
    confidence: Literal["high", "medium", "low"]
    too_close: bool = False
    reasons: list[Reason] = Field(default_factory=list)
    ruled_out: list[RuledOut] = Field(default_factory=list)
    flips: list[str] = Field(default_factory=list)
    settle: str | None = Field(
        None, description="For a too-close call: what would settle it (a longer budget, full runs, more labels)."
    )
    settle_likely: bool | None = Field(
        None,
        description="For a too-close call: whether the next budget up is forecast to settle it, if the "
        "forecasts hold (None: not judged, e.g. no larger budget or no benchmark to judge from).",
    )
    scores: dict[str, float] = Field(default_factory=dict, description="Relative scores (best = 0).")
    runner_up: str | None = None


def rule_out(name: str, f: Any, m: Any, goals: Any, resources: Any) -> RuledOut | None:
    """Why option ``name`` cannot work here (step 1 of ``recommend``), or None when it can."""
    if get_field(f, "value") is None:
        why = get_field(f, "flag_reason") or "no completed training run within this budget"
        return RuledOut(approach=name, kind="unmeasured", reason=f"{label(name)}: {why}")
    need = get_field(f, "peak_memory_bytes")
    device = str(get_field(m, "device", "cpu") or "cpu") if m is not None else "cpu"
    have = available_memory(resources, device)
    if need and have and need > have:
        return RuledOut(
            approach=name, kind="memory", reason=f"{label(name)} needs ~{gigabytes(need)}, you have {gigabytes(have)}"
        )
    t = get_field(f, "train_time_s")
    if goals.deadline_minutes is not None and t is not None and t > goals.deadline_minutes * 60:
        return RuledOut(
            approach=name,
            kind="deadline",
            reason=f"deadline {goals.deadline_minutes:g} min, {label(name)} forecast {human_seconds(t, coarse=True)}",
        )
    lat = get_field(f, "infer_ms_per_text")
    if goals.latency_budget_ms is not None and lat is not None and lat > goals.latency_budget_ms:
        return RuledOut(
            approach=name,
            kind="latency",
            reason=f"latency budget {goals.latency_budget_ms:g} ms, "
            f"{label(name)} takes {lat:.1f} ms per text (batch 1)",
        )
    hi = get_field(f, "high")
    if goals.min_accuracy is not None and hi is not None and hi < goals.min_accuracy:
        return RuledOut(
            approach=name,
            kind="min_accuracy",
            reason=f"minimum {goals.metric} {percent(goals.min_accuracy)}, {label(name)} "
            f"forecast {percent(get_field(f, 'value'))} (at most {percent(hi)})",
        )
    return None


def recommend(
    goals: Any,
    resources: Any,
    measurements: Mapping[str, Any],
    forecasts: Mapping[str, Any],
    *,
    budget: str | float | None = None,
) -> Recommendation:
    """The recommendation. Pure: same inputs, same output; no I/O.

    1. Rule out what cannot work: needs more memory than there is, misses the deadline,
       misses the latency budget, is forecast clearly below the minimum accuracy, or was
       not measured at all at this budget.
    2. Score the rest on fixed scales weighted by the goals: accuracy in points (10 points
       = 1 unit); training time, latency and cost as log10(1 + x/scale) with scales of
       10 min, 10 ms and 1 machine-hour (differences well below the scale barely count).
    3. A lead in the metric smaller than the overlap of the two intervals is a tie (paired
       forecasts: the same threshold on their difference's interval, see ``advisor.decide.scoring.tie``);
       a tie goes to the cheaper option (training + a month of serving) — so TF-IDF wins when no
       transformer route beats it by more than its interval — with a line on what would settle it
       (``advisor.decide.settle`` judges whether a longer budget would). A call also stands only if
       no other option would win with its metric at the top of the 95 % interval of the two
       forecasts' difference; otherwise it is "too close" too (the cheaper or better-scoring
       option is still named, with its runner-up). An option the budget could not measure is not a
       loser either: unless even a perfect score from it could not win (or, with the winner's interval
       already at 100 %, could only tie a cheaper winner), the call is "too close" as well.
    4. Explain: reasons in order of weight with their numbers, what ruled options out, and
       for each runner-up the smallest change that would make it win.
    """
    weights = goals.weights.normalised()
    ruled: list[RuledOut] = []
    feasible: dict[str, Any] = {}
    for name, f in forecasts.items():
        r = rule_out(name, f, measurements.get(name), goals, resources)
        if r is None:
            feasible[name] = f
        else:
            ruled.append(r)
    if not feasible:
        return Recommendation(
            choice=None,
            label="Nothing feasible",
            confidence="low",
            ruled_out=ruled,
            reasons=[Reason(text="every option was ruled out; see below", weight=1.0)],
            flips=[explain.relax_line(r) for r in ruled if explain.relax_line(r)],
        )

    scores = {n: score(f, goals, weights) for n, f in feasible.items()}
    best = max(scores, key=lambda n: scores[n])
    cheaper = lambda n: cost(feasible[n], goals)
    # Ties: a cheaper option whose metric ties with the best by the interval rule wins.
    # When nothing but the metric is weighted, cost cannot break a tie: the higher forecast
    # stays the choice, still reported as too close to call.
    winner = best
    tied = [n for n in feasible if n != best and cheaper(n) < cheaper(best) and tie(feasible[n], feasible[best])]
    too_close = bool(tied)
    cost_matters = weights["training_time"] + weights["latency"] + weights["cost"] > 0
    rest = sorted((n for n in feasible if n != best), key=lambda n: -scores[n])
    runner = rest[0] if rest else None
    if tied and cost_matters:
        winner, runner = min(tied, key=cheaper), best
    elif tied:
        runner = min(tied, key=cheaper)
    if not too_close:
        # A call stands only if no other option could win with its accuracy at the upper end of
        # what the two forecasts allow relative to each other.
        upset = [n for n in rest if n != winner and plausible_upset(feasible[n], feasible[winner], goals, weights)]
        if upset:
            too_close, runner = True, upset[0]
    wf = feasible[winner]
    # Why it is too close: a tie on the metric (the overlap rule), or a lead that clears the tie
    # but whose 95 % interval still reaches where the runner-up would win ("upset").
    closeness = "tie" if tied else ("upset" if too_close else None)
    # An option this budget could not measure is not a loser: the call stands only if even a
    # perfect score from it could not win (see ``advisor.decide.scoring.unmeasured_could_win``).
    open_ = [
        r
        for r in ruled
        if r.kind == "unmeasured" and unmeasured_could_win(forecasts[r.approach], wf, goals, weights, cost_matters)
    ]
    if open_:
        too_close = True

    # Confidence
    flagged = bool(get_field(wf, "flagged"))
    if too_close:
        confidence = "low"
    elif runner is None:
        confidence = "medium" if flagged or ruled else "high"
    else:
        rf = feasible[runner]
        if paired(wf, rf) is not None:  # scored on the same rows: the interval of their difference
            d_lo, d_hi = diff_band(wf, rf)  # type: ignore[misc]
            separated = d_lo > 0.0 or d_hi < 0.0
        else:
            (wl, wh), (rl_, rh) = band(wf), band(rf)
            separated = (wl or 0) > (rh or 1) or (rl_ or 0) > (wh or 1)
        if separated and not flagged and not get_field(rf, "flagged"):
            confidence = "high"
        elif flagged and not separated:
            confidence = "low"
        else:
            confidence = "medium"

    reasons = explain.reasons(winner, runner, feasible, goals, weights, closeness)
    if open_:
        names = " and ".join(label(r.approach) for r in open_)
        reasons.insert(
            0,
            Reason(
                text=f"too close to call: {names} could not be measured at this budget, so {names} is not ruled out "
                f"on its merits (even at 100 % it could still win), and {label(winner)} is only the "
                "best of what was measured",
                weight=1.0,
                numbers={"unmeasured": len(open_)},
            ),
        )
    flips = explain.flips(winner, feasible, forecasts, ruled, goals, weights)
    top = max(scores.values())
    return Recommendation(
        choice=winner,
        label=label(winner),
        confidence=confidence,
        too_close=too_close,
        reasons=reasons,
        ruled_out=ruled,
        flips=flips,
        settle=explain.settle_line(budget, too_close),
        scores={n: round(s - top, 4) for n, s in scores.items()},
        runner_up=runner,
    )
