"""Bootstrap intervals in one place: resampled rows, a metric's replicates over them, and the
95 % percentile interval that forecasts, comparisons, settle outlooks and benchmarks report."""

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
