"""The retrieval benchmark's forecasts: each approach's score at the user's pair count (measured for
untrained engines; cross-fitted, plus a gain to the full size, for trained ones) and its full-run
time, as the shared ``Forecast`` records the decision reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from advisor.common.bootstrap import interval, resample
from advisor.common.capabilities import flag
from advisor.forecast.accuracy import Forecast
from advisor.forecast.curves import PRIOR_GAIN_PER_DOUBLING, Observation, fit_learning_curve
from advisor.measure.rank_records import RankBench, RankMeasurement
from advisor.measure.ranking import planned_steps

MAX_COLLECTION_DOUBLINGS = 3.0  # the collection-size effect is extrapolated this far at most
N_BOOT = 200  # as many replicates as advisor.forecast.curves draws (its n_boot), so all approaches pair up


def _mean_fn(values: np.ndarray, idx: np.ndarray) -> float:
    return float(np.mean(values[idx]))


def scored_folds(bench: RankBench) -> tuple[int, ...]:
    """The folds every approach's forecast is scored on (the same queries for all, so they pair up):
    both when every measured trained approach was cross-fitted, else fold 0 alone."""
    if not bench.fold1_queries:
        return (0,)
    for m in bench.measurements.values():
        if m.points and flag(m.approach, "trains_backbone") and not any(p.fold == 1 for p in m.points):
            return (0,)
    return (0, 1)


def collection_shift(bench: RankBench, docs_target: int) -> float:
    """How many times the drop measured from the half collection to the benchmark's to subtract at
    ``docs_target`` documents: the doublings from the benchmark's collection to the full one (at most
    ``MAX_COLLECTION_DOUBLINGS``) per doubling measured; 0 when the benchmark searched them all."""
    b, h = bench.bench_docs, bench.half_docs
    if not h or h >= b or docs_target <= b:
        return 0.0
    return min(math.log2(docs_target / b), MAX_COLLECTION_DOUBLINGS) / math.log2(b / h)


def oof_values(m: RankMeasurement, folds: Sequence[int], shift: float = 0.0) -> tuple[int, np.ndarray]:
    """(training queries, per-query scores over ``folds`` in order) of the approach's largest fit: for a
    trained approach, each fold scored by the fit that did not see it. With ``shift`` (see
    ``collection_shift``), each query's score moves on by its own drop from the half collection to the
    benchmark's, that many times (log-linear in the collection size), within [0, 1]."""
    n = max(p.n_train for p in m.points)
    points = {p.fold: p for p in m.points if p.n_train == n}
    parts = []
    for k in folds:
        full = np.asarray(points[k].per_query, dtype=float)
        if shift and len(points[k].per_query_half) == len(full):
            full = np.clip(full - shift * (np.asarray(points[k].per_query_half) - full), 0.0, 1.0)
        parts.append(full)
    return n, np.concatenate(parts)


def _boot(values: np.ndarray, seed: int) -> list[float]:
    """Bootstrap means over the queries, drawn as ``advisor.forecast.curves`` draws its rows (so forecasts pair up)."""
    row_rng = np.random.default_rng([seed, 0])
    return [_mean_fn(values, resample(row_rng, len(values))) for _ in range(N_BOOT)]


def _flat(values: np.ndarray, seed: int) -> tuple[float, float, float, list[float]]:
    """An untrained engine's score does not depend on the pairs: the measured mean and its bootstrap."""
    boot = _boot(values, seed)
    lo, hi = interval(boot)
    value = float(values.mean())
    return value, min(lo, value), max(hi, value), boot


def _curve_gain(m: RankMeasurement, n_fold: int, n_target: int, bench: RankBench) -> tuple[Any, float, float] | None:
    """The fold-0 learning curve (when sizes below the folds' were measured): (its fit at ``n_target``,
    its gain from ``n_fold`` to ``n_target``, the largest gain any of its fits gives); None without one."""
    pts = [p for p in m.points if p.fold == 0]
    if len({p.n_train for p in pts}) < 2:
        return None
    obs = [Observation(p.n_train, 0, p.value, np.asarray(p.per_query)) for p in pts]

    def fit(n: int) -> Any:
        return fit_learning_curve(obs, n, metric_fn=_mean_fn, n_test=bench.test_queries, seed=bench.seed)

    far, near = fit(n_target), fit(n_fold)
    if far.method == "flat-fallback":
        return None
    gain = max(0.0, far.value - near.value)
    fits = [far.candidates[k] - near.candidates[k] for k in far.candidates if k != "flat" and k in near.candidates]
    return far, gain, max(gain, *fits) if fits else gain


def _trained(m: RankMeasurement, folds: Sequence[int], n_target: int, bench: RankBench, shift: float) -> dict[str, Any]:
    """A trained approach at ``n_target``: its out-of-fold score at the folds' training size, plus the
    gain from there to ``n_target`` — the fold-0 learning curve's when one was measured, else half the
    generic prior per doubling (``PRIOR_GAIN_PER_DOUBLING``). The interval's lower end allows no gain,
    its upper end the curve fits' largest gain (or the whole prior)."""
    n_fold, values = oof_values(m, folds, shift)
    oof_boot = np.asarray(_boot(values, bench.seed))
    oof = float(values.mean())
    doublings = max(0.0, math.log2(max(n_target, 1) / max(n_fold, 1)))
    curve = _curve_gain(m, n_fold, n_target, bench) if doublings > 0 else None
    if curve is not None:
        res, gain, gain_hi = curve
        how = f"the learning curve's gain ({res.method})"
    else:
        res, gain, gain_hi = None, 0.5 * PRIOR_GAIN_PER_DOUBLING * doublings, PRIOR_GAIN_PER_DOUBLING * doublings
        how = f"half the generic prior of {100 * PRIOR_GAIN_PER_DOUBLING:.0f} points per doubling (not measured)"
    folds_said = f"{len(folds)} folds of held-out queries, each scored by a fit on the others"
    method = "cross-fit" if len(folds) > 1 else "held-out"
    said = [f"measured on {len(values):,} queries ({folds_said if len(folds) > 1 else 'one fold'}) at {n_fold:,}"]
    if doublings > 0:
        method += " + curve gain" if curve is not None else " + prior gain"
        said.append(f"the gain to {n_target:,} (+{100 * gain:.1f} points): {how}")
    lo, hi = interval(oof_boot)
    value = min(1.0, oof + gain)
    return {
        "value": value,
        "low": max(0.0, min(lo, value)),
        "high": min(1.0, max(hi + gain_hi, value)),
        "method": method,
        "boot": [round(float(b), 5) for b in np.clip(oof_boot + gain, 0.0, 1.0)],
        "extrapolation_factor": n_target / max(n_fold, 1),
        "n_max_measured": n_fold,
        "measured": [(p.n_train, p.value, 0.0) for p in sorted(m.points, key=lambda p: p.n_train) if p.fold == 0],
        "curve": res.curve if res is not None else [],
        "projection": res.projection if res is not None else [],
        "assumptions": ["; ".join(said)],
    }


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
    folds, shift = scored_folds(bench), collection_shift(bench, docs_target)
    for name, m in bench.measurements.items():
        assumptions: list[str] = []
        if bench.bench_docs < docs_target:
            assumptions.append(_collection_note(bench, docs_target, shift, m, folds))
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
        if flag(name, "trains_backbone"):
            quality = _trained(m, folds, n_target, bench, shift)
            assumptions += quality.pop("assumptions")
        else:
            value, lo, hi, boot = _flat(oof_values(m, folds, shift)[1], bench.seed)
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
            infer_ms_per_text=_query_ms(m),
            assumptions=[*assumptions, *_time_assumptions(m, n_target, docs_target)],
            **quality,
        )
        if eval_queries:
            out[name] = widen_for_eval(out[name], oof_values(m, folds, shift)[1].tolist(), eval_queries)
    return out


def _collection_note(bench: RankBench, docs_target: int, shift: float, m: RankMeasurement, folds: Sequence[int]) -> str:
    said = f"scored on a collection of {bench.bench_docs:,} of the {docs_target:,} documents"
    if not shift or not m.points:
        return said + ": every approach finds more in a smaller collection, so the full run's scores will be lower"
    drop = float(np.mean(oof_values(m, folds)[1]) - np.mean(oof_values(m, folds, shift)[1]))
    capped = math.log2(docs_target / bench.bench_docs) > MAX_COLLECTION_DOUBLINGS
    return (
        f"{said}: its drop from a half collection ({bench.half_docs:,}) is extrapolated to the "
        f"{'first ' + str(2 ** int(MAX_COLLECTION_DOUBLINGS)) + '× of the ' if capped else ''}full one, "
        f"−{100 * drop:.1f} points"
    )


def _index_s(m: RankMeasurement, docs: int) -> float | None:
    """Embedding (or tokenizing) the whole collection at the measured rate, plus building its search
    structure where that size gets one (``m.search``)."""
    build = m.search.build_s if m.search is not None else 0.0
    return docs / m.docs_per_s + build if m.docs_per_s else None


def _query_ms(m: RankMeasurement) -> float | None:
    """One query over the full collection: as the engine forecast it (``m.search``), else as the
    benchmark measured it on its own collection."""
    return m.search.query_ms if m.search is not None else m.query_ms_p50


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
    if m.search is not None:
        build = f", after a {m.search.build_s:.0f}s build" if m.search.build_s >= 0.5 else ""
        said.append(
            f"answers a query over the {m.search.docs:,} documents in ~{m.search.query_ms:.1f} ms, "
            f"{m.search.search_ms:.1f} of them searching{build} ({m.search.how}; measured over the "
            "benchmark's collection: " + ("–" if m.query_ms_p50 is None else f"{m.query_ms_p50:.1f} ms") + ")"
        )
    if flag(m.approach, "trains_backbone") and m.points:
        last = max(m.points, key=lambda p: p.n_train)
        said.append(
            f"trains at the measured {last.fit_s / max(1, last.steps):.2f}s per step ({last.steps} steps on "
            f"{last.n_train:,} queries), for the recipe's steps at {n_target:,}"
        )
    return said
