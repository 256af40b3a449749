"""The retrieval task's command handlers (``advisor.commands.task_handlers``): ``inspect``, ``advise`` and
``run`` on (query, relevant document) pairs."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from engines.errors import ConfigError

TAKES_CORPUS = True  # --corpus: more documents for the collection searched


def looks_like(data: str) -> bool:
    """Query/document pairs, a BEIR folder or a retrieval demo."""
    from advisor.data.pairs import looks_like_pairs

    return bool(looks_like_pairs(data))


def inspect(args: argparse.Namespace) -> int:
    """Queries, documents, relevance per query, lengths, duplicates and drops of retrieval pairs; with
    ``--model``, the share of queries and documents longer than the model's token limit."""
    from advisor.commands.inspect import load_tokenizer
    from advisor.common.output import format_pairs_summary, print_json
    from advisor.data.pairs import load_pairs
    from advisor.data.pairs_summary import summarize_pairs

    ds = load_pairs(args.data, corpus=args.corpus, encoding=getattr(args, "encoding", None))
    count, limit = None, None
    if args.model:
        from advisor.machine.profiles import load_profile

        tokenizer, _ = load_tokenizer(args.model)
        # What the engines keep of a text: the profile's max_length (the frozen index and the fine-tune).
        limit = int(getattr(load_profile(None).embedding, "max_length", 256))

        def count(texts):
            return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]]

    summary = summarize_pairs(ds, max_tokens=limit, count_tokens=count)
    if args.json:
        print_json(summary)
    else:
        print(format_pairs_summary(summary))
    return 0


def advise(args: argparse.Namespace, goals: Any, profile: Any, resources: Any, budget: Any, engines: Any) -> int:
    from advisor.commands.advise import progress_printer
    from advisor.common.output import print_json
    from advisor.common.tasks import on_task
    from advisor.retrieval import advise_retrieval, render_rank_summary
    from engines.atomic import write_json
    from engines.errors import ConfigError

    if args.test_file:
        raise ConfigError("--test-file is for classification; retrieval holds out queries of DATA")
    if goals.task != "retrieval":
        goals = on_task(goals, "retrieval")
    cancel = threading.Event()
    try:
        advice = advise_retrieval(
            args.data,
            goals,
            corpus=args.corpus,
            profile=profile,
            budget=budget,
            resources=resources,
            progress=progress_printer(args.quiet),
            cancel=cancel,
            engines=engines,
            seed=args.seed,
            workers=args.workers,
            scaling_efficiency=args.scaling_efficiency,
            ray_address=args.ray_address,
        )
    except KeyboardInterrupt:
        cancel.set()
        raise
    if args.plan_out and advice.plan is not None:
        write_json(args.plan_out, advice.plan)
    summary = render_rank_summary(advice)
    if args.report:
        from pathlib import Path

        from engines.atomic import write_text

        write_text(Path(args.report), "# tune-or-embed advice (retrieval)\n\n```\n" + summary + "```\n")
    if args.json:
        print_json(advice)
    else:
        sys.stdout.write(summary)
        if args.plan_out and advice.plan is not None:
            print(f"Plan written to {args.plan_out}: run it with `tune-or-embed run {args.plan_out}`")
        if args.report:
            print(f"Report written to {args.report}")
    return 130 if advice.cancelled else 0


def run_spec(args: argparse.Namespace) -> Any:
    """The RankRunSpec a retrieval plan file and the options describe (options win)."""
    from advisor.commands.run import parse_sets, scale_sets
    from advisor.run.rank_run import RankRunSpec, spec_from_plan

    base: dict[str, Any] = {}
    if args.plan:
        raw = json.loads(Path(args.plan).read_text(encoding="utf-8"))  # task_of_run has read it already
        base = spec_from_plan(raw).model_dump(exclude_unset=True)
    overrides = {
        "engine": args.engine,
        "data": args.data,
        "corpus": args.corpus,
        "profile": args.profile,
        "split_seed": args.split_seed,
        "labelled_size": args.labelled_size,
        "test_queries": int(args.test_size) if args.test_size is not None and args.test_size >= 1 else None,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    sets = {**parse_sets(args.sets), **scale_sets(args, base.get("engine"))}
    if sets:
        base["engine_config"] = {**base.get("engine_config", {}), **sets}
    if not base.get("data"):
        raise ConfigError("no data: pass --data PAIRS (or demo:bbc-headlines)")
    return RankRunSpec(**base)


def run(args: argparse.Namespace, spec: Any) -> int:
    from advisor.commands.run import default_out, interruptible
    from advisor.run.rank_run import rank_full_run, rank_summary

    if args.resume and not args.out:
        raise ConfigError("--resume needs the --out folder of the interrupted run")
    out = Path(args.out) if args.out else default_out(spec.engine)
    manifest = interruptible(
        lambda bar, cancel: rank_full_run(
            spec, out, overwrite=args.overwrite, resume=args.resume, progress=bar, cancel=cancel
        )
    )
    print(manifest.model_dump_json(indent=2) if args.json else rank_summary(manifest, out))
    return 0
