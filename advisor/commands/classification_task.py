"""The classification task's command handlers (``advisor.commands.task_handlers``): ``inspect``, ``advise``
and ``run`` on labelled texts."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from engines.errors import ConfigError


def looks_like(data: str) -> bool:
    """Labelled texts are the default task's data: claimed only when no other task claims DATA."""
    return True


def inspect(args: argparse.Namespace) -> int:
    """Rows, classes and their balance, text lengths, drops: of the whole file, or of a sample."""
    from advisor.commands._data_args import load_from_args
    from advisor.commands.inspect import format_summary, load_tokenizer
    from advisor.common.output import print_json
    from advisor.data.summary import summarize
    from advisor.data.summary_stream import summarize_file

    if args.sample is None:  # the whole file, a batch of rows at a time (memory flat in its size)
        tokenizer, name = load_tokenizer(args.model) if args.model else (None, None)
        summary = summarize_file(
            args.data,
            text_col=args.text_col,
            label_col=args.label_col,
            encoding=args.encoding,
            tokenizer=tokenizer,
            tokenizer_name=name,
            test_file=args.test_file,
        )
    else:  # a sample: load_dataset draws it (streaming files bigger than its threshold)
        dataset = load_from_args(args)
        tokenizer, name = load_tokenizer(args.model) if args.model else (None, None)
        summary = summarize(dataset, tokenizer=tokenizer, tokenizer_name=name)
        if args.test_file:
            from advisor.data.labelled import load_dataset
            from advisor.data.summary import compare_test

            test = load_dataset(
                args.test_file,
                text_col=dataset.text_col,
                label_col=dataset.label_col,
                encoding=getattr(args, "encoding", None),
                validate=False,
            )
            summary = compare_test(summary, test, dataset)
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary))
    return 0


def advise(args: argparse.Namespace, goals: Any, profile: Any, resources: Any, budget: Any, engines: Any) -> int:
    """Benchmark, forecast and recommend on a sample of the labelled texts; the plan and the report."""
    from advisor.advise import advise as advise_labelled
    from advisor.commands.advise import progress_printer
    from advisor.common.output import print_json
    from advisor.data.labelled import load_dataset
    from advisor.report import render_summary, write_report
    from advisor.run.plan import write_plan

    sample = args.sample or profile.bench.sample_size
    data = load_dataset(
        args.data,
        text_col=args.text_col,
        label_col=args.label_col,
        encoding=args.encoding,
        sample=sample,
        seed=args.seed,
    )
    cancel = threading.Event()
    try:
        advice = advise_labelled(
            data,
            goals,
            profile=profile,
            budget=budget,
            resources=resources,
            hardware=args.hardware,
            progress=progress_printer(args.quiet),
            cancel=cancel,
            engines=engines,
            seed=args.seed,
            text_col=args.text_col,
            label_col=args.label_col,
            encoding=args.encoding,
            test_file=args.test_file,
            workers=args.workers,
            scaling_efficiency=args.scaling_efficiency,
            ray_address=args.ray_address,
        )
    except KeyboardInterrupt:  # outside the benchmarks (they stop cleanly themselves)
        cancel.set()
        raise
    if args.plan_out and advice.plan is not None:
        write_plan(advice.plan, args.plan_out)
    if args.report:
        write_report(advice, args.report)
    if args.json:
        print_json(advice)
    else:
        sys.stdout.write(render_summary(advice))
        if args.plan_out and advice.plan is not None:
            print(f"Plan written to {args.plan_out}: run it with `tune-or-embed run {args.plan_out}`")
        if args.report:
            print(f"Report written to {args.report}")
    return 130 if advice.cancelled else 0


def run_spec(args: argparse.Namespace) -> Any:
    """The RunSpec a plan file and the options describe."""
    from advisor.commands.run import spec_from_args

    if args.corpus:
        raise ConfigError("--corpus is for retrieval runs (bm25, frozen-index, contrastive)")
    return spec_from_args(args)


def run(args: argparse.Namespace, spec: Any) -> int:
    """Train ``spec``'s engine on the labelled texts into an artifact."""
    from advisor.commands.run import run_labelled

    return run_labelled(args, spec)
