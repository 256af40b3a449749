"""``EmbeddingEngine.fit`` with ``workers > 1``: the training rows embedded on the Ray pool
(``engines.ray_embed``) into the engine's LanceDB store, then the head fitted as in this process."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from engines.base import ProgressEvent, ProgressFn, no_progress
from engines.config import EmbeddingConfig
from engines.errors import Cancelled, ConfigError
from engines.ray_cluster import require_ray
from engines.ray_embed import embed_to_store, encoder_settings
from engines.ray_store import compact, stored_rows
from engines.scratch import scratch_dir


def fit_embedding(
    engine: Any,
    train: Any,
    *,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    workdir: Path | None = None,
    resume: bool = False,
) -> Any:
    """``EmbeddingEngine.fit`` with ``workers > 1``: the training rows embedded on Ray into the
    engine's LanceDB store (in ``workdir``, so ``--resume`` continues), then the head. The logistic
    head reads the vectors back (it fits on all of them); the kNN head only queries the store."""

    from engines.base import FitReport
    from engines.embedding_fit import C_GRID
    from engines.linear_head import fit_logreg
    from engines.metrics import PeakMemory
    from engines.store import VectorStore

    cfg: EmbeddingConfig = engine.config
    if cfg.backend != "torch":
        raise ConfigError(f"workers > 1 runs the torch encoder only (backend {cfg.backend!r} asked)")
    require_ray()
    start = time.perf_counter()
    phase_s: dict[str, float] = {}
    notes: list[str] = []
    if workdir is None:
        workdir = scratch_dir("ray", owner=engine)
    store_dir = Path(workdir) / "store"
    with PeakMemory("cpu") as mem:
        t0 = time.perf_counter()
        engine._ensure_model()  # here too: predict and the speed check run in this process
        phase_s["load"] = time.perf_counter() - t0
        try:
            stats = embed_to_store(
                list(train.texts),
                list(train.labels),
                store_dir,
                **encoder_settings(engine),
                workers=cfg.workers,
                address=cfg.ray_address,
                resume=resume,
                progress=progress,
                cancel=cancel,
            )
        except Cancelled:
            n = len(stored_rows(store_dir))
            return FitReport(
                engine=engine.name,
                n_train=len(train),
                examples_seen=n,
                epochs=n / len(train),
                stopped="cancelled",
                wall_s=time.perf_counter() - start,
                notes=[f"cancelled while embedding on Ray: {n} of {len(train)} rows kept in {store_dir}"],
            )
        phase_s["embed"] = stats.seconds
        notes.append(
            f"embedded on Ray: {stats.workers} workers ({stats.address}), {stats.embedded} rows"
            + (f", {stats.already} from the interrupted run" if stats.already else "")
        )
        if stats.peak_rss_per_worker:
            peak = max(stats.peak_rss_per_worker.values())
            notes.append(
                f"peak memory per worker: {peak / 2**20:.0f} MiB (largest of {len(stats.peak_rss_per_worker)})"
            )
        compact(store_dir)
        t0 = time.perf_counter()
        progress(ProgressEvent(phase="head", done=0, total=len(train), message=cfg.head))
        engine._drop_store()
        engine._classes = train.classes
        engine._train_vectors, engine._train_texts, engine._train_labels = None, [], []
        store = VectorStore.open(store_dir)
        engine._store_dir, engine._store_shape = store_dir, (len(store), store.dim)
        if cfg.head == "logreg":
            X, _, labels = store.rows()
            engine._clf, engine._C, cv_ran = fit_logreg(X, labels, C=cfg.C, grid=C_GRID, seed=cfg.seed)
            if cv_ran:
                notes.append(f"C={engine._C:g} chosen by 3-fold CV over {list(C_GRID)}")
            del X
        else:
            engine._clf, engine._C = None, None
        phase_s["head"] = time.perf_counter() - t0
        progress(ProgressEvent(phase="head", done=len(train), total=len(train)))
    return FitReport(
        engine=engine.name,
        n_train=len(train),
        examples_seen=len(train),
        epochs=1.0,
        tokens_seen=stats.tokens,
        phase_s=phase_s,
        wall_s=time.perf_counter() - start,
        train_examples_per_s=stats.texts_per_s,
        train_tokens_per_s=stats.tokens / stats.seconds if stats.seconds > 0 and stats.tokens else None,
        peak_rss_bytes=mem.peak_rss_bytes or None,
        device="ray",
        notes=notes,
    )
