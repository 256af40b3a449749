"""Judging the calibration: each row's forecasts and calls against the full runs on the test split,
and the summary per budget (errors, interval widths, agreement, settle outlooks)."""

from __future__ import annotations

import numpy as np
from calibration_tasks import Task, task_goals


def _as_runs(actual: dict[str, dict], n_target: int = 0) -> list:
    """Full runs as ``advisor.decide.compare`` takes them: their predictions on the test rows (rows saved
    before runs kept them: which rows each got right, all that accuracy needs)."""
    from advisor.decide.compare import RunResult

    def truth(a: dict) -> tuple[list[str], list[str]]:
        if a.get("y_true") is not None:
            return a["y_true"], a["y_pred"]
        return ["y"] * len(a["correct"]), ["y" if c else "n" for c in a["correct"]]

    return [
        RunResult(
            name=engine,
            engine=engine,
            n_train=n_target,
            rows_digest="the task's test split",
            y_true=truth(a)[0],
            y_pred=truth(a)[1],
            train_s=a.get("train_s"),
            ms_b1=a.get("ms_b1"),
            ms_batch=a.get("ms_batch"),
        )
        for engine, a in actual.items()
    ]


def metric_agreement(choice: str | None, actual: dict[str, dict], metric: str) -> dict:
    """Whether ``choice`` is the full run best by ``metric``, or not significantly worse than it
    (paired bootstrap over the test rows, 95 %)."""
    from advisor.decide.compare import paired_lead as lead_of
    from advisor.decide.compare import replicates

    runs = _as_runs(actual)
    values, boots = replicates(runs, metric)
    best = max(values, key=lambda e: values[e])
    if choice is None or choice not in values:
        return {"best": best, "agrees": None}
    if choice == best:
        return {"best": best, "agrees": True, "exact": True}
    _, lo, _ = lead_of(boots[best], boots[choice], values[best], values[choice])
    return {"best": best, "agrees": lo <= 0.0, "exact": False}


def paired_lead(correct_a: list[bool], correct_b: list[bool], seed: int = 0) -> tuple[float, float, float]:
    """a's accuracy minus b's on the same test rows, with its 95 % interval (paired bootstrap
    over the rows)."""
    a = np.asarray(correct_a, dtype=float)
    b = np.asarray(correct_b, dtype=float)
    from advisor.common.bootstrap import interval, resamples

    idx = resamples(np.random.default_rng(seed), len(a), 2000)
    lo, hi = interval((a[idx] - b[idx]).mean(axis=1))
    return float(a.mean() - b.mean()), lo, hi


def _paired_not_worse(correct_choice: list[bool], correct_best: list[bool], seed: int = 0) -> bool:
    """True when the best actual is not significantly better than the choice (paired bootstrap, 95 %)."""
    return paired_lead(correct_best, correct_choice, seed)[1] <= 0.0


def _agreement(choice: str | None, actual: dict[str, dict], key: str) -> dict:
    """Whether ``choice`` is the best actual by ``key`` (or statistically tied with it)."""
    ranked = sorted(actual, key=lambda e: actual[e][key], reverse=True)
    best = ranked[0]
    if choice is None or choice not in actual:
        return {"best": best, "agrees": None}
    if choice == best:
        return {"best": best, "agrees": True, "exact": True}
    tied = _paired_not_worse(actual[choice]["correct"], actual[best]["correct"])
    return {"best": best, "agrees": tied, "exact": False}


def oracle(goals, actual: dict[str, dict], n_target: int):
    """What ``tune-or-embed compare`` makes of these full runs under ``goals``: the advisor's own
    decision rule applied to what they really gave (accuracy with its paired replicates over the
    test rows, training time, latency), i.e. the call a perfect forecaster would make, with its own
    confidence (``too_close`` when the full runs cannot separate the first two)."""
    from advisor.decide.compare import compare
    from advisor.machine.probe import probe

    return compare(_as_runs(actual, n_target), goals.model_copy(update={"metric": "accuracy"}), probe()).recommendation


def oracle_choice(goals, actual: dict[str, dict], n_target: int) -> str | None:
    """The best actual under ``goals`` (``oracle``'s choice). (Rows judged before ``compare`` existed
    compared the runs' intervals side by side; on the seven tasks whose full runs were still at hand
    both picked the same run.)"""
    return oracle(goals, actual, n_target).choice


def _default_decision(
    choice: str | None, too_close: bool, actual: dict[str, dict], n_target: int, forecasts: dict | None = None
) -> dict:
    """The best actual under the default goals and whether ``choice`` is it. A ``choice`` that is
    not the best but that the full runs themselves cannot tell from it (``compare`` on them calls
    the two too close: the best won a tie as the cheaper) is marked ``tie``. On a miss, how far
    apart the two were: the actual lead of the best over the choice on the test rows, and the
    lead the forecasts gave with the paired band the decision used (``forecasts``: the row's)."""
    from advisor.decide.goals import Goals
    from advisor.decide.scoring import diff_band, get_field

    truth = oracle(Goals(labelled_size=n_target), actual, n_target)
    best = truth.choice
    out = {"best": best, "agrees": None if choice is None else choice == best, "too_close": too_close}
    if choice is None or best is None or choice == best or choice not in actual:
        return out
    if truth.too_close and truth.runner_up == choice:
        out["tie"] = True
    out["actual_lead"] = list(paired_lead(actual[best]["correct"], actual[choice]["correct"]))
    fb, fc = (forecasts or {}).get(best), (forecasts or {}).get(choice)
    band = diff_band(fb, fc) if fb is not None and fc is not None else None
    if band is not None:
        out["forecast_lead"] = [get_field(fb, "value") - get_field(fc, "value"), *band]
    return out


def checks(forecasts: dict, actual: dict[str, dict], engines: list[str], advise_s: float) -> dict:
    """A row's per-approach checks (forecast against the full run: error, inside, time ratio)
    and the cost of the advice against the transformer full runs."""
    per_engine = {}
    for engine in engines:
        f = forecasts.get(engine)
        a = actual[engine]
        entry = {"actual": a["accuracy"], "actual_train_s": a["train_s"]}
        if f is not None and f.value is not None:
            entry.update(
                forecast=f.value,
                low=f.low,
                high=f.high,
                method=f.method,
                flagged=f.flagged,
                error_points=100 * (f.value - a["accuracy"]),
                inside=(f.low is not None and f.high is not None and f.low <= a["accuracy"] <= f.high),
                forecast_train_s=f.train_time_s,
                time_ratio=(f.train_time_s / a["train_s"]) if f.train_time_s and a["train_s"] else None,
            )
        per_engine[engine] = entry
    full_s = sum(actual[e]["wall_s"] or 0.0 for e in engines if e in ("embedding", "finetune", "lora"))
    return {
        "transformer_full_runs_s": full_s or None,
        "advise_over_full_runs": (advise_s / full_s) if full_s else None,
        "engines": per_engine,
    }


def decisions(rec, rec_acc, actual: dict[str, dict], task: Task, forecasts: dict) -> dict:
    """A row's decision fields: the calls under the default and the accuracy-only goals and whether
    they match the full runs."""
    return {
        "choice": rec.choice,
        "too_close": rec.too_close,
        "confidence": rec.confidence,
        "settle": rec.settle,
        "settle_likely": rec.settle_likely,
        "decision_default": _default_decision(rec.choice, rec.too_close, actual, task.n_train, forecasts),
        "choice_accuracy_only": rec_acc.choice,
        "decision_accuracy_only": metric_agreement(rec_acc.choice, actual, "accuracy")
        | {"too_close": rec_acc.too_close},
    }


def macro_f1_decision(saved: dict, task: Task, profile: str, resources, actual: dict[str, dict]) -> dict:
    """The macro-F1-only goal file's call, forecast and decided from the saved benchmark (as advise
    with that goal file would: the same measurements, forecasts in macro-F1), against the full runs'
    macro-F1 on the test split."""
    from advisor.advise import forecast_and_decide
    from advisor.machine.profiles import engine_config, load_profile
    from advisor.measure import BenchResult

    bench = BenchResult.model_validate(saved["bench"])
    prof = load_profile(profile, resources=resources)
    configs = {e: engine_config(prof, e) for e in saved["engines"]}
    _, _, macro = task_goals(task)
    _, rec = forecast_and_decide(
        bench,
        macro,
        resources,
        configs=configs,
        n_target=saved["n_target"],
        eval_rows=saved["eval_rows"],
        budget=(saved["budget"], saved["budget_s"]),
        settings=prof.bench,
    )
    if not all(a.get("y_true") is not None for a in actual.values()):
        return {"choice_macro_f1": rec.choice}
    return {
        "choice_macro_f1": rec.choice,
        "decision_macro_f1": metric_agreement(rec.choice, actual, "macro_f1") | {"too_close": rec.too_close},
    }


def judged(rec, goals, resources, forecasts: dict, row: dict):
    """``rec`` with its settle line judged as advise judges it (``advisor.decide.settle.outlook``). Rows
    that did not record the benchmark's held-out rows use the rows its plan gives for their
    budget and sample (advise may have scored on fewer, when the embedding speed capped them)."""
    from advisor.advise import budget_seconds
    from advisor.decide.settle import next_budget, outlook
    from advisor.machine.profiles import load_profile
    from advisor.measure import planned_test_rows

    settings = load_profile(row["profile"]).bench
    _, budget_s = budget_seconds(row["budget"], settings.budgets_s)
    rows_now = row.get("bench_test_rows") or planned_test_rows(settings, budget_s, row["n_train"], 2)
    nxt = next_budget(
        settings,
        budget_s,
        rows_now=rows_now,
        sample_n=row["n_train"],
        n_classes=2,
        crossfit_rows=row.get("crossfit_rows"),
    )
    return outlook(rec, goals, resources, {}, forecasts, nxt, n_target=row["n_train"])


# ------------------------------------------------------------------ summarising
PAIRS = [("finetune", "tfidf"), ("embedding", "tfidf"), ("finetune", "embedding"), ("lora", "tfidf")]


def _z(actual: float, value: float, low: float, high: float) -> float | None:
    """The error in units of the interval's half-width on the actual's side, scaled so that a
    95 % interval of the right width gives errors of RMS 1 (Gaussian: half-width = 1.96 σ)."""
    half = (high - value) if actual > value else (value - low)
    return (actual - value) / (half / 1.96) if half > 0 else None


def interval_sizes(r: dict) -> tuple[list[float], list[tuple[float, bool]]]:
    """One row's standardised errors: of each forecast against its interval, and of each pair's
    forecast difference against the paired 95 % band that ``recommend`` decides with."""
    from advisor.decide.scoring import diff_band

    fcs, eng = r.get("forecasts") or {}, r["engines"]
    single = []
    for name, e in eng.items():
        f = fcs.get(name) or {}
        if e.get("actual") is None or f.get("value") is None or f.get("low") is None:
            continue
        z = _z(e["actual"], f["value"], f["low"], f["high"])
        if z is not None:
            single.append(z)
    diffs = []
    for a, b in PAIRS:
        fa, fb = fcs.get(a) or {}, fcs.get(b) or {}
        if fa.get("value") is None or fb.get("value") is None or a not in eng or b not in eng:
            continue
        band = diff_band(fa, fb)
        actual = eng[a].get("actual"), eng[b].get("actual")
        if band is None or None in actual:
            continue
        d = actual[0] - actual[1]
        z = _z(d, fa["value"] - fb["value"], band[0], band[1])
        if z is not None:
            diffs.append((z, band[0] <= d <= band[1]))
    return single, diffs


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per budget: forecast error, interval coverage, time ratio, decision agreement."""
    out: dict[str, dict] = {}
    for budget in sorted({r["budget"] for r in rows}):
        rs = [r for r in rows if r["budget"] == budget]
        errs = [e["error_points"] for r in rs for e in r["engines"].values() if "error_points" in e]
        inside = [e["inside"] for r in rs for e in r["engines"].values() if "inside" in e]
        ratios = [e["time_ratio"] for r in rs for e in r["engines"].values() if e.get("time_ratio")]
        calls = [r for r in rs if not r["decision_default"].get("too_close")]
        agree_calls = [r["decision_default"]["agrees"] for r in calls if r["decision_default"]["agrees"] is not None]
        agree_all = [r["decision_default"]["agrees"] for r in rs if r["decision_default"]["agrees"] is not None]
        agree_acc = [
            r["decision_accuracy_only"]["agrees"] for r in rs if r["decision_accuracy_only"]["agrees"] is not None
        ]
        agree_f1 = [
            r["decision_macro_f1"]["agrees"] for r in rs if (r.get("decision_macro_f1") or {}).get("agrees") is not None
        ]
        confident = [r for r in calls if r.get("confidence") in ("high", "medium")]
        judged_rows = outlook_checks(rows, budget)
        sizes = [interval_sizes(r) for r in rs]
        zs = [z for single, _ in sizes for z in single]
        dz = [d for _, diffs in sizes for d in diffs]
        out[budget] = {
            "rms_z": float(np.sqrt(np.mean(np.square(zs)))) if zs else None,
            "differences": len(dz),
            "difference_coverage": float(np.mean([ok for _, ok in dz])) if dz else None,
            "difference_rms_z": float(np.sqrt(np.mean(np.square([z for z, _ in dz])))) if dz else None,
            "tasks": len(rs),
            "forecasts": len(errs),
            "mean_abs_error_points": float(np.mean(np.abs(errs))) if errs else None,
            "max_abs_error_points": float(np.max(np.abs(errs))) if errs else None,
            "coverage": float(np.mean(inside)) if inside else None,
            "time_within_25pct": float(np.mean([0.75 <= x <= 1.25 for x in ratios])) if ratios else None,
            "median_time_ratio": float(np.median(ratios)) if ratios else None,
            "decision_agreement_all": float(np.mean(agree_all)) if agree_all else None,
            "calls_made": len(calls),
            "decision_agreement_calls": float(np.mean(agree_calls)) if agree_calls else None,
            "decision_agreement_accuracy_only": float(np.mean(agree_acc)) if agree_acc else None,
            "decision_agreement_macro_f1": float(np.mean(agree_f1)) if agree_f1 else None,
            "confident_calls": len(confident),
            "confident_calls_right": sum(bool(r["decision_default"]["agrees"]) for r in confident),
            "confident_calls_tied": sum(bool(r["decision_default"].get("tie")) for r in confident),
            "within_1pt_of_best": _within_one_point(rs),
            "mean_advise_s": float(np.mean([r["advise_s"] for r in rs])),
            "outlooks": len(judged_rows),
            "outlooks_likely": sum(bool(o["likely"]) for o in judged_rows),
            "outlooks_checked": sum(o["right"] is not None for o in judged_rows),
            "outlooks_right": sum(bool(o["right"]) for o in judged_rows),
        }
    return out


def _within_one_point(rows: list[dict]) -> float | None:
    """Share of rows whose default-goal choice's full run is within 1 point of the best full run's
    accuracy (the issue's headline target), over rows with a choice."""
    ok = []
    for r in rows:
        eng = r["engines"]
        if r.get("choice") in eng:
            best = max(e["actual"] for e in eng.values())
            ok.append(best - eng[r["choice"]]["actual"] <= 0.01 + 1e-12)
    return float(np.mean(ok)) if ok else None


def _next_name(budget: str) -> str | None:
    """The named budget after ``budget`` (a name, or seconds as a string), as advise's outlook picks it."""
    from advisor.advise import budget_seconds
    from advisor.decide.settle import next_named
    from engines.errors import ConfigError

    try:
        _, seconds = budget_seconds(budget)
    except ConfigError:
        return None
    nxt = next_named(None, seconds)
    return nxt[0] if nxt else None


def outlook_checks(rows: list[dict], budget: str) -> list[dict]:
    """The too-close default-goal calls at ``budget`` whose settle line was judged, each against
    the same task's row at the next budget when there is one: did that budget settle the call
    (make one that is not too close), as the outlook said it would or would not?"""
    nxt = _next_name(budget)
    later = {r["task"]: r for r in rows if r["budget"] == nxt}
    out = []
    for r in rows:
        if r["budget"] != budget or not r.get("too_close") or r.get("settle_likely") is None:
            continue
        n = later.get(r["task"])
        settled = None if n is None else not n["too_close"]
        out.append(
            {
                "task": r["task"],
                "budget": budget,
                "choice": r["choice"],
                "likely": r["settle_likely"],
                "next": nxt,
                "settled": settled,
                "right": None if settled is None else settled == r["settle_likely"],
            }
        )
    return out
