"""The peer beside the calibration: SetFit trained on each calibration task's training rows, against
the full run of the approach the standard-budget advice chose, both scored on the task's test split.

Each side runs in a new Python process, one after the other, in one sitting (same machine state).
Run from the repository root: ``python benchmarks/setfit_peer.py`` (needs ``make setup-peer``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import calibration as cal  # noqa: E402

from engines.base import Examples  # noqa: E402

ROOT = cal.ROOT
# One task per dataset and size, first draws; short texts first, so a cut-off sitting has most rows.
DEFAULT_TASKS = ["rt-1000", "tweets-1000", "icd10-1000", "debates-700", "food-1000", "bbc-1000"]
# SetFit 1.2's TrainingArguments defaults except ``max_steps``: its default sampling draws every
# pair of training rows (~500,000 pairs, ~31,000 steps at 1,000 rows: many hours on 2 cores).
SETFIT_STEPS = 500


def setfit_child(args_json: str) -> None:
    """Train and score SetFit in this (new) process; write the result as JSON."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from advisor.data.labelled import load_dataset
    from engines.models import resolve_model

    a = json.loads(args_json)
    train, test = (load_dataset(a[k], validate=False).examples for k in ("train", "test"))
    resolved = resolve_model(a["model"])
    model = SetFitModel.from_pretrained(str(resolved.st_root or resolved.path))
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            max_steps=a["steps"], seed=a["seed"], report_to="none", output_dir=a["out_dir"], save_strategy="no"
        ),
        train_dataset=Dataset.from_dict({"text": list(train.texts), "label": list(train.labels)}),
    )
    t_fit = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t_fit
    y_pred = [str(y) for y in model.predict(list(test.texts), batch_size=64)]
    out = {"y_true": list(test.labels), "y_pred": y_pred, "train_s": train_s}
    Path(a["result"]).write_text(json.dumps(out))


def run_setfit(tdir: Path, steps: int, seed: int) -> dict:
    """SetFit on the task's files in a new process; its results with wall seconds (start included)."""
    result = tdir / "setfit.json"
    args = {
        "train": str(tdir / "train.csv"),
        "test": str(tdir / "test.csv"),
        "model": "all-MiniLM-L6-v2",
        "steps": steps,
        "seed": seed,
        "out_dir": str(tdir / "setfit-checkpoints"),
        "result": str(result),
    }
    code = "import sys; sys.path.insert(0, 'benchmarks'); import setfit_peer; setfit_peer.setfit_child(sys.argv[1])"
    wall = cal._run_fresh(code, [json.dumps(args)], "SetFit")
    out = json.loads(result.read_text())
    return {**scores(out["y_true"], out["y_pred"]), "train_s": out["train_s"], "wall_s": wall}


def scores(y_true: list[str], y_pred: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "correct": [p == y for p, y in zip(y_pred, y_true, strict=True)],
        "y_true": y_true,
        "y_pred": y_pred,
    }


def run_choice(task: cal.Task, engine: str, profile: str, seed: int, tdir: Path, test: Examples) -> dict:
    """The advice's choice, run in full as calibration.py runs it (new process), scored on the test split."""
    from engines.artifacts import read_manifest

    artifact = tdir / f"artifact-{engine}"
    wall = cal.full_run_fresh(cal._full_run_spec(task, engine, profile, seed, tdir), artifact)
    y_true, y_pred = cal._predictions_on(artifact, test)
    return {**scores(y_true, y_pred), "train_s": read_manifest(artifact).fit.wall_s, "wall_s": wall}


def calibration_row(doc: dict, task: str) -> tuple[dict, dict]:
    """The standard-budget row of ``task`` and its saved full runs (unpacked)."""
    row = next(r for r in doc["rows"] if r["task"] == task and r["budget"] == "standard")
    key = f"{task}/{row['profile']}/seed{doc['seed']}"
    return row, {e: cal.unpack_run(s) for e, s in doc["full_runs"][key].items()}


def one_task(name: str, doc: dict, workdir: Path, steps: int, log) -> dict:
    from advisor.data.labelled import write_examples

    task = cal.TASKS[name]
    row, saved = calibration_row(doc, name)
    choice, seed, profile = row["choice"], doc["seed"], row["profile"]
    tdir = workdir / name
    tdir.mkdir(parents=True, exist_ok=True)
    train, test = cal.task_split(task, seed)
    write_examples(train, tdir / "train.csv")
    write_examples(test, tdir / "test.csv")
    log(f"[{name}] {choice} (the advice's choice), full run")
    ours = run_choice(task, choice, profile, seed, tdir, test)
    log(f"[{name}]   accuracy {ours['accuracy']:.3f}, train {ours['train_s']:.0f} s")
    log(f"[{name}] SetFit, {steps} steps")
    peer = run_setfit(tdir, steps, seed)
    log(f"[{name}]   accuracy {peer['accuracy']:.3f}, train {peer['train_s']:.0f} s")
    lead, lo, hi = cal.paired_lead(ours["correct"], peer["correct"])
    best = max(saved, key=lambda e: saved[e]["accuracy"])
    return {
        "task": name,
        "n_train": task.n_train,
        "n_test": len(test),
        "choice": choice,
        "confidence": row["confidence"],
        "too_close": row["too_close"],
        "ours": {k: v for k, v in ours.items() if k not in ("correct", "y_true", "y_pred")},
        "ours_saved_accuracy": saved[choice]["accuracy"],
        "best_full_run": best,
        "best_full_run_accuracy": saved[best]["accuracy"],
        "setfit": {k: v for k, v in peer.items() if k not in ("correct", "y_true", "y_pred")},
        "lead": {"points": 100 * lead, "low": 100 * lo, "high": 100 * hi},
        "load_avg": os.getloadavg(),
    }


def render(doc: dict) -> str:
    from advisor.common.capabilities import label

    lines = [
        "# SetFit beside the advice's choice",
        "",
        f"Machine: {doc['machine']}. SetFit {doc['setfit_version']}, its `TrainingArguments` defaults except "
        f"`max_steps={doc['steps']}`; the same packaged all-MiniLM-L6-v2. Command: `{doc['command']}`, "
        f"started {doc['started']}, code {doc['commit']}.",
        "",
        "Each task: the training rows and test split of `benchmarks/calibration.py`; the approach the "
        "standard-budget advice chose in the published calibration, run in full again in this sitting "
        "(new process), then SetFit (new process). Lead: choice minus SetFit on the same test rows, "
        "95 % paired bootstrap. Train seconds: the training phase only; wall: the whole process.",
        "",
        "| task | advice's choice | choice accuracy / macro-F1 | SetFit accuracy / macro-F1 | lead (points) [95 %] "
        "| train s choice / SetFit | wall s choice / SetFit | best full run (calibration) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        o, s, d = r["ours"], r["setfit"], r["lead"]
        call = f"{label(r['choice'])} ({'too close' if r['too_close'] else r['confidence']})"
        lines.append(
            f"| {r['task']} | {call} | {100 * o['accuracy']:.1f} / {100 * o['macro_f1']:.1f} "
            f"| {100 * s['accuracy']:.1f} / {100 * s['macro_f1']:.1f} "
            f"| {d['points']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] "
            f"| {o['train_s']:.0f} / {s['train_s']:.0f} | {o['wall_s']:.0f} / {s['wall_s']:.0f} "
            f"| {label(r['best_full_run'])} {100 * r['best_full_run_accuracy']:.1f} |"
        )
    rows = doc["rows"]
    if rows:
        better = sum(r["lead"]["low"] > 0 for r in rows)
        worse = sum(r["lead"]["high"] < 0 for r in rows)
        faster = sum(r["ours"]["wall_s"] < r["setfit"]["wall_s"] for r in rows)
        lines += [
            "",
            f"The choice was significantly more accurate than SetFit on {better} of {len(rows)} tasks, "
            f"significantly less accurate on {worse}, and finished (whole process) sooner on {faster}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    p.add_argument("--steps", type=int, default=SETFIT_STEPS)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/toe-setfit"))
    p.add_argument("--calibration", type=Path, default=ROOT / "benchmarks/results/calibration.json")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/setfit")
    p.add_argument("--fresh", action="store_true", help="start again instead of resuming from --out's JSON")
    args = p.parse_args(argv)

    import setfit

    out_json = args.out.with_suffix(".json")
    cal_doc = json.loads(args.calibration.read_text())
    doc = json.loads(out_json.read_text()) if out_json.exists() and not args.fresh else None
    if doc is None:
        doc = {
            "machine": cal.machine_line(),
            "setfit_version": setfit.__version__,
            "steps": args.steps,
            "command": "python benchmarks/setfit_peer.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "started": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "commit": cal.code_version(),
            "rows": [],
        }
    done = {r["task"] for r in doc["rows"]}

    def log(msg: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {msg}", flush=True)

    for name in args.tasks.split(","):
        if name in done:
            continue
        doc["rows"].append(one_task(name, cal_doc, args.workdir, args.steps, log))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, out_json)
        args.out.with_suffix(".md").write_text(render(doc))
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
