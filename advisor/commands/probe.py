"""``tune-or-embed probe``: what this machine has (CPU, RAM, disk, GPUs, torch's view with --torch)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "probe",
        help="show this machine's CPU, RAM, disk and GPUs",
        description="Show this machine's CPU, RAM, free disk, NVIDIA GPUs (NVML) and, with --torch, what torch sees.",
    )
    p.add_argument("--json", action="store_true", help="print the Resources model as JSON")
    p.add_argument("--torch", action="store_true", help="also ask torch (imports torch: slower)")
    p.add_argument(
        "--artifacts-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="where artifacts go: free disk is measured there (default: current folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from advisor.common.output import print_json
    from advisor.machine.probe import format_resources, probe

    res = probe(artifacts_dir=args.artifacts_dir, include_torch=args.torch)
    if args.json:
        print_json(res)
    else:
        print(format_resources(res))
    return 0
