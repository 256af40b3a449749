"""Rows of a stream told apart by a 64-bit row hash, in memory bounded whatever the file's size:
which rows are new (``DistinctRows``), a bottom-k sample per class (``ClassSample``), and advise's
streamed sample of a file too big to read whole (``StreamSampler``: both, over seeded hashes)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from advisor.data.sampling import allocate
from engines.base import Examples

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EXACT_DISTINCT = 1_000_000  # distinct rows whose hashes are kept exactly (8 MB); a Bloom filter past that
BLOOM_BITS = 2**28  # 32 MiB: about 1e-6 false positives at 6 million distinct rows, 1e-3 at 30 million
BLOOM_HASHES = 7
BLOOM_CHUNK = 1 << 16  # hashes set in the filter at a time


class DistinctRows:
    """Which rows are new, by 64-bit row hash: exact (a sorted array) up to ``exact_limit`` distinct
    hashes, then a Bloom filter of ``bloom_bits`` bits (``approximate`` from then on)."""

    def __init__(
        self, exact_limit: int = EXACT_DISTINCT, bloom_bits: int = BLOOM_BITS, n_hashes: int = BLOOM_HASHES
    ) -> None:
        import numpy as np

        if bloom_bits & (bloom_bits - 1):
            raise ValueError("bloom_bits must be a power of two")
        self.exact_limit, self.bloom_bits, self.n_hashes = exact_limit, bloom_bits, n_hashes
        self._sorted = np.empty(0, np.uint64)
        self._bloom: np.ndarray | None = None
        self.distinct = 0

    @property
    def approximate(self) -> bool:
        return self._bloom is not None

    def false_positive_rate(self) -> float:
        """The Bloom filter's chance, at its present fill, to call a new row seen (0 while exact)."""
        if self._bloom is None:
            return 0.0
        return (1 - math.exp(-self.n_hashes * self.distinct / self.bloom_bits)) ** self.n_hashes

    def warning(self, counted: str) -> str:
        """What the report says once the counts are approximate; ``counted``: what may be off."""
        return (
            f"approximate counts: past {self.exact_limit:,} distinct rows, duplicates are found with a "
            f"{self.bloom_bits // 8 // 2**20} MiB Bloom filter that can take a new row for a duplicate "
            f"(about {self.false_positive_rate():.1e} of them at the end); {counted} may be off by that share"
        )

    def _positions(self, h: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(byte, bit mask) of each of the ``n_hashes`` bits of every hash (double hashing), one bit at a time."""
        import numpy as np

        h1 = h & np.uint64(0xFFFFFFFF)
        h2 = (h >> np.uint64(32)) | np.uint64(1)
        mask = np.uint64(self.bloom_bits - 1)
        for i in range(self.n_hashes):
            pos = (h1 + np.uint64(i) * h2) & mask
            yield pos >> np.uint64(3), np.left_shift(np.uint8(1), (pos & np.uint64(7)).astype(np.uint8))

    def _bloom_has(self, h: np.ndarray) -> np.ndarray:
        import numpy as np

        assert self._bloom is not None
        found = np.ones(len(h), dtype=bool)
        for byte, bit in self._positions(h):
            found &= (self._bloom[byte] & bit) != 0
        return found

    def _bloom_add(self, h: np.ndarray) -> None:
        import numpy as np

        assert self._bloom is not None
        for start in range(0, len(h), BLOOM_CHUNK):  # bounded temporaries when the exact hashes move in
            for byte, bit in self._positions(h[start : start + BLOOM_CHUNK]):
                np.bitwise_or.at(self._bloom, byte, bit)

    def new(self, hashes: np.ndarray) -> np.ndarray:
        """A mask of the rows seen for the first time (the first of equal hashes within ``hashes`` too)."""
        import numpy as np

        uniq, first = np.unique(hashes, return_index=True)
        if self._bloom is None:
            known = self._sorted
            pos = np.minimum(np.searchsorted(known, uniq), max(len(known) - 1, 0))
            seen = known[pos] == uniq if len(known) else np.zeros(len(uniq), dtype=bool)
            merged = np.concatenate([known, uniq[~seen]])
            merged.sort(kind="stable")  # two sorted runs: a linear merge
            self._sorted = merged
            if len(merged) > self.exact_limit:
                self._bloom = np.zeros(self.bloom_bits // 8, dtype=np.uint8)
                self._bloom_add(merged)
                self._sorted = np.empty(0, np.uint64)
        else:
            seen = self._bloom_has(uniq)
            self._bloom_add(uniq[~seen])
        out = np.zeros(len(hashes), dtype=bool)
        out[first[~seen]] = True
        self.distinct += int((~seen).sum())
        return out


class ClassSample:
    """Per class, the ``n`` distinct rows with the smallest row hashes (a bottom-k sample)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._rows: dict[str, tuple[np.ndarray, list[str]]] = {}

    def add(self, hashes: np.ndarray, texts: list[str], labels: list[str]) -> None:
        """Offer distinct rows (their hashes, texts, labels; none seen before)."""
        import numpy as np

        if not labels:
            return
        names, inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
        for k, label in enumerate(names.tolist()):
            idx = np.flatnonzero(inverse == k)
            old_h, old_t = self._rows.get(label, (np.empty(0, np.uint64), []))
            if len(old_h) and len(old_h) >= self.n:  # only rows that beat the n-th smallest hash can enter
                idx = idx[hashes[idx] < old_h[-1]]
                if not len(idx):
                    continue
            all_h = np.concatenate([old_h, hashes[idx]])
            all_t = old_t + [texts[i] for i in idx.tolist()]
            order = np.argsort(all_h, kind="stable")[: self.n]
            self._rows[label] = (all_h[order], [all_t[i] for i in order.tolist()])

    def take(self, counts: dict[str, int], seed: int = 0) -> Examples:
        """A stratified sample of ``n`` rows over ``counts`` (every row when there are no more), shuffled."""
        import numpy as np

        alloc = allocate(counts, self.n)
        texts: list[str] = []
        labels: list[str] = []
        for label in sorted(self._rows):
            chosen = self._rows[label][1][: alloc.get(label, 0)]
            texts += chosen
            labels += [label] * len(chosen)
        order = np.random.default_rng(seed).permutation(len(texts))
        return Examples(texts=[texts[i] for i in order], labels=[labels[i] for i in order])


class StreamSampler:
    """A stratified sample of ``n`` distinct (text, label) rows over chunks of a file: per class the rows
    with the smallest seeded row hashes (a bottom-k sample, uniform over distinct rows), allocated over the
    distinct class counts. Exact up to ``EXACT_DISTINCT`` distinct rows; past that a Bloom filter may take a
    few new rows for duplicates (``approximate``, ``false_positive_rate``), so memory stays bounded."""

    def __init__(self, n: int, seed: int) -> None:
        self.hash_key = f"toe{seed % 10**13:013d}"  # 16 characters, as pandas wants
        self.distinct = DistinctRows(exact_limit=EXACT_DISTINCT, bloom_bits=BLOOM_BITS)
        self._sample = ClassSample(n)
        self._counts: Counter[str] = Counter()
        self.rows = 0

    def add(self, df: pd.DataFrame) -> None:
        """Add clean rows (columns ``text``, ``label``, both non-empty strings)."""
        import pandas as pd

        if df.empty:
            return
        self.rows += len(df)
        hashes = pd.util.hash_pandas_object(df[["text", "label"]], index=False, hash_key=self.hash_key).to_numpy()
        new = self.distinct.new(hashes)
        labels = df["label"].to_numpy()[new].tolist()
        self._counts.update(labels)
        self._sample.add(hashes[new], df["text"].to_numpy()[new].tolist(), labels)

    def distinct_counts(self) -> dict[str, int]:
        """Distinct (text, label) rows per class seen so far."""
        return dict(self._counts)

    def sample(self, seed: int) -> Examples:
        """The stratified sample (allocation over the distinct class counts), shuffled."""
        return self._sample.take(self.distinct_counts(), seed)
