"""What ``inspect`` reports about a dataset: ``summarize`` (rows, class balance, text lengths in
chars, words and tokens, drops, warnings) into a ``DataSummary``, and a held-out file's overlap
with the data (``overlap``, ``compare_test``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from advisor.data.labelled import Dataset, DropCounts
from advisor.data.sampling import stratified_subsample
from engines.base import Examples, Record


class ClassCount(Record):
    label: str = Field(description="Class label.")
    count: int = Field(description="Rows with this label.")
    share: float = Field(description="Share of all rows, 0–1.")


class LengthStats(Record):
    """Length percentiles in one unit."""

    unit: str = Field(description="'chars', 'words' or 'tokens'.")
    mean: float
    p10: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: int


class DataSummary(Record):
    """What ``inspect`` reports about a dataset."""

    ref: str
    path: str
    format: str
    text_col: str
    label_col: str
    encoding: str
    fingerprint: str
    rows: int = Field(description="Examples summarised (the sample when sampled).")
    total_rows: int = Field(description="Valid rows in the full file(s).")
    sampled: bool
    n_classes: int
    classes: list[ClassCount] = Field(description="Per class, most frequent first (full file counts).")
    imbalance_ratio: float = Field(description="Largest class count / smallest class count.")
    lengths: dict[str, LengthStats] = Field(description="By unit: chars, words, tokens (with a tokenizer).")
    tokenizer: str | None = Field(None, description="Tokenizer used for token lengths.")
    tokens_measured_on: int | None = Field(None, description="Texts tokenised (a seeded subsample when large).")
    share_over_tokens: dict[int, float] = Field(
        default_factory=dict, description="Share of texts longer than N tokens (truncated at max length N)."
    )
    dropped: DropCounts
    warnings: list[str]
    test_file: str | None = Field(None, description="Held-out file compared with the data (inspect --test-file).")
    test_rows: int | None = Field(None, description="Valid rows in the held-out file.")
    test_overlap: int | None = Field(
        None,
        description="Held-out rows whose text (ignoring case and whitespace) is also in the data: "
        "scores on them are inflated.",
    )
    test_overlap_conflicts: int | None = Field(
        None, description="Of those, rows whose label differs between the two files."
    )


def normalise_text(text: str) -> str:
    """A text as the overlap and duplicate checks compare it: whitespace collapsed, case folded."""
    return " ".join(text.split()).casefold()


class OverlapCounter:
    """Held-out rows whose text is also in the data, counted as the data's rows pass by (whole or in
    batches). Texts match ignoring case and runs of whitespace."""

    def __init__(self, test: Examples) -> None:
        self._wanted: dict[str, list[str]] = {}  # held-out texts (normalised) → their labels
        self._found: dict[str, set[str]] = {}  # of those, the labels the data has them with
        for text, label in zip(test.texts, test.labels):
            self._wanted.setdefault(normalise_text(text), []).append(label)

    def add(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Some of the data's rows."""
        for text, label in zip(texts, labels):
            key = normalise_text(text)
            if key in self._wanted:
                self._found.setdefault(key, set()).add(label)

    def counts(self) -> tuple[int, int]:
        """(held-out rows whose text was seen, of those the ones never seen with their own label)."""
        same = conflicts = 0
        for key, labels in self._wanted.items():
            seen = self._found.get(key)
            if seen is not None:
                same += len(labels)
                conflicts += sum(label not in seen for label in labels)
        return same, conflicts


def overlap(train: Examples, test: Examples) -> tuple[int, int]:
    """(held-out rows whose text is also in ``train``, of those the ones with another label there)."""
    counter = OverlapCounter(test)
    counter.add(train.texts, train.labels)
    return counter.counts()


def compare_test(summary: DataSummary, test: Dataset, train: Dataset) -> DataSummary:
    """``summary`` with the held-out file's overlap with the data (and a warning when there is any)."""
    same, conflicts = overlap(train.examples, test.examples)
    return with_overlap(summary, same, conflicts, test_ref=test.ref, test_rows=len(test.examples), train_ref=train.ref)


def with_overlap(
    summary: DataSummary, same: int, conflicts: int, *, test_ref: str, test_rows: int, train_ref: str
) -> DataSummary:
    """``summary`` with a held-out file's overlap counts (``overlap``'s), and a warning when there is any."""
    warnings = list(summary.warnings)
    said = overlap_warning(same, conflicts, test_ref=test_ref, test_rows=test_rows, train_ref=train_ref)
    if said:
        warnings.append(said)
    return summary.model_copy(
        update={
            "test_file": test_ref,
            "test_rows": test_rows,
            "test_overlap": same,
            "test_overlap_conflicts": conflicts,
            "warnings": warnings,
        }
    )


def overlap_warning(same: int, conflicts: int, *, test_ref: str, test_rows: int, train_ref: str) -> str | None:
    """The warning for ``same`` held-out rows also in the data (``overlap``'s counts); None when none."""
    if not same:
        return None
    return (
        f"{same:,} of {test_rows:,} rows in {test_ref} also appear in {train_ref} (same text); "
        "held-out scores on them are inflated"
        + (f"; {conflicts:,} of them have another label there" if conflicts else "")
    )


def length_stats(values: Sequence[int], unit: str) -> LengthStats:
    """Mean, percentiles and maximum of ``values`` (all zero when empty)."""
    import numpy as np

    arr = np.asarray(list(values) or [0])
    p = np.percentile(arr, [10, 50, 90, 95, 99])
    p = [round(float(x), 1) for x in p]
    return LengthStats(
        unit=unit,
        mean=round(float(arr.mean()), 1),
        p10=p[0],
        p50=p[1],
        p90=p[2],
        p95=p[3],
        p99=p[4],
        max=int(arr.max()),
    )


def summarize(
    dataset: Dataset, *, tokenizer: Any = None, tokenizer_name: str | None = None, max_token_texts: int = 10_000
) -> DataSummary:
    """Rows, class balance, text lengths (in tokens too when a tokenizer is given), drops, warnings."""
    counts = dataset.class_counts or dict(Counter(dataset.examples.labels))
    total = sum(counts.values())
    classes = [
        ClassCount(label=c, count=k, share=round(k / total, 4))
        for c, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    texts = dataset.examples.texts
    lengths = {
        "chars": length_stats([len(t) for t in texts], "chars"),
        "words": length_stats([len(t.split()) for t in texts], "words"),
    }
    measured = None
    over: dict[int, float] = {}
    if tokenizer is not None and texts:
        subset = texts
        if len(texts) > max_token_texts:
            subset = stratified_subsample(dataset.examples, max_token_texts, seed=0).texts
        ids = tokenizer(list(subset), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        n_tokens = [len(x) for x in ids]
        lengths["tokens"] = length_stats(n_tokens, "tokens")
        measured = len(n_tokens)
        over = {n: round(sum(k > n for k in n_tokens) / len(n_tokens), 4) for n in (64, 128, 256, 512)}
    return DataSummary(
        ref=dataset.ref,
        path=dataset.path,
        format=dataset.format,
        text_col=dataset.text_col,
        label_col=dataset.label_col,
        encoding=dataset.encoding,
        fingerprint=dataset.fingerprint,
        rows=len(dataset.examples),
        total_rows=dataset.total_rows,
        sampled=dataset.sampled,
        n_classes=len(counts),
        classes=classes,
        imbalance_ratio=round(max(counts.values()) / min(counts.values()), 3) if counts else 1.0,
        lengths=lengths,
        tokenizer=tokenizer_name,
        tokens_measured_on=measured,
        share_over_tokens=over,
        dropped=dataset.dropped,
        warnings=list(dataset.warnings),
    )
