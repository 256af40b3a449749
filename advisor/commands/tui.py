"""`tune-or-embed tui [--data REF] [--task T] [--goals FILE] [--profile NAME]`: the terminal UI.

Also what `tune-or-embed` with no command opens. Textual is imported in ``run``.
"""

from __future__ import annotations

import argparse

from advisor.commands._data_args import DEMO_NAMES, add_task_args, resolve_task


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="open the terminal UI (the default with no command)",
        description="Goals → resources → data → benchmark → advice → run, in one terminal app.",
    )
    parser.add_argument("--data", metavar="REF", help=f"data file, folder, or {DEMO_NAMES}")
    parser.add_argument("--text-col", metavar="COL", help="text column (default: detected)")
    parser.add_argument("--label-col", metavar="COL", help="label column (default: detected)")
    parser.add_argument("--encoding", metavar="ENC", help="text encoding of the data file (default: utf-8)")
    parser.add_argument(
        "--test-file",
        metavar="FILE",
        help="held-out file (same columns) the full run is scored on; the data's every row trains",
    )
    add_task_args(parser)
    parser.add_argument("--goals", metavar="FILE", help="goals TOML to start from (also where Ctrl+S saves)")
    parser.add_argument("--profile", metavar="NAME", help="profile name or .toml (default: suggested from the probe)")
    parser.add_argument(
        "--budget",
        default="quick",
        type=_budget,
        help="benchmark budget preselected on step 4: quick | standard | thorough | SECONDS (default: quick)",
    )
    parser.add_argument("--light", action="store_true", help="start in the light theme (Ctrl+T toggles)")
    parser.set_defaults(func=run)


def _budget(value: str) -> str:
    """A named budget, or a number of seconds (at least 10), as advise takes it (``budget_seconds``)."""
    from advisor.decide.goals import budget_seconds
    from engines.errors import ConfigError

    try:
        name, seconds = budget_seconds(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return f"{seconds:g}" if name == "custom" else name


def run(args: argparse.Namespace) -> int:
    from advisor.common.tasks import on_task
    from advisor.decide.goals import Goals, load_goals

    goals = load_goals(args.goals) if args.goals else None  # a bad file: one line, before the UI opens
    task = resolve_task(args, goals or Goals())
    if task != (goals or Goals()).task:  # e.g. a retrieval demo: start on its task, with its metric
        goals = on_task(goals or Goals(), task)

    from advisor.tui.app import LIGHT, create_app

    app = create_app(
        data=args.data,
        goals=goals,
        goals_path=args.goals,
        profile=args.profile,
        text_col=args.text_col,
        label_col=args.label_col,
        encoding=args.encoding,
        test_file=args.test_file,
        corpus=args.corpus,
        budget=args.budget,
        theme=LIGHT if args.light else None,
    )
    return int(app.run() or 0)
