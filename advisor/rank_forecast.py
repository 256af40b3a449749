"""The retrieval benchmark's forecasts: each approach's score at the user's pair count (measured
for untrained engines, a learning curve for trained ones) and its full-run time, as the shared
``Forecast`` records the decision reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from advisor.bootstrap import interval, resample
from advisor.capabilities import flag
from advisor.curves import Observation, fit_learning_curve
from advisor.forecast import Forecast
from advisor.ranking import RankBench, RankMeasurement, RankPoint, planned_steps

N_BOOT = 200  # as many replicates as advisor.curves draws (its n_boot), so all approaches pair up


def _mean_fn(values: np.ndarray, idx: np.ndarray) -> float:
    return float(np.mean(values[idx]))


def _flat(points: list[RankPoint], seed: int) -> tuple[float, float, float, list[float]]:
    """An untrained engine's score does not depend on the pairs: the measured mean, and its bootstrap
    over held-out queries drawn as ``advisor.curves`` draws them (so forecasts pair up)."""
    values = np.asarray(points[-1].per_query)
    row_rng = np.random.default_rng([seed, 0])
    boot = [_mean_fn(values, resample(row_rng, len(values))) for _ in range(N_BOOT)]
    lo, hi = interval(boot)
    value = float(values.mean())
    return value, min(lo, value), max(hi, value), boot


def widen_for_eval(f: Forecast, per_query: Sequence[float], eval_queries: int) -> Forecast:
    """The full run reports its score on ``eval_queries`` held-out queries, with its own sampling noise
    (±1.96·sd/√queries, sd of the per-query values measured here): added in quadrature to each side, so
    the interval is for the number the user will see. Comparisons keep the approach's own interval
    (``curve_low``/``curve_high``): approaches scored on the same queries share that noise."""
    if f.value is None or f.low is None or f.high is None or eval_queries < 1 or len(per_query) < 2:
        return f
    half = 1.96 * float(np.std(per_query, ddof=1)) / math.sqrt(eval_queries)
    v = f.value
    return f.model_copy(
        update={
            "low": max(0.0, v - math.hypot(v - f.low, half)),
            "high": min(1.0, v + math.hypot(f.high - v, half)),
            "curve_low": f.low,
            "curve_high": f.high,
            "eval_rows": eval_queries,
        }
    )


def forecast(
    bench: RankBench,
    n_target: int,
    *,
    docs_target: int,
    metric: str,
    configs: dict[str, Any] | None = None,
    eval_queries: int | None = None,
) -> dict[str, Forecast]:
    """Each measured approach at ``n_target`` training queries over ``docs_target`` documents; with
    ``eval_queries``, the intervals also cover the full run's own test-set noise."""
    out: dict[str, Forecast] = {}
    shrink = bench.bench_docs < docs_target
    for name, m in bench.measurements.items():
        assumptions: list[str] = []
        if shrink:
            assumptions.append(
                f"scored on a collection of {bench.bench_docs:,} of the {docs_target:,} documents: every approach "
                "finds more in a smaller collection, so the full run's scores will be lower for all of them"
            )
        if not m.points:
            out[name] = Forecast(
                approach=name,
                n_target=n_target,
                metric=metric,
                value=None,
                method="none",
                flagged=True,
                flag_reason="not measured: " + ("; ".join(m.notes) or "no point within this budget"),
            )
            continue
        trains = flag(name, "trains_backbone")
        if trains:
            obs = [Observation(p.n_train, 0, p.value, np.asarray(p.per_query)) for p in m.points]
            res = fit_learning_curve(obs, n_target, metric_fn=_mean_fn, n_test=bench.test_queries, seed=bench.seed)
            quality = {
                "value": res.value,
                "low": res.low,
                "high": res.high,
                "method": res.method,
                "flagged": res.flagged,
                "flag_reason": res.flag_reason,
                "extrapolation_factor": res.extrapolation_factor,
                "n_max_measured": res.n_max,
                "curve": res.curve,
                "measured": res.measured,
                "projection": res.projection,
                "boot": res.boot,
            }
        else:
            value, lo, hi, boot = _flat(m.points, bench.seed)
            quality = {
                "value": value,
                "low": lo,
                "high": hi,
                "method": "measured (learns nothing from pairs)",
                "boot": boot,
            }
            assumptions.append("no training: its score does not depend on the number of pairs")
        train_s = _train_time(m, (configs or {}).get(name), n_target, docs_target)
        out[name] = Forecast(
            approach=name,
            n_target=n_target,
            metric=metric,
            train_time_s=train_s,
            peak_memory_bytes=m.peak_rss_bytes,
            infer_ms_per_text=m.query_ms_p50,
            assumptions=[*assumptions, *_time_assumptions(m, n_target, docs_target)],
            **quality,
        )
        if eval_queries:
            largest = max(m.points, key=lambda p: p.n_train)
            out[name] = widen_for_eval(out[name], largest.per_query, eval_queries)
    return out


def _index_s(m: RankMeasurement, docs: int) -> float | None:
    return docs / m.docs_per_s if m.docs_per_s else None


def _train_time(m: RankMeasurement, config: Any, n_target: int, docs_target: int) -> float | None:
    """Full-run seconds: training (the largest point's seconds per step times the recipe's steps at
    ``n_target``) plus indexing the whole collection at the measured rate."""
    index = _index_s(m, docs_target)
    last = max(m.points, key=lambda p: p.n_train)
    fit = last.fit_s
    if flag(m.approach, "trains_backbone") and last.steps:
        fit = last.fit_s / last.steps * planned_steps(config, n_target)
    return None if index is None else fit + index


def _time_assumptions(m: RankMeasurement, n_target: int, docs_target: int) -> list[str]:
    said = []
    if m.docs_per_s:
        said.append(f"indexes the {docs_target:,} documents at the measured {m.docs_per_s:,.0f} documents/s")
    if flag(m.approach, "trains_backbone") and m.points:
        last = max(m.points, key=lambda p: p.n_train)
        said.append(
            f"trains at the measured {last.fit_s / max(1, last.steps):.2f}s per step ({last.steps} steps on "
            f"{last.n_train:,} queries), for the recipe's steps at {n_target:,}"
        )
    return said
