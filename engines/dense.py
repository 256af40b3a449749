"""The ``frozen-index`` retrieval engine: a frozen encoder's vectors in an exact cosine index (LanceDB).

Encoding is the ``embedding`` engine's (``EmbeddingEngine.encode``: its pooling, normalisation,
batching); ``engines.contrastive`` subclasses this engine and only swaps the weights encoded with.
The artifact is ``engines.dense_artifact``'s, the search backends ``engines.dense_search``'s.
With ``workers > 1`` ``index`` embeds the collection on Ray (``engines.dense_ray``) into the same
store: the artifact is the same either way and searches without Ray.
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

from engines import dense_artifact, dense_ray, dense_search
from engines.base import MemoryModel, ProgressEvent, ProgressFn, no_progress
from engines.config import TransformerConfig
from engines.dense_artifact import STORE_DIR
from engines.dense_collection import Collection
from engines.encoder import encode_in_chunks
from engines.errors import Cancelled, DataError
from engines.records import FitReport, Pairs, SearchHit
from engines.retrieval import EVAL_K, RetrievalEngine, check_collection, check_queries, check_train
from engines.scratch import scratch_dir
from engines.search_cost import PROBE_QUERIES, SearchCost


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
        self.collection: Collection | None = None  # what ``index`` (or ``load``) gave: searched by ``search_many``
        self._tmp: Path | None = None  # this engine's scratch folder (stores, tuned weights)

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
        self.collection, self.indexed_ids = None, None

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
        """L2-normalised vectors (input order) from the shared encoder, in chunks (``encode_in_chunks``:
        progress per chunk; ``cancel`` → Cancelled between chunks)."""
        texts = [str(t) for t in texts]
        return encode_in_chunks(self._encoder(), texts, progress=progress, cancel=cancel, phase=phase)

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

    def _check_pool(self) -> None:
        dense_ray.check_pool(self.config.workers, self.config.ray_address)

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
        old = self.collection.store.directory if self.collection is not None else None
        if self.config.workers > 1:
            self._check_pool()
            store = dense_ray.index(
                self._encoder(),  # here too: queries are encoded in this process
                doc_ids,
                docs,
                workers=self.config.workers,
                ray_address=self.config.ray_address,
                scratch=self._scratch(),
                workdir=workdir,
                resume=resume,
                progress=progress,
                cancel=cancel,
            )
            self.collection = Collection(store, doc_ids)  # numpy search reads the vectors back on first use
        else:
            vectors = self.encode(docs, progress=progress, cancel=cancel, phase="index")
            folder = Path(tempfile.mkdtemp(prefix="store-", dir=self._scratch()))
            store = VectorStore.create(folder / STORE_DIR, vectors, docs, doc_ids)
            self.collection = Collection(store, doc_ids, rows=(vectors, docs))
        self.indexed_ids = doc_ids
        if self.backend() == "hnsw":
            self.collection.build_graph(self.config)
        progress(ProgressEvent(phase="index", done=len(docs), total=len(docs), unit="texts"))
        if old is not None and self._tmp is not None and self._tmp in old.parents:
            shutil.rmtree(old.parent, ignore_errors=True)

    def search_many(self, queries: Sequence[str], k: int = EVAL_K) -> list[list[SearchHit]]:
        """The ``k`` documents most similar (cosine) to each query, best first."""
        queries = check_queries(queries, k, self.name)
        return self._indexed("call index (or load an artifact) first").search(self.encode(queries), k, self.config)

    def backend(self, n_docs: int | None = None) -> str:
        """The search backend for a collection of ``n_docs`` documents (None: the one indexed): the
        configured one, with 'auto' settled by the collection's size."""
        return dense_search.backend(self.config, len(self.indexed_ids or []) if n_docs is None else n_docs)

    def search_cost(self, n_docs: int, queries: Sequence[str]) -> SearchCost:
        """One query over ``n_docs`` documents by the backend that size gets, timed here
        (``engines.dense_search.cost``)."""
        collection = self._indexed("index a collection before timing searches")
        probe = check_queries(queries, EVAL_K, self.name)[:PROBE_QUERIES]
        return collection.cost(n_docs, probe, self.encode, self.config, k=EVAL_K)

    def _indexed(self, hint: str) -> Collection:
        if self.collection is None or not self.indexed_ids:
            raise DataError(f"{self.name}: nothing indexed yet; {hint}")
        return self.collection

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
