"""The forecast of an alternative trainer measured at one point beside its partner's (LoRA beside full
fine-tuning, on the same rows and seed): the partner's forecast plus the lead measured there, with
the spread of that lead at full size that ``benchmarks/lora_probe.py`` measured."""

from __future__ import annotations

import math

import numpy as np

from advisor.forecast.accuracy import Forecast
from advisor.measure import ApproachMeasurement

# How far the full runs' LoRA − full fine-tuning lead fell from the lead of one paired point at 600
# rows (RMS, in points of accuracy), over the calibration tasks: benchmarks/results/lora_probe.md.
LEAD_SD = 0.025


def paired_lead(alt: ApproachMeasurement, partner: ApproachMeasurement, metric: str) -> tuple[float, int] | None:
    """The alternative's mean lead over its partner at the (size, seed) points both measured, and
    the largest such size (None when they share no usable point)."""
    mine = {(p.n_train, p.seed): getattr(p, metric) for p in alt.points if p.usable}
    theirs = {(p.n_train, p.seed): getattr(p, metric) for p in partner.points if p.usable}
    shared = [k for k in mine if k in theirs and mine[k] is not None and theirs[k] is not None]
    if not shared:
        return None
    return float(np.mean([mine[k] - theirs[k] for k in shared])), max(n for n, _ in shared)


def paired_forecast(
    f: Forecast, partner: Forecast, alt: ApproachMeasurement, partner_m: ApproachMeasurement, metric: str, seed: int
) -> Forecast:
    """``f`` (the alternative's time, memory and latency forecast) with its quality taken from
    ``partner``'s forecast shifted by the lead measured beside it; unchanged when there is none."""
    found = paired_lead(alt, partner_m, metric)
    if found is None or partner.value is None or partner.low is None or partner.high is None:
        return f
    lead, n = found
    half = 1.96 * LEAD_SD
    v = min(1.0, max(0.0, partner.value + lead))
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, LEAD_SD, len(partner.boot))
    said = (
        f"forecast as full fine-tuning's plus the {100 * lead:+.1f}-point lead measured beside its n={n:,} point "
        f"(same rows and seed); that lead is taken to hold at {f.n_target:,} labels, ±{100 * half:.1f} points"
    )
    return f.model_copy(
        update={
            "value": v,
            "low": max(0.0, v - math.hypot(partner.value - partner.low, half)),
            "high": min(1.0, v + math.hypot(partner.high - partner.value, half)),
            "method": "full fine-tune + paired lead",
            "flagged": False,
            "flag_reason": "",
            "extrapolation_factor": f.n_target / n,
            "n_max_measured": n,
            "holdout_error": None,
            "curve": [(x, min(1.0, max(0.0, y + lead))) for x, y in partner.curve],
            "projection": [(x, min(1.0, max(0.0, y + lead))) for x, y in partner.projection],
            "boot": [min(1.0, max(0.0, b + lead + e)) for b, e in zip(partner.boot, noise, strict=True)],
            "candidates": {k: c + lead for k, c in partner.candidates.items()},
            "assumptions": [said, *f.assumptions],
        }
    )
