"""Micro-benchmarks: run each approach's engine on nested subsets of a sample, within a budget.

The same engine code a full run uses is fitted on nested, stratified subsets of a
training pool and scored on ONE held-out test part that no engine ever trains on.
The budget is spent where it buys the most: TF-IDF and the frozen-embedding head are
cheap (many sizes × seeds, embeddings cached once by ``prepare``); fine-tuning gets the
largest sizes it can afford, each with the full run's minimum-steps recipe, planned
from measured throughput. A fine-tune point that cannot finish inside the budget is
still run briefly as a throughput probe (time and memory forecasts need it), but it is
never used as a learning-curve point.

Cancel (``cancel`` event or Ctrl-C) returns what was measured so far with
``cancelled=True``.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from engines.base import Examples, FitReport, ProgressEvent, Record, get_engine

# Defaults for settings a profile's BenchSettings may not have (see _setting).
DEFAULTS: dict[str, Any] = {
    "test_size": 1000,  # held-out rows where the data and budget allow
    "cheap_seeds": 3,  # seeds for tfidf / embedding curves
    "finetune_seeds": 2,
    "top_up_seeds": 3,  # most extra fine-tune seeds bought with budget left over (decision still open)
    "crossfit": False,  # budget left over and the decision open: cross-fit every approach on the sample first
    "max_sizes": 5,  # training sizes per curve (halving down from the pool)
    "min_size": 32,  # smallest training size (n = 64 is mostly noise; 32 only on tiny data)
    "speed_texts": 64,  # texts for measure_speed
    "time_start_up": True,  # time each engine's start-up in a new process (a full run pays it)
    "start_up_cache_days": 0.0,  # days a start-up timing is remembered on disk (profiles: 7; 0: every advise)
}
MIN_TEST = 100
TEST_SHARE = 0.4  # most of the sample the held-out test part may take
# Share of the budget each approach may use (of what is left when it starts).
SHARE = {"tfidf": 0.25, "embedding_prepare": 0.7, "embedding": 0.5, "finetune": 0.75, "lora": 0.9}
# Training one example costs several inference passes (forward + backward + optimizer, at a smaller batch):
# used only to plan the first fine-tune point before it is measured. Measured on the 2-core development
# machine (MiniLM-L6, Rotten Tomatoes, 2026-12-04): 252 texts/s embedded vs 42 examples/s trained at batch 16.
TRAIN_VS_INFER_COST = 5.5
CURVE_STOPS = ("completed", "early_stopping")
BENCH_CHECKPOINT_EVERY = 10**6  # benchmark fits write only their final checkpoint
PROBE_TEXTS = 256  # texts the load probe embeds to measure the bulk rate
MIN_SIZE_RATIO = 1.5  # consecutive learning-curve sizes at least this far apart
CROSSFIT_SLACK = 1.1  # the cross-fit runs only if its estimated cost × this fits (a fold cut short is wasted)
# LoRA updates a small share of the weights; where full fine-tuning fits in memory it can win only by
# being faster. It is benchmarked only when, under the goals' weights, its forecast full-run time is worth
# more than this many points of the goals' metric against full fine-tuning's: the least it trailed full
# fine-tuning by (docs/CALIBRATION.md has the full runs of both on every calibration task).
LORA_DEFICIT = 0.01
CHEAP = ("tfidf", "embedding")  # approaches whose fits cost seconds: many sizes × seeds, full-size cross-validation
CV_FOLDS = 5  # folds of the cheap approaches' cross-validation (each fit on ~80 % of the labelled rows)
CV_SHARE = 0.3  # the most of what is left (after the trainers' reserve) a cheap cross-validation may cost
LORA_PROBE_S = 12.0  # seconds of LoRA training that measure its speed
# A fine-tune fit the budget stops after this share of its recipe's steps is still scored and kept as a
# curve point (its forecast's upper end then allows for the steps it missed): a point 145 steps into 150
# is a measurement, not a loss, and a call must not flip on whether the last few steps fitted the budget.
PARTIAL_MIN = 0.8


# --------------------------------------------------------------------- records
class CurvePoint(Record):
    """One learning-curve point: an approach trained on ``n_train`` examples (one seed), scored on the test part."""

    approach: str = Field(description="Engine name.")
    n_train: int = Field(description="Training examples given to fit.")
    seed: int = Field(description="Seed of the nested subset (and the engine).")
    accuracy: float | None = Field(description="Accuracy on the held-out test part (None: not scored, a probe).")
    macro_f1: float | None = Field(description="Macro-F1 on the held-out test part.")
    fit_s: float = Field(description="Wall seconds of fit.")
    stopped: str = Field("completed", description="Why fit ended; only completed/early_stopping points enter the curve.")
    steps: int = Field(0, description="Optimizer steps (fine-tuning).")
    best_step: int | None = Field(None, description="Step of the best validation score (fine-tuning).")
    usable: bool = Field(True, description="Whether the point enters the learning curve.")
    planned_steps: int | None = Field(
        None, description="The recipe's steps when the budget stopped this fit short but late enough to score it "
        "(at least PARTIAL_MIN of them); None: it ran in full.")
    y_pred: list[int] | None = Field(None, exclude=True, description="Predicted class ids on the test part (bootstrap).")


class ApproachMeasurement(Record):
    """What the micro-benchmark measured for one approach."""

    approach: str
    points: list[CurvePoint] = Field(default_factory=list)
    n_max: int | None = Field(None, description="Largest training size with a usable point.")
    accuracy: float | None = Field(None, description="Mean accuracy over seeds at n_max.")
    ci_low: float | None = Field(None, description="95 % bootstrap interval (test rows) of accuracy, low.")
    ci_high: float | None = None
    macro_f1: float | None = None
    f1_ci_low: float | None = None
    f1_ci_high: float | None = None
    train_examples_per_s: float | None = Field(None, description="Training throughput at the largest fit.")
    train_tokens_per_s: float | None = None
    tokens_per_example: float | None = Field(None, description="Mean non-padding tokens per training example.")
    fit_s_at_max: float | None = Field(None, description="Mean fit seconds at the largest measured size.")
    checkpoint_s_each: float | None = Field(
        None, description="Seconds to write one resumable checkpoint (fine-tuning).")
    examples_seen_at_max: int | None = None
    prepare_texts_per_s: float | None = Field(None, description="Embedding throughput while caching vectors.")
    infer_texts_per_s: float | None = Field(None, description="Inference throughput at the large batch.")
    latency_ms: dict[str, float] = Field(default_factory=dict, description="p50_b1, p95_b1, p50_bN, p95_bN: ms per text.")
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    load_s: float | None = Field(None, description="Warm-up (imports, model load) in the benchmark's process, seconds.")
    start_s: float | None = Field(
        None, description="The same warm-up timed in a new process: the start-up a full run pays, seconds.")
    device: str = "cpu"
    spent_s: float = Field(0.0, description="Benchmark seconds spent on this approach.")
    notes: list[str] = Field(default_factory=list)


class CrossFit(Record):
    """Two-fold cross-fit of one approach: trained on one stratified half of the cross-fit rows and
    scored on the other, both ways, so that every one of those rows gets one prediction from a
    model that never saw it."""

    approach: str
    n_train: int = Field(description="Rows each fold's fit trained on (the rows outside its fold, at most the "
                         "labelled size).")
    folds: int = Field(2, description="Folds: each fit trained on all but one, scored on that one.")
    rows: int = Field(description="Rows scored out of fold: every cross-fit row, once.")
    accuracy: float = Field(description="Out-of-fold accuracy over all the rows.")
    macro_f1: float = Field(description="Out-of-fold macro-F1 over all the rows.")
    fit_s: list[float] = Field(default_factory=list, description="Wall seconds of each fold's fit.")
    y_pred: list[int] | None = Field(None, exclude=True, description="Out-of-fold class ids, row by row (bootstrap).")


class BenchResult(Record):
    measurements: dict[str, ApproachMeasurement] = Field(default_factory=dict)
    crossfits: dict[str, CrossFit] = Field(
        default_factory=dict, description="Cross-fits on the sample (the last stage, when the budget allowed it); "
        "every approach with a forecast or none.")
    crossfit_labels: list[int] | None = Field(None, exclude=True, description="Cross-fit rows' class ids.")
    crossfit_test_rows: int | None = Field(
        None, description="The first this many cross-fit rows are the test part, in its order (so a cross-fit "
        "pairs with curves scored there); None: cross-fit rows drawn otherwise (older benchmarks).")
    classes: list[str] = Field(default_factory=list, description="Class names; y ids index this list.")
    test_size: int = 0
    pool_size: int = Field(0, description="Training pool rows the curves drew from.")
    sample_size: int = 0
    budget_s: float = 0.0
    spent_s: float = 0.0
    cancelled: bool = False
    seed: int = 0
    notes: list[str] = Field(default_factory=list)
    left_out: dict[str, str] = Field(
        default_factory=dict, description="Approaches asked for but left out because they cannot win on this "
        "machine (e.g. LoRA where full fine-tuning fits and LoRA is not much faster), with the one-line reason.")
    test_labels: list[int] | None = Field(None, exclude=True, description="Test part's class ids (bootstrap).")


class BenchEvent(Record):
    """Progress of the micro-benchmark (stderr lines in the CLI, a live table in the TUI)."""

    approach: str
    phase: str = Field(description="'plan', 'load', 'prepare', 'fit', 'eval', 'speed', 'done'.")
    done: int = 0
    total: int | None = None
    message: str = ""
    elapsed_s: float = 0.0
    budget_s: float = 0.0
    point: CurvePoint | None = None


BenchProgress = Callable[[BenchEvent], None]


# --------------------------------------------------------------------- helpers
def config_get(config: Any, key: str, default: Any) -> Any:
    """One setting of an engine config (a pydantic model, a dict, or None: the default)."""
    if isinstance(config, dict):
        return config.get(key, default)
    return getattr(config, key, default) if config is not None else default


def finetune_steps(config: Any, n: int) -> tuple[int, int]:
    """(optimizer steps, batch) the full run's recipe takes on ``n`` labelled examples (the
    engine's own arithmetic, ``engines.finetune.recipe_steps``)."""
    from engines.config import FinetuneConfig
    from engines.finetune import recipe_steps

    if isinstance(config, FinetuneConfig):
        cfg = config
    else:
        raw = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
        cfg = FinetuneConfig(**{k: v for k, v in raw.items() if k in FinetuneConfig.model_fields})
    return recipe_steps(n, cfg)


def valid_share(config: Any) -> float:
    """Share of the labelled rows a fine-tune fit holds out for early stopping (0 when it is off)."""
    if int(config_get(config, "early_stopping_patience", 0)) <= 0:
        return 0.0
    return float(config_get(config, "valid_fraction", 0.1))


def _setting(settings: Any, name: str) -> Any:
    value = getattr(settings, name, None) if settings is not None else None
    return DEFAULTS[name] if value is None else value


def _seeds(settings: Any, name: str, base: int) -> list[int]:
    value = _setting(settings, name)
    count = len(value) if isinstance(value, list | tuple) else int(value)
    return [base + i for i in range(max(1, count))]


def wanted_test_rows(settings: Any, budget_s: float) -> int:
    """Held-out rows wanted: the profile's ``test_sizes`` entry for the largest named budget
    ``budget_s`` covers (bigger budgets buy tighter intervals), else ``test_size``."""
    named = getattr(settings, "budgets_s", None) or {}
    sizes = getattr(settings, "test_sizes", None) or {}
    covered = [(s, name) for name, s in named.items() if s <= budget_s + 1e-9 and name in sizes]
    if covered:
        return int(sizes[max(covered)[1]])
    return int(_setting(settings, "test_size"))


def _test_floor(test_n: int, total: int, n_classes: int) -> int:
    return max(test_n, min(MIN_TEST, total // 3), 2 * n_classes)


def planned_test_rows(settings: Any, budget_s: float, sample_n: int, n_classes: int) -> int:
    """Held-out rows a benchmark of ``budget_s`` plans on a sample of ``sample_n`` rows: what
    ``plan_split`` gives before it measures the embedding speed (which can only lower it)."""
    return _test_floor(min(wanted_test_rows(settings, budget_s), int(sample_n * TEST_SHARE)), sample_n, n_classes)


def curve_sizes(pool_n: int, n_classes: int, *, max_sizes: int, min_size: int) -> list[int]:
    """Halving sizes from the pool down to ``min_size`` (≥ 2 per class), ascending."""
    floor = max(min_size, 2 * n_classes)
    sizes: list[int] = []
    n = pool_n
    while n >= floor and len(sizes) < max_sizes:
        sizes.append(n)
        n //= 2
    if not sizes:
        sizes = [pool_n]
    return sorted(sizes)


def _spaced(sizes: set[int], top: int) -> list[int]:
    """``top`` and the sizes below it, largest first, each kept only if it is at most
    1/``MIN_SIZE_RATIO`` of the last one kept (ascending). Two sizes close together add a point
    that says little and make the fits' held-back step (the last two sizes) so short that the
    interval's extrapolation term, scaled by reach / step, blows up."""
    kept = [top]
    for n in sorted((s for s in sizes if s < top), reverse=True):
        if n * MIN_SIZE_RATIO <= kept[-1]:
            kept.append(n)
    return sorted(kept)


def _ladder(sizes: list[int]) -> list[int]:
    """``sizes`` with doublings filled in between the largest listed size and the top."""
    out = sorted(set(sizes))
    if len(out) >= 2:
        top, n = out[-1], out[-2] * 2
        while n < top * 0.75:
            out.append(n)
            n *= 2
    return sorted(set(out))


def _nested(pool: Examples, sizes: list[int], seed: int) -> list[Examples]:
    from advisor.data import nested_subsets

    return list(nested_subsets(pool, sizes, seed=seed))


def _bootstrap_ci(preds: list[list[int]], y_true: np.ndarray, n_classes: int, *, seed: int,
                  n_boot: int = 500) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % intervals of accuracy and macro-F1 (means over seeds), resampling test rows."""
    from advisor.curves import accuracy_fn, macro_f1_fn

    acc, f1 = accuracy_fn(y_true), macro_f1_fn(y_true, n_classes)
    arrays = [np.asarray(p) for p in preds]
    rng = np.random.default_rng(seed)
    accs, f1s = [], []
    n = len(y_true)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        accs.append(np.mean([acc(p, idx) for p in arrays]))
        f1s.append(np.mean([f1(p, idx) for p in arrays]))
    a = np.percentile(accs, [2.5, 97.5])
    f = np.percentile(f1s, [2.5, 97.5])
    return (float(a[0]), float(a[1])), (float(f[0]), float(f[1]))


class _Clock:
    def __init__(self, budget_s: float) -> None:
        self.t0 = time.perf_counter()
        self.budget_s = float(budget_s)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def left(self) -> float:
        return max(0.0, self.budget_s - self.elapsed)


class _Stop(Exception):
    """Internal: cancelled."""


# ---------------------------------------------------------------------- runner
class _Runner:
    def __init__(self, sample: Examples, *, engines: Sequence[str], configs: dict[str, Any],
                 settings: Any, budget_s: float, labelled_size: int | None, seed: int,
                 progress: BenchProgress | None, cancel: threading.Event | None,
                 settled: Callable[[BenchResult], bool] | None,
                 time_worth: Callable[[float, float], float] | None = None) -> None:
        self.sample = sample
        self.engines = list(engines)
        self.configs = configs
        self.settings = settings
        self.clock = _Clock(budget_s)
        self.labelled_size = labelled_size
        self.seed = seed
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.settled = settled
        self.time_worth = time_worth
        self.classes = sample.classes
        self.class_id = {c: i for i, c in enumerate(self.classes)}
        self.points: dict[str, list[CurvePoint]] = {e: [] for e in self.engines}
        self.info: dict[str, dict[str, Any]] = {e: {"notes": []} for e in self.engines}
        self.instances: dict[str, Any] = {}
        self.notes: list[str] = []
        self.test: Examples | None = None
        self.pool: Examples | None = None
        self.cheap_pool: Examples | None = None
        self.probed: set[str] = set()
        self.cancelled = False
        self.trainer_reserve = 0.0
        self.crossfits: dict[str, CrossFit] = {}
        self.crossfit_labels: list[int] | None = None
        self._crossfit_rows: Examples | None = None
        self.left_out: dict[str, str] = {}

    # ------------------------------------------------------------ plumbing
    def emit(self, approach: str, phase: str, message: str = "", done: int = 0,
             total: int | None = None, point: CurvePoint | None = None) -> None:
        if self.progress is None:
            return
        self.progress(BenchEvent(approach=approach, phase=phase, done=done, total=total, message=message,
                                 elapsed_s=round(self.clock.elapsed, 2), budget_s=self.clock.budget_s,
                                 point=point))

    def check(self) -> None:
        if self.cancel.is_set():
            raise _Stop

    def engine(self, name: str) -> Any:
        if name not in self.instances:
            cls = get_engine(name)
            config = self.configs.get(name)
            if cls.supports_resume:
                # One checkpoint (the final one) per benchmark fit: its cost is measured, and
                # the full run's count of them is known from its steps.
                base = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
                config = cls.config_cls(**{**base, "checkpoint_every_steps": BENCH_CHECKPOINT_EVERY})
            self.instances[name] = cls(config)
        return self.instances[name]

    def engine_progress(self, name: str) -> Callable[[ProgressEvent], None]:
        def relay(ev: ProgressEvent) -> None:
            self.emit(name, ev.phase, ev.message, ev.done, ev.total)

        return relay

    def config_value(self, name: str, key: str, default: Any) -> Any:
        return config_get(self.configs.get(name), key, default)

    # ---------------------------------------------------------------- steps
    def start_up(self, name: str) -> None:
        """Time ``name``'s warm-up in a new process (the imports and model load a full run pays
        before training), then warm it up here, so that no benchmark fit pays for them."""
        from advisor.startup import CACHE_NAME, time_start_up

        self.check()
        eng = self.engine(name)
        info = self.info[name]
        said = "not measured"  # switched off in the profile: the forecasts use the load seen here
        if _setting(self.settings, "time_start_up"):
            self.emit(name, "load", "timing a new process's start-up")
            days = float(_setting(self.settings, "start_up_cache_days"))
            cache = None
            if days > 0:
                from engines.models import cache_root

                cache = cache_root() / CACHE_NAME
            timed = time_start_up(type(eng), eng.config, timeout_s=max(15.0, min(120.0, self.clock.left)),
                                  cancel=self.cancel, cache=cache, max_age_s=days * 86400.0)
            self.check()
            if timed.seconds is None:
                info["notes"].append(f"a new process's start-up was not measured: {timed.error}")
            else:
                info["start_s"] = timed.seconds
                said = f"{timed.seconds:.1f}s in a new process"
                if timed.timed_at is not None:
                    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(timed.timed_at))
                    said += f" (timed {when}, remembered in {cache})"
                    info["notes"].append(f"start-up {said}: not timed again, so the budget went to the benchmark")
        t0 = time.perf_counter()
        eng.warm_up()
        info["load_s"] = time.perf_counter() - t0
        self.emit(name, "load", f"start-up {said}; loaded here in {info['load_s']:.1f}s")

    def probe_embedding(self) -> float | None:
        """Measure the embedding engine's texts/s on a few texts (the model is loaded)."""
        if "embedding" not in self.engines:
            return None
        eng = self.engine("embedding")
        texts = self.sample.texts
        t0 = time.perf_counter()
        eng.prepare(texts[:8], progress=self.engine_progress("embedding"), cancel=self.cancel)
        t1 = time.perf_counter()
        # One call of up to 256 texts: the engine sorts them by length as the bulk embedding
        # does, so this is the rate the pool will be embedded at.
        probe = texts[8:8 + PROBE_TEXTS]
        eng.prepare(probe, progress=self.engine_progress("embedding"), cancel=self.cancel)
        self.probed = set(texts[:8 + PROBE_TEXTS])  # cached now: prepare_embeddings' rate must not count them
        t2 = time.perf_counter()
        rate = len(probe) / max(t2 - t1, 1e-6) if probe else None
        self.info["embedding"].update(prepare_texts_per_s=rate, prepare_s=t2 - t0)
        self.emit("embedding", "load", f"{rate or 0:.0f} texts/s")
        return rate

    def test_size(self) -> int:
        return wanted_test_rows(self.settings, self.clock.budget_s)

    def plan_split(self, embed_rate: float | None) -> tuple[int, int]:
        """(test rows, pool rows) from the sample, the labelled size and (if measured) embedding speed."""
        total = len(self.sample)
        test_n = min(self.test_size(), int(total * TEST_SHARE))
        affordable = None
        if embed_rate:
            affordable = embed_rate * max(0.0, self.clock.left - self.trainer_reserve) * SHARE["embedding_prepare"]
            test_n = min(test_n, int(affordable * TEST_SHARE))
        test_n = _test_floor(test_n, total, len(self.classes))
        pool_n = total - test_n
        if self.labelled_size:
            pool_n = min(pool_n, self.labelled_size)
        if affordable is not None:
            pool_n = min(pool_n, max(int(affordable - test_n), 4 * len(self.classes), 64))
        pool_n = max(min(pool_n, total - test_n), len(self.classes))
        return test_n, pool_n

    def split(self, test_n: int, pool_n: int) -> None:
        from advisor.data import stratified_split, stratified_subsample

        train, test = stratified_split(self.sample, test_size=test_n, seed=self.seed)
        # TF-IDF needs no embedding: its curve may climb to the labelled size (the sample permitting).
        cheap = train
        if self.labelled_size and self.labelled_size < len(train):
            cheap = stratified_subsample(train, self.labelled_size, seed=self.seed)
        self.cheap_pool = cheap
        if pool_n < len(train):
            train = stratified_subsample(train, pool_n, seed=self.seed)
        self.pool, self.test = train, test
        self.y_test = np.asarray([self.class_id[y] for y in test.labels])
        self.emit("all", "plan", f"test part {len(test)} rows (never trained on), training pool {len(train)}")

    def fit(self, name: str, train: Examples, seed: int, budget_s: float | None, what: str = "") -> FitReport:
        """One fit of ``name`` on ``train`` with ``seed`` (raises ``_Stop`` when cancelled)."""
        eng = self.engine(name)
        if eng.supports_resume and getattr(eng.config, "seed", seed) != seed:
            # Trainers draw their head init, dropout and batch order from the config's seed: a
            # new seed is a new run even on the same rows (the pool itself).
            eng.config = eng.config.model_copy(update={"seed": seed})
        self.emit(name, "fit", f"{what}n={len(train)} seed={seed}", 0, len(train))
        # Engines that checkpoint do so here too, as in the full run: their cost is part of its time.
        scratch = tempfile.TemporaryDirectory(prefix="toe-bench-") if eng.supports_resume else nullcontext()
        with scratch as workdir:
            report = eng.fit(train, budget_s=budget_s, progress=self.engine_progress(name), cancel=self.cancel,
                             workdir=Path(workdir) if workdir else None)
        if report.stopped == "cancelled" or self.cancel.is_set():
            raise _Stop
        return report

    def class_ids(self, labels: Sequence[str]) -> list[int]:
        """Class ids of predicted labels; a label the sample never had gets one id past the classes."""
        return [self.class_id.get(y, len(self.classes)) for y in labels]

    def fit_point(self, name: str, train: Examples, seed: int, budget_s: float | None,
                  usable_if: tuple[str, ...] = CURVE_STOPS) -> tuple[CurvePoint, FitReport]:
        eng = self.engine(name)
        report = self.fit(name, train, seed, budget_s)
        planned = None
        if report.stopped == "budget" and usable_if == CURVE_STOPS and eng.trains_backbone:
            recipe = finetune_steps(self.configs.get(name), len(train))[0]
            planned = recipe if report.steps >= PARTIAL_MIN * recipe else None
        if report.stopped not in usable_if and planned is None:
            # A throughput probe (or a fit the budget cut short): no curve point, so no scoring.
            point = CurvePoint(approach=name, n_train=len(train), seed=seed, accuracy=None, macro_f1=None,
                               fit_s=report.wall_s, stopped=report.stopped, steps=report.steps, usable=False)
            self.points[name].append(point)
            self.record_fit(name, report)
            self.emit(name, "fit", f"n={len(train)} seed={seed}: stopped ({report.stopped}) after "
                      f"{report.steps} steps; throughput only, not a curve point", len(train), len(train), point=point)
            return point, report
        self.emit(name, "eval", f"scoring on {len(self.test)} held-out rows")
        ev = eng.evaluate(self.test)
        y_pred = self.class_ids(ev.y_pred) if ev.y_pred else None
        point = CurvePoint(approach=name, n_train=len(train), seed=seed, accuracy=ev.accuracy,
                           macro_f1=ev.macro_f1, fit_s=report.wall_s, stopped=report.stopped,
                           steps=report.steps, best_step=report.best_step,
                           usable=report.stopped in usable_if or planned is not None, planned_steps=planned,
                           y_pred=y_pred)
        self.points[name].append(point)
        self.record_fit(name, report)
        self.emit(name, "fit", f"n={len(train)} seed={seed}: accuracy {ev.accuracy:.3f}"
                  + (f" (the budget stopped it at {report.steps} of {planned} steps: scored as it is)"
                     if planned is not None else ""),
                  len(train), len(train), point=point)
        return point, report

    def record_fit(self, name: str, report: FitReport) -> None:
        info = self.info[name]
        # Throughput from the longest fit so far: the nearest to a full run's (warm-up and
        # first-batch costs weigh less), and a short throughput probe never overrides a real point.
        if report.train_examples_per_s and report.steps >= info.get("rate_steps", -1):
            info["rate_steps"] = report.steps
            info["train_examples_per_s"] = report.train_examples_per_s
            if report.train_tokens_per_s:
                info["train_tokens_per_s"] = report.train_tokens_per_s
            if report.tokens_seen and report.examples_seen:
                info["tokens_per_example"] = report.tokens_seen / report.examples_seen
        if report.steps and "checkpoint" in report.phase_s:
            info["checkpoint_s_each"] = report.phase_s["checkpoint"] / math.ceil(report.steps / BENCH_CHECKPOINT_EVERY)
        info["peak_rss_bytes"] = max(info.get("peak_rss_bytes") or 0, report.peak_rss_bytes or 0) or None
        if report.peak_gpu_bytes:
            info["peak_gpu_bytes"] = max(info.get("peak_gpu_bytes") or 0, report.peak_gpu_bytes)
        info["device"] = report.device
        if "load" in report.phase_s and "load_s" not in info:
            info["load_s"] = report.phase_s["load"]
        info["last_fit"] = report
        for note in report.notes:
            if note not in info["notes"]:
                info["notes"].append(note)

    def sizes(self, key: str, extra: int | None = None) -> list[int]:
        """The profile's sizes that fit the pool, plus the pool itself (or ``extra``) on top, spaced
        at least ``MIN_SIZE_RATIO`` apart; halving sizes from the top when the profile has none or
        fewer than three fit (a small pool)."""
        pool_n = len(self.pool)
        listed = getattr(self.settings, key, None) if self.settings is not None else None
        floor = 2 * len(self.classes)
        if not listed:
            return curve_sizes(pool_n, len(self.classes), max_sizes=int(_setting(self.settings, "max_sizes")),
                               min_size=int(_setting(self.settings, "min_size")))
        top = extra if extra is not None else pool_n
        if top < floor:  # fewer rows than two per class: no size but the pool
            return [pool_n]
        sizes = {int(s) for s in listed if floor <= s <= top}
        spaced = _spaced(sizes, top)
        if len(spaced) < 3:  # a small pool: halve down from it for a curve (a fit needs three sizes)
            halves = curve_sizes(top, len(self.classes), max_sizes=3,
                                 min_size=min(int(_setting(self.settings, "min_size")), top))
            spaced = _spaced(sizes | set(halves), top)
        return spaced

    def cheap_curve(self, name: str, share: float, reserve_s: float = 0.0, floor_s: float = 0.0) -> None:
        """Many sizes × seeds for an approach whose fits are cheap, within ``share`` of what is
        left after ``reserve_s`` (kept for later steps).

        Seed 0 climbs the sizes (doubling from the profile's up to the pool) while the next
        point's cost, guessed from the last one (∝ n^1.3), fits; when the pool itself does
        not, one point at the largest size that fits is run instead: the point nearest the
        forecast target is worth most. Further seeds repeat the sizes that ran, smallest
        first, while the budget lasts. One point always runs; ``floor_s`` is the least the
        curve may spend (taken from later steps' share, never from ``reserve_s``)."""
        start = self.clock.elapsed
        free = max(0.0, self.clock.left - reserve_s)
        allowance = min(free, max(free * share, floor_s))
        sizes = _ladder(self.sizes("train_sizes"))
        seeds = _seeds(self.settings, "cheap_seeds", self.seed)
        if name == "tfidf" and _setting(self.settings, "crossfit"):
            # Its cross-validation on every labelled row gives the value; the curve only the gain
            # to the labelled size: one seed of its (second-long) fits is enough.
            seeds = seeds[:1]
        cost: dict[int, float] = {}

        def guess(n: int) -> float:
            if n in cost:
                return cost[n]
            if not cost:
                return 0.0
            m = max(cost)
            return cost[m] * (n / m) ** 1.3

        def affordable(n: int) -> bool:
            spent = self.clock.elapsed - start
            return spent + guess(n) <= allowance and guess(n) <= self.clock.left - reserve_s

        def run(n: int, seed: int) -> None:
            self.check()
            sub = _nested(self.pool, [n], seed)[0]
            t0 = time.perf_counter()
            self.fit_point(name, sub, seed, budget_s=max(self.clock.left - reserve_s, 1.0))
            cost[n] = time.perf_counter() - t0

        ran: list[int] = []
        for n in sizes:
            if ran and not affordable(n):
                break
            run(n, seeds[0])
            ran.append(n)
        if ran and ran[-1] < sizes[-1]:
            left = allowance - (self.clock.elapsed - start)
            top = ran[-1]
            while top < sizes[-1] and guess(min(sizes[-1], int(top * 1.25))) <= left:
                top = min(sizes[-1], int(top * 1.25))
            if top >= 1.3 * ran[-1]:
                run(top, seeds[0])
                ran.append(top)
        stopped = False
        for seed in seeds[1:]:
            for n in ran:
                if not affordable(n):
                    stopped = True
                    break
                run(n, seed)
            if stopped:
                break
        if stopped or len(ran) < len(sizes):
            self.info[name]["notes"].append(
                f"stopped after {len(self.points[name])} points (largest n={max(ran)}): its share of the budget was spent")
        self.info[name]["spent_s"] = self.clock.elapsed - start

    def prepare_embeddings(self, share: float, reserve_s: float = 0.0) -> None:
        eng = self.engine("embedding")
        allowance = max(0.0, self.clock.left - reserve_s) * share
        start = self.clock.elapsed
        texts = list(self.test.texts) + list(self.pool.texts)
        chunk = 256
        done = fresh = 0
        for i in range(0, len(texts), chunk):
            self.check()
            if i >= len(self.test) and self.clock.elapsed - start > allowance:
                # Keep the pool to what was embedded; fits on the rest would re-embed.
                embedded = i - len(self.test)
                self.info["embedding"]["notes"].append(
                    f"pool cut to {embedded} embedded rows to stay within the budget")
                self.info["embedding"]["pool"] = max(embedded, 2 * len(self.classes))
                break
            part = texts[i:i + chunk]
            eng.prepare(part, progress=self.engine_progress("embedding"), cancel=self.cancel)
            done += len(part)
            fresh += sum(t not in self.probed for t in part)
            self.emit("embedding", "prepare", f"embedded {done}/{len(texts)} texts", done, len(texts))
        took = self.clock.elapsed - start
        if fresh >= 64 and took > 0:  # too few new texts: keep the probe's rate
            self.info["embedding"]["prepare_texts_per_s"] = fresh / took

    def finetune_cost(self, name: str, n: int, score_rows: int | None = None) -> float | None:
        """Seconds one fine-tune point at ``n`` is expected to take (None: no throughput known):
        the recipe's examples, its validation passes and the final scoring on the test part
        (or on ``score_rows`` rows)."""
        info = self.info[name]
        rate = info.get("train_examples_per_s")
        emb_rate = (self.info.get("embedding") or {}).get("prepare_texts_per_s")
        if rate is None:
            other = self.info.get("finetune" if name == "lora" else "lora", {}).get("train_examples_per_s")
            rate = other or (emb_rate / TRAIN_VS_INFER_COST if emb_rate else None)
        if not rate:
            return None
        infer = emb_rate or rate * TRAIN_VS_INFER_COST
        steps, batch = finetune_steps(self.configs.get(name), n)
        vf = valid_share(self.configs.get(name))
        every = int(self.config_value(name, "eval_every_steps", 50))
        valid_s = steps // every * vf * n / infer
        scored = len(self.test) if score_rows is None else score_rows
        return steps * batch / rate + valid_s + scored / infer + (info.get("load_s") or 3.0)

    def scoring_s(self, name: str) -> float:
        """Seconds scoring a fit on the test part takes (at the measured inference speed): a fit's
        budget leaves them, so that a point planned to fit the budget is scored inside it too."""
        rate = (self.info.get("embedding") or {}).get("prepare_texts_per_s")
        if not rate:
            train = self.info[name].get("train_examples_per_s")
            rate = train * TRAIN_VS_INFER_COST if train else None
        return len(self.test) / rate if rate and self.test is not None else 0.0

    def finetune_examples(self, name: str, n: int) -> int:
        steps, batch = finetune_steps(self.configs.get(name), n)
        return steps * batch

    def finetune_sizes(self, name: str) -> tuple[list[int], list[int]]:
        """(sizes that all cost the recipe's minimum steps, larger sizes up to the pool).

        Below the size where epochs·n/batch reaches min_steps every point costs the same, so
        the largest such size (within the pool) tops the cheap sizes. Above it each point costs
        more, and is worth more: it is nearer the labelled size, trained on the full run's
        recipe. Those sizes double up to the pool (the pool itself last)."""
        batch = int(self.config_value(name, "train_batch_size", 16))
        vf = valid_share(self.configs.get(name))
        same_cost = math.ceil(int(self.config_value(name, "min_steps", 150)) * batch
                              / (float(self.config_value(name, "epochs", 2.0)) * (1 - vf)))
        pool_n = len(self.pool)
        cheap = self.sizes("finetune_sizes", extra=min(pool_n, same_cost))
        above = [n for n in _ladder([max(cheap), pool_n]) if n > max(cheap)] if pool_n > max(cheap) else []
        return cheap, above

    def finetune_curve(self, name: str, share: float, reserve_s: float) -> None:
        """The sizes fine-tuning can afford, most informative first; a throughput probe when none fits.

        Order: the largest of the cheap (minimum-steps) sizes; then the largest bigger size
        that fits while leaving room for two cheap points (a curve needs three sizes), then
        the next bigger ones on the same terms; then the other cheap sizes; then more seeds."""
        start = self.clock.elapsed
        allowance = max(0.0, (self.clock.left - reserve_s) * share)
        cheap, above = self.finetune_sizes(name)
        sizes = sorted({*cheap, *above})
        seeds = _seeds(self.settings, "finetune_seeds", self.seed)
        rest = sorted(cheap, reverse=True)[1:]
        plan = [(max(cheap), seeds[0]), *[(n, seeds[0]) for n in sorted(above, reverse=True)],
                *[(n, seeds[0]) for n in rest]]
        plan += [(n, s) for s in seeds[1:] for n in sorted(sizes, reverse=True)[:2]]
        subsets: dict[int, dict[int, Examples]] = {}
        ran_usable = above_ran = 0
        for n, seed in plan:
            self.check()
            left = allowance - (self.clock.elapsed - start)
            cost = self.finetune_cost(name, n)
            # Before this engine's own throughput is known the cost is a guess from the
            # embedding speed: try the point whenever it plausibly fits. ``budget_s`` bounds
            # it, and a point the budget cuts short still measures throughput.
            known = bool(self.info[name].get("train_examples_per_s"))
            slack = 1.1 if known else 0.6
            if n in above and seed == seeds[0]:
                if not known:
                    continue
                # Keep room for the cheap sizes still to run (two at most), and past the largest
                # size for the cross-fit, which scores every sample row (an intermediate size
                # scores the test part, and only shapes the curve between two measured sizes).
                keep = (self.finetune_cost(name, max(cheap)) or 0.0) * min(2, len(rest))
                reserve = self.crossfit_reserve() if above_ran else 0.0
                if cost is None or cost * slack + keep * slack + reserve > left:
                    continue
            elif cost is not None and cost * slack > left:
                continue
            if cost is None and left <= 0:
                break
            if seed not in subsets:
                subsets[seed] = dict(zip(sizes, _nested(self.pool, sizes, seed), strict=True))
            point, _ = self.fit_point(name, subsets[seed][n], seed, budget_s=max(left - self.scoring_s(name), 1.0))
            ran_usable += point.usable
            above_ran += n in above
            if not point.usable:
                break
            if self.settled is not None and ran_usable >= 1 and self.settled(self.partial_result()):
                self.notes.append(f"stopped {name} points early: the decision was already clear")
                break
        if ran_usable == 0 and not self.points[name]:
            # Nothing affordable: a short probe for throughput and memory (not a curve point).
            # Long enough for several optimizer steps after the model load.
            probe_s = min(max(12.0, (self.clock.left - reserve_s) * 0.5), 30.0)
            if self.clock.left > 5.0:
                sub = _nested(self.pool, [max(cheap)], self.seed)[0]
                self.info[name]["notes"].append(
                    f"no fine-tune point fits this budget (one costs ~{self.finetune_cost(name, max(cheap)) or 0:.0f}s); "
                    f"ran a {probe_s:.0f}s throughput probe instead (not a curve point)")
                self.fit_point(name, sub, self.seed, budget_s=probe_s, usable_if=("completed",))
            else:
                self.info[name]["notes"].append("not measured: no budget left")
        self.info[name]["spent_s"] = self.clock.elapsed - start

    def top_up(self, names: Sequence[str], reserve_s: float) -> None:
        """Budget left over after every planned point, and the decision still open: more seeds
        of the trainers at their two largest measured sizes (the points the forecast leans on;
        seed-to-seed spread there is what the planned single seed cannot show), largest first,
        while a point fits and until the decision is clear. Cheap approaches already ran their
        seeds, and at the pool size more seeds of them are the same fit."""
        if self.settled is None:
            return
        for name in names:
            usable = [p for p in self.points[name] if p.usable]
            if not usable:
                continue
            if self.settled(self.partial_result()):
                return
            sizes = sorted({p.n_train for p in usable}, reverse=True)[:2]
            first = max(p.seed for p in self.points[name]) + 1
            added, done = 0, False
            for seed in range(first, first + int(_setting(self.settings, "top_up_seeds"))):
                ran = 0
                for n in sizes:
                    self.check()
                    cost = self.finetune_cost(name, n)
                    if cost is None or cost * 1.1 > self.clock.left - reserve_s:
                        continue
                    sub = _nested(self.pool, [n], seed)[0]
                    point, _ = self.fit_point(name, sub, seed, budget_s=max(self.clock.left - reserve_s
                                                                            - self.scoring_s(name), 1.0))
                    ran += 1
                    added += point.usable
                    done = not point.usable or self.settled(self.partial_result())
                    if done:
                        break
                if done or not ran:  # settled, a failed fit, or nothing fits any more
                    break
            if added:
                self.notes.append(f"{name}: {added} more seed(s) at n={', '.join(map(str, sizes))} with the budget "
                                  "left over, as the decision was still open")

    def crossfit_rows(self) -> Examples:
        """The rows every cross-fit scores: the test part first, then the cheap pool (the labelled
        rows the cheap curves drew from, at most the labelled size). Each approach's cross-fit gives
        every one of them a prediction from a model that never saw it; as the first ``len(test)``
        rows are the test part, a cross-fit also pairs with curves scored there."""
        if self._crossfit_rows is None:
            self._crossfit_rows = Examples(texts=[*self.test.texts, *self.cheap_pool.texts],
                                           labels=[*self.test.labels, *self.cheap_pool.labels])
        return self._crossfit_rows

    def crossfit_folds(self, name: str, rows: Examples) -> int:
        """Folds of ``name``'s cross-fit: ``CV_FOLDS`` for the cheap approaches (each fit then trains
        on most of the rows, near the labelled size), two for the trainers (each fit costs minutes);
        never more than the rarest class has rows."""
        counts = np.unique(rows.labels, return_counts=True)[1]
        return int(max(2, min(CV_FOLDS if name in CHEAP else 2, counts.min())))

    def crossfit_train_rows(self, name: str, rows: Examples) -> int:
        """Rows each of ``name``'s cross-fit fits trains on: the rows outside its fold, at most the
        labelled size (more would train on more rows than the full run will)."""
        k = self.crossfit_folds(name, rows)
        n = len(rows) - math.ceil(len(rows) / k)
        return min(n, self.labelled_size) if self.labelled_size else n

    def crossfit_cost(self, names: Sequence[str], rows: Examples) -> float | None:
        """Seconds the cross-fits of ``names`` on ``rows`` are expected to take (None: a trainer's
        throughput is unknown): one fit per fold, each scored on its fold, and the vectors of rows
        the embedding engine has not embedded yet."""
        total = 0.0
        for name in names:
            k = self.crossfit_folds(name, rows)
            n = self.crossfit_train_rows(name, rows)
            if name in CHEAP:
                top = max((p for p in self.points[name] if p.usable), key=lambda p: p.n_train)
                total += k * top.fit_s * max(1.0, n / top.n_train) ** 1.3  # cheap_curve's guess
                if name == "embedding":
                    rate = self.info["embedding"].get("prepare_texts_per_s")
                    eng = self.engine(name)
                    todo = len(eng.uncached(rows.texts)) if hasattr(eng, "uncached") else 0
                    total += todo / rate if rate else (0.0 if not todo else math.inf)
            else:
                one = self.finetune_cost(name, n, score_rows=len(rows) // k)
                if one is None:
                    return None
                total += k * one
        return total

    def crossfit_one(self, name: str, rows: Examples, reserve_s: float) -> CrossFit | None:
        """``name`` trained on all but one fold of ``rows`` (at most the labelled size of them) and
        scored on that fold, fold by fold: every row gets one out-of-fold prediction. None when the
        budget cut a fold short (a partial cross-fit scores some rows only: not used)."""
        from sklearn.model_selection import StratifiedKFold

        from advisor.curves import macro_f1_fn
        from advisor.data import stratified_subsample

        k = self.crossfit_folds(name, rows)
        folds = StratifiedKFold(k, shuffle=True, random_state=self.seed).split(np.zeros(len(rows)), rows.labels)
        y = np.asarray(self.class_ids(rows.labels))
        if name == "embedding":
            self.engine(name).prepare(rows.texts, progress=self.engine_progress(name), cancel=self.cancel)
        pred = np.full(len(rows), -1)
        fit_s: list[float] = []
        n_train = 0
        for i, (train_idx, score_idx) in enumerate(folds):
            self.check()
            train = rows.subset(train_idx.tolist())
            if self.labelled_size and len(train) > self.labelled_size:
                train = stratified_subsample(train, self.labelled_size, seed=self.seed + i)
            report = self.fit(name, train, self.seed + i, budget_s=max(self.clock.left - reserve_s, 1.0),
                              what=f"cross-fit {i + 1}/{k}: ")
            if report.stopped not in CURVE_STOPS:
                self.notes.append(f"cross-fit dropped: {name}'s fold {i + 1} stopped ({report.stopped})")
                return None
            self.record_fit(name, report)
            fit_s.append(report.wall_s)
            n_train = len(train)
            ev = self.engine(name).evaluate(rows.subset(score_idx.tolist()))
            pred[score_idx] = self.class_ids(ev.y_pred)
        self.crossfit_labels = y.tolist()
        fit = CrossFit(approach=name, n_train=n_train, rows=len(rows), folds=k, accuracy=float(np.mean(pred == y)),
                       macro_f1=macro_f1_fn(y, len(self.classes) + 1)(pred, np.arange(len(rows))), fit_s=fit_s,
                       y_pred=pred.tolist())
        self.emit(name, "eval", f"cross-fit: {fit.accuracy:.3f} out of fold on {len(rows)} rows ({k} folds)")
        return fit

    def cheap_crossfit(self, name: str, reserve_s: float) -> None:
        """Truth where it is cheap: ``name`` (TF-IDF, or embeddings + head) cross-validated on every
        labelled row with ``CV_FOLDS`` folds, each fit at (nearly) the labelled size, instead of a
        curve extrapolated from a few hundred held-out rows; when it costs at most ``CV_SHARE`` of
        what is left after ``reserve_s``."""
        if not _setting(self.settings, "crossfit") or not any(p.usable for p in self.points[name]):
            return
        rows = self.crossfit_rows()
        cost = self.crossfit_cost([name], rows)
        left = self.clock.left - reserve_s
        if cost is None or cost * CROSSFIT_SLACK > CV_SHARE * left:
            self.notes.append(f"{name} not cross-validated at full size: it would take ~{cost or 0:.0f}s "
                              f"of the {max(left, 0):.0f}s left")
            return
        self.emit(name, "plan", f"cross-validation on all {len(rows)} labelled rows (~{cost:.0f}s)")
        fit = self.crossfit_one(name, rows, reserve_s)
        if fit is not None:
            self.crossfits[name] = fit

    def crossfit_names(self) -> list[str]:
        """The approaches the last cross-fit stage would cover (those with a curve point and no
        cross-fit yet); empty when it is switched off, cannot judge the decision (no ``settled``)
        or would not leave two approaches with cross-fits to compare."""
        if not _setting(self.settings, "crossfit") or self.settled is None:
            return []
        names = [n for n in self.engines if n not in self.left_out and n not in self.crossfits
                 and any(p.usable for p in self.points[n])]
        return names if names and len(names) + len(self.crossfits) >= 2 else []

    def crossfit_reserve(self) -> float:
        """Seconds to keep for the cross-fit while the trainers' larger sizes are planned (its
        cost with the slack ``cross_fit`` asks for; 0 when it is off or cannot run)."""
        names = self.crossfit_names()
        cost = self.crossfit_cost(names, self.crossfit_rows()) if names else None
        return CROSSFIT_SLACK * cost if cost is not None else 0.0

    def cross_fit(self, reserve_s: float) -> bool:
        """The last stage, when the decision is still open and it fits what is left of the budget:
        cross-fit the approaches that have none yet (the trainers, two folds each; a cheap approach
        whose full-size cross-validation did not fit earlier) on the same rows as the others, so
        that every approach's forecast comes from out-of-fold predictions on every labelled row and
        their differences pair up over all of them. All of the stage or none of it. Returns
        whether it ran."""
        names = self.crossfit_names()
        if not names or self.settled(self.partial_result()):
            return False
        rows = self.crossfit_rows()
        if np.unique(rows.labels, return_counts=True)[1].min() < 2:
            self.notes.append("no cross-fit: a class has fewer than two rows")
            return False
        cost = self.crossfit_cost(names, rows)
        left = self.clock.left - reserve_s
        if cost is None or cost * CROSSFIT_SLACK > left:
            self.notes.append(f"no cross-fit: it would take ~{cost or 0:.0f}s, {left:.0f}s were left")
            return False
        start = self.clock.elapsed
        self.emit("all", "plan", f"cross-fit: {', '.join(names)} on {len(rows)} rows (~{cost:.0f}s)")
        fits: dict[str, CrossFit] = {}
        for name in names:
            fit = self.crossfit_one(name, rows, reserve_s)
            if fit is None:
                return False
            fits[name] = fit
        self.crossfits.update(fits)
        self.notes.append(f"cross-fitted {', '.join(names)} on {len(rows)} rows in "
                          f"{self.clock.elapsed - start:.0f}s, as the decision was still open")
        return True

    def speed(self, name: str) -> None:
        if not self.points[name] or name not in self.instances:
            return
        self.check()
        self.emit(name, "speed", "measuring inference speed")
        texts = list(self.test.texts)
        from engines.metrics import measure_speed

        few = self.clock.budget_s < 150  # quick budgets: fewer texts (the batch size still fills)
        rep = measure_speed(self.instances[name], texts, batch1_texts=8 if few else 32,
                            max_texts=32 if few else int(_setting(self.settings, "speed_texts")))
        b1, bn = rep.batch_sizes
        info = self.info[name]
        info["infer_texts_per_s"] = rep.texts_per_s
        info["latency_ms"] = {
            "p50_b1": rep.latency_ms_p50.get(b1), "p95_b1": rep.latency_ms_p95.get(b1),
            f"p50_b{bn}": rep.latency_ms_p50.get(bn), f"p95_b{bn}": rep.latency_ms_p95.get(bn),
        }
        info["latency_ms"] = {k: float(v) for k, v in info["latency_ms"].items() if v is not None}
        if rep.peak_rss_bytes:
            info["peak_rss_bytes"] = max(info.get("peak_rss_bytes") or 0, rep.peak_rss_bytes)

    # ------------------------------------------------------------- results
    def measurements(self) -> dict[str, ApproachMeasurement]:
        out: dict[str, ApproachMeasurement] = {}
        for name in self.engines:
            if name in self.left_out:
                continue
            info = self.info[name]
            usable = [p for p in self.points[name] if p.usable]
            kw: dict[str, Any] = {}
            if usable and self.test is not None:
                n_max = max(p.n_train for p in usable)
                top = [p for p in usable if p.n_train == n_max]
                kw.update(n_max=n_max, accuracy=float(np.mean([p.accuracy for p in top])),
                          macro_f1=float(np.mean([p.macro_f1 for p in top])),
                          fit_s_at_max=float(np.mean([p.fit_s for p in top])))
                preds = [p.y_pred for p in top if p.y_pred is not None]
                if preds:
                    (al, ah), (fl, fh) = _bootstrap_ci(preds, self.y_test, len(self.classes) + 1, seed=self.seed)
                    kw.update(ci_low=al, ci_high=ah, f1_ci_low=fl, f1_ci_high=fh)
            last = info.get("last_fit")
            out[name] = ApproachMeasurement(
                approach=name, points=list(self.points[name]),
                train_examples_per_s=info.get("train_examples_per_s"),
                train_tokens_per_s=info.get("train_tokens_per_s"),
                tokens_per_example=info.get("tokens_per_example"),
                checkpoint_s_each=info.get("checkpoint_s_each"),
                examples_seen_at_max=last.examples_seen if last else None,
                prepare_texts_per_s=info.get("prepare_texts_per_s"),
                infer_texts_per_s=info.get("infer_texts_per_s"),
                latency_ms=info.get("latency_ms", {}),
                peak_rss_bytes=info.get("peak_rss_bytes"), peak_gpu_bytes=info.get("peak_gpu_bytes"),
                load_s=info.get("load_s"), start_s=info.get("start_s"), device=info.get("device", "cpu"),
                spent_s=float(info.get("spent_s", 0.0)), notes=list(info["notes"]), **kw,
            )
        return out

    def result(self) -> BenchResult:
        """What was measured so far, as the BenchResult the forecasts read."""
        return BenchResult(
            measurements=self.measurements(), classes=self.classes,
            test_size=len(self.test) if self.test is not None else 0,
            pool_size=len(self.pool) if self.pool is not None else 0,
            sample_size=len(self.sample), budget_s=self.clock.budget_s, spent_s=self.clock.elapsed,
            cancelled=self.cancelled, seed=self.seed, notes=list(self.notes),
            test_labels=[int(v) for v in self.y_test] if self.test is not None else None,
            crossfits=dict(self.crossfits), crossfit_labels=self.crossfit_labels, left_out=dict(self.left_out),
            crossfit_test_rows=len(self.test) if self.crossfits and self.test is not None else None,
        )

    def partial_result(self) -> BenchResult:
        """``result()`` for the early-stop check: a fine-tune engine whose inference speed is not
        measured yet borrows the embedding engine's (same encoder), so that it is not judged
        free to serve."""
        res = self.result()
        for name, m in res.measurements.items():
            borrowed = self.embedding_speed_for(name)
            if not m.latency_ms and borrowed:
                res.measurements[name] = m.model_copy(update=borrowed)
        return res

    def embedding_speed_for(self, name: str) -> dict[str, Any] | None:
        """The embedding engine's measured inference speed, for a fine-tune engine on the same
        encoder (its classifier runs the same forward pass); None when that does not apply."""
        emb = self.info.get("embedding", {})
        same_encoder = self.config_value(name, "model", None) == self.config_value("embedding", "model", "")
        if name in ("tfidf", "embedding") or not same_encoder or not emb.get("latency_ms"):
            return None
        return {"latency_ms": dict(emb["latency_ms"]), "infer_texts_per_s": emb.get("infer_texts_per_s")}

    def lora_left_out(self) -> bool:
        """Whether LoRA is left out: full fine-tuning was measured here (so it fits in memory), and a
        short LoRA probe shows that LoRA's full run, though faster, would not be worth
        ``LORA_DEFICIT`` of the goals' metric under their weights (``time_worth``). Then LoRA cannot
        win where it trails full fine-tuning by that much, and benchmarking it would only spend the
        budget and leave the call open. The reason, with both forecast times, goes to the advice."""
        full = self.info.get("finetune", {}).get("train_examples_per_s")
        if "finetune" not in self.engines or not full or not any(p.usable for p in self.points["finetune"]):
            return False
        if self.clock.left < LORA_PROBE_S + 5.0:
            self.left_out["lora"] = ("LoRA left out: no budget was left to measure it after full fine-tuning, "
                                     "which fits in memory here")
            return True
        cheap, _ = self.finetune_sizes("lora")
        sub = _nested(self.pool, [max(cheap)], self.seed)[0]
        self.emit("lora", "plan", f"a {LORA_PROBE_S:.0f}s probe: can LoRA's speed pay for its accuracy here?")
        start = self.clock.elapsed
        report = self.fit("lora", sub, self.seed, budget_s=LORA_PROBE_S, what="speed probe: ")
        self.info["lora"]["spent_s"] = self.clock.elapsed - start
        rate = report.train_examples_per_s
        if rate is None:
            return False
        n = self.labelled_size or len(self.sample)
        t_lora = self.finetune_examples("lora", n) / rate
        t_full = self.finetune_examples("finetune", n) / full
        worth = self.time_worth(t_lora, t_full) if self.time_worth else math.inf
        if worth >= LORA_DEFICIT:
            self.record_fit("lora", report)  # its throughput plans the LoRA points
            return False
        self.left_out["lora"] = (
            f"LoRA left out: full fine-tuning fits in memory here, and LoRA's full run (~{t_lora:.0f}s of training "
            f"at {rate:.1f} examples/s, measured) against full fine-tuning's (~{t_full:.0f}s at {full:.1f}) is worth "
            f"{100 * worth:.2f} points of your metric under your goals' weights: less than the "
            f"{100 * LORA_DEFICIT:.0f} point LoRA is taken to trail full fine-tuning by (docs/CALIBRATION.md compares "
            "full runs of both), so it cannot win here")
        return True

    def plan_trainers(self, embed_rate: float | None) -> float:
        """Seconds kept for the fine-tune engines: their first point (and LoRA's speed probe) when
        that is affordable, with a margin, cost estimated from embedding speed; else a short
        throughput probe each. The first fine-tune point is what a call between fine-tuning and the
        rest turns on: the cheap approaches get what is left around it."""
        trainers = [e for e in self.engines if e not in CHEAP]
        if not trainers:
            return 0.0
        budget = self.clock.left  # the start-ups are paid
        probe = min(20.0, 0.2 * budget) * len(trainers)
        if not embed_rate:
            return min(0.5 * budget, max(probe, 0.3 * budget))
        rate = embed_rate / TRAIN_VS_INFER_COST
        test_rows = min(self.test_size(), TEST_SHARE * len(self.sample))
        first = trainers[0]
        one = self.finetune_examples(first, 0) / rate + test_rows / embed_rate
        if "lora" in trainers and first != "lora":
            one += LORA_PROBE_S
        if 1.15 * one <= 0.8 * budget:
            return min(0.8 * budget, max(1.15 * one, min(0.65 * budget, 2.5 * one)))
        return probe

    def run(self) -> None:
        for name in self.engines:
            self.start_up(name)
        rate = self.probe_embedding()
        self.check()
        self.trainer_reserve = self.plan_trainers(rate)
        test_n, pool_n = self.plan_split(rate)
        self.split(test_n, pool_n)
        full_pool = self.pool
        trainers = [e for e in self.engines if e not in ("tfidf", "embedding")]
        reserve = self.trainer_reserve
        if "tfidf" in self.engines:
            self.pool = self.cheap_pool
            # At least 8 % of the budget: a TF-IDF point near the labelled size costs seconds
            # and removes most of its extrapolation.
            self.cheap_curve("tfidf", SHARE["tfidf"] if len(self.engines) > 1 else 1.0, reserve_s=reserve,
                             floor_s=0.08 * self.clock.budget_s)
            self.speed("tfidf")
            self.cheap_crossfit("tfidf", reserve_s=reserve)
            self.pool = full_pool
        if "embedding" in self.engines:
            rate = self.info["embedding"].get("prepare_texts_per_s") or rate
            speed_s = (8 + 2 * 32) / rate + 1 if rate else 5.0
            self.prepare_embeddings(SHARE["embedding_prepare"] if trainers else 0.8, reserve_s=reserve + speed_s)
            cut = self.info["embedding"].get("pool")
            if cut:
                self.pool = Examples(texts=full_pool.texts[:cut], labels=full_pool.labels[:cut])
            # Not all of what is left: its cross-validation at full size is worth more than more seeds.
            share = 0.6 if _setting(self.settings, "crossfit") else 1.0
            self.cheap_curve("embedding", share, reserve_s=reserve + speed_s)
            self.speed("embedding")
            self.cheap_crossfit("embedding", reserve_s=reserve)
            self.pool = full_pool
        # Fine-tuning needs no embedding either: its points may climb to the labelled size.
        self.pool = self.cheap_pool
        for i, name in enumerate(trainers):
            if name == "lora" and self.lora_left_out():
                continue
            # Leave time for this engine's speed measurement and the later engines.
            later = len(trainers) - i - 1
            share = SHARE["finetune"] if later else 1.0
            self.finetune_curve(name, share, reserve_s=min(10.0, self.clock.left * 0.1))
            borrowed = self.embedding_speed_for(name)
            if self.clock.left < 5.0 and borrowed:
                # Out of budget: a fine-tuned classifier runs the same encoder forward pass.
                self.info[name].update(borrowed)
                self.info[name]["notes"].append("inference speed taken from the embedding engine "
                                                "(same encoder; not measured separately to stay in budget)")
            else:
                self.speed(name)
        trainers = [t for t in trainers if t not in self.left_out]
        reserve = min(10.0, self.clock.left * 0.1)
        if not self.cross_fit(reserve_s=reserve):  # it draws its rows from the sample, not the pool
            self.top_up(trainers, reserve_s=reserve)
        self.pool = full_pool
        self.emit("all", "done", f"benchmarks done in {self.clock.elapsed:.0f}s")


def run_benchmarks(
    sample: Examples,
    *,
    engines: Sequence[str] = ("tfidf", "embedding", "finetune"),
    configs: dict[str, BaseModel | dict[str, Any] | None] | None = None,
    settings: Any = None,
    budget_s: float = 90.0,
    labelled_size: int | None = None,
    seed: int = 0,
    progress: BenchProgress | None = None,
    cancel: threading.Event | None = None,
    settled: Callable[[BenchResult], bool] | None = None,
    time_worth: Callable[[float, float], float] | None = None,
) -> BenchResult:
    """Benchmark ``engines`` on ``sample`` within ``budget_s`` seconds.

    ``settings`` is a profile's BenchSettings (missing fields fall back to ``DEFAULTS``);
    ``configs`` maps engine name → its config; ``labelled_size`` caps the training pool;
    ``settled(partial_result)`` may end fine-tune points early once the decision is clear;
    ``time_worth(faster_s, slower_s)`` says how many points of the goals' metric a full run taking
    ``faster_s`` instead of ``slower_s`` is worth (None: LoRA is benchmarked whenever asked for).
    """
    runner = _Runner(sample, engines=engines, configs=configs or {}, settings=settings, budget_s=budget_s,
                     labelled_size=labelled_size, seed=seed, progress=progress, cancel=cancel, settled=settled,
                     time_worth=time_worth)
    try:
        runner.run()
    except (_Stop, KeyboardInterrupt):
        runner.cancelled = True
        runner.notes.append(f"cancelled after {runner.clock.elapsed:.0f}s: results are what was measured so far")
        runner.emit("all", "done", "cancelled")
    return runner.result()
