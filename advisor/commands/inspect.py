"""``tune-or-embed inspect DATA``: rows, classes and their balance, text lengths, what was dropped."""

from __future__ import annotations

import argparse

from advisor.commands._data_args import add_data_args
from advisor.commands.task_handlers import HANDLERS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="summarise a labelled dataset (classes, lengths, drops)",
        description="Read a labelled dataset and report rows, class balance, "
        "text-length percentiles (in tokens with --model) and what was dropped.",
    )
    add_data_args(p)
    p.add_argument(
        "--model", metavar="REF", help="also count tokens with this model's tokenizer (loads only the tokenizer)"
    )
    p.add_argument(
        "--test-file",
        metavar="FILE",
        help="a held-out file to check against DATA: counts its rows "
        "whose text is also in DATA (they inflate held-out scores)",
    )
    p.add_argument(
        "--task",
        choices=("auto", *HANDLERS),
        default="auto",
        help="read DATA as labelled texts or as query/document pairs (default: detected)",
    )
    p.add_argument("--corpus", metavar="FILE", help="retrieval: more documents for the collection")
    p.add_argument("--json", action="store_true", help="print the DataSummary model as JSON")
    p.set_defaults(func=run)


def load_tokenizer(ref: str):
    """(tokenizer, display name) for a model reference, offline, without loading weights."""
    from engines.models import resolve_model

    resolved = resolve_model(ref)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolved.path), trust_remote_code=False), resolved.name


def run(args: argparse.Namespace) -> int:
    from advisor.commands.task_handlers import detect, handlers

    return int(handlers(detect(args.data) if args.task == "auto" else args.task).inspect(args))


def format_summary(s) -> str:
    from advisor.common.output import format_table

    lines = [
        format_table(
            [
                ("data", f"{s.ref} ({s.format}, {s.encoding})" + (f" → {s.path}" if s.path != s.ref else "")),
                ("columns", f"text: {s.text_col}, label: {s.label_col}"),
                (
                    "rows",
                    f"{s.total_rows:,} valid"
                    + (f", {s.rows:,} sampled" if s.sampled else "")
                    + f" (of {s.dropped.total_rows_read:,} read)",
                ),
                ("classes", f"{s.n_classes}, imbalance {s.imbalance_ratio:.2f}× (largest / smallest)"),
                ("fingerprint", s.fingerprint),
            ]
        ),
        "",
    ]
    lines.append(
        format_table(
            [(c.label, c.count, f"{100 * c.share:.1f}%") for c in s.classes],
            headers=("class", "rows", "share"),
            align="lrr",
        )
    )
    lines.append("")
    lines.append(
        format_table(
            [(u, st.mean, st.p10, st.p50, st.p90, st.p95, st.p99, st.max) for u, st in s.lengths.items()],
            headers=("length", "mean", "p10", "p50", "p90", "p95", "p99", "max"),
            align="lrrrrrrr",
        )
    )
    if s.tokenizer:
        over = ", ".join(f">{n}: {100 * v:.1f}%" for n, v in s.share_over_tokens.items())
        lines.append(f"tokens by {s.tokenizer} on {s.tokens_measured_on:,} texts; longer than N tokens: {over}")
    d = s.dropped
    lines.append("")
    lines.append(
        f"dropped: {d.nan_labels:,} missing label, {d.empty_texts:,} empty text, "
        f"{d.duplicates:,} duplicates" + (f", {d.other_labels:,} other labels" if d.other_labels else "")
    )
    if s.test_file is not None:
        lines.append(
            f"held-out file: {s.test_file}, {s.test_rows:,} rows, {s.test_overlap:,} also in the data "
            f"(same text){f', {s.test_overlap_conflicts:,} with another label' if s.test_overlap_conflicts else ''}"
        )
    lines += [f"warning: {w}" for w in s.warnings]
    return "\n".join(lines)
