"""Cross-fits on the sample (the test part, then the cheap pool): every row gets an out-of-fold
prediction. Cheap approaches get ``CV_FOLDS`` folds at full size whatever the decision; the
trainers two, as the last stage, while the decision is still open."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advisor.measure import fits, plan
from advisor.measure.records import CrossFit
from advisor.measure.results import partial_result
from advisor.measure.session import Session
from advisor.measure.trainers import finetune_cost
from engines.base import Examples


def crossfit_rows(s: Session) -> Examples:
    """The rows every cross-fit scores: the test part first, then the cheap pool (the labelled
    rows the cheap curves drew from, at most the labelled size). Each approach's cross-fit gives
    every one of them a prediction from a model that never saw it; as the first ``len(test)``
    rows are the test part, a cross-fit also pairs with curves scored there."""
    if s.crossfit_rows_cache is None:
        test, cheap_pool = s.split_test, s.split_cheap_pool
        s.crossfit_rows_cache = Examples(
            texts=[*test.texts, *cheap_pool.texts], labels=[*test.labels, *cheap_pool.labels]
        )
    return s.crossfit_rows_cache


def folds_of(s: Session, name: str, rows: Examples) -> int:
    """Folds of ``name``'s cross-fit on ``rows`` (``plan.crossfit_folds``)."""
    return plan.crossfit_folds(s.kind(name).cheap_fits, int(np.unique(rows.labels, return_counts=True)[1].min()))


def crossfit_cost(s: Session, names: Sequence[str], rows: Examples) -> float | None:
    """Seconds the cross-fits of ``names`` on ``rows`` are expected to take (None: a trainer's
    throughput is unknown): one fit per fold, each scored on its fold, and the vectors of rows
    a vector-caching engine has not embedded yet."""
    total = 0.0
    for name in names:
        k = folds_of(s, name, rows)
        n = plan.crossfit_train_rows(len(rows), k, s.labelled_size)
        kind = s.kind(name)
        if kind.cheap_fits:
            top = max((p for p in s.points[name] if p.usable), key=lambda p: p.n_train)
            total += plan.cheap_crossfit_s(k, top.fit_s, top.n_train, n)
            if kind.caches_vectors:
                rate = s.tally[name].prepare_texts_per_s
                eng = s.engine(name)
                todo = len(eng.uncached(rows.texts)) if hasattr(eng, "uncached") else 0
                total += todo / rate if rate else (0.0 if not todo else float("inf"))
        else:
            one = finetune_cost(s, name, n, score_rows=len(rows) // k)
            if one is None:
                return None
            total += k * one
    return total


def crossfit_one(s: Session, name: str, rows: Examples, reserve_s: float) -> CrossFit | None:
    """``name`` trained on all but one fold of ``rows`` (at most the labelled size of them) and
    scored on that fold, fold by fold: every row gets one out-of-fold prediction. None when the
    budget cut a fold short (a partial cross-fit scores some rows only: not used)."""
    from sklearn.model_selection import StratifiedKFold

    from advisor.common.bootstrap import macro_f1_fn
    from advisor.data.labelled import stratified_subsample

    k = folds_of(s, name, rows)
    folds = StratifiedKFold(k, shuffle=True, random_state=s.seed).split(np.zeros(len(rows)), rows.labels)
    y = np.asarray(s.class_ids(rows.labels))
    if s.kind(name).caches_vectors:
        s.engine(name).prepare(rows.texts, progress=s.relay(name), cancel=s.cancel)
    pred = np.full(len(rows), -1)
    fit_s: list[float] = []
    n_train = 0
    for i, (train_idx, score_idx) in enumerate(folds):
        s.check()
        train = rows.subset(train_idx.tolist())
        if s.labelled_size and len(train) > s.labelled_size:
            train = stratified_subsample(train, s.labelled_size, seed=s.seed + i)
        report = fits.fit(
            s, name, train, s.seed + i, budget_s=max(s.clock.left - reserve_s, 1.0), what=f"cross-fit {i + 1}/{k}: "
        )
        if report.stopped not in plan.CURVE_STOPS:
            s.notes.append(f"cross-fit dropped: {name}'s fold {i + 1} stopped ({report.stopped})")
            return None
        fits.record_fit(s, name, report)
        fit_s.append(report.wall_s)
        n_train = len(train)
        ev = s.engine(name).evaluate(rows.subset(score_idx.tolist()))
        pred[score_idx] = s.class_ids(ev.y_pred)
    s.crossfit_labels = y.tolist()
    fit = CrossFit(
        approach=name,
        n_train=n_train,
        rows=len(rows),
        folds=k,
        accuracy=float(np.mean(pred == y)),
        macro_f1=macro_f1_fn(y, len(s.classes) + 1)(pred, np.arange(len(rows))),
        fit_s=fit_s,
        y_pred=pred.tolist(),
    )
    s.emit(name, "eval", f"cross-fit: {fit.accuracy:.3f} out of fold on {len(rows)} rows ({k} folds)")
    return fit


def cheap_crossfit(s: Session, name: str, reserve_s: float) -> None:
    """Truth where it is cheap: ``name`` (TF-IDF, or embeddings + head) cross-validated on every
    labelled row with ``CV_FOLDS`` folds, each fit at (nearly) the labelled size, instead of a
    curve extrapolated from a few hundred held-out rows; when it costs at most ``CV_SHARE`` of
    what is left after ``reserve_s``."""
    if not plan.setting(s.settings, "crossfit") or not any(p.usable for p in s.points[name]):
        return
    rows = crossfit_rows(s)
    cost = crossfit_cost(s, [name], rows)
    left = s.clock.left - reserve_s
    if cost is None or cost * plan.CROSSFIT_SLACK > plan.CV_SHARE * left:
        s.notes.append(
            f"{name} not cross-validated at full size: it would take ~{cost or 0:.0f}s of the {max(left, 0):.0f}s left"
        )
        return
    s.emit(name, "plan", f"cross-validation on all {len(rows)} labelled rows (~{cost:.0f}s)")
    fit = crossfit_one(s, name, rows, reserve_s)
    if fit is not None:
        s.crossfits[name] = fit


def crossfit_names(s: Session) -> list[str]:
    """The approaches the last cross-fit stage would cover (those with a curve point and no
    cross-fit yet); empty when it is switched off, cannot judge the decision (no ``settled``)
    or would not leave two approaches with cross-fits to compare."""
    if not plan.setting(s.settings, "crossfit") or s.settled is None:
        return []
    names = [
        n for n in s.engines if n not in s.left_out and n not in s.crossfits and any(p.usable for p in s.points[n])
    ]
    return names if names and len(names) + len(s.crossfits) >= 2 else []


def crossfit_reserve(s: Session) -> float:
    """Seconds to keep for the cross-fit while the trainers' larger sizes are planned (its
    cost with the slack ``cross_fit`` asks for; 0 when it is off or cannot run)."""
    names = crossfit_names(s)
    cost = crossfit_cost(s, names, crossfit_rows(s)) if names else None
    return plan.CROSSFIT_SLACK * cost if cost is not None else 0.0


def cross_fit(s: Session, reserve_s: float) -> bool:
    """The last stage, when the decision is still open and it fits what is left of the budget:
    cross-fit the approaches that have none yet (the trainers, two folds each; a cheap approach
    whose full-size cross-validation did not fit earlier) on the same rows as the others, so
    that every approach's forecast comes from out-of-fold predictions on every labelled row and
    their differences pair up over all of them. All of the stage or none of it. Returns
    whether it ran."""
    names = crossfit_names(s)  # empty without ``settled``
    if not names or s.settled is None or s.settled(partial_result(s)):
        return False
    rows = crossfit_rows(s)
    if np.unique(rows.labels, return_counts=True)[1].min() < 2:
        s.notes.append("no cross-fit: a class has fewer than two rows")
        return False
    cost = crossfit_cost(s, names, rows)
    left = s.clock.left - reserve_s
    if cost is None or cost * plan.CROSSFIT_SLACK > left:
        s.notes.append(f"no cross-fit: it would take ~{cost or 0:.0f}s, {max(left, 0):.0f}s were left")
        return False
    start = s.clock.elapsed
    s.emit("all", "plan", f"cross-fit: {', '.join(names)} on {len(rows)} rows (~{cost:.0f}s)")
    fits: dict[str, CrossFit] = {}
    for name in names:
        fit = crossfit_one(s, name, rows, reserve_s)
        if fit is None:
            return False
        fits[name] = fit
    s.crossfits.update(fits)
    s.notes.append(
        f"cross-fitted {', '.join(names)} on {len(rows)} rows in "
        f"{s.clock.elapsed - start:.0f}s, as the decision was still open"
    )
    return True
