"""The ``bm25`` retrieval engine: lexical BM25 over the collection (``bm25s``), the floor to beat.

It learns nothing from the pairs; ``index`` tokenizes (lower-case words, optional English
stop words, no stemming) and builds the sparse BM25 matrix. Artifacts: bm25s's own npy/json
files plus ``collection.json`` (doc ids and texts) and ``bm25.json``. No pickle.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from engines.atomic import staged_dir, write_json
from engines.base import MemoryModel, ProgressEvent, ProgressFn, no_progress
from engines.config import _Config
from engines.errors import ArtifactError, Cancelled, DataError
from engines.records import FitReport, Pairs, SearchHit
from engines.retrieval import EVAL_K, RetrievalEngine, check_collection, check_queries, check_train
from engines.search_cost import SearchCost

ARTIFACT_FORMAT = 1
ENGINE_FILE = "bm25.json"
COLLECTION_FILE = "collection.json"
INDEX_DIR = "index"


class Bm25Config(_Config):
    """BM25 (Lucene variant) over lower-cased word tokens."""

    k1: float = Field(1.5, ge=0, description="Term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1, description="Document-length normalisation.")
    stopwords: Literal["en", "none"] = Field("en", description="Drop English stop words ('en') or keep all ('none').")


class Bm25Engine(RetrievalEngine):
    """BM25 over the collection; ``fit`` learns nothing (the pairs only count for the report)."""

    name: ClassVar[str] = "bm25"
    description: ClassVar[str] = "lexical BM25 ranking (bm25s): no model, no training"
    config_cls: ClassVar[type] = Bm25Config
    label: ClassVar[str] = "BM25"
    cheap_fits: ClassVar[bool] = True
    memory_model: ClassVar[MemoryModel] = "none"

    config: Bm25Config

    def __init__(self, config: Bm25Config | dict | None = None) -> None:
        super().__init__(config)
        self._retriever: Any = None
        self._docs: list[str] = []

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        import bm25s

        stop = "en" if self.config.stopwords == "en" else None
        return bm25s.tokenize(list(texts), stopwords=stop, stemmer=None, return_ids=False, show_progress=False)

    def warm_up(self) -> None:
        import bm25s  # noqa: F401

    # A retrieval engine fits on Pairs, not the classification Examples of Engine.fit (as RetrievalEngine.fit).
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
        t0 = time.perf_counter()
        train = check_train(train, self.name)
        self.warm_up()
        wall = time.perf_counter() - t0
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=0,
            epochs=0.0,
            phase_s={"load": wall},
            wall_s=wall,
            notes=["BM25 learns nothing from the pairs: its ranking comes from the collection alone"],
        )

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
        import bm25s

        doc_ids, docs = check_collection(doc_ids, docs, self.name)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled before indexing; the previous collection is kept")
        progress(ProgressEvent(phase="index", done=0, total=len(docs), unit="texts"))
        tokens = self._tokenize(docs)
        if not any(tokens):
            raise DataError(f"{self.name}: no document has a word to index (all empty, or only stop words)")
        retriever = bm25s.BM25(k1=self.config.k1, b=self.config.b)
        retriever.index(tokens, show_progress=False)
        self._retriever, self._docs, self.indexed_ids = retriever, docs, doc_ids
        progress(ProgressEvent(phase="index", done=len(docs), total=len(docs), unit="texts"))

    def search_many(self, queries: Sequence[str], k: int = EVAL_K) -> list[list[SearchHit]]:
        """The ``k`` best documents per query; documents sharing no word with a query are left out."""
        queries = check_queries(queries, k, self.name)
        if self._retriever is None or self.indexed_ids is None:
            raise DataError(f"{self.name}: nothing indexed yet; call index (or load an artifact) first")
        k = min(int(k), len(self.indexed_ids))
        ids, scores = self._retriever.retrieve(self._tokenize(queries), k=k, show_progress=False)
        out: list[list[SearchHit]] = []
        for row_ids, row_scores in zip(ids, scores):
            hits = [
                SearchHit(doc_id=self.indexed_ids[int(i)], score=float(s), text=self._docs[int(i)])
                for i, s in zip(row_ids, row_scores)
                if s > 0
            ]
            out.append(hits)
        return out

    def search_cost(self, n_docs: int, queries: Sequence[str]) -> SearchCost:
        """One query (tokenized and scored) timed over the collection indexed now and over its first half
        (indexed again, apart), carried linearly to ``n_docs``: BM25 scores every document holding a
        query's words."""
        import bm25s

        from engines import search_cost

        if self._retriever is None or self.indexed_ids is None:
            raise DataError(f"{self.name}: nothing indexed yet; index a collection before timing searches")
        probe = check_queries(queries, EVAL_K, self.name)[: search_cost.PROBE_QUERIES]
        n_now = len(self.indexed_ids)
        n_half = max(1, n_now // 2)
        half = bm25s.BM25(k1=self.config.k1, b=self.config.b)
        half.index(self._tokenize(self._docs[:n_half]), show_progress=False)

        def timed(retriever: Any, n: int) -> float:
            k = min(EVAL_K, n)
            return search_cost.median_ms(
                lambda q: retriever.retrieve(self._tokenize([q]), k=k, show_progress=False), probe
            )

        now = timed(self._retriever, n_now)
        then, how = search_cost.two_sizes_ms(now, n_now, timed(half, n_half), n_half, n_docs)
        return SearchCost(docs=n_docs, query_ms=then, search_ms=then, how=how)

    # ------------------------------------------------------------------ save/load
    def save(self, directory: Path) -> None:
        if self._retriever is None or self.indexed_ids is None:
            raise DataError(f"{self.name}: nothing to save; index a collection first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with staged_dir(directory / INDEX_DIR, overwrite=True) as tmp:
            self._retriever.save(str(tmp), show_progress=False)
        write_json(directory / COLLECTION_FILE, {"doc_ids": self.indexed_ids, "docs": self._docs})
        write_json(
            directory / ENGINE_FILE,
            {"format": ARTIFACT_FORMAT, "engine": self.name, "config": self.config.model_dump(mode="json")},
        )

    @classmethod
    def load(cls, directory: Path) -> Bm25Engine:
        import bm25s

        directory = Path(directory)
        try:
            meta = json.loads((directory / ENGINE_FILE).read_text(encoding="utf-8"))
            if meta.get("format") != ARTIFACT_FORMAT:
                raise ValueError(f"format {meta.get('format')}, expected {ARTIFACT_FORMAT}")
            engine = cls(meta["config"])
            coll = json.loads((directory / COLLECTION_FILE).read_text(encoding="utf-8"))
            doc_ids, docs = [str(d) for d in coll["doc_ids"]], [str(t) for t in coll["docs"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{directory} is not a bm25 artifact: {str(exc).splitlines()[0]}") from None
        try:
            retriever = bm25s.BM25.load(str(directory / INDEX_DIR), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy/json raise many kinds on damaged files
            raise ArtifactError(
                f"cannot load the BM25 index in {directory / INDEX_DIR}: {type(exc).__name__}"
            ) from None
        n_index = int(getattr(retriever, "scores", {}).get("num_docs", len(doc_ids)))
        if n_index != len(doc_ids) or len(docs) != len(doc_ids):
            raise ArtifactError(
                f"BM25 index in {directory} covers {n_index} documents but {COLLECTION_FILE} lists {len(doc_ids)}"
            )
        engine._retriever, engine._docs, engine.indexed_ids = retriever, docs, doc_ids
        return engine
