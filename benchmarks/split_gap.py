"""How far the rows a benchmark holds out can score from a calibration task's test split.

`advise` scores its benchmark fits on rows held out of the training data; the full run is
scored on the task's test split. Both are random draws of the same data, and each has its own
sampling noise. This script trains one engine on random splits of a calibration task's training
split (the same seed-0 split `calibration.py` uses) and scores each fit on both: the rows held
out of it and the test split. A gap between the two means is the test split's draw, which no
forecast made from the training data can see.

    python benchmarks/split_gap.py --task rt-10000 --holdout 2000 --seeds 6 [--engine tfidf]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration as cal  # noqa: E402  (puts the repository root on sys.path too)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="rt-10000", choices=sorted(cal.TASKS))
    p.add_argument("--holdout", type=_positive, default=2000, help="rows held out of the training split per fit")
    p.add_argument("--seeds", type=_positive, default=6, help="random splits (seeds 0 … N−1)")
    p.add_argument("--engine", default="tfidf", choices=["tfidf", "embedding"])
    p.add_argument("--profile", default="cpu-small")
    args = p.parse_args(argv)

    from advisor.data.sampling import stratified_split
    from advisor.machine.profiles import engine_config, load_profile
    from engines.base import get_engine
    from engines.errors import DataError

    task = cal.TASKS[args.task]
    train, test = cal.task_split(task, 0)
    config = engine_config(load_profile(args.profile), args.engine)
    print(
        f"{cal.machine_line()}; {args.engine} ({args.profile}) on {task.name}: "
        f"{len(train)} training rows, {len(test)} test rows, {args.holdout} held out per fit"
    )
    print("| split seed | trained on | held-out rows % | test split % | gap (points) |")
    print("|---|---|---|---|---|")
    held_acc, test_acc = [], []
    for seed in range(args.seeds):
        try:
            part, held = stratified_split(train, test_size=args.holdout, seed=seed)
        except DataError as exc:  # e.g. --holdout larger than the training split
            p.error(str(exc))
        engine = get_engine(args.engine)(config)
        engine.fit(part)
        h, t = engine.evaluate(held).accuracy, engine.evaluate(test).accuracy
        held_acc.append(h)
        test_acc.append(t)
        print(f"| {seed} | {len(part)} | {100 * h:.2f} | {100 * t:.2f} | {100 * (h - t):+.2f} |", flush=True)
    gap = np.asarray(held_acc) - np.asarray(test_acc)
    print(
        f"\nmean: held-out rows {100 * np.mean(held_acc):.2f} %, test split {100 * np.mean(test_acc):.2f} %, "
        f"gap {100 * gap.mean():+.2f} points (per split {100 * gap.min():+.2f} to {100 * gap.max():+.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
