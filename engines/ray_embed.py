"""Embedding at scale on Ray Data: the ``embedding`` engine's encoder in a pool of Ray actors.

``embed_to_store`` is what ``EmbeddingEngine.fit`` calls when ``workers > 1``: the rows to embed
become a Ray Dataset of Arrow blocks (``BLOCK_ROWS`` rows each); ``map_batches`` runs them through
``EncodeActor``, a callable class that loads the model once per actor (CPU actors, one GPU each
where the cluster has GPUs) and encodes with the engine's own ``FrozenEncoder`` code, so vectors
equal the single-process engine's up to float rounding; the driver writes each block of vectors
to the LanceDB table as it arrives (``engines.store`` layout: vector, text, label, row), so no
process ever holds the corpus's vectors. Each block is one LanceDB commit: after a crash the table
holds whole blocks only, and a re-run embeds just the rows missing from it.

``index_to_store`` is the same pool for a retrieval collection (``frozen-index``'s ``index`` with
``workers > 1``): document text and id in the text and label columns, a plain store when done.

Ray is optional (``pip install 'tune-or-embed[ray]'``): nothing here imports it at module import,
and ``engines.ray_cluster.require_ray`` gives the one-line hint when it is missing; the store's
resume bookkeeping is ``engines.ray_store``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from engines.base import ProgressEvent, ProgressFn, Record, no_progress
from engines.config import EmbeddingConfig
from engines.errors import Cancelled, ResourceError
from engines.ray_cluster import connect, cpus_per_worker, gpus_per_worker, require_ray, user_error
from engines.ray_store import META_FILE, TABLE, compact, fingerprint, open_table, prepare

BLOCK_ROWS = 1024  # at most this many rows per input block = per LanceDB commit (what a crash can lose)
MIN_BLOCK_ROWS = 64
BLOCKS_PER_WORKER = 8  # small inputs still spread over every worker
# Times each encoder actor is restarted after its process dies (Ray Data's default is without end, so an
# actor that dies on every start — out of memory loading the model — would hang the run). Past it the run
# stops with one line and the blocks written are kept for --resume.
ACTOR_RESTARTS = 3


class EmbedStats(Record):
    """What one ``embed_to_store`` call did."""

    rows: int = Field(description="Rows the store holds when done.")
    already: int = Field(description="Rows found in the store at the start (a resumed run).")
    embedded: int = Field(description="Rows embedded by this call.")
    seconds: float = Field(description="Wall time of this call, cluster start excluded.")
    texts_per_s: float | None = Field(None, description="Rows embedded per second by this call.")
    tokens: int = Field(0, description="Non-padding tokens embedded by this call.")
    workers: int = Field(description="Encoder actors.")
    address: str = Field(description="'local' (a cluster started here) or the cluster address.")
    peak_rss_per_worker: dict[str, int] = Field(
        default_factory=dict, description="Peak resident memory of each actor process (pid → bytes)."
    )
    peak_uss_per_worker: dict[str, int] = Field(
        default_factory=dict,
        description="Largest private memory (USS, after each block) of each actor process (pid → bytes): "
        "RSS without the shared object-store pages an actor maps.",
    )


# --------------------------------------------------------------------------- actor
class EncodeActor:
    """One Ray actor: the engine's frozen encoder, loaded once, applied to Arrow blocks of
    (text, label, row); returns them with a ``vector`` column, plus the actor's pid and peak RSS."""

    def __init__(self, config: dict[str, Any], model_dir: str, pooling: str | None, threads: int) -> None:
        from engines.embedding import EmbeddingEngine

        cfg = EmbeddingConfig(**{**config, "threads": threads, "workers": 1})
        self._encoder = EmbeddingEngine(cfg)
        self._encoder._model_dir = Path(model_dir)
        self._encoder._pooling = pooling
        self._encoder._ensure_model()
        self._peak_uss = 0

    def __call__(self, batch: Any) -> Any:
        import numpy as np
        import pyarrow as pa

        texts = batch.column("text").to_pylist()
        n = len(texts)
        vectors: Any = None
        tokens = 0
        for idx, vecs, n_tok, _ in self._encoder._encode_batches(texts, in_order_chunks=False):
            if vectors is None:
                vectors = np.empty((n, vecs.shape[1]), dtype=np.float32)
            vectors[idx] = vecs
            tokens += n_tok
        dim = vectors.shape[1]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
        with contextlib.suppress(Exception):  # private memory: RSS also counts object-store pages it maps
            import psutil

            self._peak_uss = max(self._peak_uss, int(psutil.Process().memory_full_info().uss))
        return pa.table(
            {
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), type=pa.float32()), dim),
                "text": batch.column("text"),
                "label": batch.column("label"),
                "row": batch.column("row"),
                "_pid": pa.array([os.getpid()] * n, type=pa.int64()),
                "_peak_rss": pa.array([peak] * n, type=pa.int64()),
                "_peak_uss": pa.array([self._peak_uss] * n, type=pa.int64()),
                "_tokens": pa.array([tokens] + [0] * (n - 1), type=pa.int64()),  # the block's total, once
            }
        )


# -------------------------------------------------------------------------- blocks
def block_rows(n: int, workers: int) -> int:
    """Rows per block: ``BLOCKS_PER_WORKER`` blocks per worker, within [MIN_BLOCK_ROWS, BLOCK_ROWS]."""
    return max(MIN_BLOCK_ROWS, min(BLOCK_ROWS, -(-n // (workers * BLOCKS_PER_WORKER))))


def _blocks(texts: Sequence[str], labels: Sequence[str], rows: Sequence[int], size: int) -> Iterator[Any]:
    import pyarrow as pa

    for start in range(0, len(rows), size):
        idx = rows[start : start + size]
        yield pa.table(
            {
                "text": pa.array([str(texts[i]) for i in idx], type=pa.string()),
                "label": pa.array([str(labels[i]) for i in idx], type=pa.string()),
                "row": pa.array(list(idx), type=pa.int64()),
            }
        )


def _run_pool(
    ds: Any, *, config: EmbeddingConfig, model_dir: Path, pooling: str | None, workers: int, cpus: int, gpus: float
) -> Any:
    import inspect
    import warnings

    import ray.data

    # Ray 2.60 deprecates ray_remote_args_fn with no named replacement yet; where a later Ray drops it,
    # its default (restart without end) stands.
    limits = (
        {"ray_remote_args_fn": _restart_limits}
        if "ray_remote_args_fn" in inspect.signature(ds.map_batches).parameters
        else {}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.map_batches(
            EncodeActor,
            batch_size=None,  # whole blocks: each block comes back as one LanceDB commit
            batch_format="pyarrow",
            fn_constructor_kwargs={
                "config": config.model_dump(mode="json"),
                "model_dir": str(model_dir),
                "pooling": pooling,
                "threads": cpus,
            },
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
            num_gpus=gpus,
            **limits,  # applied over Ray Data's defaults at each actor's creation
        )


def _restart_limits() -> dict[str, Any]:
    return {"max_restarts": ACTOR_RESTARTS, "max_task_retries": ACTOR_RESTARTS}


def encoder_settings(enc: Any) -> dict[str, Any]:
    """What ``embed_to_store`` and ``index_to_store`` take of an encoder: an ``EmbeddingEngine``
    whose model is loaded (``_ensure_model``) → its config, weights folder, pooling and hash."""
    return {"config": enc.config, "model_dir": enc._model_dir, "pooling": enc._pooling, "model_hash": enc.model_hash}


def embed_to_store(
    texts: Sequence[str],
    labels: Sequence[str],
    directory: str | Path,
    *,
    config: EmbeddingConfig,
    model_dir: str | Path,
    pooling: str | None,
    model_hash: str | None = None,
    workers: int = 2,
    address: str | None = None,
    resume: bool = False,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    rows_per_block: int | None = None,
    restart_other: bool = False,
) -> EmbedStats:
    """Embed ``texts`` (row i = texts[i], labels[i]) on ``workers`` Ray actors into the LanceDB
    store in ``directory`` — a ``engines.store.VectorStore`` folder when done.

    With ``resume`` and a store in ``directory`` made from the same rows and settings, only rows
    missing from it are embedded; one made from others is refused (ConfigError), or with
    ``restart_other`` embedded again from nothing. Without ``resume`` the folder starts empty.
    ``cancel`` stops after the block in flight is written (→ Cancelled; the rows written so far
    are kept for a resume).
    ``rows_per_block`` fixes the block size (default: ``block_rows``).
    """
    require_ray()
    import ray

    directory = Path(directory)
    where = connect(workers, address, cpus_per_worker=config.threads)
    have = prepare(
        directory,
        fingerprint(config, model_hash, texts, labels),
        len(texts),
        resume=resume,
        restart_other=restart_other,
    )
    todo = [i for i in range(len(texts)) if i not in have]
    local = where == "local"
    cpus = cpus_per_worker(workers, local, config)
    gpus = gpus_per_worker(config)
    stats = EmbedStats(rows=len(have), already=len(have), embedded=0, seconds=0.0, workers=workers, address=where)
    progress(ProgressEvent(phase="embed", done=len(have), total=len(texts), unit="texts", message=f"{workers} workers"))
    if not todo:
        return stats

    import lancedb

    db = lancedb.connect(str(directory))
    table = open_table(directory) if have else None
    ds = ray.data.from_arrow(list(_blocks(texts, labels, todo, rows_per_block or block_rows(len(todo), workers))))
    out = _run_pool(
        ds, config=config, model_dir=Path(model_dir), pooling=pooling, workers=workers, cpus=cpus, gpus=gpus
    )
    peaks: dict[str, int] = {}
    usses: dict[str, int] = {}
    done = tokens = 0
    t0 = time.perf_counter()
    try:
        for batch in out.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
            for pid, peak, uss in zip(
                batch.column("_pid").to_pylist(),
                batch.column("_peak_rss").to_pylist(),
                batch.column("_peak_uss").to_pylist(),
            ):
                peaks[str(pid)] = max(peaks.get(str(pid), 0), int(peak))
                usses[str(pid)] = max(usses.get(str(pid), 0), int(uss))
            tokens += sum(batch.column("_tokens").to_pylist())
            rows = batch.select(["vector", "text", "label", "row"])
            if table is None:
                table = db.create_table(TABLE, data=rows, mode="create")
            else:
                table.add(rows)
            done += rows.num_rows
            progress(
                ProgressEvent(
                    phase="embed", done=len(have) + done, total=len(texts), unit="texts", message=f"{workers} workers"
                )
            )
            if cancel is not None and cancel.is_set() and done < len(todo):
                raise Cancelled(f"cancelled while embedding on Ray; {len(have) + done} of {len(texts)} rows kept")
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps what the actors raised
        user = user_error(exc)
        if user is not None:
            raise user from None
        first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        raise ResourceError(
            f"embedding on Ray failed after {len(have) + done} of {len(texts)} rows (kept; --resume goes on): {first}"
        ) from None
    seconds = time.perf_counter() - t0
    return stats.model_copy(
        update={
            "rows": len(have) + done,
            "embedded": done,
            "tokens": tokens,
            "seconds": seconds,
            "texts_per_s": done / seconds if seconds > 0 else None,
            "peak_rss_per_worker": peaks,
            "peak_uss_per_worker": usses,
        }
    )


def index_to_store(
    doc_ids: Sequence[str],
    docs: Sequence[str],
    directory: str | Path,
    *,
    config: EmbeddingConfig,
    model_dir: str | Path,
    pooling: str | None,
    model_hash: str | None = None,
    workers: int = 2,
    address: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    rows_per_block: int | None = None,
    resume: bool = False,
) -> EmbedStats:
    """A retrieval collection embedded on the pool into ``directory``: what the ``frozen-index``
    engines' ``index`` does with ``workers > 1``. Row i is (vector, ``docs[i]``, ``doc_ids[i]``, i),
    ``engines.store.VectorStore.create``'s layout; once every block is in, the blocks are compacted
    and the resume bookkeeping removed, so the folder is an ordinary store that opens without Ray.
    ``cancel`` → Cancelled after the block in flight, the blocks done left in ``directory``; with
    ``resume`` a folder left so by the same documents and encoder embeds only what it lacks, and one
    left by others starts again, as ``directory`` does without ``resume``."""
    stats = embed_to_store(
        docs,
        doc_ids,
        directory,
        config=config,
        model_dir=model_dir,
        pooling=pooling,
        model_hash=model_hash,
        workers=workers,
        address=address,
        resume=resume,
        progress=progress,
        cancel=cancel,
        rows_per_block=rows_per_block,
        restart_other=True,
    )
    compact(Path(directory), drop_history=True)
    (Path(directory) / META_FILE).unlink(missing_ok=True)
    return stats


def encode(
    texts: Sequence[str],
    *,
    config: EmbeddingConfig,
    model_dir: str | Path,
    pooling: str | None,
    workers: int = 2,
    address: str | None = None,
) -> Any:
    """Vectors for ``texts`` in input order, encoded on Ray actors and gathered here: for sets
    that fit in memory (held-out rows); the corpus goes through ``embed_to_store``."""
    import numpy as np

    require_ray()
    import ray

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    where = connect(workers, address, cpus_per_worker=config.threads)
    cpus = cpus_per_worker(workers, where == "local", config)
    ds = ray.data.from_arrow(
        list(_blocks(texts, [""] * len(texts), list(range(len(texts))), block_rows(len(texts), workers)))
    )
    out = _run_pool(
        ds,
        config=config,
        model_dir=Path(model_dir),
        pooling=pooling,
        workers=workers,
        cpus=cpus,
        gpus=gpus_per_worker(config),
    )
    result: Any = None
    try:
        for batch in out.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows = np.asarray(batch.column("row").to_numpy())
            flat = batch.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            vecs = np.asarray(flat, dtype=np.float32).reshape(len(rows), -1)
            if result is None:
                result = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
            result[rows] = vecs
    except Exception as exc:  # noqa: BLE001 - Ray wraps what the actors raised
        user = user_error(exc)
        if user is not None:
            raise user from None
        raise
    return result
