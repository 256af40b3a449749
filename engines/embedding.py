"""``embedding``: a frozen encoder + a light head (logistic regression, or kNN over the store).

The fit itself is ``engines.embedding_fit`` (``engines.ray_embed`` on Ray); the artifact (model copy,
head, LanceDB store, ``embedding.json``, int8 model) and the store's handling are ``engines.embedding_artifact``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines import embedding_artifact
from engines.base import (
    Engine,
    EvalReport,
    Examples,
    FitReport,
    MemoryModel,
    Predictions,
    ProgressFn,
    TaskData,
    no_progress,
)
from engines.config import EmbeddingConfig
from engines.embedding_fit import fit_in_process
from engines.encoder import FrozenEncoder
from engines.errors import Cancelled, ConfigError, DataError


class EmbeddingEngine(FrozenEncoder, Engine):
    """Frozen transformer embeddings (cached by text) + logistic regression or kNN.

    The training vectors, texts and labels go into a LanceDB store (``engines.store``) that the kNN
    head and ``search`` query. The artifact's model copy lets ``predict``/``search`` work even if
    the model package is gone; with int8 it holds the int8 model, so ``load`` never re-exports.
    No pickle anywhere.
    """

    name: ClassVar[str] = "embedding"
    description: ClassVar[str] = "frozen sentence embeddings + logistic regression (or kNN over a vector store)"
    config_cls: ClassVar[type] = EmbeddingConfig
    uses_transformer: ClassVar[bool] = True
    supports_search: ClassVar[bool] = True
    supports_gpu: ClassVar[bool] = True
    scales_out: ClassVar[bool] = True
    label: ClassVar[str] = "Frozen embeddings + head"
    cheap_fits: ClassVar[bool] = True
    caches_vectors: ClassVar[bool] = True
    memory_model: ClassVar[MemoryModel] = "frozen"

    config: EmbeddingConfig

    def __init__(self, config: EmbeddingConfig | dict | None = None) -> None:
        super().__init__(config)
        self.device: str | None = None
        self.model_name: str | None = None
        self.model_hash: str | None = None
        self.last_embed_texts_per_s: float | None = None
        self.last_embed_tokens_per_s: float | None = None
        self._model_dir: Path | None = None  # the folder the encoder comes from
        self._resolved: Any = None
        self._pooling: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: dict[str, Any] = {}
        self._clf: Any = None
        self._C: float | None = None
        self._classes: list[str] = []
        self._train_vectors: Any = None
        self._train_texts: list[str] = []
        self._train_labels: list[str] = []
        self._store: Any = None
        self._store_dir: Path | None = None  # an artifact's store, opened on first use
        self._store_shape: tuple[int, int] | None = None
        self._onnx: Any = None  # engines.onnx_backend.OnnxEncoder when backend is onnx-int8
        self._onnx_path: Path | None = None  # an artifact's int8 model; else the cache's
        self._dim: int | None = None
        if self.config.workers > 1:  # embedding on Ray keeps its store in the run's workdir: resumable
            self.supports_resume = True  # type: ignore[misc]
        if self.config.backend == "onnx-int8":
            from engines import onnx_backend

            onnx_backend.check_device(self.config.device)
            if not onnx_backend.onnxruntime_available():
                raise ConfigError(onnx_backend.MISSING_HINT)

    def warm_up(self) -> None:
        """Load the encoder and tokenizer (and import the head's library)."""
        self._ensure_model()

    def prepare(
        self, texts: Sequence[str], *, progress: ProgressFn = no_progress, cancel: threading.Event | None = None
    ) -> None:
        """Load the model and embed (and cache) all ``texts``; sets ``last_embed_texts_per_s``."""
        stopped, *_ = self._embed_into_cache(texts, progress=progress, cancel=cancel, deadline=None)
        if stopped == "cancelled":
            raise Cancelled("cancelled while embedding; the vectors done so far are kept")

    # ----------------------------------------------------------------------- fit
    def fit(
        self,
        train: TaskData,
        *,
        valid: TaskData | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        """Embed ``train`` and fit the head: here (``engines.embedding_fit``), or on Ray actors
        straight into the store for a full run with ``workers > 1`` (``engines.ray_embed``)."""
        if not isinstance(train, Examples) or len(train) == 0:
            raise DataError("embedding: no training examples")
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled before training started")
        if self.config.workers > 1 and budget_s is None:
            from engines.ray_embed_fit import fit_embedding

            return fit_embedding(self, train, progress=progress, cancel=cancel, workdir=workdir, resume=resume)
        return fit_in_process(self, train, budget_s=budget_s, progress=progress, cancel=cancel)

    # ------------------------------------------------------------------- predict
    def _require_fitted(self) -> None:
        if not self._classes:
            raise DataError("embedding: predict called before fit/load")

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Encode ``texts`` (never from the cache: this is the path speed is measured on) and label them."""
        self._require_fitted()
        texts = list(texts)
        if not texts:
            return Predictions(labels=[], classes=list(self._classes), scores=[])
        vectors, cut = self.encode_counted(texts)
        return self._predict_vectors(vectors).model_copy(update={"cut": cut})

    def evaluate(self, test: TaskData) -> EvalReport:
        """Held-out scores. Vectors ``prepare``/``fit`` already computed for these texts are reused
        (the encoder is frozen, so they are the very vectors ``predict`` would compute)."""
        import numpy as np

        from engines.metrics import score

        self._require_fitted()
        texts = list(test.texts)
        missing = self.uncached(texts)
        fresh = dict(zip(missing, self._encode_missing(missing))) if missing else {}
        X = np.stack([self._cache[t] if t in self._cache else fresh[t] for t in texts])
        return score(test, self._predict_vectors(X))

    def _encode_missing(self, texts: list[str]) -> Any:
        """``encode``, on Ray actors when the engine has ``workers > 1``."""
        if self.config.workers <= 1:
            return self.encode(texts)
        from engines import ray_embed

        self._ensure_model()
        cfg = self.config
        assert self._model_dir is not None  # set by _ensure_model
        return ray_embed.encode(
            texts,
            config=cfg,
            model_dir=self._model_dir,
            pooling=self._pooling,
            workers=cfg.workers,
            address=cfg.ray_address,
        )

    def _predict_vectors(self, X: Any) -> Predictions:
        from engines.linear_head import predictions_from_proba
        from engines.store import knn_vote

        if self.config.head == "logreg":
            return predictions_from_proba(self._clf.classes_, self._clf.predict_proba(X))
        hits = self._get_store().search_many(X, self.config.knn_k)
        return predictions_from_proba(self._classes, [knn_vote(h, self._classes) for h in hits])

    def search(self, query: str, k: int | None = None) -> list:
        """The stored training examples nearest to ``query`` (list of ``engines.store.Hit``)."""
        self._require_fitted()
        vec = self.encode([query])[0]
        return self._get_store().search(vec, k or self.config.knn_k)

    # --------------------------------------------------------------------- store
    def _get_store(self):
        """The LanceDB store: the artifact's after ``load``, else a temporary one built from the fit."""
        return embedding_artifact.store(self)

    def _drop_store(self) -> None:
        self._store = None
        self._store_dir = None

    # ------------------------------------------------------------------ save/load
    def save(self, directory: Path) -> None:
        embedding_artifact.save(self, directory)

    @classmethod
    def load(cls, directory: Path, *, verify_model: bool = True) -> EmbeddingEngine:
        return embedding_artifact.load(cls, directory, verify_model=verify_model)


class EmbeddingInt8Engine(EmbeddingEngine):
    """The embedding engine with its encoder in ONNX Runtime, int8 weights, on the CPU.

    Another way to the same approach (``alternative_to = "embedding"``): the same model,
    head and artifact layout, with the int8 model added. Not a default engine: ask for it
    (``advise --engines …,embedding-int8`` or ``run --engine embedding-int8``; the profile's
    ``embedding`` section configures it).
    """

    name: ClassVar[str] = "embedding-int8"
    description: ClassVar[str] = (
        "frozen sentence embeddings, encoder in ONNX Runtime with int8 weights (CPU) + logistic regression (or kNN)"
    )
    label: ClassVar[str] = "Frozen embeddings (int8) + head"
    supports_gpu: ClassVar[bool] = False
    alternative_to: ClassVar[str | None] = "embedding"

    def __init__(self, config: EmbeddingConfig | dict | None = None) -> None:
        if config is None:
            config = EmbeddingConfig(backend="onnx-int8")
        elif isinstance(config, dict):
            config = EmbeddingConfig(**{**config, "backend": "onnx-int8"})
        elif config.backend != "onnx-int8":
            config = config.model_copy(update={"backend": "onnx-int8"})
        super().__init__(config)
