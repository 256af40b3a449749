"""The ``frozen-index`` retrieval engine: a frozen encoder's vectors in an exact cosine index (LanceDB).

Encoding is the ``embedding`` engine's (``EmbeddingEngine.encode``: its pooling, normalisation,
batching); ``engines.contrastive`` subclasses this engine and only swaps the weights encoded with.
The artifact is ``engines.dense_artifact``'s, the in-memory NumPy search ``engines.dense_search``'s.
With ``workers > 1`` ``index`` embeds the collection on Ray (``engines.ray_embed.index_to_store``)
into the same store: the artifact is the same either way and searches without Ray.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from engines import dense_artifact, dense_search
from engines.base import MemoryModel, ProgressEvent, ProgressFn, no_progress
from engines.config import TransformerConfig
from engines.dense_artifact import STORE_DIR
from engines.errors import ArtifactError, Cancelled, DataError
from engines.records import FitReport, Pairs, SearchHit
from engines.retrieval import EVAL_K, RetrievalEngine, check_collection, check_queries, check_train
from engines.scratch import scratch_dir
from engines.search_cost import SearchCost

SCORE_CELLS = 1 << 24  # numpy search: at most this many query × document scores at once (64 MiB)
CHUNK_BATCHES = 16  # index: progress and cancel every this many encoder batches
RAY_INDEX_DIR = "ray-index"  # index on Ray with a workdir: the store is built (and resumed) here


class FrozenIndexConfig(TransformerConfig):
    """A frozen encoder (the ``embedding`` engine's default model) and an exact cosine index."""

    search_backend: Literal["auto", "numpy", "lancedb", "hnsw"] = Field(
        "auto",
        description="Exact search by a NumPy dot product over the vectors held in memory ('numpy'), by the "
        "LanceDB store's exact search ('lancedb'; out of core), or approximate search in an HNSW graph "
        "('hnsw', faiss: the 'ann' extra). 'auto': 'hnsw' from hnsw_min_docs documents when faiss is "
        "installed, else 'numpy'. The store is the artifact either way (with the graph beside it); "
        "benchmarks/retrieval_latency.py times them.",
    )
    hnsw_min_docs: int = Field(
        50_000, ge=1, description="With 'auto', collections of at least this many documents get an HNSW index."
    )
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW: links per node.")
    hnsw_ef_construction: int = Field(200, ge=8, description="HNSW: candidates kept while building.")
    hnsw_ef_search: int = Field(256, ge=8, description="HNSW: candidates kept while searching (recall vs speed).")
    workers: int = Field(
        1,
        ge=1,
        description="Encoder workers for ``index``: above 1, the collection is embedded by this many Ray actors "
        "(engines.ray_embed, the embedding engine's pool) straight into the LanceDB store; queries and any "
        "training stay in this process (needs the 'ray' extra).",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to index on (with workers > 1); None = $RAY_ADDRESS, else a local cluster."
    )


def encoder_config(config: TransformerConfig, model: str) -> dict[str, Any]:
    """The ``embedding`` engine's settings that encode like ``config`` does, from ``model``."""
    raw = {k: getattr(config, k) for k in TransformerConfig.model_fields}
    return {**raw, "model": model}


class FrozenIndexEngine(RetrievalEngine):
    """Encode the collection once with a frozen transformer; answer queries by cosine similarity."""

    name: ClassVar[str] = "frozen-index"
    description: ClassVar[str] = "frozen sentence embeddings of the collection in an exact cosine index (LanceDB)"
    config_cls: ClassVar[type] = FrozenIndexConfig
    label: ClassVar[str] = "Frozen embeddings + index"
    uses_transformer: ClassVar[bool] = True
    supports_gpu: ClassVar[bool] = True
    memory_model: ClassVar[MemoryModel] = "frozen"
    scales_out: ClassVar[bool] = True  # its full run's work is the index, which spreads over Ray workers
    index_scales_out: ClassVar[bool] = True
    config: FrozenIndexConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.device: str | None = None
        self._model_ref: str | None = None  # the folder encoded with; None = config.model
        self._enc: Any = None  # engines.embedding.EmbeddingEngine, the shared encoder
        self._store: Any = None
        self._rows: tuple[Any, list[str]] | None = None  # the store's vectors and texts, for numpy search
        self._tmp: Path | None = None  # this engine's scratch folder (stores, tuned weights)
        self._ann: Any = None  # the HNSW graph over the store's vectors (search_backend 'hnsw')

    # ------------------------------------------------------------------- encoder
    def _scratch(self) -> Path:
        if self._tmp is None:
            self._tmp = scratch_dir(self.name, owner=self)
        return self._tmp

    def _encoder(self) -> Any:
        """The ``embedding`` engine encoding from ``_model_ref`` (loaded on first use)."""
        from engines.embedding import EmbeddingEngine

        if self._enc is None:
            self._enc = EmbeddingEngine(encoder_config(self.config, self._model_ref or self.config.model))
        self._enc.warm_up()
        self.device = self._enc.device
        return self._enc

    def _set_model(self, ref: str) -> None:
        """Encode from ``ref`` from now on; the collection indexed with other weights is dropped."""
        self._model_ref, self._enc = ref, None
        self._store, self._rows, self.indexed_ids = None, None, None

    def index_resumes(self) -> bool:
        """On Ray (``workers > 1``) ``index`` commits block by block: a ``workdir`` keeps them for resuming."""
        return self.config.workers > 1

    def warm_up(self) -> None:
        """Load the encoder (what the first ``index`` pays)."""
        self._encoder()

    def prepare(
        self, texts: Sequence[str], *, progress: ProgressFn = no_progress, cancel: threading.Event | None = None
    ) -> None:
        """Load the encoder now, so that ``fit`` and ``index`` time only their own work."""
        self._encoder()

    def encode(
        self,
        texts: Sequence[str],
        *,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        phase: str = "index",
    ) -> Any:
        """L2-normalised vectors (input order). Texts go longest first in chunks of ``CHUNK_BATCHES``
        batches; progress and ``cancel`` (→ Cancelled) are looked at between chunks."""
        import numpy as np

        enc = self._encoder()
        texts = [str(t) for t in texts]
        chunk = self.config.batch_size * CHUNK_BATCHES
        if len(texts) <= chunk:
            return enc.encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: Any = None
        progress(ProgressEvent(phase=phase, done=0, total=len(texts), unit="texts"))
        for start in range(0, len(texts), chunk):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled while encoding ({start} of {len(texts)} texts done)")
            idx = order[start : start + chunk]
            vecs = enc.encode([texts[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            progress(ProgressEvent(phase=phase, done=start + len(idx), total=len(texts), unit="texts"))
        return out

    # ----------------------------------------------------------------------- fit
    def fit(  # type: ignore[override]  # on Pairs, as every RetrievalEngine (see engines.retrieval)
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
        """Learns nothing: loads the encoder (its time is the report's ``load`` phase)."""
        from engines.metrics import PeakMemory

        t0 = time.perf_counter()
        train = check_train(train, self.name)
        if budget_s is None:
            self._check_pool()
        with PeakMemory("cpu") as mem:
            self._encoder()
        wall = time.perf_counter() - t0
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=0,
            epochs=0.0,
            phase_s={"load": wall},
            wall_s=wall,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            device=self.device or "cpu",
            notes=["frozen encoder: the pairs are not trained on"],
        )

    # ---------------------------------------------------------------------- Ray
    def _check_pool(self) -> None:
        """With ``workers > 1``: Ray installed and the cluster asked for reachable, checked before any
        training or encoding (one line each; a local cluster is started by ``index`` itself)."""
        if self.config.workers <= 1:
            return
        import os

        from engines.ray_cluster import check_reachable, require_ray

        require_ray()
        address = self.config.ray_address or os.environ.get("RAY_ADDRESS")
        if address:
            check_reachable(address)

    def _index_on_ray(
        self,
        directory: Path,
        doc_ids: list[str],
        docs: list[str],
        progress: ProgressFn,
        cancel: Any,
        *,
        kept: bool = False,
        resume: bool = False,
    ) -> Any:
        """``docs`` embedded by ``config.workers`` Ray actors (the embedding engine's pool, the encoder's
        own weights and pooling) into the store in ``directory``; ``kept``: the blocks embedded stay
        there if it stops, and ``resume`` embeds only the documents they lack (when they come from the same
        documents and weights)."""
        from engines import ray_embed
        from engines.store import VectorStore

        self._check_pool()
        enc = self._encoder()  # here too: queries are encoded in this process
        enc._ensure_model()
        done = [0]

        def seen(event: ProgressEvent) -> None:
            done[0] = event.done
            progress(event.model_copy(update={"phase": "index"}))

        try:
            ray_embed.index_to_store(
                doc_ids,
                docs,
                directory,
                config=enc.config,
                model_dir=enc._model_dir,
                pooling=enc._pooling,
                model_hash=enc.model_hash,
                workers=self.config.workers,
                address=self.config.ray_address,
                progress=seen,
                cancel=cancel,
                resume=resume,
            )
        except Cancelled:
            where = f"; they are kept in {directory.parent}, continue with --resume" if kept else ""
            raise Cancelled(
                f"cancelled while indexing on Ray ({done[0]} of {len(docs)} documents embedded{where}); "
                "the previous collection is kept"
            ) from None
        return VectorStore.open(directory)

    # --------------------------------------------------------------- index/search
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
        """Encode ``docs`` into a new store (here, or on Ray with ``workers > 1``); the collection
        indexed before is kept until the new one is complete (Cancelled or an error leave it). On Ray
        with a ``workdir`` the store is built in ``workdir/ray-index``, which an interrupted index leaves
        there: ``resume=True`` then embeds only the documents it lacks."""
        from engines.store import VectorStore

        doc_ids, docs = check_collection(doc_ids, docs, self.name)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled before indexing; the previous collection is kept")
        old = self._store.directory if self._store is not None else None
        if self.config.workers > 1:
            kept = workdir is not None
            folder = (
                Path(workdir) / RAY_INDEX_DIR
                if workdir is not None
                else Path(tempfile.mkdtemp(prefix="store-", dir=self._scratch()))
            )
            try:
                store = self._index_on_ray(
                    folder / STORE_DIR, doc_ids, docs, progress, cancel, kept=kept, resume=resume and kept
                )
            except BaseException:
                if not kept:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            self._store, self._rows = store, None  # numpy search reads the vectors back on first use
        else:
            vectors = self.encode(docs, progress=progress, cancel=cancel, phase="index")
            folder = Path(tempfile.mkdtemp(prefix="store-", dir=self._scratch()))
            self._store = VectorStore.create(folder / STORE_DIR, vectors, docs, doc_ids)
            self._rows = (vectors, docs)
        self.indexed_ids, self._ann = doc_ids, None
        if self.backend() == "hnsw":
            self._ann = self._build_ann()
        progress(ProgressEvent(phase="index", done=len(docs), total=len(docs), unit="texts"))
        if old is not None and self._tmp is not None and self._tmp in old.parents:
            shutil.rmtree(old.parent, ignore_errors=True)

    def search_many(self, queries: Sequence[str], k: int = EVAL_K) -> list[list[SearchHit]]:
        """The ``k`` documents most similar (cosine) to each query, best first."""
        queries = check_queries(queries, k, self.name)
        if self._store is None or self.indexed_ids is None:
            raise DataError(f"{self.name}: nothing indexed yet; call index (or load an artifact) first")
        return self._search_vectors(self.encode(queries), k)

    def _search_vectors(self, vectors: Any, k: int) -> list[list[SearchHit]]:
        """The ``k`` nearest documents to each (encoded) query, by the backend in use."""
        backend = self.backend()
        if backend == "lancedb":
            hits = self._store.search_many(vectors, k)
            return [[SearchHit(doc_id=h.label, score=h.score, text=h.text) for h in row] for row in hits]
        if backend == "hnsw":
            return self._search_hnsw(vectors, k)
        stored, texts = self._stored_rows()
        return dense_search.top_k(vectors, stored, texts, self.indexed_ids or [], k, SCORE_CELLS)

    def backend(self, n_docs: int | None = None) -> str:
        """The search backend for a collection of ``n_docs`` documents (None: the one indexed): the
        configured one, with 'auto' settled by the collection's size."""
        from engines import ann

        chosen = self.config.search_backend
        if chosen != "auto":
            return chosen
        big = (len(self.indexed_ids or []) if n_docs is None else n_docs) >= self.config.hnsw_min_docs
        return "hnsw" if big and ann.available() else "numpy"

    def search_cost(self, n_docs: int, queries: Sequence[str]) -> SearchCost:
        """One query over ``n_docs`` documents by the backend that size gets, timed here: each query
        encoded, then searched in a stand-in of that size (``engines.search_cost``): random vectors for
        an exact scan, a graph over the collection indexed now for HNSW (its search scaled by log n)."""
        from engines import ann, search_cost

        if self._store is None or not self.indexed_ids:
            raise DataError(f"{self.name}: nothing indexed yet; index a collection before timing searches")
        probe = check_queries(queries, EVAL_K, self.name)[: search_cost.PROBE_QUERIES]
        stored, _ = self._stored_rows()
        n_now, k, cfg = len(self.indexed_ids), min(EVAL_K, n_docs), self.config
        backend, build_s = self.backend(n_docs), 0.0
        if backend == "numpy":
            synthetic = search_cost.unit_vectors(n_docs, stored.shape[1])
            ids = [""] * len(synthetic)
            scale = n_docs / len(synthetic)

            def search(v: Any) -> object:
                return dense_search.top_k(v, synthetic, ids, ids, k, SCORE_CELLS)

            how = f"exact search over {len(synthetic):,} random vectors" + (", scaled linearly" if scale > 1 else "")
        elif backend == "hnsw":
            t0 = time.perf_counter()
            graph = ann.build(stored, m=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction, threads=cfg.threads)
            built = time.perf_counter() - t0
            scale = search_cost.hnsw_growth(n_now, n_docs)
            build_s = built * n_docs / n_now

            def search(v: Any) -> object:
                return ann.search(graph, v, min(k, n_now), ef_search=cfg.hnsw_ef_search, threads=cfg.threads)

            how = (
                f"an HNSW graph over the {n_now:,} documents indexed, its search scaled by log(n) and its "
                f"build ({built:.1f}s here) by n"
            )
        else:  # LanceDB's exact search reads every row: linear in the collection
            scale = n_docs / n_now

            def search(v: Any) -> object:
                return self._store.search_many(v, min(k, n_now))

            how = f"LanceDB's exact search over the {n_now:,} documents indexed, scaled linearly"
        query_ms, search_ms = search_cost.timed_queries(self.encode, search, probe, scale)
        return SearchCost(docs=n_docs, query_ms=query_ms, search_ms=search_ms, build_s=build_s, how=f"{backend}: {how}")

    def _stored_rows(self) -> tuple[Any, list[str]]:
        """The store's (vectors, texts) in row order, read once for a loaded artifact."""
        if self._rows is None:
            vectors, texts, labels = self._store.rows()
            if labels != self.indexed_ids:
                raise ArtifactError(f"the vector store in {self._store.directory} lists other document ids")
            self._rows = (vectors, texts)
        return self._rows

    def _build_ann(self) -> Any:
        from engines import ann

        cfg = self.config
        vectors, _ = self._stored_rows()
        return ann.build(vectors, m=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction, threads=cfg.threads)

    def _search_hnsw(self, queries: Any, k: int) -> list[list[SearchHit]]:
        """Approximate top ``k`` from the HNSW graph (built now if the artifact had none)."""
        from engines import ann

        if self._ann is None:
            self._ann = self._build_ann()
        _, texts = self._stored_rows()
        ids = self.indexed_ids or []
        cfg = self.config
        scores, rows = ann.search(
            self._ann, queries, min(k, len(ids)), ef_search=cfg.hnsw_ef_search, threads=cfg.threads
        )
        return [
            [SearchHit(doc_id=ids[j], score=float(s), text=texts[j]) for s, j in zip(srow, jrow) if j >= 0]
            for srow, jrow in zip(scores.tolist(), rows.tolist())
        ]

    # ------------------------------------------------------------------ save/load
    def _extra_meta(self) -> dict[str, Any]:
        """What a subclass adds to the artifact's JSON."""
        return {}

    def save(self, directory: Path) -> None:
        """The encoder (``_save_model``), ``store/``, ``collection.json`` and the JSON; no pickle."""
        dense_artifact.save(self, directory)

    def _save_model(self, directory: Path) -> dict[str, Any]:
        """``model/``: a copy of the weights encoded with (and their pooling), so the artifact searches
        offline on its own; returns the JSON's ``model_hash``."""
        return dense_artifact.copy_model(self._model_ref or self.config.model, directory)

    @classmethod
    def load(cls, directory: Path) -> FrozenIndexEngine:
        """Reopen ``save``'s folder offline: the encoder (``_load_model``, hash checked) and the store."""
        return dense_artifact.load(cls, directory)

    def _load_model(self, directory: Path, meta: dict[str, Any]) -> str:
        """The folder to encode from: the artifact's ``model/``, its weights checked against the hash."""
        return dense_artifact.checked_model(directory, meta)

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        """What a subclass reads back from the artifact's JSON."""
