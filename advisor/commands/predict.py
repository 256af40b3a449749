"""``tune-or-embed predict``: label texts with a saved artifact, offline, from the folder alone.

    tune-or-embed predict runs/emb --text "a joyless two hours" --text "pure delight"
    tune-or-embed predict runs/emb --data new.csv --out predictions.csv
    tune-or-embed predict runs/emb --data new.csv --json

With ``--data`` every row is predicted in file order, a batch of rows at a time (with ``--out`` the
file is written as it goes, under a temporary name renamed into place at the end); when the file
also has the label column, accuracy on it is printed too. ``--json`` prints one JSON document as the
rows come (a prediction per line), so it too keeps memory flat; an error mid-way leaves it unfinished.

Every prediction comes from one artifact: a load that another ``run --overwrite`` swaps the folder
under starts again (on the new one), and a kNN head whose store vanishes mid-way says it was replaced.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engines.errors import ConfigError, DataError

if TYPE_CHECKING:
    from advisor.data.batches import Batch

BATCH_ROWS = 10_000  # rows read, predicted and written at a time: memory stays flat in the file's size


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="label texts with a saved artifact", description=__doc__.splitlines()[0].split(": ", 1)[-1]
    )
    p.add_argument("artifact", metavar="ARTIFACT", help="artifact folder written by `run`")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", metavar="T", help="a text to label (repeatable)")
    src.add_argument("--data", metavar="FILE", help="CSV/TSV/JSONL/Parquet/TXT file (one text per line for .txt)")
    p.add_argument("--text-col", help="text column in --data (detected when omitted)")
    p.add_argument("--label-col", help="label column in --data, to also report accuracy")
    p.add_argument("--encoding", help="text encoding of --data (detected when omitted)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print predictions as one JSON document, a prediction per line, as they come",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write predictions to FILE (.csv, .tsv or .jsonl), batch by batch, renamed into place at the end",
    )
    p.set_defaults(func=run)


def _rows(texts: list[str], pred: Any) -> list[dict[str, Any]]:
    rows = []
    for text, label, scores in zip(texts, pred.labels, pred.scores, strict=True):
        rows.append(
            {
                "text": text,
                "label": label,
                "score": max(scores) if scores else None,
                "scores": dict(zip(pred.classes, scores, strict=True)),
            }
        )
    return rows


def _write(fh: TextIO, suffix: str, rows: list[dict[str, Any]], classes: list[str], *, header: bool) -> None:
    """Append one batch of rows to the open output file (the CSV/TSV header only with the first batch)."""
    if suffix in (".jsonl", ".ndjson"):
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return
    import pandas as pd

    flat = pd.DataFrame(
        [
            {"text": r["text"], "label": r["label"], "score": r["score"], **{f"p_{c}": r["scores"][c] for c in classes}}
            for r in rows
        ]
    )
    fh.write(flat.to_csv(index=False, header=header, sep="\t" if suffix == ".tsv" else ","))


class JsonDocument:
    """``--json`` printed as the rows come, memory flat in the file's size: the object ``{"artifact",
    "engine", "classes", "predictions": [...], "accuracy", "macro_f1"}``, a prediction per line."""

    def __init__(self, artifact: str, engine: str) -> None:
        self.head: dict[str, Any] = {"artifact": artifact, "engine": engine}
        self.open, self.sep = False, "\n  "

    def _start(self, classes: list[str]) -> None:
        head = json.dumps({**self.head, "classes": classes}, ensure_ascii=False)
        sys.stdout.write(head[:-1] + ', "predictions": [')
        self.open = True

    def add(self, rows: list[dict[str, Any]], classes: list[str]) -> None:
        if not self.open:
            self._start(classes)
        for r in rows:
            sys.stdout.write(self.sep + json.dumps(r, ensure_ascii=False))
            self.sep = ",\n  "

    def close(self, classes: list[str], scores: dict[str, float] | None) -> None:
        if not self.open:
            self._start(classes)
        tail = json.dumps(scores, ensure_ascii=False)[1:-1] if scores else ""
        sys.stdout.write("\n]" + (", " + tail if tail else "") + "}\n")


def run(args: argparse.Namespace) -> int:
    from engines.artifacts import load_settled, same_artifact
    from engines.atomic import staged_file
    from engines.metrics import score_counts

    batches: Iterator[Batch]
    if args.text:
        batches = iter([(list(args.text), None)])
    else:
        from advisor.data.batches import text_batches

        batches = text_batches(
            args.data, text_col=args.text_col, label_col=args.label_col, encoding=args.encoding, batch_rows=BATCH_ROWS
        )
    first = next(batches, None)  # bad data is reported before a bad artifact
    if first is None:
        raise DataError(f"no rows in {args.data}")
    suffix = Path(args.out).suffix.lower() if args.out else ""
    if args.out and suffix not in (".csv", ".tsv", ".jsonl", ".ndjson"):
        raise ConfigError(f"--out {args.out}: use a .csv, .tsv or .jsonl file name")
    # Loaded wholly from one artifact even while another `run --overwrite` replaces it (then the new one).
    engine, manifest = load_settled(args.artifact)
    if "classification" not in engine.tasks:
        raise ConfigError(
            f"{args.artifact} is a retrieval artifact ({manifest.engine}): it finds documents, it does not label "
            f'texts; use `tune-or-embed search {args.artifact} "QUERY"`'
        )
    doc = JsonDocument(str(args.artifact), manifest.engine) if args.json else None
    counts: Counter[tuple[str, str]] = Counter()  # (true, predicted) -> rows, for accuracy without the rows
    labelled, overlap, n, cut, classes = True, False, 0, 0, []
    with staged_file(args.out) if args.out else nullcontext() as fh:
        for texts, labels in itertools.chain([first], batches):
            with same_artifact(args.artifact, manifest, doing="predict"):  # a kNN head reads its store now
                pred = engine.predict(texts)
            rows = _rows(texts, pred)
            classes = pred.classes
            if fh is not None:
                _write(fh, suffix, rows, classes, header=n == 0)
            if doc is not None:
                doc.add(rows, classes)
            elif not args.out:
                for r in rows:
                    text = r["text"].replace("\n", " ")
                    print(f"{r['label']}\t{r['score']:.3f}\t{text[:100]}")
            n += len(rows)
            cut += pred.cut
            truth = [label for label in labels or () if label is not None]
            labelled = labelled and len(truth) == len(texts)  # accuracy only when every row has a label
            if labelled:
                counts.update(zip(truth, pred.labels, strict=True))
                overlap = overlap or not set(truth).isdisjoint(classes)
    report = score_counts(counts) if labelled and overlap else None
    if cut:  # only transformer engines cut texts, and they have a max_length
        from engines.backbone import cut_note

        limit = int(getattr(engine.config, "max_length", 0))
        print(f"warning: {cut_note(cut, n, limit, 'texts')}", file=sys.stderr)
    if doc is not None:
        doc.close(classes, None if report is None else {"accuracy": report.accuracy, "macro_f1": report.macro_f1})
    elif args.out:
        print(f"wrote {n} predictions to {args.out}", file=sys.stderr)
    if report is not None and not args.json:
        print(
            f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f} on {report.n} labelled rows",
            file=sys.stderr,
        )
    return 0
