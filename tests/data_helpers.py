"""Labelled rows for tests (test support, imported by conftest.py and test modules)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = [
    "a wonderful, moving film",
    "great acting and a clever plot",
    "I loved every minute",
    "brilliant and funny",
    "a joy to watch",
    "superb direction",
    "warm and charming",
    "the best film this year",
    "delightful from start to end",
    "smart, tender and true",
]
NEGATIVE = [
    "a dull, lifeless mess",
    "boring and far too long",
    "I hated the ending",
    "clumsy writing and flat jokes",
    "a waste of time",
    "poorly acted",
    "tedious and cold",
    "the worst film this year",
    "painful from start to end",
    "shallow, loud and silly",
]


def tiny_rows(n_per_class: int = 10) -> list[tuple[str, str]]:
    """Distinct (text, label) rows, ``n_per_class`` of each of 'pos' and 'neg', interleaved."""
    rows = []
    for i in range(n_per_class):
        rows.append((f"{POSITIVE[i % len(POSITIVE)]} #{i}", "pos"))
        rows.append((f"{NEGATIVE[i % len(NEGATIVE)]} #{i}", "neg"))
    return rows


WORDS = {
    "pos": ["good", "great", "lovely", "superb", "fun", "delight"],
    "neg": ["bad", "awful", "boring", "dull", "tedious", "mess"],
}
FILLER = ["the", "film", "plot", "actors", "story", "was", "a", "very", "and"]


def write_reviews_csv(path: Path, n: int, seed: int = 0) -> Path:
    """A CSV of ``n`` short reviews, columns review,sentiment (pos/neg alternating), words drawn with ``seed``."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["review", "sentiment"])
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            words = rng.sample(FILLER, 4) + rng.sample(WORDS[label], 2)
            rng.shuffle(words)
            w.writerow([" ".join(words) + f" {i}", label])
    return path


PAIR_WORDS = ["river", "mountain", "engine", "garden", "violin", "harbour", "comet", "bakery", "glacier", "lantern"]


def write_pairs(path: Path, tag: str) -> Path:
    """60 (query, document) pairs; ``tag`` starts every document, so two files index different texts."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "document"])
        for i in range(60):
            a, b = PAIR_WORDS[i % 10], PAIR_WORDS[(i * 3 + 1) % 10]
            w.writerow([f"{a} {b} {i}", f"{tag} note {i} about the {a} by the {b}"])
    return path
