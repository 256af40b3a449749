"""``embedding``: a frozen encoder + a light head (logistic regression, or kNN over the store).

An artifact holds a copy of the model folder (so ``predict``/``search`` work offline), the head
as ``.npz``, the LanceDB store (``engines.store``), ``embedding.json`` and, for int8, ``onnx-int8/``."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines.atomic import write_json
from engines.base import (
    Engine,
    EvalReport,
    Examples,
    FitReport,
    MemoryModel,
    Predictions,
    ProgressEvent,
    ProgressFn,
    TaskData,
    no_progress,
)
from engines.config import EmbeddingConfig
from engines.encoder import FrozenEncoder
from engines.errors import (
    ArtifactError,
    Cancelled,
    ConfigError,
    DataError,
    ResourceError,
    UserError,
)

C_GRID = (0.1, 1.0, 10.0)
ENGINE_FILE = "embedding.json"
HEAD_FILE = "head.npz"
MODEL_DIR = "model"
STORE_DIR = "store"
ONNX_DIR = "onnx-int8"
EMBED_SHARE_OF_BUDGET = 0.8  # leave the rest of a budget for the head
_IGNORE_IN_MODEL_COPY = shutil.ignore_patterns(
    "*.bin", "*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx", "openvino", ".git", ".gitattributes"
)


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
        stopped, _, _, _ = self._embed_into_cache(texts, progress=progress, cancel=cancel, deadline=None)
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
        import numpy as np

        from engines.linear_head import fit_logreg
        from engines.metrics import PeakMemory

        if not isinstance(train, Examples) or len(train) == 0:
            raise DataError("embedding: no training examples")
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled before training started")
        cfg: EmbeddingConfig = self.config
        if cfg.workers > 1 and budget_s is None:  # a full run: Ray actors embed straight into the store
            from engines.ray_embed import fit_embedding

            return fit_embedding(self, train, progress=progress, cancel=cancel, workdir=workdir, resume=resume)
        start = time.perf_counter()
        deadline = start + EMBED_SHARE_OF_BUDGET * budget_s if budget_s is not None else None
        phase_s: dict[str, float] = {}
        notes: list[str] = []
        with PeakMemory(self.device or "cpu") as mem:
            t0 = time.perf_counter()
            self._ensure_model()
            phase_s["load"] = time.perf_counter() - t0
            mem.device = self.device or "cpu"
            stopped, n_new, tokens, embed_s = self._embed_into_cache(
                train.texts, progress=progress, cancel=cancel, deadline=deadline
            )
            phase_s["embed"] = embed_s
            keep = [i for i, t in enumerate(train.texts) if t in self._cache]
            if stopped != "completed":
                notes.append(f"{stopped}: head fitted on {len(keep)} of {len(train)} examples")
            used = train.subset(keep)
            if len(set(used.labels)) < 2:
                if stopped == "cancelled":
                    raise Cancelled("cancelled before two classes were embedded; nothing to keep")
                raise ResourceError(
                    f"budget of {budget_s:g}s embedded only {len(keep)} examples "
                    f"({len(set(used.labels))} class); give it more time"
                )
            X = np.stack([self._cache[t] for t in used.texts])

            t0 = time.perf_counter()
            progress(ProgressEvent(phase="head", done=0, total=len(used), message=cfg.head))
            self._classes = used.classes
            self._train_vectors, self._train_texts, self._train_labels = X, list(used.texts), list(used.labels)
            self._drop_store()
            if cfg.head == "logreg":
                # CV costs ~10 single fits: only when at least half the budget is left.
                allow_cv = budget_s is None or (stopped == "completed" and time.perf_counter() - start < 0.5 * budget_s)
                self._clf, self._C, cv_ran = fit_logreg(
                    X, used.labels, C=cfg.C, grid=C_GRID, seed=cfg.seed, allow_cv=allow_cv
                )
                if cv_ran:
                    notes.append(f"C={self._C:g} chosen by 3-fold CV over {list(C_GRID)}")
            else:
                self._clf, self._C = None, None
            phase_s["head"] = time.perf_counter() - t0
            progress(ProgressEvent(phase="head", done=len(used), total=len(used)))
        wall = time.perf_counter() - start
        per_s: float | None
        tok_per_s: float | None
        if n_new:
            per_s, tok_per_s = n_new / embed_s, tokens / embed_s
        else:  # all cached by prepare(): report that embedding throughput
            per_s, tok_per_s = self.last_embed_texts_per_s, self.last_embed_tokens_per_s
            notes.append("vectors came from the cache (prepare)")
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=len(used),
            epochs=len(used) / len(train),
            tokens_seen=tokens,
            stopped=stopped,
            phase_s=phase_s,
            wall_s=wall,
            train_examples_per_s=per_s,
            train_tokens_per_s=tok_per_s,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            peak_gpu_bytes=mem.peak_gpu_bytes,
            device=self.device or "cpu",
            notes=notes,
        )

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
        return self._predict_vectors(self.encode(texts))

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
        from engines.store import VectorStore

        if self._store is None and self._store_dir is not None:
            assert self._store_shape is not None, "load sets the store's shape with its folder"
            store = VectorStore.open(self._store_dir)
            if (len(store), store.dim) != self._store_shape:
                raise ArtifactError(
                    f"vector store in {self._store_dir} does not match {ENGINE_FILE} "
                    f"({len(store)}×{store.dim}, expected "
                    f"{self._store_shape[0]}×{self._store_shape[1]})"
                )
            self._store = store
        if self._store is None:
            if self._train_vectors is None:
                raise DataError("embedding: no vectors stored, fit first")
            tmp = Path(tempfile.mkdtemp(prefix="toe-store-"))
            weakref.finalize(self, shutil.rmtree, tmp, True)
            self._store = VectorStore.create(
                tmp / STORE_DIR, self._train_vectors, self._train_texts, self._train_labels
            )
        return self._store

    def _get_store_shape(self) -> tuple[int, int]:
        store = self._get_store()
        return len(store), store.dim

    def _drop_store(self) -> None:
        self._store = None
        self._store_dir = None

    # ------------------------------------------------------------------ save/load
    def save(self, directory: Path) -> None:
        from engines.linear_head import save_logreg
        from engines.store import VectorStore

        self._require_fitted()
        if self._train_vectors is None and self._store_dir is None:
            raise DataError("embedding: nothing to save, fit first")
        if self._model_dir is None:  # fit (via _ensure_model) and load both set it
            raise RuntimeError("embedding: fitted, yet no model folder to copy")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self._model_dir, directory / MODEL_DIR, ignore=_IGNORE_IN_MODEL_COPY)
        if self._clf is not None:
            save_logreg(self._clf, directory / HEAD_FILE, C=float(self._C or 1.0))
        if self._train_vectors is not None:
            VectorStore.create(directory / STORE_DIR, self._train_vectors, self._train_texts, self._train_labels)
            n_stored, dim = self._train_vectors.shape
        else:  # a store written elsewhere (embedded on Ray, or a loaded artifact's): copied as it is
            store_dir: Path = self._store_dir  # type: ignore[assignment]  # not None: checked above
            shutil.copytree(store_dir, directory / STORE_DIR, ignore=shutil.ignore_patterns("ray-embed.json"))
            n_stored, dim = self._get_store_shape()
        if self.config.backend == "onnx-int8":
            from engines.onnx_backend import copy_into

            self._ensure_model()  # fitted engines have it; this only guards odd call orders
            if self._onnx_path is None:  # _load_onnx (or load) sets it whenever the backend is onnx-int8
                raise RuntimeError("embedding: onnx-int8 backend, yet no int8 model path")
            copy_into(self._onnx_path, directory / ONNX_DIR)
        write_json(
            directory / ENGINE_FILE,
            {
                "engine": self.name,
                "config": self.config.model_dump(mode="json"),
                "pooling": self._pooling,
                "normalize": True,
                "model_name": self.model_name,
                "model_hash": self.model_hash,
                "classes": self._classes,
                "dim": int(dim),
                "n_stored": int(n_stored),
            },
        )

    @classmethod
    def load(cls, directory: Path, *, verify_model: bool = True) -> EmbeddingEngine:
        from engines.linear_head import load_logreg
        from engines.models import model_fingerprint, resolve_model

        directory = Path(directory)
        try:
            meta = json.loads((directory / ENGINE_FILE).read_text(encoding="utf-8"))
            engine = cls(meta["config"])
            engine._pooling = meta["pooling"]
            engine._classes = [str(c) for c in meta["classes"]]
            engine.model_name = meta.get("model_name")
            engine.model_hash = meta.get("model_hash")
            dim, n_stored = int(meta["dim"]), int(meta["n_stored"])
        except FileNotFoundError:
            raise ArtifactError(f"missing {ENGINE_FILE} in {directory}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"corrupt {ENGINE_FILE} in {directory}: {type(exc).__name__}") from None
        model_dir = directory / MODEL_DIR
        try:
            resolved = resolve_model(str(model_dir))
        except UserError as exc:  # ModelNotFoundError: missing config/weights
            raise ArtifactError(f"model copy in {directory} is unusable: {exc}") from None
        if verify_model and engine.model_hash and model_fingerprint(resolved) != engine.model_hash:
            raise ArtifactError(
                f"model weights in {model_dir} do not match the artifact's hash "
                f"{engine.model_hash} (corrupt or replaced)"
            )
        engine._model_dir = model_dir
        if engine.config.backend == "onnx-int8":
            from engines.onnx_backend import ONNX_FILE

            onnx_path = directory / ONNX_DIR / ONNX_FILE
            if not onnx_path.is_file():
                raise ArtifactError(
                    f"int8 model missing: {onnx_path} (the artifact was saved with backend 'onnx-int8')"
                )
            engine._onnx_path = onnx_path
        if engine.config.head == "logreg":
            engine._clf, engine._C = load_logreg(directory / HEAD_FILE)
            if engine._clf.coef_.shape[1] != dim:
                raise ArtifactError(
                    f"corrupt {HEAD_FILE} in {directory}: {engine._clf.coef_.shape[1]} features, vectors have {dim}"
                )
        if not (directory / STORE_DIR).is_dir():
            raise ArtifactError(f"vector store folder missing: {directory / STORE_DIR}")
        engine._store_dir = directory / STORE_DIR  # opened on first search / kNN predict
        engine._store_shape = (n_stored, dim)
        return engine


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
