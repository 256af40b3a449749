"""``inspect`` of a labelled file in one streamed pass, its memory flat in the file's size: ``summarize_file``.

The file is read ``BATCH_ROWS`` rows at a time (``readers.iter_frames``) and each batch is cleaned as
``load_dataset`` cleans it; the ``DataSummary`` is built from running counts, never from the rows:

- rows read and dropped, and distinct rows per class: exact counts.
- duplicates: ``DistinctRows``, a 64-bit hash of each clean (text, label) row. Up to ``EXACT_DISTINCT``
  distinct rows the hashes are kept in a sorted array (8 bytes a row; exact but for a 64-bit hash
  collision, about 3e-8 at a million rows); past that they move into a fixed ``BLOOM_BITS`` Bloom
  filter, whose false positives count a few new rows as duplicates. The report then says (a warning)
  that rows, duplicates, class counts and lengths are approximate, and by about how much.
- text lengths in characters and words: ``LengthCounts``, a histogram of the integer lengths (its size is
  the number of distinct lengths, not of rows). The mean, the maximum and numpy's linear-interpolation
  percentiles computed from it equal those of the whole list of lengths (``length_stats``).
- tokens (with a tokenizer): ``ClassSample`` keeps, per class, the ``max_token_texts`` rows with the
  smallest row hashes, and the texts measured are a stratified allocation of ``max_token_texts`` over them:
  every row when there are no more (as ``summarize`` measures them), else a seeded sample of that size
  (``summarize`` draws another one). Its memory is up to ``max_token_texts`` texts per class.
- a held-out file (``test_file``): read whole (it is the small one), and the data streamed past it: the
  overlap counts equal ``summary.overlap``'s.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from advisor.data.distinct import BLOOM_BITS, EXACT_DISTINCT, ClassSample, DistinctRows
from advisor.data.labelled import (
    DropCounts,
    check_class_counts,
    clean_chunk,
    data_warnings,
    fingerprint_source,
    load_dataset,
    open_labelled,
)
from advisor.data.readers import CHUNK_ROWS, iter_frames
from advisor.data.summary import ClassCount, DataSummary, LengthStats, OverlapCounter, length_stats, with_overlap
from engines.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from engines.base import Examples

BATCH_ROWS = CHUNK_ROWS  # rows read and counted at a time
PERCENTILES = (10, 50, 90, 95, 99)


# ------------------------------------------------------------------------- lengths
def percentiles_from_counts(values: np.ndarray, counts: np.ndarray, q: tuple[int, ...] = PERCENTILES) -> list[float]:
    """``np.percentile(arr, q)`` (linear interpolation) of the array holding each ``values[i]``
    ``counts[i]`` times (``values`` sorted), computed as numpy computes it, from the histogram alone."""
    import numpy as np

    n = int(counts.sum())
    cum = np.cumsum(counts)
    virtual = (n - 1) * np.true_divide(np.asarray(q), 100)
    below = np.floor(virtual)
    prev = np.minimum(below.astype(np.int64), n - 1)
    nxt = np.minimum(prev + 1, n - 1)
    a = values[np.searchsorted(cum, prev, side="right")]  # the prev-th smallest (0-based)
    b = values[np.searchsorted(cum, nxt, side="right")]
    t = virtual - below
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)  # numpy's _lerp, for the same last bits
    return [float(x) for x in out]


class LengthCounts:
    """How many texts have each length: a mergeable histogram of integer lengths."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self.n = 0
        self.total = 0

    def add(self, lengths: np.ndarray) -> None:
        import numpy as np

        if not len(lengths):
            return
        values, counts = np.unique(lengths, return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist()):
            self._counts[v] += c
        self.n += len(lengths)
        self.total += int(lengths.sum())

    def stats(self, unit: str) -> LengthStats:
        """``summary.length_stats`` of every length added (all zero when none)."""
        import numpy as np

        if not self.n:
            return LengthStats(unit=unit, mean=0.0, p10=0.0, p50=0.0, p90=0.0, p95=0.0, p99=0.0, max=0)
        values = np.asarray(sorted(self._counts), dtype=np.int64)
        counts = np.asarray([self._counts[v] for v in values.tolist()], dtype=np.int64)
        p = [round(x, 1) for x in percentiles_from_counts(values, counts)]
        return LengthStats(
            unit=unit,
            mean=round(float(self.total) / self.n, 1),  # numpy's mean of ints: their exact sum / n
            p10=p[0],
            p50=p[1],
            p90=p[2],
            p95=p[3],
            p99=p[4],
            max=int(values[-1]),
        )


# ------------------------------------------------------------------------ summary
def summarize_file(
    ref: str,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str | None = None,
    tokenizer: Any = None,
    tokenizer_name: str | None = None,
    max_token_texts: int = 10_000,
    test_file: str | None = None,
    batch_rows: int | None = None,
) -> DataSummary:
    """``summarize(load_dataset(ref))`` (with ``compare_test`` for ``test_file``), read a batch at a time.

    The same errors as ``load_dataset`` (validated) for a bad file; the same report for a file of up to
    ``EXACT_DISTINCT`` distinct rows, the token figures aside when it has more than ``max_token_texts``."""
    import numpy as np
    import pandas as pd

    ref = str(ref)
    src, text_col, label_col, keep = open_labelled(ref, text_col=text_col, label_col=label_col, encoding=encoding)
    test = held_out = None
    if test_file is not None:
        test = load_dataset(test_file, text_col=text_col, label_col=label_col, encoding=encoding, validate=False)
        held_out = OverlapCounter(test.examples)

    distinct = DistinctRows(exact_limit=EXACT_DISTINCT, bloom_bits=BLOOM_BITS)
    chars, words = LengthCounts(), LengthCounts()
    counts: Counter[str] = Counter()
    sample = ClassSample(max_token_texts) if tokenizer is not None else None
    read = nan_labels = empty_texts = other = nul_texts = duplicates = 0
    for chunk in iter_frames(src, text_col, label_col, chunksize=batch_rows or BATCH_ROWS):
        read += len(chunk)
        clean, n_lab, n_txt, n_other, n_nul = clean_chunk(chunk, keep)
        nan_labels, empty_texts, other, nul_texts = (
            nan_labels + n_lab,
            empty_texts + n_txt,
            other + n_other,
            nul_texts + n_nul,
        )
        del chunk
        if clean.empty:
            continue
        hashes = pd.util.hash_pandas_object(clean[["text", "label"]], index=False).to_numpy()
        new = distinct.new(hashes)
        duplicates += len(clean) - int(new.sum())
        texts = clean["text"].to_numpy()[new].tolist()
        labels = clean["label"].to_numpy()[new].tolist()
        del clean
        counts.update(labels)
        chars.add(np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)))
        words.add(np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts)))
        if sample is not None:
            sample.add(hashes[new], texts, labels)
        if held_out is not None:
            held_out.add(texts, labels)
    if read == 0:
        raise DataError(f"data file is empty: {src.display} (no data rows)")
    valid = sum(counts.values())
    if valid == 0:
        raise DataError(
            f"no usable rows in {src.display}: all {read:,} rows had an empty text or label"
            + (f" or a label other than {', '.join(keep)}" if keep else "")
        )
    check_class_counts(dict(counts), src.display)

    dropped = DropCounts(
        total_rows_read=read, nan_labels=nan_labels, empty_texts=empty_texts, duplicates=duplicates, other_labels=other
    )
    warnings = data_warnings(dropped, keep, label_col, dict(counts), nul_texts)
    if distinct.approximate:
        warnings.append(distinct.warning("rows, duplicates, classes and lengths"))
    lengths = {"chars": chars.stats("chars"), "words": words.stats("words")}
    measured = None
    over: dict[int, float] = {}
    if sample is not None:
        subset = sample.take(dict(counts), seed=0).texts
        ids = tokenizer(list(subset), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        n_tokens = [len(x) for x in ids]
        lengths["tokens"] = length_stats(n_tokens, "tokens")
        measured = len(n_tokens)
        over = {n: round(sum(k > n for k in n_tokens) / len(n_tokens), 4) for n in (64, 128, 256, 512)}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    fingerprint, _ = fingerprint_source(src)
    summary = DataSummary(
        ref=ref,
        path=str(src.path),
        format=src.format,
        text_col=text_col,
        label_col=label_col,
        encoding=src.encoding,
        fingerprint=fingerprint,
        rows=valid,
        total_rows=valid,
        sampled=False,
        n_classes=len(counts),
        classes=[ClassCount(label=c, count=k, share=round(k / valid, 4)) for c, k in ordered],
        imbalance_ratio=round(ordered[0][1] / ordered[-1][1], 3),
        lengths=lengths,
        tokenizer=tokenizer_name,
        tokens_measured_on=measured,
        share_over_tokens=over,
        dropped=dropped,
        warnings=warnings,
    )
    if test is None or held_out is None:
        return summary
    same, conflicts = held_out.counts()
    return with_overlap(summary, same, conflicts, test_ref=test.ref, test_rows=len(test.examples), train_ref=ref)


def file_overlap(
    ref: str, test: Examples, *, text_col: str, label_col: str, encoding: str | None, batch_rows: int | None = None
) -> tuple[int, int]:
    """``summary.overlap`` of ``test`` with every clean row of the data file ``ref``, read a batch at a
    time (for data that was sampled: the rows left out of the sample count too)."""
    src, text_col, label_col, keep = open_labelled(ref, text_col=text_col, label_col=label_col, encoding=encoding)
    counter = OverlapCounter(test)
    for chunk in iter_frames(src, text_col, label_col, chunksize=batch_rows or BATCH_ROWS):
        clean = clean_chunk(chunk, keep)[0]
        counter.add(clean["text"].tolist(), clean["label"].tolist())
    return counter.counts()
