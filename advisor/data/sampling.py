"""Seeded stratified sampling: held-out split, subsamples, nested subsets (the streamed sample of a
file bigger than memory: ``advisor.data.distinct.StreamSampler``).

Retrieval data (``Pairs``) is split by query text and sampled by query (``split_pairs``,
``sample_pairs``), the collection shared or trimmed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from engines.base import Examples
from engines.errors import DataError
from engines.records import Pairs


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Split ``n`` rows over classes in proportion to ``counts`` (largest remainder), giving every
    class at least 2 (or 1) rows where ``n`` allows, and never more than a class has."""
    total = sum(counts.values())
    if n >= total:
        return dict(counts)
    labels = sorted(counts)
    k = len(labels)
    least = 2 if n >= 2 * k else 1 if n >= k else 0
    quota = {c: counts[c] * n / total for c in labels}
    alloc = {c: min(counts[c], max(least, int(quota[c]))) for c in labels}
    while sum(alloc.values()) < n:
        room = [c for c in labels if alloc[c] < counts[c]]
        c = max(room, key=lambda c: (quota[c] - alloc[c], -labels.index(c)))
        alloc[c] += 1
    while sum(alloc.values()) > n:
        over = [c for c in labels if alloc[c] > min(least, counts[c])] or [c for c in labels if alloc[c] > 0]
        c = max(over, key=lambda c: (alloc[c] - quota[c], -labels.index(c)))
        alloc[c] -= 1
    return alloc


def _by_class(labels: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        out.setdefault(label, []).append(i)
    return out


def stratified_subsample(examples: Examples, n: int, *, seed: int) -> Examples:
    """A seeded stratified sample of ``n`` examples (all of them, shuffled, when ``n`` ≥ their number);
    every class is kept where ``n`` allows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = _by_class(examples.labels)
    alloc = allocate({c: len(ix) for c, ix in groups.items()}, max(0, n))
    chosen: list[int] = []
    for c in sorted(groups):
        ix = np.asarray(groups[c])
        chosen += ix[rng.permutation(len(ix))[: alloc[c]]].tolist()
    order = rng.permutation(len(chosen))
    return examples.subset([chosen[i] for i in order])


def nested_subsets(examples: Examples, sizes: Sequence[int], *, seed: int) -> list[Examples]:
    """Stratified subsets of the given sizes, each smaller one contained in every larger one.

    Returned in the order of ``sizes``; a size above ``len(examples)`` gives all examples.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = _by_class(examples.labels)
    perm = {c: np.asarray(groups[c])[rng.permutation(len(groups[c]))].tolist() for c in sorted(groups)}
    counts = {c: len(ix) for c, ix in perm.items()}
    result: dict[int, Examples] = {}
    for size in sorted(set(sizes), reverse=True):  # largest first: smaller allocations fit inside
        counts = allocate(counts, min(size, len(examples)))
        idx = [i for c in sorted(perm) for i in perm[c][: counts[c]]]
        idx.sort()
        shuffle = np.random.default_rng(seed + size).permutation(len(idx))
        result[size] = examples.subset([idx[i] for i in shuffle])
    return [result[s] for s in sizes]


def check_stratifiable(labels: Sequence[str], where: str = "the data") -> None:
    """DataError unless there are ≥ 2 classes with ≥ 2 examples each."""
    check_class_counts(Counter(labels), where)


def check_class_counts(counts: dict[str, int], where: str = "the data") -> None:
    """DataError unless ``counts`` has ≥ 2 classes with ≥ 2 examples each."""
    if len(counts) < 2:
        only = next(iter(counts), None)
        what = f"only one class ({only!r})" if only is not None else "no labelled rows"
        raise DataError(f"{what} in {where}: need at least 2")
    small = sorted((c for c, k in counts.items() if k < 2), key=str)
    if small:
        more = f" (and {len(small) - 1} more)" if len(small) > 1 else ""
        raise DataError(
            f"class {small[0]!r} in {where} has {counts[small[0]]} example{more}; "
            "each class needs at least 2 for a stratified split"
        )


def stratified_split(examples: Examples, *, test_size: int | float, seed: int) -> tuple[Examples, Examples]:
    """(train, test), stratified by label and seeded (scikit-learn's train_test_split)."""
    from sklearn.model_selection import train_test_split

    check_stratifiable(examples.labels)
    n = len(examples)
    n_test = int(round(test_size * n)) if isinstance(test_size, float) and test_size < 1 else int(test_size)
    k = len(set(examples.labels))
    if not k <= n_test <= n - k:
        raise DataError(
            f"cannot hold out {n_test} of {n} examples with {k} classes: the test and the "
            f"training part each need at least one example per class ({k})"
        )
    try:
        train_idx, test_idx = train_test_split(
            list(range(n)), test_size=n_test, random_state=seed, stratify=examples.labels
        )
    except ValueError as exc:
        raise DataError(f"cannot split the data: {exc}") from None
    return examples.subset(train_idx), examples.subset(test_idx)


# ------------------------------------------------------------------------ retrieval
def _query_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def split_pairs(pairs: Pairs, test_size: int | float, seed: int) -> tuple[Pairs, Pairs]:
    """(train, test) queries, seeded; both search the same whole collection.

    The split is by query text (ignoring case and runs of whitespace): queries with the same text
    fall on the same side, so no test query is also a training query. ``test_size`` is a share
    (a float below 1) or a number of queries; the test side gets at least that many (a group of
    same-text queries is not cut)."""
    import numpy as np

    n = len(pairs)
    n_test = int(round(test_size * n)) if isinstance(test_size, float) and test_size < 1 else int(test_size)
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(pairs.queries):
        groups.setdefault(_query_key(text), []).append(i)
    if len(groups) < 2 or not 1 <= n_test <= n - 1:
        raise DataError(
            f"cannot hold out {n_test} of {n} queries ({len(groups)} distinct): "
            "the test and the training part each need at least one query"
        )
    order = np.random.default_rng(seed).permutation(len(groups))
    keys = list(groups)
    test: list[int] = []
    for g in order[:-1]:  # the last group always stays in training
        if len(test) >= n_test:
            break
        test += groups[keys[g]]
    in_test = set(test)
    return pairs.subset([i for i in range(n) if i not in in_test]), pairs.subset(sorted(test))


def sample_pairs(pairs: Pairs, n_queries: int, seed: int, *, max_docs: int | None = None) -> Pairs:
    """A seeded random sample of ``n_queries`` queries (all of them, shuffled, when there are fewer).

    The collection is kept whole, unless ``max_docs`` trims it: every relevant (and hard-negative)
    document of the kept queries stays, plus a seeded random sample of the other documents up to
    ``max_docs`` in all (more when the kept queries' own documents are more). The micro-benchmark
    does this to stay fast, but a smaller collection makes search easier (fewer distractors), so
    scores on a trimmed collection are higher than on the whole one: report the collection size
    (``len(sample.doc_ids)``) next to every score measured on it."""
    import numpy as np

    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(pairs))[: max(0, n_queries)].tolist()
    sample = pairs.subset(keep)
    if max_docs is None or max_docs >= len(pairs.doc_ids):
        return sample
    needed = {d for rel in sample.relevant for d in rel} | {d for neg in sample.negatives for d in neg}
    others = [i for i, d in enumerate(pairs.doc_ids) if d not in needed]
    room = max(0, max_docs - len(needed))
    extra = set(rng.choice(len(others), size=min(room, len(others)), replace=False).tolist()) if room else set()
    chosen = {others[i] for i in extra}
    docs = [i for i, d in enumerate(pairs.doc_ids) if d in needed or i in chosen]
    return Pairs(
        query_ids=sample.query_ids,
        queries=sample.queries,
        relevant=sample.relevant,
        negatives=sample.negatives,
        doc_ids=[pairs.doc_ids[i] for i in docs],
        docs=[pairs.docs[i] for i in docs],
    )
