"""Full runs scored on the same held-out rows, compared: which one to keep, by the advisor's own rule.

What a too-close call's settle line points to: run both in full, then
``tune-or-embed compare runs/ft runs/tfidf``. Each run's metric gets its 95 % bootstrap
interval over the held-out rows; the lead of the best run over each other one gets a paired
bootstrap interval over the same rows (the noise of rows both were scored on cancels, so a
lead is judged far more sharply than the two intervals side by side suggest). The call is
``advisor.decide.recommend`` applied to what the runs really gave — the metric with its replicates,
training time, latency — under the user's goals: the decision a perfect forecaster would make,
ties going to the cheaper run as they do in ``advise``.

Pure: the command reads the artifacts and hands their contents here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from advisor.common.bootstrap import accuracy_fn, interval, macro_f1_fn, resamples
from advisor.common.tasks import on_task
from advisor.decide.recommend import Recommendation
from advisor.forecast.curves import binomial_interval
from engines.base import Record
from engines.errors import ConfigError
from engines.records import RANK_METRICS

BOOT = 2000  # bootstrap resamples of the held-out rows


class RunResult(Record):
    """One full run, as its artifact holds it."""

    name: str = Field(description="How the run is named in the output (its folder name); unique.")
    engine: str = Field(description="The engine that made it (tfidf, embedding, finetune, lora).")
    n_train: int = Field(description="Rows it trained on.")
    rows_digest: str = Field(description="Hash of the held-out rows it was scored on (see engines.artifacts).")
    y_true: list[str] = Field(description="Per held-out row, its label.")
    y_pred: list[str] = Field(description="Per held-out row, the run's prediction.")
    train_s: float | None = Field(None, description="Training wall seconds.")
    ms_b1: float | None = Field(None, description="Median ms per text at batch 1.")
    ms_batch: float | None = Field(None, description="Median ms per text at the large batch.")
    per_query: dict[str, list[float]] = Field(
        default_factory=dict, description="Retrieval runs: per ranking metric, each held-out query's value."
    )


class RunScore(Record):
    """One run's metric on the held-out rows, with its 95 % bootstrap interval."""

    name: str
    engine: str
    value: float
    low: float
    high: float
    train_s: float | None = None
    ms_b1: float | None = None


class Lead(Record):
    """The best run's metric minus another's on the same rows, with its paired 95 % interval."""

    other: str = Field(description="The run the best one is compared with.")
    lead: float
    low: float
    high: float


class Comparison(Record):
    """Runs compared on the same held-out rows, and the one to keep under the goals."""

    metric: str
    rows: int = Field(description="Held-out rows every run was scored on.")
    runs: list[RunScore]
    best: str = Field(description="The run with the highest metric.")
    leads: list[Lead] = Field(default_factory=list, description="The best run's lead over each other run.")
    recommendation: Recommendation = Field(description="The advisor's decision rule applied to these runs.")


def latencies(speed: Any) -> tuple[float | None, float | None]:
    """Median ms per text at the smallest and the largest batch a run's ``SpeedReport`` timed
    (None, None when it timed none)."""
    p50 = {int(k): v for k, v in (speed.latency_ms_p50 if speed is not None else {}).items()}
    return (p50[min(p50)], p50[max(p50)]) if p50 else (None, None)


def replicates(
    runs: Sequence[RunResult], metric: str = "accuracy", *, seed: int = 0, n_boot: int = BOOT
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Each run's metric on all its rows and its ``n_boot`` bootstrap replicates; replicate i
    resamples the same rows for every run, so differences between runs pair up. Retrieval runs
    (a ranking metric) average their per-query values."""
    if metric in RANK_METRICS:
        missing = [r.name for r in runs if metric not in r.per_query]
        if missing:
            raise ConfigError(f"{missing[0]} has no per-query {metric}: compare retrieval runs with retrieval runs")
        rng = np.random.default_rng(seed)
        idx = resamples(rng, len(runs[0].y_true), n_boot)
        per = {r.name: np.asarray(r.per_query[metric]) for r in runs}
        return {n: float(v.mean()) for n, v in per.items()}, {n: v[idx].mean(axis=1) for n, v in per.items()}
    classes = sorted({y for r in runs for y in (*r.y_true, *r.y_pred)})
    index = {c: i for i, c in enumerate(classes)}
    y_true = np.asarray([index[y] for y in runs[0].y_true])
    fn = accuracy_fn(y_true) if metric == "accuracy" else macro_f1_fn(y_true, len(classes))
    rng = np.random.default_rng(seed)
    idx = resamples(rng, len(y_true), n_boot)
    every = np.arange(len(y_true))
    values, boots = {}, {}
    for r in runs:
        pred = np.asarray([index[y] for y in r.y_pred])
        values[r.name] = fn(pred, every)
        boots[r.name] = np.asarray([fn(pred, i) for i in idx])
    return values, boots


def paired_lead(a: np.ndarray, b: np.ndarray, value_a: float, value_b: float) -> tuple[float, float, float]:
    """a's metric minus b's, with the 95 % percentile interval of their paired replicates."""
    lo, hi = interval(a - b)
    return float(value_a - value_b), lo, hi


def check_same_rows(runs: Sequence[RunResult]) -> None:
    """Every run must have been scored on the same held-out rows; names must be unique."""
    if len(runs) < 2:
        raise ConfigError("compare needs at least two runs")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"two runs share the name {next(n for n in names if names.count(n) > 1)!r}; "
            "give them folders with different names"
        )
    first = runs[0]
    for r in runs[1:]:
        if r.rows_digest != first.rows_digest or len(r.y_true) != len(first.y_true):
            raise ConfigError(
                f"{r.name} and {first.name} were scored on different held-out rows; compare runs made with "
                "the same data and --split-seed (or the same --test-file)"
            )


def compare(
    runs: Sequence[RunResult], goals: Any, resources: Any = None, *, seed: int = 0, n_boot: int = BOOT
) -> Comparison:
    """Score ``runs`` on their shared held-out rows and decide which to keep under ``goals``."""
    from advisor.decide.recommend import recommend
    from advisor.forecast.accuracy import Forecast

    check_same_rows(runs)
    metric = goals.metric
    values, boots = replicates(runs, metric, seed=seed, n_boot=n_boot)
    scores, perfect = [], {}
    for r in runs:
        # Accuracy: Agresti–Coull, so that 100 % on a few rows still has a width.
        lo, hi = binomial_interval(values[r.name], len(r.y_true)) if metric == "accuracy" else interval(boots[r.name])
        scores.append(
            RunScore(
                name=r.name,
                engine=r.engine,
                value=values[r.name],
                low=float(lo),
                high=float(hi),
                train_s=r.train_s,
                ms_b1=r.ms_b1,
            )
        )
        perfect[r.name] = Forecast(
            approach=r.engine,
            n_target=r.n_train,
            metric=metric,
            value=values[r.name],
            low=float(lo),
            high=float(hi),
            curve_low=float(lo),
            curve_high=float(hi),
            method="measured",
            train_time_s=r.train_s,
            infer_ms_per_text=r.ms_b1,
            infer_ms_per_text_batch=r.ms_batch,
            eval_rows=len(r.y_true),
            boot=[float(x) for x in boots[r.name]],
        )
    best = max(values, key=lambda n: values[n])
    leads = [
        Lead(
            other=n,
            **dict(
                zip(("lead", "low", "high"), paired_lead(boots[best], boots[n], values[best], values[n]), strict=True)
            ),
        )
        for n in values
        if n != best
    ]
    rec = recommend(goals, resources, {}, perfect)
    # A longer benchmark cannot settle what full runs tie on: only more rows can.
    settle = (
        (
            f"within the noise of these {len(runs[0].y_true):,} held-out rows: a larger test set (or more labels) "
            "would separate them"
        )
        if rec.too_close
        else None
    )
    rec = rec.model_copy(update={"settle": settle, "settle_likely": None})
    return Comparison(
        metric=metric,
        rows=len(runs[0].y_true),
        runs=scores,
        best=best,
        leads=leads,
        recommendation=_named(rec, {r.name: r.engine for r in runs}),
    )


def load_run(path: str | Path, name: str) -> RunResult:
    """A ``RunResult`` from an artifact folder (manifest + held-out predictions); anything
    missing or damaged is an ``ArtifactError`` (one line)."""
    from engines.artifacts import read_heldout, read_manifest

    manifest = read_manifest(path)
    held = read_heldout(path)
    ms_b1, ms_batch = latencies(manifest.speed)
    return RunResult(
        name=name,
        engine=manifest.engine,
        n_train=manifest.split.n_train if manifest.split else 0,
        rows_digest=held.rows_digest,
        y_true=held.y_true,
        y_pred=held.y_pred,
        train_s=manifest.fit.wall_s if manifest.fit else None,
        ms_b1=ms_b1 if ms_b1 is not None else manifest.timings.get("query_ms"),
        ms_batch=ms_batch,
        per_query=held.per_query,
    )


def run_names(paths: Sequence[str | Path]) -> list[str]:
    """Folder names, or the paths as given when two folders share a name."""
    names = [Path(p).name or str(p) for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def compare_dirs(paths: Sequence[str | Path], goals: Any, resources: Any = None, *, seed: int = 0) -> Comparison:
    """``compare`` the runs in these artifact folders (what the CLI and the TUI call); retrieval runs
    under classification goals are compared by nDCG@10."""
    runs = [load_run(p, n) for p, n in zip(paths, run_names(paths), strict=True)]
    if all(r.per_query for r in runs) and goals.metric not in RANK_METRICS:
        goals = on_task(goals, "retrieval")
    return compare(runs, goals, resources, seed=seed)


def verdict_lines(c: Comparison) -> list[str]:
    """The leads (paired, same rows) and the call, as lines of text."""
    lines = [
        f"{c.best} leads {lead.other} by {100 * lead.lead:+.1f} points "
        f"[{100 * lead.low:+.1f}, {100 * lead.high:+.1f}] (paired, same rows)"
        for lead in c.leads
    ]
    rec = c.recommendation
    verdict = "too close to call on these rows" if rec.too_close else f"confidence {rec.confidence}"
    lines.append(f"keep: {rec.label} — {verdict}" if rec.choice else f"keep: nothing — {rec.label}")
    lines += [f"  - {r.text}" for r in rec.reasons if r.weight > 0 or r.text.startswith(("too close", "caution"))]
    lines += [f"  - ruled out: {r.reason}" for r in rec.ruled_out]
    if rec.settle:
        lines.append(f"  {rec.settle}")
    return lines


def _named(rec: Recommendation, engines: Mapping[str, str]) -> Recommendation:
    """``rec`` with each run's label showing its folder name as well as its approach."""
    from advisor.common.capabilities import label

    if rec.choice is None:
        return rec
    engine = engines[rec.choice]
    return rec.model_copy(update={"label": f"{rec.choice} ({label(engine)})"})
