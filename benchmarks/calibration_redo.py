"""Re-judging a sitting: its rows' checks and decisions redone from the saved forecasts
(``--reanalyse``) or forecast again from the saved benchmarks (``--reforecast``)."""

from __future__ import annotations

import json
from pathlib import Path

from calibration_judge import _default_decision, checks, decisions, judged, macro_f1_decision
from calibration_runs import actual_results, code_version
from calibration_tasks import TASKS, task_goals

from advisor.forecast.crossfit import rows_used as crossfit_rows_used


def recorded_times(row: dict, actual: dict[str, dict]) -> dict[str, dict]:
    """``actual`` with each run's training seconds as the row recorded them. The same full run,
    re-run later, gives the same predictions but not the same time: the machine's speed drifts
    between sessions (on the 2-core VM, fine-tuning at 6k labels fitted in 205 s one day and 131 s
    another), so a time checked against a benchmark must come from the same sitting."""
    out = dict(actual)
    for engine, entry in row.get("engines", {}).items():
        if engine in out and entry.get("actual_train_s") is not None:
            out[engine] = {**out[engine], "train_s": entry["actual_train_s"]}
    return out


def update_checks(row: dict, forecasts: dict, actual: dict[str, dict], *, recorded: bool) -> None:
    """Redo ``row``'s checks against ``actual``; with ``recorded`` (``actual`` then carries the
    row's ``recorded_times``) its full runs' wall seconds and advise's share of them stay too."""
    kept = {k: row[k] for k in ("transformer_full_runs_s", "advise_over_full_runs") if k in row} if recorded else {}
    row.update(checks(forecasts, actual, list(row["engines"]), row["advise_s"]), **kept)


def reanalyse(doc: dict, workdir: Path, log, *, retime: bool = False) -> None:
    """Recompute each row's checks and decisions from its saved forecasts (with the current
    decision rule) against the full runs in ``workdir`` (or the results the JSON saved), running
    any full run that is missing there. Forecasts are not recomputed. The training times the rows
    recorded are kept (``recorded_times``) unless ``retime``: then the full runs' own times count
    (delete an artifact to re-time it)."""
    from advisor.decide.recommend import recommend
    from advisor.forecast.accuracy import Forecast
    from advisor.machine.probe import probe

    resources = probe()
    for r in doc["rows"]:
        task = TASKS[r["task"]]
        actual, _ = actual_results(
            task, list(r["engines"]), r["profile"], doc.get("seed", 0), workdir, log, doc.setdefault("full_runs", {})
        )
        if not retime:
            actual = recorded_times(r, actual)
        if r.get("forecasts"):
            fcs = {e: Forecast.model_validate(f) for e, f in r["forecasts"].items()}
            update_checks(r, fcs, actual, recorded=not retime)
            goals, acc_only, _ = task_goals(task)
            rec = judged(recommend(goals, resources, {}, fcs, budget=r["budget"]), goals, resources, fcs, r)
            r.update(decisions(rec, recommend(acc_only, resources, {}, fcs), actual, task, fcs))
        else:  # a row from before forecasts were kept: only the check is redone
            r["decision_default"] = _default_decision(r["choice"], r["too_close"], actual, task.n_train)


def dump_forecasts(forecasts: dict) -> dict:
    """A row's forecasts as saved (what --reanalyse decides from): without the plotting curves
    and the what-if hardware."""
    return {e: f.model_dump(mode="json", exclude={"curve", "measured", "hardware"}) for e, f in forecasts.items()}


def save_bench(advice, engines: list[str], path: Path) -> Path:
    """What the benchmark measured and what its forecasts were made for, so that ``--reforecast``
    can forecast and decide again from it with later code (atomic JSON; kept in the workdir, not
    committed: it holds every point's predictions on the benchmark's held-out rows)."""
    from engines.atomic import write_json

    eval_rows = max((f.eval_rows or 0 for f in advice.forecasts.values()), default=0) or None
    bench = advice.bench.model_dump(mode="json")
    # The predictions the bootstrap resamples are left out of advise's own JSON; the forecasts need them.
    bench["test_labels"] = advice.bench.test_labels
    for name, m in advice.bench.measurements.items():
        for saved, point in zip(bench["measurements"][name]["points"], m.points, strict=True):
            saved["y_pred"] = point.y_pred
    bench["crossfit_labels"] = advice.bench.crossfit_labels
    for name, fit in advice.bench.crossfits.items():
        bench["crossfits"][name]["y_pred"] = fit.y_pred
    write_json(
        path,
        {
            "bench": bench,
            "n_target": advice.n_target,
            "eval_rows": eval_rows,
            "budget": advice.budget,
            "budget_s": advice.budget_s,
            "engines": engines,
        },
    )
    return path


def keep_bench(bench_file: Path, store: Path) -> str:
    """A gzip copy of a row's saved benchmark in ``store`` (beside the results, committed with them),
    so that ``--reforecast`` works in a later session without the workdir; its path from the results."""
    import gzip

    from engines.atomic import write_bytes

    store.mkdir(parents=True, exist_ok=True)
    kept = store / f"{bench_file.parent.name}-{bench_file.stem}.json.gz"
    write_bytes(kept, gzip.compress(bench_file.read_bytes(), mtime=0))
    return f"{store.name}/{kept.name}"


def saved_bench(row: dict, workdir: Path, results: Path) -> tuple[Path | None, dict | None]:
    """The row's saved benchmark: the workdir's copy, else the gzip copy kept beside the results
    (``keep_bench``); (None, None) without either. Raises on a damaged one."""
    import gzip

    path = workdir / row["bench_file"] if row.get("bench_file") else None
    if path is not None and path.exists():
        return path, json.loads(path.read_text(encoding="utf-8"))
    kept = results / row["bench_kept"] if row.get("bench_kept") else None
    if kept is not None and kept.exists():
        return kept, json.loads(gzip.decompress(kept.read_bytes()))
    return None, None


def reforecast(doc: dict, workdir: Path, log, results: Path | None = None) -> int:
    """Forecast and decide again, with the current code, from each row's saved benchmark in
    ``workdir`` or kept in ``results`` (``saved_bench``; ``advise``'s own ``forecast_and_decide``), then
    redo its checks against the full runs. The row keeps the commit its benchmark ran at and records
    the one its forecasts now come from. Rows without a saved benchmark are left as they are; returns
    how many were redone."""
    from advisor.advise import forecast_and_decide
    from advisor.decide.recommend import recommend
    from advisor.machine.probe import probe
    from advisor.machine.profiles import engine_config, load_profile
    from advisor.measure import BenchResult

    resources = probe()
    commit = code_version()
    redone = 0
    for r in doc["rows"]:
        try:
            path, saved = saved_bench(r, workdir, results or workdir)
            if path is None or saved is None:
                log(f"[{r['task']}] {r['budget']}: no saved benchmark in {workdir}; row left as it is")
                continue
            bench = BenchResult.model_validate(saved["bench"])
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:  # damaged or an older layout
            log(
                f"[{r['task']}] {r['budget']}: saved benchmark {r.get('bench_file')} unreadable "
                f"({type(exc).__name__}); row left as it is"
            )
            continue
        task = TASKS[r["task"]]
        profile = load_profile(r["profile"], resources=resources)
        configs = {e: engine_config(profile, e) for e in saved["engines"]}
        goals, acc_only, _ = task_goals(task)
        fcs, rec = forecast_and_decide(
            bench,
            goals,
            resources,
            configs=configs,
            n_target=saved["n_target"],
            eval_rows=saved["eval_rows"],
            budget=(saved["budget"], saved["budget_s"]),
            settings=profile.bench,
        )
        actual, _ = actual_results(
            task, list(r["engines"]), r["profile"], doc.get("seed", 0), workdir, log, doc.setdefault("full_runs", {})
        )
        actual = recorded_times(r, actual)  # the benchmark and these times are from one sitting
        update_checks(r, fcs, actual, recorded=True)
        r.update(decisions(rec, recommend(acc_only, resources, bench.measurements, fcs), actual, task, fcs))
        r.update(macro_f1_decision(saved, task, r["profile"], resources, actual))
        r.update(forecasts=dump_forecasts(fcs), forecast_commit=commit, crossfit_rows=crossfit_rows_used(bench, fcs))
        redone += 1
    return redone
