"""What a run measured, as the frozen records the forecasts read: per-approach measurements with
bootstrap intervals over the test rows, the BenchResult, and the partial result the early-stop
check sees (a fine-tune engine borrowing the embedding engine's inference speed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.common.bootstrap import interval, resample
from advisor.measure.records import ApproachMeasurement, BenchResult
from advisor.measure.session import Session


def bootstrap_ci(
    preds: list[list[int]], y_true: np.ndarray, n_classes: int, *, seed: int, n_boot: int = 500
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % intervals of accuracy and macro-F1 (means over seeds), resampling test rows."""
    from advisor.common.bootstrap import accuracy_fn, macro_f1_fn

    acc, f1 = accuracy_fn(y_true), macro_f1_fn(y_true, n_classes)
    arrays = [np.asarray(p) for p in preds]
    rng = np.random.default_rng(seed)
    accs: list[float] = []
    f1s: list[float] = []
    n = len(y_true)
    for _ in range(n_boot):
        idx = resample(rng, n)
        accs.append(float(np.mean([acc(p, idx) for p in arrays])))
        f1s.append(float(np.mean([f1(p, idx) for p in arrays])))
    return interval(accs), interval(f1s)


def measurements(s: Session) -> dict[str, ApproachMeasurement]:
    """Each approach not left out: its points, the mean score at its largest usable size with
    bootstrap intervals, and its tally (throughput, speed, memory, start-up)."""
    out: dict[str, ApproachMeasurement] = {}
    for name in s.engines:
        if name in s.left_out:
            continue
        t = s.tally[name]
        usable = [p for p in s.points[name] if p.usable]
        kw: dict[str, Any] = {}
        if usable and s.test is not None:
            n_max = max(p.n_train for p in usable)
            top = [p for p in usable if p.n_train == n_max]
            kw.update(
                n_max=n_max,
                accuracy=float(np.mean([p.accuracy for p in top])),
                macro_f1=float(np.mean([p.macro_f1 for p in top])),
                fit_s_at_max=float(np.mean([p.fit_s for p in top])),
            )
            preds = [p.y_pred for p in top if p.y_pred is not None]
            if preds:
                (al, ah), (fl, fh) = bootstrap_ci(preds, s.y_test, len(s.classes) + 1, seed=s.seed)
                kw.update(ci_low=al, ci_high=ah, f1_ci_low=fl, f1_ci_high=fh)
        last = t.last_fit
        out[name] = ApproachMeasurement(
            approach=name,
            points=list(s.points[name]),
            train_examples_per_s=t.train_examples_per_s,
            train_tokens_per_s=t.train_tokens_per_s,
            tokens_per_example=t.tokens_per_example,
            checkpoint_s_each=t.checkpoint_s_each,
            examples_seen_at_max=last.examples_seen if last else None,
            prepare_texts_per_s=t.prepare_texts_per_s,
            infer_texts_per_s=t.infer_texts_per_s,
            latency_ms=dict(t.latency_ms),
            peak_rss_bytes=t.peak_rss_bytes,
            peak_gpu_bytes=t.peak_gpu_bytes,
            load_s=t.load_s,
            start_s=t.start_s,
            device=t.device,
            spent_s=float(t.spent_s),
            notes=list(t.notes),
            unmeasured=t.unmeasured if not any(p.usable for p in s.points[name]) else None,
            **kw,
        )
    return out


def result(s: Session) -> BenchResult:
    """What was measured so far, as the BenchResult the forecasts read."""
    return BenchResult(
        measurements=measurements(s),
        classes=s.classes,
        test_size=len(s.test) if s.test is not None else 0,
        pool_size=len(s.stage_pool) if s.stage_pool is not None else 0,
        sample_size=len(s.sample),
        budget_s=s.clock.budget_s,
        spent_s=s.clock.elapsed,
        cancelled=s.cancelled,
        seed=s.seed,
        notes=list(s.notes),
        test_labels=[int(v) for v in s.y_test] if s.test is not None else None,
        crossfits=dict(s.crossfits),
        crossfit_labels=s.crossfit_labels,
        left_out=dict(s.left_out),
        crossfit_test_rows=len(s.test) if s.crossfits and s.test is not None else None,
        train_vs_infer=s.train_vs_infer if s.train_vs_infer_at is not None else None,
    )


def borrowed_speed(s: Session, name: str) -> dict[str, Any] | None:
    """The embedding engine's measured inference speed, for a trainer on the same encoder (its
    classifier runs the same forward pass); None when that does not apply."""
    embedder = s.embedder
    emb = s.tally.get(embedder) if embedder else None
    if s.kind(name).cheap_fits or not embedder or emb is None or not emb.latency_ms:
        return None
    if s.config_value(name, "model", None) != s.config_value(embedder, "model", ""):
        return None
    return {"latency_ms": dict(emb.latency_ms), "infer_texts_per_s": emb.infer_texts_per_s}


def partial_result(s: Session) -> BenchResult:
    """``result`` for the early-stop check: a trainer whose inference speed is not measured yet
    borrows the embedding engine's (same encoder), so that it is not judged free to serve."""
    res = result(s)
    for name, m in res.measurements.items():
        borrowed = borrowed_speed(s, name)
        if not m.latency_ms and borrowed:
            res.measurements[name] = m.model_copy(update=borrowed)
    return res
