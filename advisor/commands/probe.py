"""``tune-or-embed probe``: what this machine has (CPU, RAM, disk, GPUs, torch's view with --torch),
with --start-up how long each approach takes to start in a new process and with --data how much slower
training is than embedding here, each remembered for advise."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SPEED_ROWS = 512  # rows of --data that the training speed is measured on (a stratified sample)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "probe",
        help="show this machine's CPU, RAM, disk and GPUs",
        description="Show this machine's CPU, RAM, free disk, NVIDIA GPUs (NVML) and, with --torch, what torch "
        "sees. With --start-up, also time each approach's start-up in a new process (imports, model load) and "
        "remember it, so that the next advise spends all of its budget on the benchmarks; with --data, how "
        "much slower training is than embedding here, so that the next advise plans its first fine-tune "
        "point with this machine's speed.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the Resources model as JSON (with --start-up or --data: {resources, start_up_s, train_vs_infer})",
    )
    p.add_argument("--torch", action="store_true", help="also ask torch (imports torch: slower)")
    p.add_argument(
        "--start-up",
        action="store_true",
        help="also time each approach's start-up in a new process (seconds each) and remember it for the "
        "profile's start_up_cache_days, as advise would from its own budget",
    )
    p.add_argument("--profile", metavar="P", help="with --start-up: profile name or .toml (default: picked here)")
    p.add_argument(
        "--data",
        metavar="REF",
        help="also measure how much slower training is than embedding on this data (a CSV/"
        "JSONL/Parquet file or demo:<name>; a few optimizer steps), remembered like the start-ups: the next "
        "advise plans its first fine-tune point with it",
    )
    p.add_argument(
        "--artifacts-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="where artifacts go: free disk is measured there (default: current folder)",
    )
    p.set_defaults(func=run)


def _profile_engines(profile_name: str | None, res: Any) -> tuple[Any, list[str], dict[str, Any]]:
    """The profile, every approach advise may include, and each one's config from the profile."""
    from advisor.advise import default_engines
    from advisor.decide.goals import BUDGETS
    from advisor.machine.profiles import engine_config, load_profile

    profile = load_profile(profile_name, resources=res)
    names = default_engines(max(BUDGETS.values()))
    return profile, names, {name: engine_config(profile, name) for name in names}


def start_ups(res: Any, profile_name: str | None, *, quiet: bool) -> tuple[dict[str, float | None], list[str]]:
    """Time the start-up of every approach advise may include (the profile's settings), remembering
    each: {engine: seconds, None where it failed} and the lines that say so."""
    from advisor.machine.startup import timed_on
    from advisor.measure.probes import start_up_cache, time_start_ups

    profile, names, configs = _profile_engines(profile_name, res)
    if not profile.bench.time_start_up:
        return {}, [f"start-up: profile {profile.name} does not time start-ups (time_start_up = false)"]

    def before(name: str) -> None:
        if not quiet:
            print(f"timing {name}'s start-up in a new process…", file=sys.stderr, flush=True)

    timed = time_start_ups(names, configs, profile.bench, before=before)
    cache, days = start_up_cache(profile.bench)
    where = (
        f"remembered for {days:g} days in {cache}: advise spends none of its budget on them"
        if cache is not None
        else f"not remembered (profile {profile.name}: start_up_cache_days = 0): every advise times them again"
    )
    lines = [f"start-up in a new process (imports, model load; profile {profile.name}), {where}:"]
    for name, t in timed.items():
        if t.seconds is None:
            lines.append(f"  {name:10s} not measured: {t.error}")
        else:
            when = f" (timed {timed_on(t.timed_at)})" if t.timed_at else ""
            lines.append(f"  {name:10s} {t.seconds:5.1f}s{when}")
    return {name: t.seconds for name, t in timed.items()}, lines


def train_speed(profile_name: str | None, ref: str, res: Any = None) -> tuple[float | None, list[str]]:
    """Embedding ÷ training speed on ``ref``'s texts (``advisor.measure.train_speed.measure``), and the
    line that says so: (None, why) where it cannot be measured."""
    from advisor.data.labelled import load_dataset
    from advisor.measure import train_speed as speed
    from advisor.measure.plan import TRAIN_VS_INFER_COST

    profile, names, configs = _profile_engines(profile_name, res)
    examples = load_dataset(ref, sample=SPEED_ROWS).examples
    measured = speed.measure(names, configs, profile.bench, examples)
    if measured is None:
        why = "no trainer and embedder to compare, one class, or a timing out of bounds"
        return None, [f"training speed: not measured ({why})"]
    return measured.ratio, [
        f"training speed on {ref}: {measured.train_examples_per_s:.1f} examples/s trained, "
        f"{measured.embed_texts_per_s:.0f} texts/s embedded (÷ {measured.ratio:.1f}; advise assumes "
        f"÷ {TRAIN_VS_INFER_COST:g} without it); "
        + (
            f"remembered in {measured.remembered_in}: the next advise plans with it"
            if measured.remembered_in
            else f"not remembered (profile {profile.name} remembers no start-ups)"
        )
    ]


def run(args: argparse.Namespace) -> int:
    from advisor.common.output import print_json
    from advisor.machine.probe import format_resources, probe

    res = probe(artifacts_dir=args.artifacts_dir, include_torch=args.torch)
    seconds, lines = start_ups(res, args.profile, quiet=args.json) if args.start_up else ({}, [])
    ratio = None
    if args.data:
        if not args.json:
            print(f"measuring training speed on {args.data} (a few optimizer steps)…", file=sys.stderr, flush=True)
        ratio, more = train_speed(args.profile, args.data, res)
        lines += more
    if args.json:
        out: dict[str, Any] = {"resources": res.model_dump(mode="json")}
        if args.start_up:
            out["start_up_s"] = seconds
        if args.data:
            out["train_vs_infer"] = ratio
        print_json(out if len(out) > 1 else res)
    else:
        print("\n".join([format_resources(res), *lines]))
    return 0
