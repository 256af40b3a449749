"""Bootstrap intervals in one place: resampled rows, the metrics resampled (accuracy, macro-F1), a
metric's replicates over them, and the 95 % percentile interval that every stage reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

TAILS = (2.5, 97.5)  # percentiles of a two-sided 95 % interval


def interval(replicates: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval of ``replicates``: (2.5th, 97.5th percentile)."""
    lo, hi = np.percentile(replicates, TAILS)
    return float(lo), float(hi)


def resample(rng: np.random.Generator, n_rows: int) -> np.ndarray:
    """One bootstrap replicate's rows: ``n_rows`` indices drawn with replacement. Drawn from a
    generator seeded the same for every approach, replicate i resamples the same rows for all,
    so their differences pair up."""
    return rng.integers(0, n_rows, n_rows)


def resamples(rng: np.random.Generator, n_rows: int, n_boot: int) -> np.ndarray:
    """Every replicate's rows at once, as an (n_boot, n_rows) array of indices."""
    return rng.integers(0, n_rows, size=(n_boot, n_rows))


def replicates(
    metric: Callable[[Any, np.ndarray], float], pred: Any, rng: np.random.Generator, n_rows: int, n_boot: int
) -> np.ndarray:
    """``metric(pred, rows)`` on ``n_boot`` resamples of the rows, drawn one replicate at a time."""
    return np.asarray([metric(pred, resample(rng, n_rows)) for _ in range(n_boot)])


def accuracy_fn(y_true: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    def f(y_pred: np.ndarray, idx: np.ndarray) -> float:
        return float(np.mean(y_pred[idx] == y_true[idx]))

    return f


def macro_f1_fn(y_true: np.ndarray, n_classes: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """Macro-F1 over the classes present in the (resampled) truth; fast, numpy only."""

    def f(y_pred: np.ndarray, idx: np.ndarray) -> float:
        t, p = y_true[idx], y_pred[idx]
        tp = np.bincount(t[t == p], minlength=n_classes).astype(float)
        support = np.bincount(t, minlength=n_classes).astype(float)
        predicted = np.bincount(p, minlength=n_classes).astype(float)
        present = support > 0
        denom = support + predicted
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        return float(f1[present].mean()) if present.any() else 0.0

    return f
