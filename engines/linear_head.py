"""The logistic-regression head shared by ``tfidf`` and ``embedding``.

Balanced class weights; C picked by a small stratified CV when not given; saved as
an ``.npz`` of plain arrays (coef, intercept, classes) — no pickle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engines.base import Predictions
from engines.errors import ArtifactError, DataError

CV_FOLDS = 3
CV_MIN_PER_CLASS = 3  # every class needs this many examples for a 3-fold CV
CV_MIN_EXAMPLES = 30


def fit_logreg(
    X: Any,
    labels: Sequence[str],
    *,
    C: float | None,
    grid: Sequence[float],
    seed: int = 0,
    max_iter: int = 1000,
    allow_cv: bool = True,
    sparse_binary_solver: str | None = None,
) -> tuple[Any, float, bool]:
    """Fit a balanced LogisticRegression on ``X``.

    With ``C=None`` and enough data (≥ 30 rows, ≥ 3 per class) C is chosen from
    ``grid`` by 3-fold stratified CV (LogisticRegressionCV, refit on all rows);
    otherwise ``C`` (or the middle of ``grid``) is used. Returns (classifier, C used,
    whether CV ran). ``sparse_binary_solver`` (e.g. "liblinear") replaces lbfgs for
    two-class problems: on wide sparse TF-IDF features lbfgs needs hundreds of iterations
    at large C, liblinear's coordinate descent a fraction of the time for the same fit.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(labels)
    if len(counts) < 2:
        raise DataError(
            f"need at least 2 classes to train a classifier, got {len(counts)} "
            f"({', '.join(map(repr, counts)) or 'none'})"
        )
    y = list(labels)
    solver = {"solver": sparse_binary_solver} if sparse_binary_solver and len(counts) == 2 else {}
    if C is None and allow_cv and len(y) >= CV_MIN_EXAMPLES and min(counts.values()) >= CV_MIN_PER_CLASS:
        import inspect

        import numpy as np

        extra: dict[str, Any] = {"scoring": "accuracy"}
        params = inspect.signature(LogisticRegressionCV).parameters
        if "l1_ratios" in params:
            extra["l1_ratios"] = (0.0,)
        if "use_legacy_attributes" in params:
            extra["use_legacy_attributes"] = False
        clf = LogisticRegressionCV(
            Cs=list(grid),
            **extra,
            cv=StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed),
            class_weight="balanced",
            max_iter=max_iter,
            random_state=seed,
            **solver,
        )
        clf.fit(X, y)
        chosen = float(np.ravel(clf.C_)[0])
        return clf, chosen, True
    chosen = float(grid[len(grid) // 2]) if C is None else float(C)
    clf = LogisticRegression(C=chosen, class_weight="balanced", max_iter=max_iter, random_state=seed, **solver)
    clf.fit(X, y)
    return clf, chosen, False


def predictions_from_proba(classes: Sequence[str], proba: Any) -> Predictions:
    """Labels (argmax) and per-class probabilities as a ``Predictions`` record."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    classes = [str(c) for c in classes]
    top = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
    return Predictions(labels=[classes[i] for i in top], classes=classes, scores=proba.tolist())


def save_logreg(clf: Any, path: Path, *, C: float) -> None:
    """Write the fitted head's arrays to ``path`` (.npz, atomically, no pickle)."""
    import numpy as np

    from engines.atomic import write_with

    arrays = {
        "coef": np.asarray(clf.coef_),
        "intercept": np.asarray(clf.intercept_),
        "classes": np.asarray([str(c) for c in clf.classes_], dtype=np.str_),
        "C": np.asarray([C], dtype=np.float64),
    }

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub reads ** as allow_pickle

    write_with(path, _write)


def load_logreg(path: Path) -> tuple[Any, float]:
    """Rebuild the head from ``save_logreg``'s file. Corrupt/missing → ArtifactError."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    try:
        with np.load(path, allow_pickle=False) as data:
            coef = data["coef"]
            intercept = data["intercept"]
            classes = data["classes"]
            C = float(data["C"][0])
    except FileNotFoundError:
        raise ArtifactError(f"missing head file {path}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile, KeyError, ValueError …
        raise ArtifactError(f"corrupt head file {path}: {type(exc).__name__}") from None
    if coef.ndim != 2 or intercept.ndim != 1 or coef.shape[0] != intercept.shape[0]:
        raise ArtifactError(f"corrupt head file {path}: inconsistent shapes")
    expected_rows = 1 if len(classes) == 2 else len(classes)
    if coef.shape[0] != expected_rows:
        raise ArtifactError(f"corrupt head file {path}: {coef.shape[0]} rows for {len(classes)} classes")
    clf = LogisticRegression(C=C, class_weight="balanced")
    clf.classes_ = np.asarray([str(c) for c in classes], dtype=object)
    clf.coef_ = coef
    clf.intercept_ = intercept
    clf.n_features_in_ = coef.shape[1]
    clf.n_iter_ = np.zeros(1, dtype=np.int32)
    return clf, C
