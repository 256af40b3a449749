"""``tfidf``: scikit-learn TfidfVectorizer (word + char n-grams) + LogisticRegression.

The honest floor every transformer route has to beat. Saved without pickle: each
vectorizer's settings, vocabulary (JSON, in column order) and idf (npz), and the
head's coefficients (npz).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines.atomic import write_json, write_with
from engines.base import (
    Engine,
    Examples,
    FitReport,
    Predictions,
    ProgressEvent,
    ProgressFn,
    TaskData,
    no_progress,
)
from engines.config import TfidfConfig
from engines.errors import ArtifactError, Cancelled, DataError

C_GRID = (1.0, 10.0, 100.0)
ENGINE_FILE = "tfidf.json"
IDF_FILE = "tfidf_idf.npz"
HEAD_FILE = "head.npz"


def _vectorizer_settings(config: TfidfConfig) -> dict[str, dict[str, Any]]:
    """One entry per analyzer: the TfidfVectorizer keyword arguments."""
    common = {
        "sublinear_tf": True,
        "lowercase": True,
        "min_df": config.min_df,
        "max_features": config.max_features,
        "dtype": "float32",
    }
    settings = {"word": {"analyzer": "word", "ngram_range": list(config.word_ngrams), **common}}
    if config.char_ngrams is not None:
        settings["char"] = {"analyzer": "char_wb", "ngram_range": list(config.char_ngrams), **common}
    return settings


def _make_vectorizer(kwargs: dict[str, Any], vocabulary: dict[str, int] | None = None):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    kw = dict(kwargs)
    kw["ngram_range"] = tuple(kw["ngram_range"])
    kw["dtype"] = getattr(np, kw.get("dtype", "float32"))
    if vocabulary is not None:
        kw["vocabulary"] = vocabulary
        kw.pop("max_features", None)
        kw.pop("min_df", None)
    return TfidfVectorizer(**kw)


class TfidfEngine(Engine):
    """TF-IDF word + char n-grams, balanced logistic regression (C by 3-fold CV)."""

    name: ClassVar[str] = "tfidf"
    description: ClassVar[str] = "TF-IDF word+char n-grams with logistic regression (the floor)"
    config_cls: ClassVar[type] = TfidfConfig
    label: ClassVar[str] = "TF-IDF baseline"
    cheap_fits: ClassVar[bool] = True

    config: TfidfConfig

    def __init__(self, config: TfidfConfig | dict | None = None) -> None:
        super().__init__(config)
        self.device = "cpu"
        self._vectorizers: dict[str, Any] = {}
        self._clf: Any = None
        self._C: float | None = None

    # ------------------------------------------------------------------ features
    def _transform(self, texts: Sequence[str]):
        from scipy.sparse import hstack

        mats = [vec.transform(list(texts)) for vec in self._vectorizers.values()]
        return hstack(mats, format="csr") if len(mats) > 1 else mats[0]

    def warm_up(self) -> None:
        """Import what ``fit`` uses: the vectorizer, the head and its cross-validation."""
        import scipy.sparse  # noqa: F401
        import sklearn.feature_extraction.text  # noqa: F401
        import sklearn.linear_model  # noqa: F401
        import sklearn.model_selection  # noqa: F401

        import engines.linear_head  # noqa: F401
        import engines.metrics  # noqa: F401

    # ----------------------------------------------------------------------- fit
    def fit(
        self,
        train: TaskData,
        *,
        valid: TaskData | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        from scipy.sparse import hstack

        from engines.metrics import PeakMemory

        if not isinstance(train, Examples) or len(train) == 0:
            raise DataError("tfidf: no training examples")
        if len(set(train.labels)) < 2:
            raise DataError(f"need at least 2 classes to train a classifier, got {len(set(train.labels))}")
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled before training started")
        start = time.perf_counter()
        phase_s: dict[str, float] = {}
        notes: list[str] = []
        stopped = "completed"
        with PeakMemory("cpu") as mem:
            progress(ProgressEvent(phase="train", done=0, total=len(train), message="vectorizing"))
            t0 = time.perf_counter()
            self._vectorizers = {}
            mats = []
            for key, kwargs in _vectorizer_settings(self.config).items():
                vec = _make_vectorizer(kwargs)
                try:
                    mats.append(vec.fit_transform(train.texts))
                except ValueError as exc:  # e.g. empty vocabulary
                    if "empty vocabulary" in str(exc):
                        raise DataError(f"tfidf: the training texts have no usable {key} n-grams") from None
                    raise DataError(f"tfidf: {exc}") from None
                self._vectorizers[key] = vec
            X = hstack(mats, format="csr") if len(mats) > 1 else mats[0]
            phase_s["vectorize"] = time.perf_counter() - t0

            # CV for C costs ~4 fits; skip it when the budget is mostly spent or on cancel.
            allow_cv = True
            if cancel is not None and cancel.is_set():
                allow_cv, stopped = False, "cancelled"
                notes.append("cancelled: C not tuned, fitted the head with the default C")
            elif budget_s is not None and (time.perf_counter() - start) > 0.4 * budget_s:
                allow_cv, stopped = False, "budget"
                notes.append("budget nearly spent: C not tuned, fitted the head with the default C")
            t0 = time.perf_counter()
            progress(ProgressEvent(phase="head", done=0, total=len(train), message="logistic regression"))
            self._clf, self._C, cv_ran = fit_logreg_tfidf(X, train.labels, self.config, allow_cv)
            phase_s["head"] = time.perf_counter() - t0
            if cv_ran:
                notes.append(f"C={self._C:g} chosen by 3-fold CV over {list(C_GRID)}")
            progress(ProgressEvent(phase="head", done=len(train), total=len(train)))
        wall = time.perf_counter() - start
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=len(train),
            epochs=1.0,
            stopped=stopped,
            phase_s=phase_s,
            wall_s=wall,
            train_examples_per_s=len(train) / wall if wall > 0 else None,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            device="cpu",
            notes=notes,
        )

    # ------------------------------------------------------------------- predict
    def predict(self, texts: Sequence[str]) -> Predictions:
        from engines.linear_head import predictions_from_proba

        if self._clf is None:
            raise DataError("tfidf: predict called before fit/load")
        texts = list(texts)
        if not texts:
            return Predictions(labels=[], classes=[str(c) for c in self._clf.classes_], scores=[])
        X = self._transform(texts)
        return predictions_from_proba(self._clf.classes_, self._clf.predict_proba(X))

    # ------------------------------------------------------------------ save/load
    def save(self, directory: Path) -> None:
        import numpy as np

        from engines.linear_head import save_logreg

        if self._clf is None:
            raise DataError("tfidf: nothing to save, fit first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        analyzers = {}
        idfs = {}
        settings = _vectorizer_settings(self.config)
        for key, vec in self._vectorizers.items():
            vocab = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
            analyzers[key] = {"settings": settings[key], "vocabulary": [term for term, _ in vocab]}
            idfs[key] = np.asarray(vec.idf_)

        def _write_idf(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **idfs)  # type: ignore[arg-type]  # numpy stub reads ** as allow_pickle

        write_with(directory / IDF_FILE, _write_idf)
        save_logreg(self._clf, directory / HEAD_FILE, C=float(self._C or 1.0))
        write_json(
            directory / ENGINE_FILE,
            {"engine": self.name, "config": self.config.model_dump(mode="json"), "analyzers": analyzers},
        )

    @classmethod
    def load(cls, directory: Path) -> TfidfEngine:
        import numpy as np

        from engines.linear_head import load_logreg

        directory = Path(directory)
        try:
            meta = json.loads((directory / ENGINE_FILE).read_text(encoding="utf-8"))
            engine = cls(meta["config"])
            analyzers = meta["analyzers"]
        except FileNotFoundError:
            raise ArtifactError(f"missing {ENGINE_FILE} in {directory}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"corrupt {ENGINE_FILE} in {directory}: {type(exc).__name__}") from None
        try:
            with np.load(directory / IDF_FILE, allow_pickle=False) as idf_file:
                idfs = {k: idf_file[k] for k in idf_file.files}
        except FileNotFoundError:
            raise ArtifactError(f"missing {IDF_FILE} in {directory}") from None
        except Exception as exc:  # noqa: BLE001 - BadZipFile, KeyError, ValueError …
            raise ArtifactError(f"corrupt {IDF_FILE} in {directory}: {type(exc).__name__}") from None
        n_features = 0
        for key, entry in analyzers.items():
            terms = entry["vocabulary"]
            if key not in idfs or len(idfs[key]) != len(terms):
                raise ArtifactError(f"corrupt tfidf artifact in {directory}: idf and vocabulary of {key!r} differ")
            vec = _make_vectorizer(entry["settings"], vocabulary={t: i for i, t in enumerate(terms)})
            vec.idf_ = idfs[key]
            engine._vectorizers[key] = vec
            n_features += len(terms)
        engine._clf, engine._C = load_logreg(directory / HEAD_FILE)
        if engine._clf.coef_.shape[1] != n_features:
            raise ArtifactError(
                f"corrupt tfidf artifact in {directory}: head expects "
                f"{engine._clf.coef_.shape[1]} features, vocabulary has {n_features}"
            )
        return engine


def fit_logreg_tfidf(X: Any, labels: Sequence[str], config: TfidfConfig, allow_cv: bool):
    from engines.linear_head import fit_logreg

    return fit_logreg(
        X, labels, C=config.C, grid=C_GRID, seed=config.seed, allow_cv=allow_cv, sparse_binary_solver="liblinear"
    )
