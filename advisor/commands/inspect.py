"""``tune-or-embed inspect DATA``: rows, classes and their balance, text lengths, what was dropped."""

from __future__ import annotations

import argparse

from advisor.commands._data_args import add_data_args


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
        choices=("auto", "classification", "retrieval"),
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
    from advisor.commands._data_args import load_from_args
    from advisor.common.output import print_json
    from advisor.data.pairs import looks_like_pairs
    from advisor.data.summary import summarize
    from advisor.data.summary_stream import summarize_file

    if args.task == "retrieval" or (args.task == "auto" and looks_like_pairs(args.data)):
        return _inspect_pairs(args)
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


def _inspect_pairs(args: argparse.Namespace) -> int:
    """Queries, documents, relevance per query, lengths, duplicates and drops of retrieval pairs; with
    ``--model``, the share of queries and documents longer than the model's token limit."""
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
