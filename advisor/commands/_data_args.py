"""Data-loading CLI options shared by the commands that read data (inspect, advise, run)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from advisor.commands.task_handlers import HANDLERS

if TYPE_CHECKING:
    from advisor.data.labelled import Dataset

# advisor.data.demo.DEMOS by name, copied: --help must not import pydantic (tested to match).
DEMO_NAMES = "demo:rotten-tomatoes / demo:bbc-news / demo:presidential-debates / demo:tweets-sentiment / demo:icd10-chapters / demo:fine-food-reviews / demo:bird-strikes / demo:bbc-headlines / demo:icd10-terms / demo:chatterbot-qa"
DATA_HELP = (
    "CSV/TSV, JSONL, Parquet, a folder with one sub-folder of .txt files per class, query/document pairs "
    f"or a BEIR folder (retrieval), or {DEMO_NAMES}"
)


def add_data_args(parser: argparse.ArgumentParser, *, positional: bool = True, sampling: bool = True) -> None:
    """Add DATA (positional, or ``--data``) and --text-col/--label-col/--encoding (and --sample/--seed)."""
    if positional:
        parser.add_argument("data", metavar="DATA", help=DATA_HELP)
    else:
        parser.add_argument("--data", metavar="DATA", required=True, help=DATA_HELP)
    parser.add_argument("--text-col", metavar="C", help="text column (default: detected)")
    parser.add_argument("--label-col", metavar="C", help="label column (default: detected)")
    parser.add_argument("--encoding", metavar="E", help="text encoding (default: utf-8, or utf-8-sig with a BOM)")
    if sampling:
        parser.add_argument(
            "--sample", metavar="N", type=int, help="use a seeded stratified sample of N rows (big files are streamed)"
        )
        parser.add_argument("--seed", metavar="S", type=int, default=0, help="seed for sampling (default 0)")


def load_from_args(args: argparse.Namespace, sample: int | None = None) -> Dataset:
    """Load the dataset the options describe; ``sample`` overrides ``--sample``."""
    from advisor.data.labelled import load_dataset

    return load_dataset(
        args.data,
        text_col=getattr(args, "text_col", None),
        label_col=getattr(args, "label_col", None),
        encoding=getattr(args, "encoding", None),
        sample=sample if sample is not None else getattr(args, "sample", None),
        seed=getattr(args, "seed", 0) or 0,
    )


def add_task_args(parser: argparse.ArgumentParser) -> None:
    """Add --task (auto: the goals' task, else what the data looks like) and --corpus (retrieval)."""
    parser.add_argument(
        "--task",
        choices=("auto", *HANDLERS),
        default="auto",
        help="what the model must do (default: the goals' task, else detected from DATA: query/document pairs, "
        "a BEIR folder or a retrieval demo → retrieval)",
    )
    parser.add_argument(
        "--corpus", metavar="FILE", help="retrieval: more documents to search (the index holds them and the pairs')"
    )


def resolve_task(args: argparse.Namespace, goals: Any) -> str:
    """The task asked for (--task, then the goals file), else the one the data looks like."""
    from advisor.commands.task_handlers import detect, handlers
    from engines.errors import ConfigError

    task = args.task if args.task != "auto" else (goals.task if getattr(args, "goals", None) else None)
    if task is None:
        task = detect(args.data)
    if args.corpus and not getattr(handlers(task), "TAKES_CORPUS", False):
        raise ConfigError("--corpus is for retrieval data (query/document pairs)")
    return task
