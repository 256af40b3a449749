"""Contrastive fine-tune throughput: the ``contrastive`` engine vs sentence-transformers' trainer.

The same model (all-MiniLM-L6-v2 from its package, built by the engine: Transformer + mean pooling +
Normalize), the same (query, relevant document) rows of a demo, MultipleNegativesRankingLoss (scale 20),
no-duplicate batches (ours vs ``BatchSamplers.NO_DUPLICATES``), batch size, max length, learning rate,
weight decay 0.01, linear warm-up (10 % of the steps) and decay, clipping at 1.0, fp32, the same number of
optimizer steps and torch threads; no evaluation, logging or checkpoints on either side. The trainer
needs the ``datasets`` package, which is not a project dependency: install it into a separate folder
(``pip install --target /tmp/stdeps --no-deps datasets dill multiprocess xxhash requests``) and put that
folder on PYTHONPATH for this script only.

Every round is a fresh process per side (so each process's peak RSS is that side's), alternating
ours / trainer; the first ``--skip`` steps of every run are its warm-up and not timed. Examples/s =
examples of the timed steps / wall seconds from the end of step ``--skip`` to the end of the last step
(tokenisation, sampling, forward, backward, clipping, optimizer and scheduler steps all inside).

    PYTHONPATH=/tmp/stdeps HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/contrastive_vs_st.py \
        [--data demo:chatterbot-qa] [--steps 60] [--skip 5] [--rounds 2] [--batch-size 32] [--threads 2]

Results (25 steps, --skip 4, on a loaded 2-core VM): benchmarks/results/retrieval/contrastive-vs-st.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def engine_config(args: argparse.Namespace) -> dict:
    return dict(
        model=args.model,
        train_batch_size=args.batch_size,
        learning_rate=args.lr,
        max_length=args.max_length,
        min_steps=args.steps,
        max_steps=args.steps,
        epochs=0.01,
        device="cpu",
        precision="fp32",
        threads=args.threads,
        seed=0,
    )


def pairs(args: argparse.Namespace):
    from advisor.data.pairs import load_pairs

    return load_pairs(args.data).pairs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(ends: list[float], sizes: list[int], skip: int) -> float:
    """Examples/s over steps skip+1 … N: their examples / (end of step N − end of step ``skip``)."""
    return sum(sizes[skip:]) / (ends[-1] - ends[skip - 1])


def run_ours(args: argparse.Namespace) -> dict:
    from engines.contrastive import ContrastiveEngine, no_duplicate_batches, training_rows

    train = pairs(args)
    engine = ContrastiveEngine(engine_config(args))
    rows = training_rows(train, [])
    sizes: list[int] = []
    epoch = 0
    while len(sizes) < args.steps:  # the loop's batches: a pure function of (seed, epoch)
        sizes += [len(b) for b in no_duplicate_batches(rows, args.batch_size, 0, epoch)]
        epoch += 1
    ends: list[float] = []
    losses: list[str] = []

    def progress(ev) -> None:
        if ev.phase == "train":
            ends.append(time.perf_counter())
            losses.append(ev.message)

    report = engine.fit(train, progress=progress)
    assert report.steps == args.steps == len(ends), (report.steps, len(ends))
    return {
        "side": "ours",
        "examples_per_s": timed(ends, sizes[: args.steps], args.skip),
        "tokens_per_step": report.tokens_seen / report.steps,
        "engine_examples_per_s": report.train_examples_per_s,
        "last_loss": losses[-1],
        "peak_rss_mb": peak_rss_mb(),
    }


def run_trainer(args: argparse.Namespace) -> dict:
    import math

    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import TrainerCallback

    from engines.backbone import set_threads
    from engines.contrastive import ContrastiveEngine, training_rows
    from engines.models import resolve_model

    train = pairs(args)
    rows = training_rows(train, [])
    engine = ContrastiveEngine(engine_config(args))
    engine.device = "cpu"
    set_threads(args.threads)
    model = engine._build(resolve_model(args.model))  # the very model ours trains
    data = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    ends: list[float] = []
    sizes: list[int] = []
    tokens: list[int] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        targs = SentenceTransformerTrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            max_steps=args.steps,
            learning_rate=args.lr,
            weight_decay=0.01,
            warmup_steps=math.ceil(0.1 * args.steps),
            lr_scheduler_type="linear",
            max_grad_norm=1.0,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            logging_strategy="no",
            eval_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=True,
            seed=0,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=targs,
            train_dataset=data,
            loss=MultipleNegativesRankingLoss(model, scale=20.0),
            callbacks=[Clock()],
        )

        class Counting:  # the trainer's collator, counting each batch's rows
            def __init__(self, inner):
                self.inner = inner

            def __getattr__(self, name):
                return getattr(self.inner, name)

            def __call__(self, features):
                sizes.append(len(features))
                batch = self.inner(features)
                tokens.append(sum(int(v.sum()) for k, v in batch.items() if k.endswith("attention_mask")))
                return batch

        trainer.data_collator = Counting(trainer.data_collator)
        trainer.train()
    assert len(ends) == args.steps, len(ends)
    return {
        "side": "trainer",
        "examples_per_s": timed(ends, sizes[: args.steps], args.skip),
        "tokens_per_step": sum(tokens[: args.steps]) / args.steps,
        "optim": targs.optim,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
    }


def versions() -> str:
    out = []
    for pkg in ("torch", "transformers", "sentence-transformers", "datasets", "accelerate"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} -")
    return ", ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--data", default="demo:chatterbot-qa")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skip", type=int, default=5, help="warm-up steps of every run, not timed")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--side", choices=["ours", "trainer"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        result = (run_ours if args.side == "ours" else run_trainer)(args)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"libraries: {versions()}")
    print(
        f"data {args.data}, model {args.model}, {args.steps} steps (first {args.skip} untimed), batch "
        f"{args.batch_size}, max length {args.max_length}, lr {args.lr:g}, {args.threads} threads, fp32, CPU"
    )
    results: dict[str, list[dict]] = {"ours": [], "trainer": []}
    for r in range(args.rounds):
        for side in ("ours", "trainer"):
            cmd = [sys.executable, __file__, "--side", side] + [a for a in sys.argv[1:] if not a.startswith("--side")]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            if done.returncode or not line:
                sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
                return 1
            res = json.loads(line[-1][7:])
            results[side].append(res)
            print(
                f"round {r + 1} {side:8s} {res['examples_per_s']:7.1f} examples/s  "
                f"{res['tokens_per_step']:.0f} tokens/step  peak RSS {res['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    med = {s: statistics.median(x["examples_per_s"] for x in v) for s, v in results.items()}
    rss = {s: max(x["peak_rss_mb"] for x in v) for s, v in results.items()}
    print(f"trainer optimizer: {results['trainer'][0].get('optim')}")
    print("| side | examples/s (median) | rounds | peak RSS (MB) |")
    print("|---|---|---|---|")
    for s, label in (("ours", "contrastive engine"), ("trainer", "SentenceTransformerTrainer")):
        per = ", ".join(f"{x['examples_per_s']:.1f}" for x in results[s])
        print(f"| {label} | {med[s]:.1f} | {per} | {rss[s]:.0f} |")
    print(f"ratio ours / trainer: {med['ours'] / med['trainer']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
