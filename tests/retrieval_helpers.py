"""Retrieval test data (test support): 30 synthetic (query, document) pairs, the tiny encoder settings, and\na pairs file written from any Pairs."""

from __future__ import annotations

import csv
from pathlib import Path

from engines.records import Pairs

TOPICS = [
    ("volcano", "lava"), ("guitar", "chord"), ("compiler", "bytecode"), ("striker", "penalty"),
    ("yeast", "dough"), ("glacier", "moraine"), ("violin", "sonata"), ("mortgage", "interest"),
    ("telescope", "nebula"), ("tomato", "greenhouse"), ("sailboat", "regatta"), ("vaccine", "antibody"),
    ("chess", "gambit"), ("bicycle", "derailleur"), ("honeybee", "hive"), ("earthquake", "fault"),
    ("pottery", "kiln"), ("satellite", "orbit"), ("cheese", "rennet"), ("marathon", "sprint"),
    ("submarine", "sonar"), ("orchid", "pollen"), ("parliament", "ballot"), ("espresso", "crema"),
    ("tornado", "funnel"), ("sculpture", "marble"), ("penguin", "antarctic"), ("violet", "perfume"),
    ("lighthouse", "beacon"), ("dinosaur", "fossil"),
]  # fmt: skip
FILLER = ["notes", "overview", "details", "story", "guide", "facts", "report"]
TINY = {"model": "tiny-bert", "max_length": 32, "device": "cpu", "precision": "fp32", "batch_size": 8}


def synthetic_pairs(n: int = 30, extra_docs: int = 5) -> Pairs:
    """Query i names topic i's two words; document i holds them among filler; some unrelated docs."""
    queries, docs = [], []
    for i, (a, b) in enumerate(TOPICS[:n]):
        queries.append(f"what about {a} and {b}")
        docs.append(f"{FILLER[i % len(FILLER)]} on the {a} with {b} {FILLER[(i + 3) % len(FILLER)]}")
    docs += [f"unrelated {FILLER[j % len(FILLER)]} number {j}" for j in range(extra_docs)]
    return Pairs(
        query_ids=[f"q{i}" for i in range(n)],
        queries=queries,
        relevant=[[f"d{i}"] for i in range(n)],
        doc_ids=[f"d{i}" for i in range(len(docs))],
        docs=docs,
    )


def write_pairs_file(path: Path, pairs: Pairs) -> None:
    """``pairs`` as a query,document CSV (each query with its first relevant document's text)."""
    text = pairs.doc_text()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "document"])
        for q, rel in zip(pairs.queries, pairs.relevant):
            w.writerow([q, text[rel[0]]])
