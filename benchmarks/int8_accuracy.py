"""Accuracy of the embedding engine with the torch encoder vs the onnx-int8 encoder, per dataset.

For each dataset: one shuffled split (seeded), the same ``--train`` rows train both backends,
the same ``--test`` rows score both; prints each accuracy, the difference (int8 − torch) with a
paired bootstrap 95 % interval over the test rows, and each backend's embedding texts/s.
Writes JSON to ``--out``. Take figures on an idle machine only.

    python benchmarks/int8_accuracy.py --out int8.json
    python benchmarks/int8_accuracy.py --datasets demo:rotten-tomatoes --train 200 --test 200 --out s.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

DEFAULT_DATASETS = "demo:rotten-tomatoes,demo:bbc-news,demo:presidential-debates"


def paired_bootstrap(a: list[bool], b: list[bool], *, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of mean(b) − mean(a), resampling test rows (paired)."""
    import numpy as np

    x = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n, len(x)))
    diffs = x[idx].mean(axis=1)
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS, help="comma-separated data refs")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from advisor.data.labelled import load_dataset
    from engines.base import Examples
    from engines.embedding import EmbeddingEngine

    results = []
    for ref in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        data = load_dataset(ref).examples
        order = list(range(len(data)))
        random.Random(args.seed).shuffle(order)
        n_test = min(args.test, len(order) // 2)
        test = data.subset(order[:n_test])
        train = data.subset(order[n_test : n_test + args.train])
        row = {"dataset": ref, "n_train": len(train), "n_test": len(test)}
        correct = {}
        for backend in ("torch", "onnx-int8"):
            engine = EmbeddingEngine(
                {"model": args.model, "device": "cpu", "precision": "fp32", "backend": backend, "seed": args.seed}
            )
            engine.warm_up()  # export / load outside the timings
            fit = engine.fit(Examples(texts=train.texts, labels=train.labels))
            t0 = time.perf_counter()
            report = engine.evaluate(test)
            eval_s = time.perf_counter() - t0
            correct[backend] = report.correct
            row[backend] = {
                "accuracy": report.accuracy,
                "macro_f1": report.macro_f1,
                "train_texts_per_s": fit.train_examples_per_s,
                "test_texts_per_s": len(test) / eval_s if eval_s > 0 else None,
            }
        lo, hi = paired_bootstrap(correct["torch"], correct["onnx-int8"], seed=args.seed)
        row["diff"] = {"accuracy": row["onnx-int8"]["accuracy"] - row["torch"]["accuracy"], "ci95": [lo, hi]}
        results.append(row)
        t, q = row["torch"], row["onnx-int8"]
        print(
            f"{ref}: train {len(train)}, test {len(test)} | torch {t['accuracy']:.4f} "
            f"({t['train_texts_per_s'] or 0:.0f} texts/s) | int8 {q['accuracy']:.4f} "
            f"({q['train_texts_per_s'] or 0:.0f} texts/s) | diff {row['diff']['accuracy']:+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}]",
            flush=True,
        )
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"model": args.model, "seed": args.seed, "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
