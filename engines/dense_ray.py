"""The ``frozen-index`` engines' index on Ray: the collection embedded by ``workers`` actors
(``engines.ray_embed.index_to_store``) into the same store a one-process index writes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from engines.base import ProgressEvent, ProgressFn
from engines.dense_artifact import STORE_DIR
from engines.errors import Cancelled

RAY_INDEX_DIR = "ray-index"  # index on Ray with a workdir: the store is built (and resumed) here


def check_pool(workers: int, ray_address: str | None) -> None:
    """With ``workers > 1``: Ray installed and the cluster asked for reachable, checked before any
    training or encoding (one line each; a local cluster is started by the index itself)."""
    if workers <= 1:
        return
    from engines.ray_cluster import check_cluster

    check_cluster(ray_address)


def index(
    enc: Any,
    doc_ids: list[str],
    docs: list[str],
    *,
    workers: int,
    ray_address: str | None,
    scratch: Path,
    workdir: Path | None,
    resume: bool,
    progress: ProgressFn,
    cancel: Any,
) -> Any:
    """``docs`` embedded by ``workers`` Ray actors with ``enc``'s weights and pooling (an
    ``engines.embedding.EmbeddingEngine``) → the ``engines.store.VectorStore`` holding them
    (``check_pool`` first: it fails before the encoder loads).

    With a ``workdir`` the store is built in ``workdir/ray-index``, where an interrupted index leaves
    the blocks embedded so far: ``resume`` then embeds only the documents they lack (when they come
    from the same documents and weights). Without one it is built in a new folder of ``scratch``,
    removed if the index stops."""
    from engines import ray_embed
    from engines.store import VectorStore

    enc._ensure_model()
    kept = workdir is not None
    folder = (
        Path(workdir) / RAY_INDEX_DIR if workdir is not None else Path(tempfile.mkdtemp(prefix="store-", dir=scratch))
    )
    done = [0]

    def seen(event: ProgressEvent) -> None:
        done[0] = event.done
        progress(event.model_copy(update={"phase": "index"}))

    try:
        try:
            ray_embed.index_to_store(
                doc_ids,
                docs,
                folder / STORE_DIR,
                **ray_embed.encoder_settings(enc),
                workers=workers,
                address=ray_address,
                progress=seen,
                cancel=cancel,
                resume=resume and kept,
            )
        except Cancelled:
            where = f"; they are kept in {folder}, continue with --resume" if kept else ""
            raise Cancelled(
                f"cancelled while indexing on Ray ({done[0]} of {len(docs)} documents embedded{where}); "
                "the previous collection is kept"
            ) from None
        return VectorStore.open(folder / STORE_DIR)
    except BaseException:
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)
        raise
