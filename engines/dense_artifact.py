"""The ``frozen-index`` (and contrastive) engines on disk: the artifact's layout (the model copy, the
LanceDB ``store/``, an HNSW graph when the engine searches with one, ``collection.json``, ``dense.json``), ``save`` and ``load``, and the frozen model's
copy and hash check (``copy_model``, ``checked_model``), which the engines' hooks may replace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engines.atomic import staged_dir, write_json
from engines.errors import ArtifactError, DataError, UserError

if TYPE_CHECKING:
    from engines.dense import FrozenIndexEngine

ARTIFACT_FORMAT = 1
ENGINE_FILE = "dense.json"  # also the contrastive engines' (the "engine" key says which)
COLLECTION_FILE = "collection.json"
MODEL_DIR = "model"
STORE_DIR = "store"
MODEL_COPY_IGNORE = ("*.bin", "*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx", "openvino", ".git", ".gitattributes")

D = TypeVar("D", bound="FrozenIndexEngine")


def save(engine: FrozenIndexEngine, directory: Path) -> None:
    """The encoder (the engine's ``_save_model``), ``store/``, ``collection.json`` and the JSON; no pickle."""
    from engines.models import model_fingerprint, resolve_model

    collection = engine.collection
    if collection is None or engine.indexed_ids is None:
        raise DataError(f"{engine.name}: nothing to save; index a collection first")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = resolve_model(engine.config.model)
    model_meta = engine._save_model(directory)
    with staged_dir(directory / STORE_DIR, overwrite=True) as tmp:
        shutil.copytree(collection.store.directory, tmp, dirs_exist_ok=True)
    if collection.graph is not None:
        from engines import ann

        ann.save(collection.graph, directory / ann.INDEX_FILE)
    write_json(directory / COLLECTION_FILE, {"doc_ids": engine.indexed_ids})
    write_json(
        directory / ENGINE_FILE,
        {
            "format": ARTIFACT_FORMAT,
            "engine": engine.name,
            "config": engine.config.model_dump(mode="json"),
            "model_name": base.name,
            "base_model_hash": model_fingerprint(base),
            "dim": int(collection.store.dim),
            "n_docs": len(engine.indexed_ids),
            **model_meta,
            **engine._extra_meta(),
        },
    )


def copy_model(ref: str, directory: Path) -> dict[str, Any]:
    """``model/``: a copy of the weights at ``ref`` (and their pooling), so the artifact searches offline
    on its own; returns the JSON's ``model_hash``."""
    from engines.models import model_fingerprint, pooling_mode, resolve_model

    resolved = resolve_model(ref)
    with staged_dir(directory / MODEL_DIR, overwrite=True) as tmp:
        shutil.copytree(resolved.path, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*MODEL_COPY_IGNORE))
        if not (tmp / "1_Pooling").is_dir():  # the pooling encoded with travels with the weights
            write_json(tmp / "1_Pooling" / "config.json", {"pooling_mode": pooling_mode(resolved)})
    return {"model_hash": model_fingerprint(resolved)}


def load(cls: type[D], directory: Path) -> D:
    """Reopen ``save``'s folder offline as a ``cls``: the encoder (its ``_load_model``) and the store."""
    from engines.dense_collection import Collection
    from engines.store import VectorStore

    directory = Path(directory)
    try:
        meta = json.loads((directory / ENGINE_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"format {meta.get('format')}, expected {ARTIFACT_FORMAT}")
        engine = cls(meta["config"])
        doc_ids = [str(d) for d in json.loads((directory / COLLECTION_FILE).read_text(encoding="utf-8"))["doc_ids"]]
        dim, n_docs = int(meta["dim"]), int(meta["n_docs"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{directory} is not a {cls.name} artifact: {str(exc).splitlines()[0]}") from None
    model_ref = engine._load_model(directory, meta)
    store = VectorStore.open(directory / STORE_DIR)
    if (len(store), store.dim) != (n_docs, dim) or len(doc_ids) != n_docs:
        raise ArtifactError(f"vector store in {directory} does not match {ENGINE_FILE} ({n_docs}×{dim})")
    engine._model_ref = model_ref
    engine.collection, engine.indexed_ids = Collection(store, doc_ids), doc_ids
    engine._restore_meta(meta)
    from engines import ann

    if (directory / ann.INDEX_FILE).is_file() and engine.backend() == "hnsw":
        engine.collection.graph = ann.load(directory / ann.INDEX_FILE, n_docs, dim)
    return engine


def checked_model(directory: Path, meta: dict[str, Any]) -> str:
    """The folder to encode from: the artifact's ``model/``, its weights checked against the hash."""
    from engines.models import model_fingerprint, resolve_model

    try:
        resolved = resolve_model(str(directory / MODEL_DIR))
    except UserError as exc:
        raise ArtifactError(f"model copy in {directory} is unusable: {exc}") from None
    if meta.get("model_hash") and model_fingerprint(resolved) != meta["model_hash"]:
        raise ArtifactError(f"model weights in {directory / MODEL_DIR} do not match the artifact's hash")
    return str(directory / MODEL_DIR)
