"""Held-out scoring, inference-speed measurement and peak-memory sampling.

``score`` uses scikit-learn's metrics (``score_counts``: the same from (true, predicted) pair counts,
for rows too many to keep); ``measure_speed`` times an engine's ``predict``
after a warm-up at batch 1 and at the engine's batch size; ``PeakMemory`` samples the
process RSS in a background thread (``ru_maxrss`` is lifetime-wide, so not usable for
one phase) and reads ``torch.cuda.max_memory_allocated`` on GPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engines.errors import DataError
from engines.records import ClassReport, EvalReport, Examples, Predictions, SpeedReport


# -------------------------------------------------------------------------- score
def score(test: Examples, pred: Predictions) -> EvalReport:
    """Accuracy, macro-F1 and a per-class report of ``pred`` against ``test``'s labels."""
    y_true = list(test.labels)
    y_pred = list(pred.labels)
    if len(y_true) != len(y_pred):
        raise DataError(f"{len(y_true)} test labels but {len(y_pred)} predictions")
    report = _report(y_true, y_pred, None)
    return report.model_copy(
        update={"correct": [t == p for t, p in zip(y_true, y_pred, strict=True)], "y_pred": y_pred}
    )


def score_counts(counts: Mapping[tuple[str, str], int]) -> EvalReport:
    """``score``'s accuracy, macro-F1 and per-class report from ``{(true, predicted): rows}`` counts.

    Memory grows with the classes, not the rows; ``correct`` and ``y_pred`` stay empty."""
    pairs = [(t, p, k) for (t, p), k in counts.items() if k > 0]
    return _report([t for t, _, _ in pairs], [p for _, p, _ in pairs], [k for _, _, k in pairs])


def _report(y_true: list[str], y_pred: list[str], weights: list[int] | None) -> EvalReport:
    """The scikit-learn metrics of ``score``, each row counted ``weights[i]`` times (once without)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    if not y_true:
        raise DataError("cannot score an empty test set")
    # Report over the classes that exist in the truth (predictions of unseen classes still count as wrong).
    classes = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0, sample_weight=weights
    )
    per_class = {
        c: ClassReport(precision=float(p), recall=float(r), f1=float(f), support=int(s))
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
    true_classes = sorted(set(y_true))
    return EvalReport(
        n=len(y_true) if weights is None else sum(weights),
        accuracy=float(accuracy_score(y_true, y_pred, sample_weight=weights)),
        macro_f1=float(
            f1_score(y_true, y_pred, labels=true_classes, average="macro", zero_division=0, sample_weight=weights)
        ),
        per_class=per_class,
    )


# ------------------------------------------------------------------------- memory
def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class PeakMemory:
    """Context manager: peak RSS of this process (sampled every ``interval_s``) and,
    on a CUDA device, ``torch.cuda.max_memory_allocated`` over the block.

    >>> with PeakMemory(device) as mem: work()
    >>> mem.peak_rss_bytes, mem.peak_gpu_bytes
    """

    def __init__(self, device: str = "cpu", interval_s: float = 0.05) -> None:
        self.device = str(device)
        self.interval_s = interval_s
        self.peak_rss_bytes: int = 0
        self.peak_gpu_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        try:
            rss = _rss()
        except Exception:  # noqa: BLE001 - psutil missing or process gone: keep what we have
            return
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> PeakMemory:  # noqa: PYI034 - Python 3.10 has no typing.Self
        from engines.backbone import reset_peak_gpu

        if self.device.startswith("cuda"):
            reset_peak_gpu(self.device)
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        from engines.backbone import peak_gpu_bytes

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._sample()
        if self.device.startswith("cuda"):
            self.peak_gpu_bytes = peak_gpu_bytes(self.device)


# -------------------------------------------------------------------------- speed
def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def measure_speed(engine: Any, texts: Sequence[str], *, max_texts: int = 256, batch1_texts: int = 32) -> SpeedReport:
    """Inference speed of a fitted ``engine`` on ``texts``.

    Warm up, then time ``predict`` one text at a time on up to ``batch1_texts`` texts
    and in batches of the engine's batch size (``config.batch_size``, else 32) on up to
    ``max_texts``. Per-text milliseconds: p50/p95 per batch size. GPU work is
    synchronized around each timing.
    """
    from engines.backbone import synchronize

    texts = [t for t in texts if isinstance(t, str)]
    if not texts:
        raise DataError("no texts to measure speed on")
    batch = int(getattr(getattr(engine, "config", None), "batch_size", 32) or 32)
    device = str(getattr(engine, "device", "cpu") or "cpu")
    big = texts[:max_texts]
    # A batch needs at least `batch` texts to be measured at that size: repeat short lists.
    while len(big) < batch:
        big = big + texts[: batch - len(big)]
    small = texts[: min(batch1_texts, len(texts))]

    with PeakMemory(device) as mem:
        engine.predict(big[:batch])  # warm-up: lazy loads, kernels, caches
        engine.predict(small[:1])

        one: list[float] = []
        for text in small:
            synchronize(device)
            t0 = time.perf_counter()
            engine.predict([text])
            synchronize(device)
            one.append((time.perf_counter() - t0) * 1000.0)

        per_text_big: list[float] = []
        total_s = 0.0
        n_done = 0
        for i in range(0, len(big), batch):
            chunk = big[i : i + batch]
            synchronize(device)
            t0 = time.perf_counter()
            engine.predict(chunk)
            synchronize(device)
            elapsed = time.perf_counter() - t0
            total_s += elapsed
            n_done += len(chunk)
            per_text_big.append(elapsed * 1000.0 / len(chunk))

    return SpeedReport(
        texts_per_s=n_done / total_s if total_s > 0 else float("inf"),
        batch_sizes=(1, batch),
        latency_ms_p50={1: _percentile(one, 50), batch: _percentile(per_text_big, 50)},
        latency_ms_p95={1: _percentile(one, 95), batch: _percentile(per_text_big, 95)},
        peak_rss_bytes=mem.peak_rss_bytes or None,
        device=device,
    )
