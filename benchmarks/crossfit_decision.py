"""Would a cross-fitted measurement make the calls the standard benchmark leaves too close?

An experiment, not the product: it asks whether the way up named in the README ("score every
training row by cross-fitting") separates the leads that `advise --budget standard` could not
on 2 cores, before that is built into the benchmark.

For each calibration task: split its training rows (the same split `calibration.py` uses) into
K stratified folds; run every approach in full on K−1 folds — `full_run` in a new process, the
code path `tune-or-embed run` takes, profile and recipe included — and score it on the fold left
out; so every training row gets one out-of-fold prediction from each approach, and each
approach is trained K times on (K−1)/K of the rows. Then apply the advisor's own decision rule
to those predictions with `advisor.decide.compare` (the paired bootstrap over all N rows, ties to the
cheaper option, the row's forecast full-run training times and the fold runs' measured latency),
and check the call against the full runs' best actual in the calibration JSON (the same test
split, which this never reads).

What it does not do: extrapolate from (K−1)/K·N labels to N (it judges the lead measured at
(K−1)/K·N), nor fit in a budget: the table gives what the measurement cost here.

    python benchmarks/crossfit_decision.py --workdir /tmp/toe-cal            # every standard task
    python benchmarks/crossfit_decision.py --tasks rt-1000 --folds 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration as cal  # noqa: E402  (puts the repository root on sys.path too)

ENGINES = ["tfidf", "embedding", "finetune"]  # the approaches the experiment cross-fitted

RESULTS = Path(__file__).resolve().parent / "results"


def fold_runs(
    task: cal.Task, engines: list[str], folds: int, profile: str, seed: int, workdir: Path, log
) -> dict[str, dict]:
    """Each engine's out-of-fold predictions over the task's training rows (fold order), its
    latency and the wall seconds of its K fold runs (artifacts reused when present)."""
    from advisor.data.labelled import write_examples
    from advisor.data.sampling import stratified_split
    from advisor.decide.compare import latencies
    from advisor.run.fullrun import RunSpec
    from engines.artifacts import read_heldout, read_manifest

    train, _test = cal.task_split(task, seed)
    parts, rest = [], train
    for k in range(folds - 1):  # stratified folds of (nearly) equal size
        rest, part = stratified_split(rest, test_size=len(rest) // (folds - k), seed=seed + k)
        parts.append(part)
    parts.append(rest)
    base = workdir / f"{task.name}-{profile}-seed{seed}" / f"crossfit-{folds}"
    out: dict[str, dict] = {
        e: {"y_true": [], "y_pred": [], "wall_s": 0.0, "ms_b1": [], "ms_batch": []} for e in engines
    }
    for k, held in enumerate(parts):
        fdir = base / f"fold{k}"
        fdir.mkdir(parents=True, exist_ok=True)
        fit = cal.Examples(
            texts=[t for j, p in enumerate(parts) if j != k for t in p.texts],
            labels=[y for j, p in enumerate(parts) if j != k for y in p.labels],
        )
        write_examples(fit, fdir / "train.csv")
        write_examples(held, fdir / "test.csv")
        for engine in engines:
            artifact = fdir / f"artifact-{engine}"
            wall = None
            if (artifact / "manifest.json").exists():
                log(f"[{task.name}] fold {k}: {engine} (reusing {artifact})")
            else:
                log(f"[{task.name}] fold {k}: {engine} on {len(fit):,} rows, scored on {len(held):,}")
                spec = RunSpec(
                    engine=engine,
                    profile=profile,
                    data=str(fdir / "train.csv"),
                    train_file=str(fdir / "train.csv"),
                    test_file=str(fdir / "test.csv"),
                    split_seed=seed,
                )
                wall = cal.full_run_fresh(spec, artifact)
            manifest = read_manifest(artifact)
            if wall is None:  # a reused run: its recorded phases, as calibration.py takes a reused full run
                wall = sum(manifest.timings.values())
            held_out = read_heldout(artifact)
            if held_out.y_true != list(held.labels):
                raise RuntimeError(f"{artifact}: its held-out rows are not fold {k}'s")
            ms_b1, ms_batch = latencies(manifest.speed)
            o = out[engine]
            o["y_true"] += held_out.y_true
            o["y_pred"] += held_out.y_pred
            o["wall_s"] += wall or 0.0
            o["ms_b1"].append(ms_b1)
            o["ms_batch"].append(ms_batch)
    return out


def judge(task: cal.Task, runs: dict[str, dict], row: dict, seed: int = 0) -> dict:
    """The advisor's rule on the out-of-fold predictions, against the row's best actual."""
    import numpy as np

    from advisor.decide.compare import RunResult, compare
    from advisor.machine.probe import probe

    def mean(xs: list) -> float | None:
        xs = [x for x in xs if x is not None]
        return float(np.mean(xs)) if xs else None

    results = [
        RunResult(
            name=e,
            engine=e,
            n_train=task.n_train,
            rows_digest=f"{task.name} training rows",
            y_true=r["y_true"],
            y_pred=r["y_pred"],
            # what advise forecasts for the full run (the decision's time and cost side)
            train_s=row["engines"][e].get("forecast_train_s"),
            ms_b1=mean(r["ms_b1"]),
            ms_batch=mean(r["ms_batch"]),
        )
        for e, r in runs.items()
    ]
    goals = cal.task_goals(task)[0]
    c = compare(results, goals, probe(), seed=seed)
    rec = c.recommendation
    best = row["decision_default"]["best"]
    return {
        "task": task.name,
        "rows": c.rows,
        "accuracy": {s.name: s.value for s in c.runs},
        "actual": {e: row["engines"][e]["actual"] for e in runs},
        "leads": [
            {"best": c.best, "other": ld.other, "lead": ld.lead, "low": ld.low, "high": ld.high} for ld in c.leads
        ],
        "choice": rec.choice,
        "too_close": rec.too_close,
        "confidence": rec.confidence,
        "best_actual": best,
        "agrees": rec.choice == best,
        "standard": {
            "choice": row["choice"],
            "too_close": row["too_close"],
            "agrees": row["decision_default"]["agrees"],
            "advise_s": row["advise_s"],
        },
        "fold_runs_s": {e: r["wall_s"] for e, r in runs.items()},
    }


def render(doc: dict) -> str:
    rows = doc["rows"]
    lines = [
        "# Cross-fitted decisions against the full runs",
        "",
        f"Folds: {doc['folds']} (each approach trained {doc['folds']}× on {doc['folds'] - 1}/{doc['folds']} of "
        "the training rows, every training row scored once). Machine: " + doc["machine"] + ".",
        f"Command: `{doc['command']}` (code `{doc['code']}`).",
        "",
        "| task | out-of-fold accuracy (TF-IDF / embeddings / fine-tuning) | full runs on the test split | "
        "lead of the best, paired 95 % | call | best actual | agrees | standard budget's call | fold runs (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def trio(d: dict) -> str:
        return " / ".join(f"{100 * d[e]:.1f}" if e in d else "–" for e in ENGINES)

    for r in rows:
        top = max(r["leads"], key=lambda ld: -ld["lead"]) if r["leads"] else None
        lead = (
            (
                f"{top['best']} − {top['other']} {100 * top['lead']:+.1f} [{100 * top['low']:+.1f}, "
                f"{100 * top['high']:+.1f}]"
            )
            if top
            else "–"
        )
        call = f"{r['choice']}{' (too close)' if r['too_close'] else ''}"
        std = r["standard"]
        std_call = f"{std['choice']}{' (too close)' if std['too_close'] else ''}, {'✓' if std['agrees'] else '✗'}"
        lines.append(
            f"| {r['task']} | {trio(r['accuracy'])} | {trio(r['actual'])} | {lead} | {call} | "
            f"{r['best_actual']} | {'✓' if r['agrees'] else '✗'} | {std_call} | "
            f"{sum(r['fold_runs_s'].values()):.0f} |"
        )
    n = len(rows)
    agree = sum(r["agrees"] for r in rows)
    calls = [r for r in rows if not r["too_close"]]
    std_agree = sum(bool(r["standard"]["agrees"]) for r in rows)
    lines += [
        "",
        f"Decisions = best actual: **{agree} / {n}** (the standard budget's on the same tasks: {std_agree} / {n}); "
        f"calls made (not too close): {len(calls)}, right: {sum(r['agrees'] for r in calls)}.",
        '"lead of the best" is the closest runner-up\'s: the smallest lead of the best out-of-fold '
        "approach over another.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", help="comma-separated (default: every task with a standard row)")
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--profile", default="cpu-small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--calibration",
        default=str(RESULTS / "calibration.json"),
        help="the calibration JSON whose standard rows hold the best actuals",
    )
    p.add_argument("--workdir", default="/tmp/toe-cal", help="where fold splits and artifacts go")
    p.add_argument("--out", default=str(RESULTS / "crossfit"), help="output path without extension")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds must be at least 2")
    doc_cal = json.loads(Path(args.calibration).read_text(encoding="utf-8"))
    rows = {r["task"]: r for r in doc_cal["rows"] if r["budget"] == "standard"}
    names = args.tasks.split(",") if args.tasks else [t for t in cal.TASKS if t in rows]
    unknown = [t for t in names if t not in rows]
    if unknown:
        p.error(f"no standard row for {', '.join(unknown)} in {args.calibration}")
    alone = [t for t in names if sum(e in rows[t]["engines"] for e in ENGINES) < 2]
    if alone:
        p.error(f"fewer than two approaches in the standard row of {', '.join(alone)}: nothing to compare")
    out_json, out_md = Path(args.out).with_suffix(".json"), Path(args.out).with_suffix(".md")
    doc = json.loads(out_json.read_text(encoding="utf-8")) if out_json.exists() else {}
    if doc.get("folds") != args.folds:
        doc = {"rows": []}
    doc.update(
        folds=args.folds,
        machine=cal.machine_line(),
        code=cal.code_version(),
        command="python benchmarks/crossfit_decision.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    )

    def log(msg: str) -> None:
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    for name in names:
        task = cal.TASKS[name]
        row = rows[name]
        engines = [e for e in ENGINES if e in row["engines"]]
        runs = fold_runs(task, engines, args.folds, args.profile, args.seed, Path(args.workdir), log)
        result = judge(task, runs, row, args.seed)
        log(
            f"[{name}] call {result['choice']}{' (too close)' if result['too_close'] else ''}, "
            f"best actual {result['best_actual']}: {'agrees' if result['agrees'] else 'MISS'}"
        )
        doc["rows"] = [r for r in doc["rows"] if r["task"] != name] + [result]
        order = {t: i for i, t in enumerate(cal.TASKS)}
        doc["rows"].sort(key=lambda r: order.get(r["task"], 0))
        out_json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        out_md.write_text(render(doc), encoding="utf-8")
    print(render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
