"""``tune-or-embed advise DATA``: micro-benchmarks, forecasts, a recommendation, a plan and a report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from advisor.commands._data_args import add_data_args, add_task_args, resolve_task


def register(sub: Any) -> None:
    p = sub.add_parser(
        "advise",
        help="measure the approaches on a sample, forecast the full run, recommend one",
        description="Benchmark TF-IDF, frozen embeddings and fine-tuning on a sample of DATA within a "
        "budget, forecast each at your labelled size, and recommend one (with a plan to run it).",
    )
    add_data_args(p, sampling=False)
    p.add_argument("--goals", metavar="FILE", help="goals TOML (metric, labelled_size, weights, deadline …)")
    p.add_argument("--profile", metavar="P", help="profile name or .toml (default: picked from this machine)")
    p.add_argument(
        "--budget",
        metavar="B",
        default=None,
        help="quick | standard | thorough | SECONDS (default: the profile's, quick on CPU)",
    )
    p.add_argument(
        "--labelled-size",
        metavar="N",
        type=int,
        help="labelled examples the full run will have (default: goals, else all rows minus the test part)",
    )
    p.add_argument(
        "--test-file",
        metavar="FILE",
        help="the full run is scored on this separate file (same columns): it trains on every row "
        "of DATA, and the forecasts are for that many labels; the benchmarks never read FILE",
    )
    add_task_args(p)
    p.add_argument(
        "--engines",
        metavar="LIST",
        help="comma-separated subset of tfidf,embedding,finetune,lora (retrieval: bm25,frozen-index,contrastive)",
    )
    p.add_argument(
        "--hardware", metavar="NAME", help="also forecast on this GPU (t4, l4, a10, a100-40gb, a100-80gb, h100, h200)"
    )
    p.add_argument(
        "--workers",
        metavar="N",
        type=int,
        help="also forecast and decide with the full runs on N Ray workers (measures the scaling on "
        "2 Ray workers after the benchmarks unless --scaling-efficiency is given; retrieval: the collection's "
        "embedding); the plan runs there",
    )
    p.add_argument(
        "--scaling-efficiency",
        metavar="E",
        type=float,
        help="with --workers: N workers' examples/s ÷ (N × one worker's), if known (skips the measurement)",
    )
    p.add_argument(
        "--ray-address", metavar="A", help="with --workers: the Ray cluster (default $RAY_ADDRESS, else local)"
    )
    p.add_argument("--sample", metavar="N", type=int, help="rows sampled for the benchmarks (default: the profile's)")
    p.add_argument("--seed", metavar="S", type=int, default=0, help="seed for sampling and splits (default 0)")
    p.add_argument("--json", action="store_true", help="print the Advice as JSON on stdout")
    p.add_argument("--plan-out", metavar="PATH", help="write the plan (for `tune-or-embed run`) here")
    p.add_argument("--report", metavar="PATH", help="write a Markdown report (with PNG curves beside it)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


PROGRESS_EVERY_S = 10.0  # a long step (fine-tuning, embedding) prints its progress this often


def progress_printer(quiet: bool) -> Any:
    """The benchmarks' progress events as lines on stderr (none with ``quiet``): each stage's start
    and end, and a long step's count every ``PROGRESS_EVERY_S`` seconds. An event with nothing to
    say, or saying what the line before it said, prints nothing."""
    last: dict[str, Any] = {"line": None}
    counted_at: dict[str, float] = {}

    def show(ev: Any) -> None:
        if quiet:
            return
        counted = ev.phase in ("train", "embed", "head")
        if counted and ev.done not in (0, ev.total):
            if ev.elapsed_s - counted_at.get(ev.approach, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
                return
            counted_at[ev.approach] = ev.elapsed_s
        count = (
            f" {ev.done}/{ev.total}" if ev.total and (ev.phase == "prepare" or ev.phase == "train" and ev.done) else ""
        )
        if not (ev.message or count) or (ev.approach, ev.phase, count, ev.message) == last["line"]:
            return
        last["line"] = (ev.approach, ev.phase, count, ev.message)
        # Work outside the benchmarks' budget (the scaling probe) carries no clock of its own.
        clock = f"{ev.elapsed_s:5.0f}s/{ev.budget_s:.0f}s" if ev.budget_s else "after budget"
        print(f"[{clock}] {ev.approach:9s} {ev.phase:8s}{count} {ev.message}".rstrip(), file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    from advisor.commands.task_handlers import handlers
    from advisor.decide.goals import load_goals
    from advisor.machine.probe import probe
    from advisor.machine.profiles import load_profile
    from engines.base import engine_names
    from engines.errors import ConfigError

    goals = load_goals(args.goals)
    if args.labelled_size is not None:
        if args.labelled_size < 2:
            raise ConfigError("--labelled-size must be at least 2")
        goals = goals.model_copy(update={"labelled_size": args.labelled_size})
    engines = None
    if args.engines:
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        unknown = [e for e in engines if e not in engine_names()]
        if unknown or not engines:
            raise ConfigError(
                f"unknown engine {unknown[0] if unknown else '(none)'!r} in --engines; "
                "try tfidf,embedding,finetune,lora"
            )
    if (args.scaling_efficiency is not None or args.ray_address) and args.workers is None:
        raise ConfigError("--scaling-efficiency and --ray-address go with --workers N")
    resources = probe()
    profile = load_profile(args.profile, resources=resources)
    budget = args.budget or profile.bench.default_budget
    return int(handlers(resolve_task(args, goals)).advise(args, goals, profile, resources, budget, engines))
