"""What ``inspect`` reports about retrieval data: queries, the collection, relevance per query,
lengths, duplicates, drops, and (with a token counter) how much a length limit truncates.

A record only; ``advisor.common.output.format_pairs_summary`` renders it as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import Field

from advisor.data.pairs import PairDrops, PairsDataset
from advisor.data.summary import LengthStats, length_stats
from engines.records import Record

CountTokens = Callable[[list[str]], Sequence[int]]
MAX_TOKEN_TEXTS = 10_000  # queries / documents tokenised at most (a seeded sample beyond)


class PairsSummary(Record):
    """Retrieval data at a glance."""

    source: str = Field(description="The data reference as given.")
    format: str = Field(description="csv, tsv, jsonl, json, parquet or beir.")
    fingerprint: str
    queries: int = Field(description="Queries (with at least one relevant document).")
    documents: int = Field(description="Documents in the collection searched.")
    relevant_documents: int = Field(description="Documents relevant to at least one query.")
    relevant_per_query_mean: float = Field(description="Relevant documents per query, mean.")
    relevant_per_query_max: int = Field(description="Relevant documents per query, most.")
    queries_with_negatives: int = Field(0, description="Queries with at least one hard negative.")
    query_words: LengthStats = Field(description="Query lengths in words.")
    doc_words: LengthStats = Field(description="Document lengths in words (the whole collection).")
    duplicate_queries: int = Field(
        description="Queries whose text (ignoring case and whitespace) repeats an earlier one."
    )
    duplicate_documents: int = Field(
        description="Documents whose text (ignoring case and whitespace) repeats an earlier one."
    )
    dropped_queries: int = Field(description="Queries dropped for having no relevant document.")
    dropped: PairDrops = Field(description="Everything cleaning dropped.")
    max_tokens: int | None = Field(None, description="Token limit the shares below are measured against.")
    tokens_measured_on: int | None = Field(
        None, description="Texts tokenised (queries + documents, sampled when many)."
    )
    query_tokens: LengthStats | None = Field(None, description="Query lengths in tokens (with a token counter).")
    doc_tokens: LengthStats | None = Field(None, description="Document lengths in tokens (with a token counter).")
    share_queries_over: float | None = Field(None, description="Share of queries longer than max_tokens (truncated).")
    share_docs_over: float | None = Field(None, description="Share of documents longer than max_tokens (truncated).")
    warnings: list[str] = Field(default_factory=list)


def _duplicates(texts: Sequence[str]) -> int:
    return len(texts) - len({" ".join(t.split()).casefold() for t in texts})


def _sample(texts: list[str], n: int) -> list[str]:
    if len(texts) <= n:
        return texts
    import numpy as np

    idx = np.sort(np.random.default_rng(0).choice(len(texts), size=n, replace=False))
    return [texts[i] for i in idx]


def summarize_pairs(
    ds: PairsDataset, *, max_tokens: int | None = None, count_tokens: CountTokens | None = None
) -> PairsSummary:
    """Counts, relevance per query, word lengths and duplicates of ``ds``; with ``count_tokens`` (texts →
    token counts) token lengths too, and with ``max_tokens`` the shares longer than it."""
    p = ds.pairs
    per_query = [len(r) for r in p.relevant]
    tokens: dict[str, object] = {}
    if count_tokens is not None:
        queries, docs = _sample(list(p.queries), MAX_TOKEN_TEXTS), _sample(list(p.docs), MAX_TOKEN_TEXTS)
        q_tok, d_tok = list(count_tokens(queries)), list(count_tokens(docs))
        tokens = {
            "tokens_measured_on": len(q_tok) + len(d_tok),
            "query_tokens": length_stats(q_tok, "tokens"),
            "doc_tokens": length_stats(d_tok, "tokens"),
        }
        if max_tokens is not None:
            tokens["max_tokens"] = max_tokens
            tokens["share_queries_over"] = round(sum(k > max_tokens for k in q_tok) / max(1, len(q_tok)), 4)
            tokens["share_docs_over"] = round(sum(k > max_tokens for k in d_tok) / max(1, len(d_tok)), 4)
    return PairsSummary(
        source=ds.source,
        format=ds.format,
        fingerprint=ds.fingerprint,
        queries=len(p),
        documents=len(p.doc_ids),
        relevant_documents=len({d for rel in p.relevant for d in rel}),
        relevant_per_query_mean=round(sum(per_query) / max(1, len(per_query)), 3),
        relevant_per_query_max=max(per_query, default=0),
        queries_with_negatives=sum(bool(n) for n in p.negatives),
        query_words=length_stats([len(q.split()) for q in p.queries], "words"),
        doc_words=length_stats([len(d.split()) for d in p.docs], "words"),
        duplicate_queries=_duplicates(p.queries),
        duplicate_documents=_duplicates(p.docs),
        dropped_queries=ds.dropped.no_relevant,
        dropped=ds.dropped,
        warnings=list(ds.warnings),
        **tokens,  # type: ignore[arg-type]
    )
