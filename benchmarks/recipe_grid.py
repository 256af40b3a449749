"""Which fine-tune recipe? Every recipe of a grid trained in full on the calibration tasks' training
splits and scored on their test splits (the rows nothing trains on), several seeds each.

Quality does not depend on the machine (up to seed noise), so the grid can run where it is fast:
``--export`` writes each task's splits (and, with ``--model-fp16``, the model in half precision,
small enough to copy to another machine), ``--run`` trains the grid there, in parallel processes,
and ``--summarise`` ranks the recipes by quality and by their cost on this machine (optimizer
steps × batch ÷ the training throughput measured here).

    python benchmarks/recipe_grid.py --export grid-data --tasks rt-1000,rt-3000 --model-fp16
    python benchmarks/recipe_grid.py --run --data grid-data --device cuda --workers 12 --out grid.jsonl
    python benchmarks/recipe_grid.py --summarise grid.jsonl --md benchmarks/results/recipes.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name → overrides of a profile section (`section`). "current" is the full fine-tune recipe before the grid.
RECIPES: dict[str, dict] = {
    "current": {},
    "e3": {"epochs": 3.0},
    "e4": {"epochs": 4.0},
    "e3-noES": {"epochs": 3.0, "early_stopping_patience": 0},
    "e2-lr1e-4": {"epochs": 2.0, "learning_rate": 1e-4},
    "e3-lr1e-4": {"epochs": 3.0, "learning_rate": 1e-4},
    "e4-lr1e-4": {"epochs": 4.0, "learning_rate": 1e-4},
    "e3-lr1e-4-noES": {"epochs": 3.0, "learning_rate": 1e-4, "early_stopping_patience": 0},
    "e3-lr2e-4": {"epochs": 3.0, "learning_rate": 2e-4},
    # Second round, around the first round's best (e4-lr1e-4):
    "e5-lr1e-4": {"epochs": 5.0, "learning_rate": 1e-4},
    "e4-lr1.5e-4": {"epochs": 4.0, "learning_rate": 1.5e-4},
    "e4-lr1e-4-noES": {"epochs": 4.0, "learning_rate": 1e-4, "early_stopping_patience": 0},
    # LoRA (the profile's [lora] section; its peak rate is ``learning_rate_lora``). "lora-current" is
    # the shipped LoRA recipe: 2 epochs at 2e-3, half the steps of full fine-tuning's 4 epochs.
    "lora-current": {},
    "lora-e4": {"epochs": 4.0},
    "lora-e4-lr1e-3": {"epochs": 4.0, "learning_rate_lora": 1e-3},
}


def section(recipe: str) -> str:
    """The profile section a recipe overrides: [lora] for the LoRA recipes, else [finetune]."""
    return "lora" if recipe.startswith("lora-") else "finetune"


def export(tasks: list[str], out: Path, seed: int, model_fp16: bool) -> None:
    """Each task's training and test split as CSV (the calibration's own split), and the model."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import calibration

    from advisor.data.labelled import write_examples

    out.mkdir(parents=True, exist_ok=True)
    for name in tasks:
        train, test = calibration.task_split(calibration.TASKS[name], seed)
        write_examples(train, out / f"{name}.train.csv")
        write_examples(test, out / f"{name}.test.csv")
        print(f"{name}: {len(train)} train, {len(test)} test rows")
    if model_fp16:
        import shutil

        from safetensors.numpy import load_file, save_file

        from engines.models import resolve_model

        src = resolve_model("all-MiniLM-L6-v2").path
        dst = out / "model"
        shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.safetensors"))
        for f in src.glob("*.safetensors"):
            tensors = {k: (v.astype("float16") if v.dtype.kind == "f" else v) for k, v in load_file(str(f)).items()}
            save_file(tensors, str(dst / f.name))
        print(f"model (fp16 weights) → {dst}")


def _job(args: tuple[str, str, int, str, str, str]) -> dict:
    """One recipe on one task with one seed: fit on the training split, score on the test split
    (a failure is recorded, not raised: one bad job must not end the grid)."""
    try:
        return _fit_and_score(*args)
    except Exception as exc:  # noqa: BLE001
        return {"task": args[0], "recipe": args[1], "seed": args[2], "error": f"{type(exc).__name__}: {exc}"}


def _fit_and_score(task: str, recipe: str, seed: int, data: str, device: str, model: str) -> dict:
    import pandas as pd
    import tomllib

    from engines.base import Examples
    from engines.finetune import FinetuneEngine

    def read(part: str) -> Examples:
        df = pd.read_csv(Path(data) / f"{task}.{part}.csv", keep_default_na=False, dtype=str)
        return Examples(texts=df["text"].tolist(), labels=df["label"].tolist())

    # The profile's section read directly (the grid needs nothing else of the advisor).
    base = tomllib.loads((ROOT / "profiles" / "cpu-small.toml").read_text(encoding="utf-8"))[section(recipe)]
    cfg = {**base, **RECIPES[recipe], "seed": seed, "device": device, "model": model or base["model"]}
    if device != "cpu":
        cfg["threads"] = 1  # many processes share one GPU: none may take every CPU core
    train, test = read("train"), read("test")
    t0 = time.perf_counter()
    engine = FinetuneEngine(cfg)
    report = engine.fit(train)
    ev = engine.evaluate(test)
    return {
        "task": task,
        "recipe": recipe,
        "seed": seed,
        "accuracy": ev.accuracy,
        "macro_f1": ev.macro_f1,
        "steps": report.steps,
        "examples_seen": report.examples_seen,
        "stopped": report.stopped,
        "best_step": report.best_step,
        "n_train": len(train),
        "n_test": len(test),
        "train_s": report.phase_s.get("train"),
        "wall_s": time.perf_counter() - t0,
        "device": report.device,
    }


def run(
    tasks: list[str], recipes: list[str], seeds: list[int], data: Path, device: str, workers: int, out: Path, model: str
) -> None:
    """The grid in ``workers`` processes, appending one JSON line per finished job (a rerun skips
    the jobs already in ``out``)."""
    import multiprocessing as mp

    done = set()
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            done.add((r["task"], r["recipe"], r["seed"]))
    # Seed by seed (a grid cut short still has every recipe on every task once), and within a
    # seed longest first (the 3k tasks, the many-epoch recipes), so the processes end together.
    jobs = [(t, r, s, str(data), device, model) for t in tasks for r in recipes for s in seeds if (t, r, s) not in done]
    size = {t: max([int(d) for d in re.findall(r"\d+", t)] or [0]) for t in tasks}
    jobs.sort(key=lambda j: (seeds.index(j[2]), -size[j[0]] * float(RECIPES[j[1]].get("epochs", 2.0))))
    print(f"{len(jobs)} jobs in {workers} processes", flush=True)
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool, out.open("a", encoding="utf-8") as f:
        for i, r in enumerate(pool.imap_unordered(_job, jobs), 1):
            f.write(json.dumps(r) + "\n")
            f.flush()
            if "error" in r:
                print(f"[{i}/{len(jobs)}] {r['task']} {r['recipe']} seed {r['seed']}: {r['error']}", flush=True)
                continue
            print(
                f"[{i}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {r['task']} {r['recipe']} seed {r['seed']}: "
                f"{r['accuracy']:.3f} ({r['steps']} steps, {r['stopped']}, {r['wall_s']:.0f}s)",
                flush=True,
            )


def summarise(path: Path, rates: dict[str, float]) -> str:
    """A table: per recipe and task, mean accuracy over seeds; the mean over tasks; each recipe's
    gap to the best recipe of each task (the worst gap decides whether a recipe is within a point
    of the best everywhere); the cost as optimizer steps × batch relative to the current recipe
    (LoRA's to the current LoRA recipe)."""
    import numpy as np

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if "error" not in r]
    tasks = sorted({r["task"] for r in rows})
    recipes = [r for r in RECIPES if any(x["recipe"] == r for x in rows)]
    acc = {
        (t, r): float(np.mean([x["accuracy"] for x in rows if x["task"] == t and x["recipe"] == r]))
        for t in tasks
        for r in recipes
        if any(x["task"] == t and x["recipe"] == r for x in rows)
    }
    seen = {
        (t, r): float(np.mean([x["examples_seen"] for x in rows if x["task"] == t and x["recipe"] == r]))
        for (t, r) in acc
    }
    best = {t: max(acc[(t, r)] for r in recipes if (t, r) in acc) for t in tasks}
    head = "| recipe | " + " | ".join(tasks) + " | mean | worst gap to best | cost vs current |"
    lines = [head, "|" + "---|" * (len(tasks) + 4)]
    for r in recipes:
        cells = [f"{100 * acc[(t, r)]:.1f}" if (t, r) in acc else "–" for t in tasks]
        mean = np.mean([acc[(t, r)] for t in tasks if (t, r) in acc])
        gap = max(best[t] - acc[(t, r)] for t in tasks if (t, r) in acc)
        ref = "lora-current" if section(r) == "lora" else "current"
        cost = np.mean([seen[(t, r)] / seen[(t, ref)] for t in tasks if (t, r) in seen and (t, ref) in seen])
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {100 * mean:.1f} | {100 * gap:.1f} | {cost:.2f}× |")
    seeds = sorted({x["seed"] for x in rows})
    lines.append("")
    lines.append(f"Mean accuracy (%) over seeds {seeds} on each task's test split; {len(rows)} runs.")
    if rates:
        lines.append(
            "CPU minutes per run at the training throughput measured here: "
            + ", ".join(
                f"{t} {seen[(t, 'current')] / rates[t] / 60:.1f}"
                for t in tasks
                if t in rates and (t, "current") in seen
            )
            + " (current recipe)."
        )
    return "\n".join(lines)


def against_full_runs(path: Path, calibration: Path) -> str:
    """Each LoRA recipe of the grid against full fine-tuning's full runs in a calibration's results
    (the same training and test splits, seed 0): per task LoRA minus full, in points, and the median."""
    import numpy as np

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    lora = {(r["task"], r["recipe"]): r for r in rows if "error" not in r and section(r["recipe"]) == "lora"}
    cal = json.loads(calibration.read_text(encoding="utf-8"))["rows"]
    full = {
        r["task"]: r["engines"]["finetune"] for r in cal if r["budget"] == "standard" and "finetune" in r["engines"]
    }
    tasks = sorted({t for t, _ in lora if t in full})
    recipes = [r for r in RECIPES if any((t, r) in lora for t in tasks)]
    head = "| recipe | " + " | ".join(tasks) + " | median | LoRA ahead |"
    lines = [head, "|" + "---|" * (len(tasks) + 3)]
    lines.append(
        "| full fine-tune (accuracy %) | " + " | ".join(f"{100 * full[t]['actual']:.1f}" for t in tasks) + " | | |"
    )
    shipped = {r["task"]: r["engines"]["lora"] for r in cal if r["budget"] == "standard" and "lora" in r["engines"]}
    if all(t in shipped for t in tasks):  # the LoRA recipe the calibration's full runs used
        lead = [100 * (shipped[t]["actual"] - full[t]["actual"]) for t in tasks]
        lines.append(
            "| LoRA as shipped, the calibration's full runs | "
            + " | ".join(f"{x:+.1f}" for x in lead)
            + f" | {np.median(lead):+.1f} | {sum(x > 0 for x in lead)} of {len(lead)} |"
        )
    for r in recipes:
        lead = {t: 100 * (lora[(t, r)]["accuracy"] - full[t]["actual"]) for t in tasks if (t, r) in lora}
        cells = [f"{lead[t]:+.1f}" if t in lead else "–" for t in tasks]
        lines.append(
            f"| {r} | "
            + " | ".join(cells)
            + f" | {np.median(list(lead.values())):+.1f} | {sum(v > 0 for v in lead.values())} of {len(lead)} |"
        )
    lines.append("")
    lines.append(
        f"LoRA minus full fine-tuning, accuracy points on each task's test split; full fine-tuning from {calibration}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--export", type=Path, help="write the tasks' splits (and the model) to this folder")
    p.add_argument("--model-fp16", action="store_true", help="with --export: the model too, weights in fp16")
    p.add_argument("--run", action="store_true")
    p.add_argument("--data", type=Path, help="with --run: the folder --export wrote")
    p.add_argument("--tasks", default="rt-1000,rt-3000")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--model", default="", help="model reference (default: the profile's; a folder from --export)")
    p.add_argument("--out", type=Path, default=Path("grid.jsonl"))
    p.add_argument("--summarise", type=Path)
    p.add_argument("--rates", default="", help="task=train examples/s on this machine, comma-separated")
    p.add_argument("--md", type=Path)
    p.add_argument("--full-runs", type=Path, help="with --summarise: a calibration.json to set LoRA against")
    a = p.parse_args(argv)
    tasks = [t for t in a.tasks.split(",") if t]
    if a.export:
        export(tasks, a.export, 0, a.model_fp16)
    if a.run:
        run(
            tasks,
            a.recipes.split(","),
            [int(s) for s in a.seeds.split(",")],
            a.data,
            a.device,
            a.workers,
            a.out,
            a.model,
        )
    if a.summarise:
        rates = {k: float(v) for k, v in (kv.split("=") for kv in a.rates.split(",") if kv)}
        text = summarise(a.summarise, rates)
        if a.full_runs:
            text += "\n\n" + against_full_runs(a.summarise, a.full_runs)
        print(text)
        if a.md:
            a.md.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
