"""``tune-or-embed compare RUN RUN [RUN …]``: full runs scored on the same held-out rows, side by side.

    tune-or-embed compare runs/ft runs/tfidf
    tune-or-embed compare runs/ft runs/emb runs/tfidf --goals goals.toml --json

Each run's metric with its 95 % interval, the best run's lead over each other one on the
same rows (paired), and which run to keep under the goals — ``advise``'s decision rule
applied to what the runs really gave. What a "too close" call's settle line points to.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compare full runs on their shared held-out rows and say which to keep",
        description=__doc__.splitlines()[0].split(": ", 1)[-1],
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="artifact folders written by `tune-or-embed run`")
    p.add_argument("--goals", metavar="FILE", help="goals TOML (metric, weights, latency budget …); default goals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--json", action="store_true", help="print the Comparison as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from advisor.common.output import print_json
    from advisor.decide.compare import compare_dirs
    from advisor.decide.goals import load_goals
    from advisor.machine.probe import probe

    goals = load_goals(args.goals)
    result = compare_dirs(args.runs, goals, probe(), seed=args.seed)
    if args.json:
        print_json(result)
    else:
        print(format_comparison(result))
    return 0


def format_comparison(c: Any) -> str:
    from advisor.common.capabilities import label
    from advisor.common.output import format_table, human_seconds, interval
    from advisor.decide.compare import verdict_lines

    lines = [f"{c.metric} on the same {c.rows:,} held-out rows (95 % intervals over those rows)", ""]
    lines.append(
        format_table(
            [
                (
                    r.name,
                    label(r.engine),
                    interval(r.value, r.low, r.high),
                    human_seconds(r.train_s, coarse=True),
                    "n/a" if r.ms_b1 is None else f"{r.ms_b1:.2f} ms",
                )
                for r in c.runs
            ],
            headers=("run", "approach", c.metric, "training", "latency (batch 1)"),
            align="lllrr",
        )
    )
    lines.append("")
    lines += verdict_lines(c)
    return "\n".join(lines)
