"""The decision: a pure function of goals, resources, measurements and forecasts.

1. Rule out what cannot work: needs more memory than there is, misses the deadline,
   misses the latency budget, is forecast clearly below the minimum accuracy, or was
   not measured at all at this budget.
2. Score the rest on fixed scales weighted by the goals: accuracy in points (10 points
   = 1 unit); training time, latency and cost as log10(1 + x/scale) with scales of
   10 min, 10 ms and 1 machine-hour (differences well below the scale barely count).
3. A lead in the metric smaller than the overlap of the two intervals is a tie (paired
   forecasts: the same threshold on their difference's interval, see ``_tie``); a tie
   goes to the cheaper option (training + a month of serving) — so TF-IDF wins when no transformer
   route beats it by more than its interval — with a line on what would settle it
   (``advisor.settle`` judges whether a longer budget would). A call also stands only if
   no other option would win with its metric at the top of the 95 % interval of the two
   forecasts' difference; otherwise it is "too close" too (the cheaper or better-scoring
   option is still named, with its runner-up). An option the budget could not measure is not a
   loser either: unless even a perfect score from it could not win (or, with the winner's interval
   already at 100 %, could only tie a cheaper winner), the call is "too close" as well.
4. Explain: reasons in order of weight with their numbers, what ruled options out, and
   for each runner-up the smallest change that would make it win.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from engines.base import Record

LABELS = {
    "finetune": "Fine-tune (full)",
    "lora": "Fine-tune (LoRA)",
    "embedding": "Frozen embeddings + head",
    "tfidf": "TF-IDF baseline",
}
BUDGETS = {"quick": 90.0, "standard": 600.0, "thorough": 1800.0}
FLIP_LEAD = 0.02  # "with ≥ N labels X is forecast to lead by ≥ 2 points"
# A flip in the labels is said only where it means something: at least this factor away from the
# target (a flip at 993 labels of 1,000 is noise), and within FLIP_REACH × the largest size either
# approach was measured at (past it the crossing is two extrapolated curve shapes meeting).
FLIP_AWAY = 1.5
FLIP_REACH = 2.0
ACC_UNIT = 0.10  # 10 points of the metric = 1 score unit
MONTH_DAYS = 30
# Where each cost starts to matter: 10 min of training, 10 ms per prediction, one
# machine-hour (or price unit) of training + a month of serving. Scales of perception,
# not of any data set; documented in the summary's scoring note.
SCALE = {"training_time": 600.0, "latency": 10.0, "cost": 1.0}


class Reason(Record):
    text: str
    weight: float = Field(0.0, description="Share of the decision this criterion carries (goals' weights).")
    numbers: dict[str, float | int | str | None] = Field(default_factory=dict)


class RuledOut(Record):
    approach: str
    kind: Literal["memory", "deadline", "latency", "min_accuracy", "unmeasured"]
    reason: str


class Recommendation(Record):
    choice: str | None = Field(description="Engine name to run; None when nothing is feasible.")
    label: str
    confidence: Literal["high", "medium", "low"]
    too_close: bool = False
    reasons: list[Reason] = Field(default_factory=list)
    ruled_out: list[RuledOut] = Field(default_factory=list)
    flips: list[str] = Field(default_factory=list)
    settle: str | None = Field(None, description="For a too-close call: what would settle it (a longer budget, "
                               "full runs, more labels).")
    settle_likely: bool | None = Field(
        None, description="For a too-close call: whether the next budget up is forecast to settle it, if the "
        "forecasts hold (None: not judged, e.g. no larger budget or no benchmark to judge from).")
    scores: dict[str, float] = Field(default_factory=dict, description="Relative scores (best = 0).")
    runner_up: str | None = None


# -------------------------------------------------------------------- formatting
def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _dur(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _gb(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 1e9:.1f} GB"


def _get(obj: Any, key: str, default: Any = None) -> Any:
    return obj.get(key, default) if isinstance(obj, Mapping) else getattr(obj, key, default)


# ------------------------------------------------------------------------ pieces
def _available_memory(resources: Any, device: str) -> int | None:
    if resources is None:
        return None
    if device.startswith("cuda"):
        gpus = _get(resources, "gpus") or []
        index = int(device.split(":")[1]) if ":" in device else 0
        for g in gpus:
            if _get(g, "index", 0) == index:
                return _get(g, "memory_total_bytes")
        return None
    return _get(resources, "ram_available_bytes")


def _serving_hours(f: Any, goals: Any) -> float:
    ms = _get(f, "infer_ms_per_text_batch") or _get(f, "infer_ms_per_text") or 0.0
    return goals.predictions_per_day * MONTH_DAYS * ms / 3.6e6


def _cost(f: Any, goals: Any) -> float:
    """Training + a month of serving, in the goals' price unit (machine-hours without a price)."""
    price = goals.price_per_hour if goals.price_per_hour is not None else 1.0
    return ((_get(f, "train_time_s") or 0.0) / 3600 + _serving_hours(f, goals)) * price


def _features(f: Any, goals: Any) -> dict[str, float]:
    def decades(x: float | None, scale: float) -> float:
        # log10(1 + x/scale): differences far below the scale barely count, 10× above it = 1 unit.
        return -math.log10(1 + max(x or 0.0, 0.0) / scale)

    return {
        "accuracy": (_get(f, "value") or 0.0) / ACC_UNIT,
        "training_time": decades(_get(f, "train_time_s"), SCALE["training_time"]),
        "latency": decades(_get(f, "infer_ms_per_text"), SCALE["latency"]),
        "cost": decades(_cost(f, goals), SCALE["cost"]),
    }


def points_worth(goals: Any, faster: Any, slower: Any) -> float:
    """How many points of the goals' metric being ``faster`` (training time, latency, cost) instead
    of ``slower`` is worth under the goals' weights: the accuracy lead ``slower`` needs to tie.
    Infinite when accuracy carries no weight."""
    weights = goals.weights.normalised()
    if weights["accuracy"] <= 0:
        return math.inf
    gain = sum(weights[k] * (a - b) for k, a, b in zip(
        ("training_time", "latency", "cost"),
        (v for k, v in _features(faster, goals).items() if k != "accuracy"),
        (v for k, v in _features(slower, goals).items() if k != "accuracy"), strict=True))
    return gain / weights["accuracy"] * ACC_UNIT


def _score(f: Any, goals: Any, weights: Mapping[str, float]) -> float:
    return sum(weights[k] * v for k, v in _features(f, goals).items())


def _band(f: Any, default: float | None = None) -> tuple[float | None, float | None]:
    """The interval comparisons use: the approach's own accuracy, without the full run's test-set
    noise (approaches scored on the same rows share it), when the forecast has it; a missing
    end is ``default``."""
    lo, hi = _get(f, "curve_low"), _get(f, "curve_high")
    if lo is None or hi is None:
        lo, hi = _get(f, "low"), _get(f, "high")
    return (default if lo is None else lo), (default if hi is None else hi)


def _paired(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Both forecasts' bootstrap replicates, when they pair up (same count: same rows resampled)."""
    ba, bb = _get(a, "boot") or [], _get(b, "boot") or []
    if len(ba) < 20 or len(ba) != len(bb):
        return None
    return np.asarray(ba, dtype=float), np.asarray(bb, dtype=float)


def _diff_band(a: Any, b: Any) -> tuple[float, float] | None:
    """95 % interval of a's metric minus b's.

    Paired when both carry bootstrap replicates over the same resampled benchmark test rows:
    the noise of rows both were scored on cancels in the difference. What each forecast's
    interval adds beyond its bootstrap (other fits, extrapolation error, priors) is
    approach-specific and added in quadrature. Unpaired: the two half-widths in quadrature."""
    va, vb = _get(a, "value"), _get(b, "value")
    if va is None or vb is None:
        return None
    (la, ha), (lb, hb) = _band(a, va), _band(b, vb)
    lead = va - vb
    pair = _paired(a, b)
    if pair is None:
        return lead - math.hypot(va - la, hb - vb), lead + math.hypot(ha - va, vb - lb)
    ra, rb = pair
    d = ra - rb
    d_lo, d_hi = np.percentile(d - d.mean(), [2.5, 97.5])
    (a_lo, a_hi), (b_lo, b_hi) = np.percentile(ra, [2.5, 97.5]), np.percentile(rb, [2.5, 97.5])
    extra_a = (max(0.0, min(a_lo, va) - la), max(0.0, ha - max(a_hi, va)))
    extra_b = (max(0.0, min(b_lo, vb) - lb), max(0.0, hb - max(b_hi, vb)))
    return (lead - math.hypot(max(-d_lo, 0.0), extra_a[0], extra_b[1]),
            lead + math.hypot(max(d_hi, 0.0), extra_a[1], extra_b[0]))


def _tie(a: Any, b: Any) -> bool:
    """The lead of one over the other is smaller than the overlap of their intervals.

    Two independent intervals of half-width ``w`` overlap by ``2w − lead``: the lead is smaller
    than the overlap exactly when it is smaller than ``w``, which is the half-width of their
    difference's interval divided by √2. Paired forecasts (scored on the same rows) apply that
    same threshold to the half-width of their difference's own interval, on the side towards
    zero — the same rule, with the noise both share cancelled — so pairing can only narrow a
    tie, never make the rule stricter than the unpaired one."""
    va, vb = _get(a, "value"), _get(b, "value")
    if va is None or vb is None:
        return False
    if _paired(a, b) is not None:
        lo, hi = _diff_band(a, b)  # type: ignore[misc]
        lead = va - vb
        towards_zero = (lead - lo) if lead >= 0 else (hi - lead)
        return abs(lead) <= towards_zero / math.sqrt(2)
    lead = abs(va - vb)
    (la, ha), (lb, hb) = _band(a, va), _band(b, vb)
    return lead <= min(ha, hb) - max(la, lb)


def _with_value(f: Any, value: float) -> Any:
    if hasattr(f, "model_copy"):
        return f.model_copy(update={"value": value})
    return {**f, "value": value}


def _plausible_upset(other: Any, winner: Any, goals: Any, weights: Mapping[str, float]) -> bool:
    """Whether ``other`` would outscore ``winner`` if its metric sat at the top of the interval of
    their difference (paired when the forecasts allow, see ``_diff_band``). This is what makes
    a call robust to the forecasts' uncertainty, not just to their point values."""
    band = _diff_band(other, winner)  # None when either has no value
    if band is None:
        return False
    return _score(_with_value(other, _get(winner, "value") + band[1]), goals, weights) > _score(winner, goals, weights)


def _unmeasured_could_win(f: Any, winner: Any, goals: Any, weights: Mapping[str, float], cost_matters: bool) -> bool:
    """Could an option this budget did not measure still beat the winner? Only if it would with a
    perfect score (its time, latency and cost as forecast; unknown ones count as free). When the
    winner's interval already reaches 100 %, even a perfect score is a tie, and a tie goes to the
    cheaper option: the winner holds if the other's forecast cost is known and not lower."""
    best_case = _with_value(f, 1.0)
    if _score(best_case, goals, weights) <= _score(winner, goals, weights):
        return False
    at_top = (_band(winner)[1] or 0.0) >= 1.0 - 1e-9
    known_cost = _get(f, "train_time_s") is not None
    return not (at_top and cost_matters and known_cost and _cost(f, goals) >= _cost(winner, goals))


def _rule_out(name: str, f: Any, m: Any, goals: Any, resources: Any) -> RuledOut | None:
    if _get(f, "value") is None:
        why = _get(f, "flag_reason") or "no completed training run within this budget"
        return RuledOut(approach=name, kind="unmeasured", reason=f"{LABELS.get(name, name)}: {why}")
    need = _get(f, "peak_memory_bytes")
    device = str(_get(m, "device", "cpu") or "cpu") if m is not None else "cpu"
    have = _available_memory(resources, device)
    if need and have and need > have:
        return RuledOut(approach=name, kind="memory",
                        reason=f"{LABELS.get(name, name)} needs ~{_gb(need)}, you have {_gb(have)}")
    t = _get(f, "train_time_s")
    if goals.deadline_minutes is not None and t is not None and t > goals.deadline_minutes * 60:
        return RuledOut(approach=name, kind="deadline",
                        reason=f"deadline {goals.deadline_minutes:g} min, {LABELS.get(name, name)} forecast {_dur(t)}")
    lat = _get(f, "infer_ms_per_text")
    if goals.latency_budget_ms is not None and lat is not None and lat > goals.latency_budget_ms:
        return RuledOut(approach=name, kind="latency",
                        reason=f"latency budget {goals.latency_budget_ms:g} ms, "
                               f"{LABELS.get(name, name)} takes {lat:.1f} ms per text (batch 1)")
    hi = _get(f, "high")
    if goals.min_accuracy is not None and hi is not None and hi < goals.min_accuracy:
        return RuledOut(approach=name, kind="min_accuracy",
                        reason=f"minimum {goals.metric} {_pct(goals.min_accuracy)}, {LABELS.get(name, name)} "
                               f"forecast {_pct(_get(f, 'value'))} (at most {_pct(hi)})")
    return None


def _interp(projection: list[tuple[float, float]], n: float) -> float | None:
    if not projection:
        return None
    ns = [p[0] for p in projection]
    if n < ns[0] or n > ns[-1]:
        return None
    return float(np.interp(math.log(n), np.log(ns), [p[1] for p in projection]))


def _label_flip(winner: Any, other: Any, n_target: int, *, want: str) -> tuple[int | None, bool]:
    """Smallest labelled size (on both projections) where ``other`` leads ``winner`` by ≥ FLIP_LEAD
    (want='more': sizes from FLIP_AWAY × n_target up; 'fewer': from n_target ÷ FLIP_AWAY down), and
    whether it lies past FLIP_REACH × the largest measured size (then it is no forecast, only a
    reason to measure there)."""
    pw, po = _get(winner, "projection") or [], _get(other, "projection") or []
    if not pw or not po:
        return None, False
    # A flat fallback is no curve: it cannot support a claim about where two curves cross.
    if any(str(_get(f, "method") or "").startswith(("flat", "none")) for f in (winner, other)):
        return None, False
    lo = max(pw[0][0], po[0][0])
    hi = min(pw[-1][0], po[-1][0])
    if hi <= lo:
        return None, False
    measured = [m for m in (_get(winner, "n_max_measured"), _get(other, "n_max_measured")) if m]
    reach = FLIP_REACH * max(measured) if measured else math.inf
    grid = np.unique(np.geomspace(lo, hi, 64))
    grid = (grid[grid >= FLIP_AWAY * n_target] if want == "more"
            else grid[grid <= n_target / FLIP_AWAY][::-1])
    for n in grid:
        a, b = _interp(po, n), _interp(pw, n)
        if a is not None and b is not None and a - b >= FLIP_LEAD:
            return math.ceil(n), bool(n > reach)
    return None, False


def _settle_line(budget: str | float | None, too_close: bool) -> str | None:
    if not too_close:
        return None
    order = list(BUDGETS)
    current = budget if isinstance(budget, str) else None
    if current is None and isinstance(budget, int | float):
        current = next((k for k in order if budget <= BUDGETS[k]), "thorough")
    nxt = None
    if current in order and order.index(current) + 1 < len(order):
        nxt = order[order.index(current) + 1]
    if current is None:
        nxt = "standard"
    if nxt is None:
        return ("too close even at the thorough budget: run both approaches in full "
                "(`tune-or-embed run`, then `tune-or-embed compare`) or label more data")
    return (f"too close at this budget; the `{nxt}` budget (~{_dur(BUDGETS[nxt])} on this machine's "
            f"profile) measures more sizes and seeds")


# --------------------------------------------------------------------- the call
def recommend(goals: Any, resources: Any, measurements: Mapping[str, Any], forecasts: Mapping[str, Any],
              *, budget: str | float | None = None) -> Recommendation:
    """The recommendation. Pure: same inputs, same output; no I/O."""
    weights = goals.weights.normalised()
    ruled: list[RuledOut] = []
    feasible: dict[str, Any] = {}
    for name, f in forecasts.items():
        r = _rule_out(name, f, measurements.get(name), goals, resources)
        if r is None:
            feasible[name] = f
        else:
            ruled.append(r)
    if not feasible:
        return Recommendation(
            choice=None, label="Nothing feasible", confidence="low", ruled_out=ruled,
            reasons=[Reason(text="every option was ruled out; see below", weight=1.0)],
            flips=[_relax_line(r) for r in ruled if _relax_line(r)],
        )

    scores = {n: _score(f, goals, weights) for n, f in feasible.items()}
    best = max(scores, key=lambda n: scores[n])
    cheaper = lambda n: _cost(feasible[n], goals)
    # Ties: a cheaper option whose metric ties with the best by the interval rule wins.
    # When nothing but the metric is weighted, cost cannot break a tie: the higher forecast
    # stays the choice, still reported as too close to call.
    winner = best
    tied = [n for n in feasible if n != best and cheaper(n) < cheaper(best) and _tie(feasible[n], feasible[best])]
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
        upset = [n for n in rest if n != winner and _plausible_upset(feasible[n], feasible[winner], goals, weights)]
        if upset:
            too_close, runner = True, upset[0]
    wf = feasible[winner]
    # Why it is too close: a tie on the metric (the overlap rule), or a lead that clears the tie
    # but whose 95 % interval still reaches where the runner-up would win ("upset").
    closeness = "tie" if tied else ("upset" if too_close else None)
    # An option this budget could not measure is not a loser: the call stands only if even a
    # perfect score from it could not win (see ``_unmeasured_could_win``).
    open_ = [r for r in ruled if r.kind == "unmeasured"
             and _unmeasured_could_win(forecasts[r.approach], wf, goals, weights, cost_matters)]
    if open_:
        too_close = True

    # Confidence
    flagged = bool(_get(wf, "flagged"))
    if too_close:
        confidence = "low"
    elif runner is None:
        confidence = "medium" if flagged or ruled else "high"
    else:
        rf = feasible[runner]
        if _paired(wf, rf) is not None:  # scored on the same rows: the interval of their difference
            d_lo, d_hi = _diff_band(wf, rf)  # type: ignore[misc]
            separated = d_lo > 0.0 or d_hi < 0.0
        else:
            (wl, wh), (rl_, rh) = _band(wf), _band(rf)
            separated = (wl or 0) > (rh or 1) or (rl_ or 0) > (wh or 1)
        if separated and not flagged and not _get(rf, "flagged"):
            confidence = "high"
        elif flagged and not separated:
            confidence = "low"
        else:
            confidence = "medium"

    reasons = _reasons(winner, runner, feasible, goals, weights, closeness)
    if open_:
        names = " and ".join(LABELS.get(r.approach, r.approach) for r in open_)
        reasons.insert(0, Reason(
            text=f"too close to call: {names} could not be measured at this budget, so {names} is not ruled out "
                 f"on its merits (even at 100 % it could still win), and {LABELS.get(winner, winner)} is only the "
                 "best of what was measured", weight=1.0, numbers={"unmeasured": len(open_)}))
    flips = _flips(winner, feasible, forecasts, ruled, goals, weights)
    top = max(scores.values())
    return Recommendation(
        choice=winner, label=LABELS.get(winner, winner), confidence=confidence, too_close=too_close,
        reasons=reasons, ruled_out=ruled, flips=flips, settle=_settle_line(budget, too_close),
        scores={n: round(s - top, 4) for n, s in scores.items()}, runner_up=runner,
    )


def _reasons(winner: str, runner: str | None, feasible: Mapping[str, Any], goals: Any,
             weights: Mapping[str, float], closeness: str | None) -> list[Reason]:
    wf = feasible[winner]
    metric = goals.metric
    out: list[Reason] = []
    n = _get(wf, "n_target")
    # Full runs judged by ``advisor.compare`` carry what they measured, not a forecast.
    said = "measured" if _get(wf, "method") == "measured" else "forecast"
    if runner is None:
        out.append(Reason(text=f"the only feasible option: {said} {metric} {_pct(_get(wf, 'value'))} "
                               f"[{_pct(_get(wf, 'low'))}–{_pct(_get(wf, 'high'))}] at {n:,} labels",
                          weight=1.0, numbers={"value": _get(wf, "value")}))
        return out
    rf = feasible[runner]
    wl, rl = LABELS.get(winner, winner), LABELS.get(runner, runner)
    dv = (_get(wf, "value") or 0) - (_get(rf, "value") or 0)
    acc_text = (f"{said} {metric} at {n:,} labels: {wl} {_pct(_get(wf, 'value'))} "
                f"[{_pct(_get(wf, 'low'))}–{_pct(_get(wf, 'high'))}] vs {rl} {_pct(_get(rf, 'value'))} "
                f"[{_pct(_get(rf, 'low'))}–{_pct(_get(rf, 'high'))}]")
    if closeness == "tie":
        acc_text += (f": a {abs(dv) * 100:.1f}-point gap is inside the intervals' overlap, so it is a tie"
                     + (" and the cheaper option wins" if dv <= 0 else "; only accuracy is weighted, so the higher "
                        "forecast stays the choice"))
    elif closeness == "upset":
        band = _diff_band(wf, rf)
        span = f" ({100 * band[0]:+.1f} to {100 * band[1]:+.1f} points)" if band is not None else ""
        acc_text += (f": a {dv * 100:+.1f}-point lead, more than the intervals' overlap, so not a tie; but the 95 % "
                     f"interval of the difference{span} reaches where {rl} would win on your goals' score, so "
                     "the call is too close")
    out.append(Reason(text=acc_text, weight=weights["accuracy"],
                      numbers={"winner": _get(wf, "value"), "runner_up": _get(rf, "value"), "lead": dv}))
    tw, tr = _get(wf, "train_time_s"), _get(rf, "train_time_s")
    out.append(Reason(text=f"full training run: {wl} ~{_dur(tw)} vs {rl} ~{_dur(tr)}",
                      weight=weights["training_time"], numbers={"winner_s": tw, "runner_up_s": tr}))
    lw, lr = _get(wf, "infer_ms_per_text"), _get(rf, "infer_ms_per_text")
    if lw is not None or lr is not None:
        out.append(Reason(text=f"latency per text at batch 1: {wl} {lw or 0:.2f} ms vs {rl} {lr or 0:.2f} ms",
                          weight=weights["latency"], numbers={"winner_ms": lw, "runner_up_ms": lr}))
    unit = "" if goals.price_per_hour is not None else " machine-hours"
    cw, cr = _cost(wf, goals), _cost(rf, goals)
    out.append(Reason(text=f"training + a month of serving {goals.predictions_per_day:,}/day: "
                           f"{wl} {cw:.3g}{unit} vs {rl} {cr:.3g}{unit}",
                      weight=weights["cost"], numbers={"winner": cw, "runner_up": cr}))
    if _get(wf, "flagged"):
        out.append(Reason(text=f"caution: {wl}'s forecast is flagged ({_get(wf, 'flag_reason')})", weight=0.0))
    return sorted(out, key=lambda r: -r.weight)


def _relax_line(r: RuledOut) -> str | None:
    label = LABELS.get(r.approach, r.approach)
    if r.kind == "deadline":
        return f"{label}: with a deadline over the forecast time ({r.reason.split('forecast ')[-1]})"
    if r.kind == "memory":
        return f"{label}: on a machine with more memory (see --hardware what-ifs)"
    if r.kind == "latency":
        return f"{label}: with a looser latency budget or a GPU for serving"
    return None


def _flips(winner: str, feasible: Mapping[str, Any], forecasts: Mapping[str, Any], ruled: list[RuledOut],
           goals: Any, weights: Mapping[str, float]) -> list[str]:
    wf = feasible[winner]
    n_target = int(_get(wf, "n_target") or 0)
    lines: list[str] = []
    for name, f in feasible.items():
        if name == winner:
            continue
        label = LABELS.get(name, name)
        more, far = _label_flip(wf, f, n_target, want="more")
        if more is not None and not far:
            lines.append(f"if you label ≥ {more:,} examples, {label} is forecast to lead by ≥ {FLIP_LEAD * 100:.0f} "
                         f"points: re-run advise with --labelled-size {more} to check")
        elif more is not None:
            top = max(m for m in (_get(wf, "n_max_measured"), _get(f, "n_max_measured"), 1) if m)
            lines.append(f"{label} may lead with many more labels (its curve crosses past {FLIP_REACH * top:,.0f}, "
                         f"{FLIP_REACH:g}× the largest size measured): that is extrapolation, not a forecast; "
                         "measure both at more labels (a longer budget, or label more) before planning on it")
        fewer, far_fewer = _label_flip(wf, f, n_target, want="fewer")
        if fewer is not None and more is None and not far_fewer:
            lines.append(f"with ≤ {fewer:,} labels {label} is forecast to lead by ≥ {FLIP_LEAD * 100:.0f} points")
        # Weights: how much more one criterion must matter for this option to win.
        for crit in ("accuracy", "training_time", "latency", "cost"):
            for factor in (1.5, 2, 3, 5, 10):
                w = dict(weights)
                w[crit] *= factor
                total = sum(w.values())
                w = {k: v / total for k, v in w.items()}
                if _score(f, goals, w) > _score(wf, goals, w) and not _tie(f, wf):
                    lines.append(f"{label} would win if {crit.replace('_', ' ')} weighed {factor:g}× more "
                                 "(set the weights in a goals file: --goals)")
                    break
            else:
                continue
            break
    for r in ruled:
        line = _relax_line(r)
        if line:
            lines.append(line)
    return lines
