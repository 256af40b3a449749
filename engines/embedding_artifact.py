"""The ``embedding`` engine on disk: its artifact's layout, ``save`` and ``load``, and ``store``,
the LanceDB store its kNN head and ``search`` query (the artifact's, opened on first use, or a
temporary one built from the fit's vectors)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engines.atomic import write_json
from engines.errors import ArtifactError, DataError, UserError
from engines.scratch import scratch_dir

if TYPE_CHECKING:
    from engines.embedding import EmbeddingEngine

ENGINE_FILE = "embedding.json"
HEAD_FILE = "head.npz"
MODEL_DIR = "model"
STORE_DIR = "store"
ONNX_DIR = "onnx-int8"
IGNORE_IN_MODEL_COPY = shutil.ignore_patterns(
    "*.bin", "*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx", "openvino", ".git", ".gitattributes"
)

E = TypeVar("E", bound="EmbeddingEngine")


# ------------------------------------------------------------------------- store
def store(engine: EmbeddingEngine) -> Any:
    """The LanceDB store: the artifact's after ``load``, else a temporary one built from the fit."""
    from engines.store import VectorStore

    if engine._store is None and engine._store_dir is not None:
        assert engine._store_shape is not None, "load sets the store's shape with its folder"
        opened = VectorStore.open(engine._store_dir)
        if (len(opened), opened.dim) != engine._store_shape:
            raise ArtifactError(
                f"vector store in {engine._store_dir} does not match {ENGINE_FILE} "
                f"({len(opened)}×{opened.dim}, expected "
                f"{engine._store_shape[0]}×{engine._store_shape[1]})"
            )
        engine._store = opened
    if engine._store is None:
        if engine._train_vectors is None:
            raise DataError("embedding: no vectors stored, fit first")
        tmp = scratch_dir("store", owner=engine)
        engine._store = VectorStore.create(
            tmp / STORE_DIR, engine._train_vectors, engine._train_texts, engine._train_labels
        )
    return engine._store


# -------------------------------------------------------------------- save/load
def save(engine: EmbeddingEngine, directory: Path) -> None:
    """Write the artifact: model copy, head, store, ``embedding.json`` and, for int8, the int8 model."""
    from engines.linear_head import save_logreg
    from engines.store import VectorStore

    engine._require_fitted()
    if engine._train_vectors is None and engine._store_dir is None:
        raise DataError("embedding: nothing to save, fit first")
    if engine._model_dir is None:  # fit (via _ensure_model) and load both set it
        raise RuntimeError("embedding: fitted, yet no model folder to copy")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(engine._model_dir, directory / MODEL_DIR, ignore=IGNORE_IN_MODEL_COPY)
    if engine._clf is not None:
        save_logreg(engine._clf, directory / HEAD_FILE, C=float(engine._C or 1.0))
    if engine._train_vectors is not None:
        VectorStore.create(directory / STORE_DIR, engine._train_vectors, engine._train_texts, engine._train_labels)
        n_stored, dim = engine._train_vectors.shape
    else:  # a store written elsewhere (embedded on Ray, or a loaded artifact's): copied as it is
        store_dir: Path = engine._store_dir  # type: ignore[assignment]  # not None: checked above
        shutil.copytree(store_dir, directory / STORE_DIR, ignore=shutil.ignore_patterns("ray-embed.json"))
        opened = store(engine)
        n_stored, dim = len(opened), opened.dim
    if engine.config.backend == "onnx-int8":
        from engines.onnx_backend import copy_into

        engine._ensure_model()  # fitted engines have it; this only guards odd call orders
        if engine._onnx_path is None:  # _load_onnx (or load) sets it whenever the backend is onnx-int8
            raise RuntimeError("embedding: onnx-int8 backend, yet no int8 model path")
        copy_into(engine._onnx_path, directory / ONNX_DIR)
    write_json(
        directory / ENGINE_FILE,
        {
            "engine": engine.name,
            "config": engine.config.model_dump(mode="json"),
            "pooling": engine._pooling,
            "normalize": True,
            "model_name": engine.model_name,
            "model_hash": engine.model_hash,
            "classes": engine._classes,
            "dim": int(dim),
            "n_stored": int(n_stored),
        },
    )


def load(cls: type[E], directory: Path, *, verify_model: bool = True) -> E:
    """An engine of class ``cls`` from the artifact in ``directory``; the store opens on first use."""
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
            f"model weights in {model_dir} do not match the artifact's hash {engine.model_hash} (corrupt or replaced)"
        )
    engine._model_dir = model_dir
    if engine.config.backend == "onnx-int8":
        from engines.onnx_backend import ONNX_FILE

        onnx_path = directory / ONNX_DIR / ONNX_FILE
        if not onnx_path.is_file():
            raise ArtifactError(f"int8 model missing: {onnx_path} (the artifact was saved with backend 'onnx-int8')")
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
