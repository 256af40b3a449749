"""The ``embedding`` engine's fit in this process (full runs with ``workers > 1`` go to ``engines.ray_embed``):
the training texts embedded into the cache within the budget, then the head on what was embedded."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from engines.backbone import cut_note
from engines.base import Examples, FitReport, ProgressEvent, ProgressFn, no_progress
from engines.errors import Cancelled, ResourceError

if TYPE_CHECKING:
    from engines.embedding import EmbeddingEngine

C_GRID = (0.1, 1.0, 10.0)
EMBED_SHARE_OF_BUDGET = 0.8  # leave the rest of a budget for the head


def fit_in_process(
    engine: EmbeddingEngine,
    train: Examples,
    *,
    budget_s: float | None = None,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
) -> FitReport:
    """Embed ``train`` (cached vectors reused; stops at the budget's embedding share or on cancel),
    then fit the head on the examples embedded: logistic regression (C by CV only when at least half
    the budget is left), or, for kNN, just the stored vectors."""
    import numpy as np

    from engines.linear_head import fit_logreg
    from engines.metrics import PeakMemory

    cfg = engine.config
    start = time.perf_counter()
    deadline = start + EMBED_SHARE_OF_BUDGET * budget_s if budget_s is not None else None
    phase_s: dict[str, float] = {}
    notes: list[str] = []
    with PeakMemory(engine.device or "cpu") as mem:
        t0 = time.perf_counter()
        engine._ensure_model()
        phase_s["load"] = time.perf_counter() - t0
        mem.device = engine.device or "cpu"
        stopped, n_new, tokens, embed_s, cut = engine._embed_into_cache(
            train.texts, progress=progress, cancel=cancel, deadline=deadline
        )
        said = cut_note(cut, n_new, cfg.max_length, "training texts")
        if said:
            notes.append(said)
        phase_s["embed"] = embed_s
        keep = [i for i, t in enumerate(train.texts) if t in engine._cache]
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
        X = np.stack([engine._cache[t] for t in used.texts])

        t0 = time.perf_counter()
        progress(ProgressEvent(phase="head", done=0, total=len(used), message=cfg.head))
        engine._classes = used.classes
        engine._train_vectors, engine._train_texts, engine._train_labels = X, list(used.texts), list(used.labels)
        engine._drop_store()
        if cfg.head == "logreg":
            # CV costs ~10 single fits: only when at least half the budget is left.
            allow_cv = budget_s is None or (stopped == "completed" and time.perf_counter() - start < 0.5 * budget_s)
            engine._clf, engine._C, cv_ran = fit_logreg(
                X, used.labels, C=cfg.C, grid=C_GRID, seed=cfg.seed, allow_cv=allow_cv
            )
            if cv_ran:
                notes.append(f"C={engine._C:g} chosen by 3-fold CV over {list(C_GRID)}")
        else:
            engine._clf, engine._C = None, None
        phase_s["head"] = time.perf_counter() - t0
        progress(ProgressEvent(phase="head", done=len(used), total=len(used)))
    wall = time.perf_counter() - start
    per_s: float | None
    tok_per_s: float | None
    if n_new:
        per_s, tok_per_s = n_new / embed_s, tokens / embed_s
    else:  # all cached by prepare(): report that embedding throughput
        per_s, tok_per_s = engine.last_embed_texts_per_s, engine.last_embed_tokens_per_s
        notes.append("vectors came from the cache (prepare)")
    return FitReport(
        engine=engine.name,
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
        device=engine.device or "cpu",
        notes=notes,
    )
