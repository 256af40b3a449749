"""The explanation of a call: reasons in order of weight with their numbers, what ruled options
out, and for each runner-up the smallest change that would make it win ("what would change it")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from advisor.common.capabilities import label
from advisor.common.output import human_seconds, interval
from advisor.common.tasks import TASKS
from advisor.decide.goals import BUDGETS
from advisor.decide.scoring import cost, diff_band, get_field, score, tie
from engines.base import Record

FLIP_LEAD = 0.02  # "with ≥ N labels X is forecast to lead by ≥ 2 points"
# A flip in the labels is said only where it means something: at least this factor away from the
# target (a flip at 993 labels of 1,000 is noise), and within FLIP_REACH × the largest size either
# approach was measured at (past it the crossing is two extrapolated curve shapes meeting).
FLIP_AWAY = 1.5
FLIP_REACH = 2.0


class Reason(Record):
    """One line of why: a criterion, the share of the decision it carries, its numbers."""

    text: str
    weight: float = Field(0.0, description="Share of the decision this criterion carries (goals' weights).")
    numbers: dict[str, float | int | str | None] = Field(default_factory=dict)


class RuledOut(Record):
    """An option taken out before scoring, and why."""

    approach: str
    kind: Literal["memory", "deadline", "latency", "min_accuracy", "unmeasured"]
    reason: str


def interpolate(projection: list[tuple[float, float]], n: float) -> float | None:
    """The projection's value at ``n`` (linear in log n); None outside it."""
    if not projection:
        return None
    ns = [p[0] for p in projection]
    if n < ns[0] or n > ns[-1]:
        return None
    return float(np.interp(math.log(n), np.log(ns), [p[1] for p in projection]))


def label_flip(winner: Any, other: Any, n_target: int, *, want: str) -> tuple[int | None, bool]:
    """Smallest labelled size (on both projections) where ``other`` leads ``winner`` by ≥ FLIP_LEAD
    (want='more': sizes from FLIP_AWAY × n_target up; 'fewer': from n_target ÷ FLIP_AWAY down), and
    whether it lies past FLIP_REACH × the largest measured size (then it is no forecast, only a
    reason to measure there)."""
    pw, po = get_field(winner, "projection") or [], get_field(other, "projection") or []
    if not pw or not po:
        return None, False
    # A flat fallback is no curve: it cannot support a claim about where two curves cross.
    if any(str(get_field(f, "method") or "").startswith(("flat", "none")) for f in (winner, other)):
        return None, False
    lo = max(pw[0][0], po[0][0])
    hi = min(pw[-1][0], po[-1][0])
    if hi <= lo:
        return None, False
    measured = [m for m in (get_field(winner, "n_max_measured"), get_field(other, "n_max_measured")) if m]
    reach = FLIP_REACH * max(measured) if measured else math.inf
    grid = np.unique(np.geomspace(lo, hi, 64))
    grid = grid[grid >= FLIP_AWAY * n_target] if want == "more" else grid[grid <= n_target / FLIP_AWAY][::-1]
    for n in grid:
        a, b = interpolate(po, n), interpolate(pw, n)
        if a is not None and b is not None and a - b >= FLIP_LEAD:
            return math.ceil(n), bool(n > reach)
    return None, False


def settle_line(budget: str | float | None, too_close: bool) -> str | None:
    """For a too-close call: the next budget up that measures more (``advisor.decide.settle`` judges whether
    it would settle the call)."""
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
        return (
            "too close even at the thorough budget: run both approaches in full "
            "(`tune-or-embed run`, then `tune-or-embed compare`) or label more data"
        )
    return (
        f"too close at this budget; the `{nxt}` budget (~{human_seconds(BUDGETS[nxt], coarse=True)} on this "
        "machine's profile) measures more sizes and seeds"
    )


def shown(f: Any) -> str:
    """A forecast's metric with its interval, as the reasons print it."""
    return interval(get_field(f, "value"), get_field(f, "low"), get_field(f, "high"))


def reasons(
    winner: str,
    runner: str | None,
    feasible: Mapping[str, Any],
    goals: Any,
    weights: Mapping[str, float],
    closeness: str | None,
) -> list[Reason]:
    """Why ``winner``: one reason per criterion against the runner-up, heaviest first."""
    wf = feasible[winner]
    metric = goals.metric
    out: list[Reason] = []
    n = get_field(wf, "n_target")
    # Full runs judged by ``advisor.decide.compare`` carry what they measured, not a forecast.
    said = "measured" if get_field(wf, "method") == "measured" else "forecast"
    if runner is None:
        out.append(
            Reason(
                text=f"the only feasible option: {said} {metric} {shown(wf)} at {n:,} {units(goals)[0]}",
                weight=1.0,
                numbers={"value": get_field(wf, "value")},
            )
        )
        return out
    rf = feasible[runner]
    wl, rl = label(winner), label(runner)
    dv = (get_field(wf, "value") or 0) - (get_field(rf, "value") or 0)
    acc_text = f"{said} {metric} at {n:,} {units(goals)[0]}: {wl} {shown(wf)} vs {rl} {shown(rf)}"
    if closeness == "tie":
        acc_text += f": a {abs(dv) * 100:.1f}-point gap is inside the intervals' overlap, so it is a tie" + (
            " and the cheaper option wins"
            if dv <= 0
            else "; only accuracy is weighted, so the higher forecast stays the choice"
        )
    elif closeness == "upset":
        band = diff_band(wf, rf)
        span = f" ({100 * band[0]:+.1f} to {100 * band[1]:+.1f} points)" if band is not None else ""
        acc_text += (
            f": a {dv * 100:+.1f}-point lead, more than the intervals' overlap, so not a tie; but the 95 % "
            f"interval of the difference{span} reaches where {rl} would win on your goals' score, so "
            "the call is too close"
        )
    out.append(
        Reason(
            text=acc_text,
            weight=weights["accuracy"],
            numbers={"winner": get_field(wf, "value"), "runner_up": get_field(rf, "value"), "lead": dv},
        )
    )
    tw, tr = get_field(wf, "train_time_s"), get_field(rf, "train_time_s")
    out.append(
        Reason(
            text=f"full training run: {wl} ~{human_seconds(tw, coarse=True)} vs {rl} ~{human_seconds(tr, coarse=True)}",
            weight=weights["training_time"],
            numbers={"winner_s": tw, "runner_up_s": tr},
        )
    )
    lw, lr = get_field(wf, "infer_ms_per_text"), get_field(rf, "infer_ms_per_text")
    if lw is not None or lr is not None:
        out.append(
            Reason(
                text=f"latency per {units(goals)[1]}: {wl} {lw or 0:.2f} ms vs {rl} {lr or 0:.2f} ms",
                weight=weights["latency"],
                numbers={"winner_ms": lw, "runner_up_ms": lr},
            )
        )
    unit = "" if goals.price_per_hour is not None else " machine-hours"
    cw, cr = cost(wf, goals), cost(rf, goals)
    out.append(
        Reason(
            text=f"training + a month of serving {goals.predictions_per_day:,}/day: "
            f"{wl} {cw:.3g}{unit} vs {rl} {cr:.3g}{unit}",
            weight=weights["cost"],
            numbers={"winner": cw, "runner_up": cr},
        )
    )
    if get_field(wf, "flagged"):
        out.append(Reason(text=f"caution: {wl}'s forecast is flagged ({get_field(wf, 'flag_reason')})", weight=0.0))
    return sorted(out, key=lambda r: -r.weight)


def relax_line(r: RuledOut) -> str | None:
    """What would bring a ruled-out option back (None when nothing the user can change would)."""
    shown = label(r.approach)
    if r.kind == "deadline":
        return f"{shown}: with a deadline over the forecast time ({r.reason.split('forecast ')[-1]})"
    if r.kind == "memory":
        return f"{shown}: on a machine with more memory (see --hardware what-ifs)"
    if r.kind == "latency":
        return f"{shown}: with a looser latency budget or a GPU for serving"
    return None


def units(goals: Any) -> tuple[str, str]:
    """What the forecast's size counts and what one prediction is, in the goals' task."""
    task = TASKS.get(getattr(goals, "task", "classification"), TASKS["classification"])
    return task.sizes, task.prediction


def flips(
    winner: str,
    feasible: Mapping[str, Any],
    forecasts: Mapping[str, Any],
    ruled: list[RuledOut],
    goals: Any,
    weights: Mapping[str, float],
) -> list[str]:
    """What would change the call: more or fewer labels, other weights, or relaxed limits."""
    wf = feasible[winner]
    n_target = int(get_field(wf, "n_target") or 0)
    lines: list[str] = []
    for name, f in feasible.items():
        if name == winner:
            continue
        shown = label(name)
        more, far = label_flip(wf, f, n_target, want="more")
        if more is not None and not far:
            lines.append(
                f"if you label ≥ {more:,} examples, {shown} is forecast to lead by ≥ {FLIP_LEAD * 100:.0f} "
                f"points: re-run advise with --labelled-size {more} to check"
            )
        elif more is not None:
            top = max(m for m in (get_field(wf, "n_max_measured"), get_field(f, "n_max_measured"), 1) if m)
            lines.append(
                f"{shown} may lead with many more labels (its curve crosses past {FLIP_REACH * top:,.0f}, "
                f"{FLIP_REACH:g}× the largest size measured): that is extrapolation, not a forecast; "
                "measure both at more labels (a longer budget, or label more) before planning on it"
            )
        fewer, far_fewer = label_flip(wf, f, n_target, want="fewer")
        if fewer is not None and more is None and not far_fewer:
            lines.append(
                f"with ≤ {fewer:,} {units(goals)[0]} {shown} is forecast to lead by ≥ {FLIP_LEAD * 100:.0f} points"
            )
        # Weights: how much more one criterion must matter for this option to win.
        for crit in ("accuracy", "training_time", "latency", "cost"):
            for factor in (1.5, 2, 3, 5, 10):
                w = dict(weights)
                w[crit] *= factor
                total = sum(w.values())
                w = {k: v / total for k, v in w.items()}
                if score(f, goals, w) > score(wf, goals, w) and not tie(f, wf):
                    lines.append(
                        f"{shown} would win if {crit.replace('_', ' ')} weighed {factor:g}× more "
                        "(set the weights in a goals file: --goals)"
                    )
                    break
            else:
                continue
            break
    for r in ruled:
        line = relax_line(r)
        if line:
            lines.append(line)
    return lines
