"""``tune-or-embed profiles``: the bundled presets, one line each (or one in full with --show)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profiles",
        help="list the profiles (presets for each kind of machine)",
        description="List the bundled profiles. A profile holds every engine's "
        "settings and the micro-benchmark's sizes and budgets; TOE_<FIELD> environment "
        "variables override it (nested with __, e.g. TOE_FINETUNE__TRAIN_BATCH_SIZE=8).",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--show", metavar="NAME_OR_FILE", help="print one profile in full (after env overrides)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from advisor.common.output import print_json, print_table
    from advisor.machine.profiles import list_profiles, load_profile

    if args.show:
        print_json(load_profile(args.show))
        return 0
    rows = list_profiles()
    if args.json:
        print_json([{"name": n, "description": d} for n, d in rows])
        return 0
    from advisor.machine.probe import probe

    default = "gpu" if probe().has_gpu else "cpu-small"
    print_table([(("* " if n == default else "  ") + n, d) for n, d in rows], headers=("  name", "description"))
    print("\n* default on this machine; pass --profile NAME or a .toml file to choose another")
    return 0
