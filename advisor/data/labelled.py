"""Labelled text data: load (any supported format, or ``demo:<name>``), validate, clean, sample and
split. Readers live in ``advisor.data.readers``, sampling in ``advisor.data.sampling`` (re-exported here);
what ``inspect`` reports about the data lives in ``advisor.data.summary``."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from advisor.data import demo as demos
from advisor.data.distinct import StreamSampler
from advisor.data.readers import SourceFile, detect_columns, iter_frames, open_source, preview
from advisor.data.sampling import (
    allocate,
    check_class_counts,
    check_stratifiable,
    nested_subsets,
    stratified_split,
    stratified_subsample,
)
from engines.atomic import write_with
from engines.base import Examples, Record
from engines.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Dataset",
    "DropCounts",
    "allocate",
    "check_stratifiable",
    "data_warnings",
    "fingerprint_source",
    "load_dataset",
    "open_labelled",
    "nested_subsets",
    "stratified_split",
    "stratified_subsample",
    "write_examples",
]

STREAM_THRESHOLD_BYTES = 256 * 2**20  # files estimated bigger than this are streamed when sampling
COMPRESSION_FACTOR = 5  # rough size of decompressed text per byte of a compressed file
FULL_HASH_BYTES = 64 * 2**20  # files up to this size are fingerprinted by their full sha256


class DropCounts(Record):
    """Rows read and rows dropped while cleaning."""

    total_rows_read: int = Field(0, description="Data rows read from the file(s), before cleaning.")
    nan_labels: int = Field(0, description="Rows dropped for a missing or empty label.")
    empty_texts: int = Field(0, description="Rows dropped for an empty text.")
    duplicates: int = Field(0, description="Exact duplicate (text, label) rows dropped; the first is kept.")
    other_labels: int = Field(0, description="Rows skipped because a demo keeps only some labels.")


class Dataset(Record):
    """Clean labelled examples and where they came from."""

    examples: Examples = Field(description="The (possibly sampled) clean examples.")
    ref: str = Field(description="The data reference as given (path or demo:<name>).")
    path: str = Field(description="The file or folder read.")
    format: str = Field(description="csv, tsv, jsonl, json, parquet or folder.")
    text_col: str = Field(description="Column holding the text.")
    label_col: str = Field(description="Column holding the label.")
    encoding: str = Field(description="Text encoding used.")
    fingerprint: str = Field(description="Short sha256 identifying the data file(s).")
    fingerprint_kind: Literal["sha256", "head-tail"] = Field(
        "sha256", description="'sha256' of the whole content, or (big files) of size, mtime and the first and last MiB."
    )
    total_rows: int = Field(description="Valid rows in the full file(s) after cleaning.")
    sampled: bool = Field(False, description="Whether ``examples`` is a sample of the valid rows.")
    class_counts: dict[str, int] = Field(default_factory=dict, description="Valid rows per class in the full file(s).")
    dropped: DropCounts = Field(default_factory=DropCounts, description="What cleaning dropped.")
    warnings: list[str] = Field(default_factory=list, description="Things the user should know about the data.")


# ---------------------------------------------------------------------------- helpers
def _label_str(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def clean_chunk(df: pd.DataFrame, keep: tuple[str, ...] | None) -> tuple[pd.DataFrame, int, int, int, int]:
    """(clean rows, dropped for label, dropped for text, skipped for other labels, texts that had NUL
    bytes, which are removed)."""
    import pandas as pd

    label = df["label"]
    missing = label.isna()
    label = label[~missing]
    label = label.str.strip() if pd.api.types.is_string_dtype(label) else label.map(_label_str)
    label_ok = label != ""
    nan_labels = int(missing.sum() + (~label_ok).sum())
    label = label[label_ok]
    text = df["text"].loc[label.index]
    text_missing = text.isna()
    text = text[~text_missing]
    if not pd.api.types.is_string_dtype(text):
        text = text.map(str)
    has_nul = text.str.contains("\x00", regex=False)
    nul_texts = int(has_nul.sum())
    if nul_texts:
        text = text.str.replace("\x00", "", regex=False)
    text_ok = text.str.strip() != ""
    empty_texts = int(text_missing.sum() + (~text_ok).sum())
    text = text[text_ok]
    out = pd.DataFrame({"text": text.astype(object), "label": label.loc[text.index].astype(object)})
    other = 0
    if keep is not None:
        wanted = out["label"].isin(keep)
        other = int((~wanted).sum())
        out = out[wanted]
    return out, nan_labels, empty_texts, other, nul_texts


def fingerprint_source(src: SourceFile) -> tuple[str, Literal["sha256", "head-tail"]]:
    digest = hashlib.sha256()
    files = [(f"{label}/{p.name}", p) for label, p in src.files] if src.format == "folder" else [("", src.path)]
    if src.size <= FULL_HASH_BYTES:
        for name, path in files:
            digest.update(name.encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()[:16], "sha256"
    for name, path in files:
        st = path.stat()
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        if src.format != "folder":
            with path.open("rb") as fh:
                digest.update(fh.read(1 << 20))
                fh.seek(max(0, st.st_size - (1 << 20)))
                digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16], "head-tail"


def _warnings(dropped: DropCounts, keep: tuple[str, ...] | None, label_col: str, n_classes: int) -> list[str]:
    out = []
    if dropped.nan_labels:
        out.append(f"dropped {dropped.nan_labels:,} row(s) with a missing or empty label")
    if dropped.empty_texts:
        out.append(f"dropped {dropped.empty_texts:,} row(s) with empty text")
    if dropped.duplicates:
        out.append(f"dropped {dropped.duplicates:,} exact duplicate row(s) (kept the first of each)")
    if dropped.other_labels and keep:
        out.append(f"skipped {dropped.other_labels:,} row(s) whose {label_col} is not one of: {', '.join(keep)}")
    if n_classes > 100:
        out.append(f"label column {label_col!r} has {n_classes:,} classes; is it really the label? (--label-col)")
    return out


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def _mixed_labels(counts: dict[str, int]) -> str | None:
    """A warning when some labels are numbers and others words (``1`` and ``pos``): often two
    codings of the same classes mixed in one column."""
    numbers = sorted(c for c in counts if _is_number(c))
    words = sorted(c for c in counts if not _is_number(c))
    if not numbers or not words:
        return None
    rows = sum(counts[c] for c in numbers)
    return (
        f"label column {{col!r}} mixes numbers ({', '.join(numbers[:3])}{' …' if len(numbers) > 3 else ''}; "
        f"{rows:,} rows) and words ({', '.join(words[:3])}{' …' if len(words) > 3 else ''}); "
        "each is its own class: are two codings mixed?"
    )


def open_labelled(
    ref: str, *, text_col: str | None, label_col: str | None, encoding: str | None
) -> tuple[SourceFile, str, str, tuple[str, ...] | None]:
    """(checked source, text column, label column, the labels a demo keeps) of ``ref`` (a path or
    ``demo:<name>``): the file checks and column detection on its first rows, before any full read."""
    ref = str(ref)
    keep: tuple[str, ...] | None = None
    if demos.is_demo(ref):
        path, spec = demos.demo_path(ref)
        text_col, label_col, keep, display = (
            text_col or spec.text_col,
            label_col or spec.label_col,
            spec.keep_labels,
            ref,
        )
    else:
        path, display = Path(ref).expanduser(), ref
    src = open_source(path, encoding=encoding, display=display)
    if demos.is_demo(ref) and encoding is None:
        src = replace(src, errors=spec.decode_errors)
    head = preview(src)
    if src.format != "folder" and head.empty:
        raise DataError(f"data file is empty: {display} (no data rows)")
    text, label = detect_columns(head, src, text_col, label_col)
    return src, text, label, keep


def data_warnings(
    dropped: DropCounts, keep: tuple[str, ...] | None, label_col: str, counts: dict[str, int], nul_texts: int
) -> list[str]:
    """What ``load_dataset`` warns about: drops, NUL bytes removed, too many classes, mixed label codings."""
    warnings = _warnings(dropped, keep, label_col, len(counts))
    if nul_texts:
        warnings.append(f"removed NUL bytes from {nul_texts:,} text(s)")
    mixed = _mixed_labels(counts)
    if mixed:
        warnings.append(mixed.format(col=label_col))
    return warnings


# ----------------------------------------------------------------------------- loading
def load_dataset(
    ref: str,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str | None = None,
    sample: int | None = None,
    seed: int = 0,
    validate: bool = True,
    stream_threshold: int | None = None,
) -> Dataset:
    """Read ``ref`` (a path or ``demo:<name>``), clean it, optionally take a seeded stratified
    sample of ``sample`` rows, and (``validate``) check it is usable for classification.

    Cleaning drops (and counts, with a warning) rows with a missing/empty label, rows with empty
    text, and exact duplicate (text, label) rows, keeping the first. With ``sample=N`` a file bigger
    than ``STREAM_THRESHOLD_BYTES`` is streamed in chunks and sampled without being loaded whole.

    Raises DataError (one line naming the file) for every bad input.
    """
    ref = str(ref)
    if sample is not None and sample < 2:
        raise DataError(f"--sample must be at least 2 (got {sample})")
    src, text_col, label_col, keep = open_labelled(ref, text_col=text_col, label_col=label_col, encoding=encoding)
    display = src.display

    threshold = STREAM_THRESHOLD_BYTES if stream_threshold is None else stream_threshold
    estimated = src.size * (COMPRESSION_FACTOR if src.compression else 1)
    stream = sample is not None and src.format != "folder" and estimated > threshold

    read = nan_labels = empty_texts = other = nul_texts = 0
    sampler = StreamSampler(sample, seed) if stream and sample is not None else None  # stream: only with a sample
    frames = []
    for chunk in iter_frames(src, text_col, label_col):
        read += len(chunk)
        clean, n_lab, n_txt, n_other, n_nul = clean_chunk(chunk, keep)
        nan_labels, empty_texts, other = nan_labels + n_lab, empty_texts + n_txt, other + n_other
        nul_texts += n_nul
        if sampler is not None:
            sampler.add(clean)
        else:
            frames.append(clean)
    if read == 0:
        raise DataError(f"data file is empty: {display} (no data rows)")

    if sampler is not None:
        counts = sampler.distinct_counts()
        valid = sum(counts.values())
        duplicates = sampler.rows - valid
    else:
        import pandas as pd

        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"text": [], "label": []})
        del frames
        dup = df.duplicated(["text", "label"], keep="first")
        duplicates = int(dup.sum())
        df = df[~dup]
        valid = len(df)
        counts = dict(Counter(df["label"].tolist()))
    if valid == 0:
        raise DataError(
            f"no usable rows in {display}: all {read:,} rows had an empty text or label"
            + (f" or a label other than {', '.join(keep)}" if keep else "")
        )
    if validate:
        check_class_counts(counts, display)

    if sampler is not None:
        examples = sampler.sample(seed)
    else:
        examples = Examples(texts=df["text"].tolist(), labels=df["label"].tolist())
        if sample is not None and sample < len(examples):
            examples = stratified_subsample(examples, sample, seed=seed)
    dropped = DropCounts(
        total_rows_read=read, nan_labels=nan_labels, empty_texts=empty_texts, duplicates=duplicates, other_labels=other
    )
    warnings = data_warnings(dropped, keep, label_col, counts, nul_texts)
    if sampler is not None and sampler.distinct.approximate:
        warnings.append(sampler.distinct.warning("rows, duplicates and classes (and so the sample's shares)"))
    fingerprint, kind = fingerprint_source(src)
    return Dataset(
        examples=examples,
        ref=ref,
        path=str(src.path),
        format=src.format,
        text_col=text_col,
        label_col=label_col,
        encoding=src.encoding,
        fingerprint=fingerprint,
        fingerprint_kind=kind,
        total_rows=valid,
        sampled=len(examples) < valid,
        class_counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        dropped=dropped,
        warnings=warnings,
    )


def write_examples(examples: Examples, path: str | Path) -> None:
    """Write ``examples`` as a CSV with columns text,label (atomically)."""
    import pandas as pd

    df = pd.DataFrame({"text": examples.texts, "label": examples.labels})
    write_with(path, lambda tmp: df.to_csv(tmp, index=False))
