"""The retrieval engines' shared protocol and their held-out scoring (nDCG@10, recall@10, MRR@10).

A retrieval engine learns from (query, relevant document) pairs (or not at all), indexes a
collection, and answers queries with ranked document ids. Scores come from ``ir_measures``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines.base import Engine, ProgressFn, no_progress
from engines.errors import ConfigError, DataError
from engines.records import RANK_METRICS, FitReport, Pairs, Predictions, RankReport, SearchHit, SpeedReport
from engines.search_cost import SearchCost

# Hits asked for when scoring: the metrics look at the top 10.
EVAL_K = 10


def rank_score(test: Pairs, hits: Sequence[Sequence[SearchHit]]) -> RankReport:
    """Each metric of RANK_METRICS per query (0 for a query with nothing found) and its mean."""
    import ir_measures
    from ir_measures import RR, R, ScoredDoc, nDCG

    if len(hits) != len(test):
        raise DataError(f"{len(test)} test queries but {len(hits)} result lists")
    if not len(test):
        raise DataError("cannot score an empty set of test queries")
    measures = {"ndcg@10": nDCG @ 10, "recall@10": R @ 10, "mrr@10": RR @ 10}
    qrels = [ir_measures.Qrel(q, d, 1) for q, rel in zip(test.query_ids, test.relevant) for d in rel]
    run = [ScoredDoc(q, h.doc_id, float(h.score)) for q, found in zip(test.query_ids, hits) for h in found]
    by_query: dict[str, dict[str, float]] = {q: {} for q in test.query_ids}
    names = {str(m): name for name, m in measures.items()}
    for row in ir_measures.iter_calc(list(measures.values()), qrels, run):
        by_query[row.query_id][names[str(row.measure)]] = float(row.value)
    per_query = {name: [by_query[q].get(name, 0.0) for q in test.query_ids] for name in RANK_METRICS}
    return RankReport(
        n=len(test),
        metrics={name: sum(v) / len(v) for name, v in per_query.items()},
        per_query=per_query,
    )


def check_collection(doc_ids: Sequence[str], docs: Sequence[str], engine: str) -> tuple[list[str], list[str]]:
    """The collection as lists; empty, mismatched or duplicated ids → DataError (one line)."""
    doc_ids, docs = [str(d) for d in doc_ids], [str(t) for t in docs]
    if not doc_ids:
        raise DataError(f"{engine}: cannot index an empty collection")
    if len(doc_ids) != len(docs):
        raise DataError(f"{engine}: {len(doc_ids)} document ids but {len(docs)} documents")
    if len(set(doc_ids)) != len(doc_ids):
        dup = next(d for i, d in enumerate(doc_ids) if d in doc_ids[:i])
        raise DataError(f"{engine}: document id {dup!r} appears more than once")
    return doc_ids, docs


def check_queries(queries: Sequence[str], k: int, engine: str) -> list[str]:
    """The queries as a list of strings; none, or k < 1 → DataError."""
    if isinstance(queries, str):
        raise DataError(f"{engine}: search_many takes a list of queries, not one string")
    queries = [str(q) for q in queries]
    if not queries:
        raise DataError(f"{engine}: no queries to search")
    if int(k) < 1:
        raise DataError(f"{engine}: k must be at least 1, got {k}")
    return queries


def check_train(train: Any, engine: str) -> Pairs:
    if not isinstance(train, Pairs):
        raise DataError(f"{engine}: fit takes retrieval Pairs, got {type(train).__name__}")
    if len(train) == 0:
        raise DataError(f"{engine}: no training queries")
    return train


class RetrievalEngine(Engine):
    """An engine for the retrieval task: ``fit`` on pairs, ``index`` a collection, ``search`` it.

    ``fit`` may learn nothing (BM25, frozen embeddings); it must not index. ``index`` replaces
    the collection searched. ``evaluate`` indexes the test data's collection when it differs
    from the one indexed, then scores the top ``EVAL_K`` hits of each test query.
    """

    tasks: ClassVar[frozenset[str]] = frozenset({"retrieval"})
    supports_search: ClassVar[bool] = True
    index_scales_out: ClassVar[bool] = False  # ``index`` spreads over Ray workers (config ``workers`` > 1)

    def index_resumes(self) -> bool:
        """Whether ``index`` (with this config) keeps its steps in a ``workdir`` and can resume them."""
        return False

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.indexed_ids: list[str] | None = None  # the collection ``search`` answers from

    # -- what each engine writes -------------------------------------------------------
    # Fits on Pairs where Engine.fit takes Examples: the registry keeps both tasks' engines apart by ``tasks``.
    def fit(  # type: ignore[override]
        self,
        train: Pairs,
        *,
        valid: Pairs | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        raise NotImplementedError

    def index(
        self,
        doc_ids: Sequence[str],
        docs: Sequence[str],
        *,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> None:
        """Make ``docs`` (with their ids) the collection that ``search`` answers from. An engine that
        indexes in resumable steps (``index_resumes``) keeps them in ``workdir`` and, with ``resume``,
        continues from them; the others ignore both."""
        raise NotImplementedError

    def search_many(self, queries: Sequence[str], k: int = EVAL_K) -> list[list[SearchHit]]:
        """The ``k`` best documents for each query, best first."""
        raise NotImplementedError

    def search_cost(self, n_docs: int, queries: Sequence[str]) -> SearchCost | None:
        """One query's search timed over the collection indexed now and forecast over ``n_docs``
        documents (``engines.search_cost``); None: this engine does not model it (the advice then
        takes the time measured on the benchmark's collection)."""
        return None

    # -- shared ----------------------------------------------------------------------
    def search(self, query: str, k: int = EVAL_K) -> list[SearchHit]:
        return self.search_many([query], k)[0]

    def predict(self, texts: Sequence[str]) -> Predictions:
        raise ConfigError(f"{self.name} is a retrieval engine: it answers `search`, not `predict`")

    def measure_speed(self, texts: Sequence[str], *, max_texts: int = 256) -> SpeedReport:
        """Query speed: ``engines.metrics.measure_speed`` timing ``search_many`` (top ``EVAL_K``) on
        ``texts`` as queries, at batch 1 and the engine's batch size, against the indexed collection."""
        from engines.metrics import measure_speed

        if self.indexed_ids is None:
            raise DataError(f"{self.name}: nothing indexed yet; index a collection before timing searches")
        return measure_speed(_Searcher(self), texts, max_texts=max_texts)

    def evaluate(self, test: Pairs) -> RankReport:  # type: ignore[override]
        if self.indexed_ids != list(test.doc_ids):
            self.index(test.doc_ids, test.docs)
        return rank_score(test, self.search_many(test.queries, EVAL_K))


class _Searcher:
    """What ``measure_speed`` times: ``predict`` is a search of the engine's collection."""

    def __init__(self, engine: RetrievalEngine) -> None:
        self.engine, self.config = engine, engine.config
        self.device = getattr(engine, "device", None) or "cpu"

    def predict(self, texts: Sequence[str]) -> list[list[SearchHit]]:
        return self.engine.search_many(texts, EVAL_K)
