"""``tune-or-embed predict``: label texts with a saved artifact, offline, from the folder alone.

    tune-or-embed predict runs/emb --text "a joyless two hours" --text "pure delight"
    tune-or-embed predict runs/emb --data new.csv --out predictions.csv
    tune-or-embed predict runs/emb --data new.csv --json

With ``--data`` every row is predicted in file order; when the file also has the label
column, accuracy on it is printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engines.errors import ConfigError, DataError


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
    p.add_argument("--json", action="store_true", help="print predictions as JSON")
    p.add_argument("--out", metavar="FILE", help="write predictions to FILE (.csv or .jsonl)")
    p.set_defaults(func=run)


def read_texts(
    ref: str, *, text_col: str | None, label_col: str | None, encoding: str | None
) -> tuple[list[str], list[str] | None]:
    """Every row's text (and label, when the file has the label column), in file order."""
    from advisor.data.readers import LABEL_NAMES, TEXT_NAMES, open_source, preview

    path = Path(ref).expanduser()
    if path.suffix.lower() == ".txt" and path.is_file():
        try:
            lines = path.read_text(encoding=encoding or "utf-8").splitlines()
        except UnicodeDecodeError:
            raise DataError(f"{ref} is not {encoding or 'utf-8'} text; pass --encoding") from None
        texts = [line for line in lines if line.strip()]
        if not texts:
            raise DataError(f"no texts in {ref}")
        return texts, None
    if ref.strip().lower().startswith("demo:") or path.is_dir():
        from advisor.data.labelled import load_dataset

        ds = load_dataset(ref, text_col=text_col, label_col=label_col, encoding=encoding, validate=False)
        return list(ds.examples.texts), list(ds.examples.labels)
    if not path.exists():
        raise DataError(f"data file not found: {ref}")
    src = open_source(path, encoding=encoding, display=ref)
    if src.format == "folder":
        from advisor.data.labelled import load_dataset

        ds = load_dataset(ref, text_col=text_col, label_col=label_col, encoding=encoding, validate=False)
        return list(ds.examples.texts), list(ds.examples.labels)
    frame = preview(src, rows=10**9)
    columns = {str(c).lower().strip(): str(c) for c in frame.columns}
    frame.columns = [str(c) for c in frame.columns]
    if text_col is None:
        text_col = next((columns[n] for n in TEXT_NAMES if n in columns), None)
        if text_col is None:
            strings = [c for c in frame.columns if frame[c].dtype == object]
            if not strings:
                raise DataError(f"no text column in {ref} (columns: {', '.join(frame.columns)}); pass --text-col")
            text_col = max(strings, key=lambda c: frame[c].dropna().astype(str).str.len().mean())
    if text_col not in frame.columns:
        raise DataError(f"column {text_col!r} not in {ref} (columns: {', '.join(frame.columns)})")
    if label_col is None:
        label_col = next((columns[n] for n in LABEL_NAMES if n in columns and columns[n] != text_col), None)
    elif label_col not in frame.columns:
        raise DataError(f"column {label_col!r} not in {ref} (columns: {', '.join(frame.columns)})")
    texts = frame[text_col].fillna("").astype(str).tolist()
    if not texts:
        raise DataError(f"no rows in {ref}")
    labels = None
    if label_col is not None:
        col = frame[label_col]
        if col.notna().all():
            labels = [str(v).strip() for v in col.tolist()]
            labels = [v[:-2] if v.endswith(".0") and v[:-2].lstrip("-").isdigit() else v for v in labels]
    return texts, labels


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


def _write(path: Path, rows: list[dict[str, Any]], classes: list[str]) -> None:
    import pandas as pd

    from engines.atomic import write_text

    if path.suffix.lower() in (".jsonl", ".ndjson"):
        write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    elif path.suffix.lower() in (".csv", ".tsv"):
        flat = pd.DataFrame(
            [
                {
                    "text": r["text"],
                    "label": r["label"],
                    "score": r["score"],
                    **{f"p_{c}": r["scores"][c] for c in classes},
                }
                for r in rows
            ]
        )
        write_text(path, flat.to_csv(index=False, sep="\t" if path.suffix.lower() == ".tsv" else ","))
    else:
        raise ConfigError(f"--out {path}: use a .csv, .tsv or .jsonl file name")


def run(args: argparse.Namespace) -> int:
    from engines.artifacts import load_artifact
    from engines.base import Examples
    from engines.metrics import score

    labels: list[str] | None = None
    if args.text:
        texts = list(args.text)
    else:
        texts, labels = read_texts(args.data, text_col=args.text_col, label_col=args.label_col, encoding=args.encoding)
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".tsv", ".jsonl", ".ndjson"):
        raise ConfigError(f"--out {args.out}: use a .csv, .tsv or .jsonl file name")
    engine, manifest = load_artifact(args.artifact)
    if "classification" not in engine.tasks:
        raise ConfigError(
            f"{args.artifact} is a retrieval artifact ({manifest.engine}): it finds documents, it does not label "
            f'texts; use `tune-or-embed search {args.artifact} "QUERY"`'
        )
    pred = engine.predict(texts)
    rows = _rows(texts, pred)
    report = None
    if labels is not None and set(labels) & set(pred.classes):
        report = score(Examples(texts=texts, labels=labels), pred)
    if args.out:
        _write(Path(args.out), rows, pred.classes)
    if args.json:
        out: dict[str, Any] = {
            "artifact": str(args.artifact),
            "engine": manifest.engine,
            "classes": pred.classes,
            "predictions": rows,
        }
        if report is not None:
            out["accuracy"], out["macro_f1"] = report.accuracy, report.macro_f1
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        if not args.out:
            for r in rows:
                text = r["text"].replace("\n", " ")
                print(f"{r['label']}\t{r['score']:.3f}\t{text[:100]}")
        else:
            print(f"wrote {len(rows)} predictions to {args.out}", file=sys.stderr)
        if report is not None:
            print(
                f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f} on {report.n} labelled rows",
                file=sys.stderr,
            )
    return 0
