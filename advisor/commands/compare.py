"""``tune-or-embed compare RUN RUN [RUN …]``: full runs scored on the same held-out rows, side by side.

    tune-or-embed compare runs/ft runs/tfidf
    tune-or-embed compare runs/ft runs/emb runs/tfidf --goals goals.toml --json

Each run's metric with its 95 % interval, the best run's lead over each other one on the
same rows (paired), and which run to keep under the goals — ``advise``'s decision rule
applied to what the runs really gave. What a "too close" call's settle line points to.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="compare full runs on their shared held-out rows and say which to keep",
                       description=__doc__.splitlines()[0].split(": ", 1)[-1])
    p.add_argument("runs", nargs="+", metavar="RUN", help="artifact folders written by `tune-or-embed run`")
    p.add_argument("--goals", metavar="FILE", help="goals TOML (metric, weights, latency budget …); default goals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--json", action="store_true", help="print the Comparison as JSON on stdout")
    p.set_defaults(func=run)


def load_run(path: str | Path, name: str):
    """A ``RunResult`` from an artifact folder (manifest + held-out predictions)."""
    from advisor.compare import RunResult, latencies
    from engines.artifacts import read_heldout, read_manifest

    manifest = read_manifest(path)
    held = read_heldout(path)
    ms_b1, ms_batch = latencies(manifest.speed)
    return RunResult(name=name, engine=manifest.engine, n_train=manifest.split.n_train if manifest.split else 0,
                     rows_digest=held.rows_digest, y_true=held.y_true, y_pred=held.y_pred,
                     train_s=manifest.fit.wall_s if manifest.fit else None, ms_b1=ms_b1, ms_batch=ms_batch)


def run_names(paths: list[str]) -> list[str]:
    """Folder names, or the paths as given when two folders share a name."""
    names = [Path(p).name or str(p) for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def run(args: argparse.Namespace) -> int:
    from advisor.compare import compare
    from advisor.goals import load_goals
    from advisor.output import print_json
    from advisor.probe import probe

    goals = load_goals(args.goals)
    runs = [load_run(p, n) for p, n in zip(args.runs, run_names(args.runs), strict=True)]
    result = compare(runs, goals, probe(), seed=args.seed)
    if args.json:
        print_json(result)
    else:
        print(format_comparison(result))
    return 0


def format_comparison(c: Any) -> str:
    from advisor.output import format_table
    from advisor.recommend import LABELS, _dur

    def pct(v: float) -> str:
        return f"{100 * v:.1f} %"

    lines = [f"{c.metric} on the same {c.rows:,} held-out rows (95 % intervals over those rows)", ""]
    lines.append(format_table(
        [(r.name, LABELS.get(r.engine, r.engine), f"{pct(r.value)} [{pct(r.low)}–{pct(r.high)}]",
          _dur(r.train_s), "n/a" if r.ms_b1 is None else f"{r.ms_b1:.2f} ms") for r in c.runs],
        headers=("run", "approach", c.metric, "training", "latency (batch 1)"), align="lllrr"))
    lines.append("")
    for lead in c.leads:
        lines.append(f"{c.best} leads {lead.other} by {100 * lead.lead:+.1f} points "
                     f"[{100 * lead.low:+.1f}, {100 * lead.high:+.1f}] (paired, same rows)")
    rec = c.recommendation
    lines.append("")
    verdict = "too close to call on these rows" if rec.too_close else f"confidence {rec.confidence}"
    lines.append(f"keep: {rec.label} — {verdict}" if rec.choice else f"keep: nothing — {rec.label}")
    lines += [f"  - {r.text}" for r in rec.reasons if r.weight > 0 or r.text.startswith(("too close", "caution"))]
    lines += [f"  - ruled out: {r.reason}" for r in rec.ruled_out]
    if rec.settle:
        lines.append(f"  {rec.settle}")
    return "\n".join(lines)
