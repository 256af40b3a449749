"""Unlabelled-or-labelled text batches for ``predict``: a file read a batch of rows at a time.

Columns are detected on the first rows (``preview``); only folders and ``demo:`` sets are read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engines.errors import DataError

# One batch: the texts, and their labels (None for a row whose label is missing; the list is
# None when the file has no label column).
Batch = tuple[list[str], list[str | None] | None]


def _label(value: Any) -> str | None:
    if value is None or value != value:  # None / NaN: a missing label
        return None
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].lstrip("-").isdigit() else text


def _txt_batches(path: Path, ref: str, encoding: str | None, batch_rows: int) -> Iterator[Batch]:
    texts: list[str] = []
    rows = 0
    try:
        # newline="" splits on \n, \r and \r\n; splitlines() then splits on the rest, as str.splitlines does.
        with path.open(encoding=encoding or "utf-8", newline="") as fh:
            for raw in fh:
                texts += [line for line in raw.splitlines() if line.strip()]
                if len(texts) >= batch_rows:
                    rows += len(texts)
                    yield texts, None
                    texts = []
    except UnicodeDecodeError:
        raise DataError(f"{ref} is not {encoding or 'utf-8'} text; pass --encoding") from None
    if texts:
        yield texts, None
    elif rows == 0:
        raise DataError(f"no texts in {ref}")


def _memory_batches(
    ref: str, text_col: str | None, label_col: str | None, encoding: str | None, n: int
) -> Iterator[Batch]:
    from advisor.data.labelled import load_dataset

    ds = load_dataset(ref, text_col=text_col, label_col=label_col, encoding=encoding, validate=False)
    texts, labels = list(ds.examples.texts), list(ds.examples.labels)
    for i in range(0, len(texts), n):
        yield texts[i : i + n], list(labels[i : i + n])


def _detect(frame: Any, ref: str, text_col: str | None, label_col: str | None) -> tuple[str, str | None]:
    """The text and label columns of ``frame`` (the given ones, checked; else by name; else the longest strings)."""
    from advisor.data.readers import LABEL_NAMES, TEXT_NAMES

    frame.columns = [str(c) for c in frame.columns]
    columns = {c.lower().strip(): c for c in frame.columns}
    listing = ", ".join(frame.columns)
    if text_col is None:
        text_col = next((columns[n] for n in TEXT_NAMES if n in columns), None)
        if text_col is None:
            strings = [c for c in frame.columns if frame[c].dtype == object]
            if not strings:
                raise DataError(f"no text column in {ref} (columns: {listing}); pass --text-col")
            text_col = max(strings, key=lambda c: frame[c].dropna().astype(str).str.len().mean())
    if text_col not in frame.columns:
        raise DataError(f"column {text_col!r} not in {ref} (columns: {listing})")
    if label_col is None:
        label_col = next((columns[n] for n in LABEL_NAMES if n in columns and columns[n] != text_col), None)
    elif label_col not in frame.columns:
        raise DataError(f"column {label_col!r} not in {ref} (columns: {listing})")
    return text_col, label_col


def _file_batches(
    path: Path, ref: str, text_col: str | None, label_col: str | None, encoding: str | None, batch_rows: int
) -> Iterator[Batch]:
    from advisor.data.readers import iter_frames, open_source, preview

    src = open_source(path, encoding=encoding, display=ref)
    if src.format == "folder":
        yield from _memory_batches(ref, text_col, label_col, encoding, batch_rows)
        return
    text, label = _detect(preview(src), ref, text_col, label_col)
    rows = 0
    for frame in iter_frames(src, text, label, chunksize=batch_rows):
        if frame.empty:
            continue
        rows += len(frame)
        texts = frame["text"].fillna("").astype(str).tolist()
        yield texts, ([_label(v) for v in frame["label"].tolist()] if label is not None else None)
    if rows == 0:
        raise DataError(f"no rows in {ref}")


def text_batches(
    ref: str, *, text_col: str | None, label_col: str | None, encoding: str | None, batch_rows: int
) -> Iterator[Batch]:
    """Every row's text (and label, when the file has the label column) in file order, ``batch_rows`` at a time.

    Raises DataError (when iterated) for a missing file, an unreadable one, or one without rows."""
    path = Path(ref).expanduser()
    if path.suffix.lower() == ".txt" and path.is_file():
        return _txt_batches(path, ref, encoding, batch_rows)
    if ref.strip().lower().startswith("demo:") or path.is_dir():
        return _memory_batches(ref, text_col, label_col, encoding, batch_rows)
    if not path.exists():
        raise DataError(f"data file not found: {ref}")
    return _file_batches(path, ref, text_col, label_col, encoding, batch_rows)
