"""Would a longer budget settle a too-close call?

A call is too close when the 95 % band of the difference between two options still allows
the other to win. A longer budget narrows that band in one way that can be forecast: its
benchmark scores every point on more held-out rows (the profile's ``test_sizes``, at most
40 % of the sample), and the bootstrap spread over those rows, which dominates the paired
band, shrinks as 1/√rows. What the forecasts add beyond their bootstrap (extrapolation to the
labelled size, the choice of curve) is kept as it is: a longer budget may also measure
larger sizes, but whether it can is not known before it runs, so the outlook does not count
on it.

The outlook re-runs the same decision rule on the forecasts narrowed that way, at the same
point values ("if the forecasts hold"): a call it still finds too close is one the next
budget is unlikely to settle, and the line says why and what would settle it instead. When an
option could not be measured at all at this budget, the next one would try it too: that
outlook is not judged.
``benchmarks/calibration.py`` checks these outlooks against the next budget's real runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from advisor.common.bootstrap import interval
from advisor.common.capabilities import label
from advisor.common.output import human_seconds
from advisor.decide.goals import BUDGETS
from advisor.decide.recommend import Recommendation, recommend
from advisor.decide.scoring import get_field
from advisor.measure import TEST_SHARE, planned_test_rows, wanted_test_rows
from engines.base import Record


class NextBudget(Record):
    """The next named budget up from the one that ran, and what its benchmark would score on."""

    name: str = Field(description="The next named budget (e.g. 'thorough' after 'standard').")
    seconds: float = Field(description="Its wall-seconds budget in the profile.")
    rows_now: int = Field(description="Held-out rows the benchmark that ran scored every point on.")
    rows_next: int = Field(description="Held-out rows the next budget's benchmark plans to score on (never fewer).")
    data_bound: bool = Field(
        False,
        description="The next budget wants more held-out rows than the sample can spare "
        "(40 % of it): its rows are capped by the data, not the profile.",
    )
    crossfit_rows: int | None = Field(
        None,
        description="The forecasts came from a cross-fit that scored every one of these sample rows out of "
        "fold: a longer budget scores the same rows.",
    )


def next_named(settings: Any, budget_s: float) -> tuple[str, float] | None:
    """(name, seconds) of the smallest named budget longer than ``budget_s``: the profile's
    ``budgets_s``, else the defaults; None when none is longer."""
    named = dict(getattr(settings, "budgets_s", None) or BUDGETS)
    longer = sorted((s, name) for name, s in named.items() if s > budget_s + 1e-9)
    return (longer[0][1], float(longer[0][0])) if longer else None


def next_budget(
    settings: Any, budget_s: float, *, rows_now: int, sample_n: int, n_classes: int, crossfit_rows: int | None = None
) -> NextBudget | None:
    """The next named budget (``next_named``) and the held-out rows its benchmark would score on;
    None when none is longer or nothing was scored. ``crossfit_rows``: the forecasts came from a
    cross-fit of that many rows, which the next budget would score again, no more."""
    nxt = next_named(settings, budget_s)
    if nxt is None or rows_now <= 0:
        return None
    name, seconds = nxt
    if crossfit_rows:
        return NextBudget(
            name=name,
            seconds=float(seconds),
            rows_now=crossfit_rows,
            rows_next=crossfit_rows,
            crossfit_rows=crossfit_rows,
        )
    rows_next = max(rows_now, planned_test_rows(settings, seconds, sample_n, n_classes))
    data_bound = wanted_test_rows(settings, seconds) > int(sample_n * TEST_SHARE)
    return NextBudget(name=name, seconds=float(seconds), rows_now=rows_now, rows_next=rows_next, data_bound=data_bound)


def narrowed(forecast: Any, shrink: float) -> Any:
    """``forecast`` with its bootstrap replicates pulled towards their mean by ``shrink`` (the
    spread over benchmark rows at √(rows now / rows then)), and its comparison band moved by as
    much as the replicates' 95 % range moved: the width beyond the bootstrap is kept."""
    boot = get_field(forecast, "boot") or []
    value = get_field(forecast, "value")
    if value is None or len(boot) < 2:
        return forecast
    b = np.asarray(boot, dtype=float)
    nb = b.mean() + (b - b.mean()) * shrink
    (lo, hi), (nlo, nhi) = interval(b), interval(nb)
    update: dict[str, Any] = {"boot": [float(x) for x in nb]}
    for low_key, high_key in (("curve_low", "curve_high"), ("low", "high")):
        low, high = get_field(forecast, low_key), get_field(forecast, high_key)
        if low is not None:
            update[low_key] = float(min(nlo, value) - max(0.0, min(lo, value) - low))
        if high is not None:
            update[high_key] = float(max(nhi, value) + max(0.0, high - max(hi, value)))
    if hasattr(forecast, "model_copy"):
        return forecast.model_copy(update=update)
    return {**forecast, **update}


def _settles(
    goals: Any, resources: Any, measurements: Mapping[str, Any], forecasts: Mapping[str, Any], shrink: float
) -> bool:
    narrow = {name: narrowed(f, shrink) for name, f in forecasts.items()}
    return not recommend(goals, resources, measurements, narrow).too_close


def _full_runs_s(rec: Recommendation, forecasts: Mapping[str, Any]) -> float | None:
    """Forecast training seconds of the call and its runner-up together (None if either is unknown)."""
    times = [get_field(forecasts.get(n), "train_time_s") for n in (rec.choice, rec.runner_up) if n]
    return float(sum(times)) if times and all(t is not None for t in times) else None


def outlook(
    rec: Recommendation,
    goals: Any,
    resources: Any,
    measurements: Mapping[str, Any],
    forecasts: Mapping[str, Any],
    nxt: NextBudget | None,
    *,
    n_target: int | None = None,
) -> Recommendation:
    """``rec`` with its settle line judged: whether the next budget (``nxt``) would likely settle a
    too-close call, and if not, why and what would. A call that is not too close is returned as is."""
    if not rec.too_close or rec.choice is None:
        return rec
    full_s = _full_runs_s(rec, forecasts)
    both = (
        "run both in full and compare (`tune-or-embed run` each on the same split, then `tune-or-embed compare`"
        f"{f'; ~{human_seconds(full_s, coarse=True)} for the two here' if full_s else ''})"
    )
    if nxt is None:
        return rec.model_copy(
            update={
                "settle": f"too close even at the largest budget: {both}, or label more data",
                "settle_likely": None,
            }
        )
    where = f"the `{nxt.name}` budget (~{human_seconds(nxt.seconds, coarse=True)} on this profile)"
    unmeasured = [label(r.approach) for r in rec.ruled_out if r.kind == "unmeasured"]
    if unmeasured:
        # A longer budget would also measure what this one could not: not judged from this run.
        names = " and ".join(unmeasured)
        return rec.model_copy(
            update={
                "settle": (
                    f"too close at this budget, which could not measure {names}; {where} would try {names} too, so "
                    f"whether it settles the call cannot be judged from this run; or {both}"
                ),
                "settle_likely": None,
            }
        )
    shrink = math.sqrt(nxt.rows_now / nxt.rows_next)
    likely = _settles(goals, resources, measurements, forecasts, shrink)
    if likely:
        line = (
            f"too close at this budget; {where} scores every point on {nxt.rows_next:,} held-out rows instead "
            f"of {nxt.rows_now:,} and would likely settle it, if the forecasts hold"
        )
        if full_s is not None and full_s < nxt.seconds:
            line += f"; running both in full (~{human_seconds(full_s, coarse=True)} here) costs less and measures the two directly"
    else:
        if nxt.crossfit_rows:
            why = (
                f"the forecasts already score every one of the {nxt.crossfit_rows:,} sample rows out of fold "
                "(a cross-fit), so more time buys only more seeds"
            )
        elif nxt.rows_next <= nxt.rows_now and nxt.data_bound:
            why = (
                f"the benchmark already scores on the most held-out rows this data allows ({nxt.rows_now:,}), "
                "so more time buys only more seeds"
            )
        elif nxt.rows_next <= nxt.rows_now:
            why = f"it scores on the same {nxt.rows_now:,} held-out rows, so more time buys only more seeds"
        elif not _settles(goals, resources, measurements, forecasts, 0.0):
            reach = f" to {n_target:,} labels" if n_target else ""
            why = (
                f"its {nxt.rows_next:,} held-out rows (now {nxt.rows_now:,}) narrow only the benchmark's noise, and "
                f"most of the uncertainty is in extrapolating the learning curves{reach}"
            )
        else:
            why = (
                f"even scored on {nxt.rows_next:,} held-out rows instead of {nxt.rows_now:,}, a lead this small "
                "would stay inside the noise"
            )
        line = f"too close, and {where} is unlikely to settle it: {why}; {both}, or label more data"
    return rec.model_copy(update={"settle": line, "settle_likely": likely})
