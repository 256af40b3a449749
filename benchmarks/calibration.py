"""How good are the recommendations? Forecasts against real full runs.

For each task (a real dataset at a fixed number of labels):
  1. split once: a training split of N labels and a held-out test split that nothing sees;
  2. run ``advise`` on the training split only (per budget; each in a new process, as a user's
     ``tune-or-embed advise``, not in this process after other benchmarks);
  3. run every approach in full on that same training split (``full_run``, each in a new process,
     as a user's ``tune-or-embed run``);
  4. score everything on the test split; compare forecast vs actual accuracy (points,
     inside the interval?), forecast vs actual training time (ratio), and whether the
     recommended choice is the best actual under the default goals and under an
     "accuracy only" goal.

Results are appended task by task to ``<out>.json`` (so an interrupted run resumes
where it stopped) and rendered to ``<out>.md``.

    python benchmarks/calibration.py --quick               # small subset, quick budget (< 15 min on 2 cores)
    python benchmarks/calibration.py                       # full suite (hours on 2 cores)
    python benchmarks/calibration.py --tasks rt-1000 --budgets quick,standard
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# The calibration's modules sit beside this script (benchmarks/ is not a package); calibration_tasks
# puts the repository root on sys.path. Every name they held here is imported back, so that
# `import calibration; calibration.X` works as before for the scripts and tests that use it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibration_judge import (  # noqa: E402, F401
    PAIRS,
    _agreement,
    _as_runs,
    _default_decision,
    _next_name,
    _paired_not_worse,
    _within_one_point,
    _z,
    checks,
    decisions,
    interval_sizes,
    judged,
    macro_f1_decision,
    metric_agreement,
    oracle_choice,
    outlook_checks,
    paired_lead,
    summarise,
)
from calibration_redo import (  # noqa: E402, F401
    dump_forecasts,
    keep_bench,
    reanalyse,
    recorded_times,
    reforecast,
    save_bench,
    update_checks,
)
from calibration_report import (  # noqa: E402, F401
    SUMMARY_HEADER,
    _code_line,
    _fmt,
    _misses,
    _outlooks,
    _summary_line,
    machine_line,
    publish,
    render_markdown,
)
from calibration_runs import (  # noqa: E402, F401
    FRESH_RUN,
    SAVED_ONLY,
    _codes,
    _full_run_spec,
    _latencies,
    _predictions_on,
    _run_fresh,
    actual_results,
    code_version,
    full_run_fresh,
    pack_run,
    unpack_run,
    write_split,
)
from calibration_tasks import (  # noqa: E402, F401
    DEMO,
    FIRST_DRAWS,
    FULL_RUN_ENGINES,
    FULL_TASKS,
    GOAL_FILES,
    NEW_DATA,
    QUICK_TASKS,
    ROOT,
    TASKS,
    Examples,
    Task,
    demo_budget,
    synthetic_examples,
    task_budgets,
    task_goals,
    task_split,
)

from advisor.forecast.crossfit import rows_used as crossfit_rows_used  # noqa: E402
from advisor.measure import BenchResult  # noqa: E402


def advise_child(args_json: str) -> None:
    """In the new process: ``advise`` as ``run_task`` asks, its Advice written as JSON and its
    benchmark saved (``save_bench``) for ``--reforecast``."""
    from advisor.advise import advise
    from advisor.decide.goals import Goals
    from advisor.machine.profiles import load_profile
    from engines.atomic import write_text

    a = json.loads(args_json)
    settings = load_profile(a["profile"])
    if a.get("cache_dir"):
        # `make demo`'s path: `probe --start-up --data` first, outside the budget, into a cache of this row's
        # own; advise then finds every start-up remembered there, as make demo's next process does.
        from advisor.commands.probe import start_ups, train_speed
        from advisor.machine import startup

        os.environ["TOE_CACHE_DIR"] = a["cache_dir"]
        start_ups(None, a["profile"], quiet=True)
        train_speed(a["profile"], a["data"])  # `probe --data`: this machine's training ÷ embedding speed
        startup.forget()
    else:
        # The start-ups are timed again, as on a user's first advise on a machine: nothing remembered
        # on disk (start_up_cache_days = 0); a new process remembers nothing in memory.
        bench = settings.bench.model_copy(update={"start_up_cache_days": 0.0})
        settings = settings.model_copy(update={"bench": bench})
    advice = advise(
        a["data"],
        Goals.model_validate(a["goals"]),
        profile=settings,
        budget=a["budget"],
        engines=a["engines"],
        seed=a["seed"],
        test_file=a["test_csv"],
    )
    save_bench(advice, list(advice.bench.measurements), Path(a["bench_file"]))
    write_text(Path(a["advice_file"]), advice.model_dump_json())


FRESH_ADVISE = "import sys; sys.path.insert(0, 'benchmarks'); import calibration; calibration.advise_child(sys.argv[1])"


def advise_fresh(
    data: str,
    test_csv: str | None,
    goals,
    *,
    profile: str,
    budget: str,
    engines: list[str] | None,
    seed: int,
    bench_file: Path,
    start_ups_ahead: bool = False,
):
    """``advise`` on the training split in a new Python process, as a user's ``tune-or-embed
    advise`` runs: this long-lived process has already run other benchmarks, and its torch state
    (kernels, caches, allocator) is not what a user's advise starts from. ``start_ups_ahead``: after
    ``probe --start-up`` in that process, as ``make demo`` runs it (its seconds count in the wall).
    Returns the Advice (read back from its JSON) and the wall seconds, process start included."""
    import shutil

    from advisor.advise import Advice

    advice_file = bench_file.with_name(f"advice-{budget}.json")
    cache_dir = bench_file.with_name(f"start-up-cache-{budget}")
    shutil.rmtree(cache_dir, ignore_errors=True)  # nothing remembered from an earlier row: a new machine
    args = {
        "data": data,
        "test_csv": test_csv,
        "goals": goals.model_dump(mode="json"),
        "profile": profile,
        "budget": budget,
        "engines": engines,
        "seed": seed,
        "bench_file": str(bench_file),
        "advice_file": str(advice_file),
        "cache_dir": str(cache_dir) if start_ups_ahead else None,
    }
    wall = _run_fresh(FRESH_ADVISE, [json.dumps(args)], f"advise --budget {budget}")
    return Advice.model_validate_json(advice_file.read_text(encoding="utf-8")), wall


def run_task(
    task: Task,
    budgets: list[str],
    engines: list[str] | None,
    profile: str,
    seed: int,
    workdir: Path,
    log,
    saved: dict | None = None,
    probe_ahead: bool = False,
    bench_store: Path | None = None,
) -> list[dict]:
    """Every approach in full on the task, then ``advise`` at each budget (``engines`` None: its
    default engines, as a user runs it), each row judged against the full runs. ``probe_ahead``: every
    advise after ``probe --start-up --data`` on its training data, as make demo's is (a machine that
    remembers its start-ups and training speed). ``bench_store``: where a gzip copy of each row's
    saved benchmark is kept beside the results (``keep_bench``), for ``--reforecast`` without the workdir."""
    from advisor.decide.recommend import recommend

    actual, train_csv = actual_results(task, engines or FULL_RUN_ENGINES, profile, seed, workdir, log, saved)
    if not task.demo and not train_csv.exists():
        # The saved full runs stood in (a new workdir): advise still reads the split's files.
        write_split(task, seed, train_csv.parent)
        (train_csv.parent / SAVED_ONLY).touch()  # the folder holds no full runs: the saved ones still stand in

    rows = []
    goals, acc_only, _ = task_goals(task)
    commit = code_version()
    for budget in budgets:
        log(f"[{task.name}] advise --budget {budget}")
        bench_file = train_csv.parent / f"bench-{budget}.json"
        load_before = os.getloadavg()[0]
        data, test_csv = (task.data, None) if task.demo else (str(train_csv), str(train_csv.with_name("test.csv")))
        # `make demo`'s own path: probe --start-up --data, then advise
        ahead = probe_ahead or (task.demo and budget == demo_budget())
        advice, advise_s = advise_fresh(
            data,
            test_csv,
            goals,
            profile=profile,
            budget=budget,
            engines=engines,
            seed=seed,
            bench_file=bench_file,
            start_ups_ahead=ahead,
        )
        rec_acc = recommend(acc_only, advice.resources, advice.bench.measurements, advice.forecasts)
        rec = advice.recommendation
        saved_bench = json.loads(bench_file.read_text(encoding="utf-8"))
        rows.append(
            {
                "task": task.name,
                "data": task.data,
                "n_train": task.n_train,
                "n_test": task.n_test,
                "budget": budget,
                "advise_s": advise_s,
                # 1-min load average before and after advise: a busy machine shows here.
                "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "finished": time.strftime("%Y-%m-%d %H:%M"),
                "profile": profile,
                "commit": commit,
                "advise_process": "new",
                "demo_path": task.demo,
                "start_ups_ahead": ahead,  # probe --start-up --data ran first (its seconds are in advise_s)
                "advise_engines": sorted(advice.bench.measurements),
                "left_out": dict(advice.bench.left_out),
                "bench_test_rows": advice.bench.test_size,
                # From the saved benchmark: the advice a new process hands back leaves the cross-fit's labels out.
                "crossfit_rows": crossfit_rows_used(BenchResult.model_validate(saved_bench["bench"]), advice.forecasts),
                "bench_file": str(bench_file.relative_to(workdir)),  # in --workdir: --reforecast reads it
                # … or this copy beside the results, in a later session without the workdir
                "bench_kept": keep_bench(bench_file, bench_store) if bench_store else None,
                **checks(advice.forecasts, actual, list(actual), advise_s),
                **decisions(rec, rec_acc, actual, task, advice.forecasts),
                **macro_f1_decision(saved_bench, task, profile, advice.resources, actual),
                # Kept so that --reanalyse can re-derive the decisions after a change to the decision rule.
                "forecasts": dump_forecasts(advice.forecasts),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"tasks {QUICK_TASKS} at the quick budget")
    p.add_argument("--tasks", help=f"comma-separated, from: {', '.join(TASKS)}")
    p.add_argument(
        "--budgets",
        help=f"comma-separated budgets (quick, standard, thorough or seconds; {DEMO}: make demo's own path and "
        f"budget, for its task only; default quick,standard,{DEMO})",
    )
    p.add_argument(
        "--engines",
        default="",
        help="comma-separated engines for advise and the full runs (default: advise's own default "
        f"engines, as a user runs it, and full runs of {', '.join(FULL_RUN_ENGINES)})",
    )
    p.add_argument("--profile", default="cpu-small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        default=str(ROOT / "benchmarks" / "results" / "calibration"),
        help="output path without extension (.json and .md are written)",
    )
    p.add_argument("--workdir", help="where splits and artifacts go (default: a temp folder)")
    p.add_argument("--fresh", action="store_true", help="ignore rows already in <out>.json")
    p.add_argument(
        "--redo",
        action="store_true",
        help="run the given tasks × budgets again, replacing their rows in <out>.json (others kept)",
    )
    p.add_argument(
        "--reanalyse",
        action="store_true",
        help="recompute the checks and decisions of the rows in <out>.json from their saved forecasts "
        "and the full runs in --workdir (running any that are missing)",
    )
    p.add_argument(
        "--retime",
        action="store_true",
        help="with --reanalyse: take the training times of the full runs in --workdir instead of the "
        "ones the rows recorded (which are kept by default: a re-run times on another day's machine)",
    )
    p.add_argument(
        "--reforecast",
        action="store_true",
        help="forecast and decide again with the current code from each row's benchmark saved in "
        "--workdir (rows run before benchmarks were saved are left as they are), then redo the checks",
    )
    p.add_argument(
        "--probe-ahead",
        action="store_true",
        help="run `probe --start-up --data` before every advise, as `make demo` does (a machine that remembers "
        "its start-ups and training speed), not only on make demo's own row",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="only recompute the summary and rewrite <out>.md from <out>.json (runs nothing)",
    )
    args = p.parse_args(argv)

    tasks = args.tasks.split(",") if args.tasks else (QUICK_TASKS if args.quick else FULL_TASKS)
    budgets = args.budgets.split(",") if args.budgets else (["quick"] if args.quick else ["quick", "standard", DEMO])
    engines = args.engines.split(",") if args.engines else None
    for t in tasks:
        if t not in TASKS:
            p.error(f"unknown task {t!r}; try one of: {', '.join(TASKS)}")

    out_json, out_md = Path(args.out + ".json"), Path(args.out + ".md")
    doc = {
        "machine": machine_line(),
        "profile": args.profile,
        "seed": args.seed,
        "engines": engines or f"advise's default; full runs: {', '.join(FULL_RUN_ENGINES)}",
        "command": "python benchmarks/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "rows": [],
    }
    if out_json.exists() and not args.fresh:
        old = json.loads(out_json.read_text())
        if old.get("profile") == args.profile:
            doc["rows"] = old.get("rows", [])
            doc["full_runs"] = old.get("full_runs", {})
            doc["commands"] = [*old.get("commands", [old["command"]] if "command" in old else []), doc["command"]]
            doc["started"] = old.get("started", doc["started"])
    if args.render:
        if not out_json.exists():
            p.error(f"--render needs {out_json}")
        print(publish(json.loads(out_json.read_text()), out_json, out_md))
        return 0
    done = set() if args.redo else {(r["task"], r["budget"]) for r in doc["rows"]}

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="toe-calibration-"))
    failed: list[str] = []
    if args.reanalyse:
        reanalyse(doc, workdir, log, retime=args.retime)
        tasks = []
    if args.reforecast:
        log(f"forecasts re-made for {reforecast(doc, workdir, log, out_json.parent)} of {len(doc['rows'])} rows")
        tasks = []
    for name in tasks:
        todo = [b for b in task_budgets(TASKS[name], budgets) if (name, b) not in done]
        if not todo:
            log(f"[{name}] already in {out_json}; skipping (use --fresh to redo)")
            continue
        try:
            rows = run_task(
                TASKS[name],
                todo,
                engines,
                args.profile,
                args.seed,
                workdir,
                log,
                doc.setdefault("full_runs", {}),
                probe_ahead=args.probe_ahead,
                bench_store=out_json.with_name(out_json.stem + "-benches"),
            )
        except Exception as exc:  # one broken task must not lose the others
            log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
            failed.append(name)
            continue
        doc["rows"] = [
            r for r in doc["rows"] if (r["task"], r["budget"]) not in {(x["task"], x["budget"]) for x in rows}
        ]
        doc["rows"].extend(rows)
        publish(doc, out_json, out_md)
        log(f"[{name}] written to {out_md}")
    if doc["rows"]:
        print(publish(doc, out_json, out_md))
    if failed:
        log(f"failed tasks: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
