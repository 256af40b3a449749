"""One benchmark run's state and plumbing: the clock, progress events, cancellation (a
``threading.Event``), engine instances and their capability flags, and the split. The fits
(``fits``) and the stages (``cheap``, ``trainers``, ``crossfits``) act on a Session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from advisor.measure import plan
from advisor.measure.records import BenchEvent, BenchProgress, BenchResult, CrossFit, CurvePoint, Tally
from engines.base import Engine, Examples, ProgressEvent, get_engine


class Clock:
    """Seconds since the run began and seconds left of its budget."""

    def __init__(self, budget_s: float) -> None:
        self.t0 = time.perf_counter()
        self.budget_s = float(budget_s)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def left(self) -> float:
        return max(0.0, self.budget_s - self.elapsed)


class Stop(Exception):
    """Internal: cancelled."""


def nested(pool: Examples, sizes: list[int], seed: int) -> list[Examples]:
    """Nested stratified subsets of ``pool`` at ``sizes`` (each contains the smaller ones)."""
    from advisor.data.labelled import nested_subsets

    return list(nested_subsets(pool, sizes, seed=seed))


def bench_engine(cls: type[Engine], config: Any, **overrides: Any) -> Engine:
    """``cls`` built as the benchmark builds it from ``config`` (a config model, its fields as a
    dict, or None): a resumable engine writes one checkpoint (the final one) per fit, so its cost is
    measured and the full run's count of them is known from its steps. ``overrides`` replace those of
    its settings that its config has (e.g. a short probe's ``max_steps``)."""
    fields = getattr(cls.config_cls, "model_fields", {})
    changes = {k: v for k, v in overrides.items() if k in fields}
    if cls.supports_resume:
        changes["checkpoint_every_steps"] = plan.BENCH_CHECKPOINT_EVERY
    if changes:
        base = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
        config = cls.config_cls(**{**base, **changes})
    return cls(config)


class Session:
    """The state a benchmark run shares between its stages, and the plumbing they all use."""

    def __init__(
        self,
        sample: Examples,
        *,
        engines: Sequence[str],
        configs: Mapping[str, Any],
        settings: Any,
        budget_s: float,
        labelled_size: int | None,
        seed: int,
        progress: BenchProgress | None,
        cancel: threading.Event | None,
        settled: Callable[[BenchResult], bool] | None,
        time_worth: Callable[[float, float], float] | None = None,
    ) -> None:
        self.sample = sample
        self.engines = list(engines)
        self.configs = configs
        self.settings = settings
        self.clock = Clock(budget_s)
        self.labelled_size = labelled_size
        self.seed = seed
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.settled = settled
        self.time_worth = time_worth
        self.classes = sample.classes
        self.class_id = {c: i for i, c in enumerate(self.classes)}
        self.points: dict[str, list[CurvePoint]] = {e: [] for e in self.engines}
        self.tally: dict[str, Tally] = {e: Tally() for e in self.engines}
        self.instances: dict[str, Engine] = {}
        self._kinds: dict[str, type[Engine]] = {}
        self.notes: list[str] = []
        self.test: Examples | None = None
        self.y_test = np.zeros(0, dtype=int)
        self.pool: Examples | None = None  # the training pool the embedding stage may embed
        self.cheap_pool: Examples | None = None  # the labelled rows TF-IDF and the trainers draw from
        self.stage_pool: Examples | None = None  # the pool the running stage draws from (reported as pool_size)
        self.probed: set[str] = set()
        self.cancelled = False
        self.trainer_reserve = 0.0
        self.crossfits: dict[str, CrossFit] = {}
        self.crossfit_labels: list[int] | None = None
        self.crossfit_rows_cache: Examples | None = None
        self.left_out: dict[str, str] = {}
        self.remembered: dict[str, tuple[float, float, str]] = {}  # start-ups read from disk: (s, at, file)
        # Embedding texts/s ÷ training examples/s: plans the first fine-tune point before one is measured
        # (this machine's own when remembered, with when it was measured: ``train_speed.recall``).
        self.train_vs_infer = plan.TRAIN_VS_INFER_COST
        self.train_vs_infer_at: float | None = None

    # ------------------------------------------------------------ engines
    def kind(self, name: str) -> type[Engine]:
        """The engine class behind ``name``: its capability flags answer what the stages ask."""
        if name not in self._kinds:
            self._kinds[name] = get_engine(name)
        return self._kinds[name]

    def engine(self, name: str) -> Any:
        if name not in self.instances:
            self.instances[name] = bench_engine(self.kind(name), self.configs.get(name))
        return self.instances[name]

    def trainers(self) -> list[str]:
        """Engines whose fits are not cheap (they train a model for minutes), in the order asked."""
        return [e for e in self.engines if not self.kind(e).cheap_fits]

    @property
    def embedder(self) -> str | None:
        """The engine that caches vectors (embeddings), whose speed plans the others; None if none ran."""
        return next((e for e in self.engines if self.kind(e).caches_vectors), None)

    def embed_rate(self) -> float | None:
        """Texts/s the vector-caching engine embedded at (None: not measured)."""
        tally = self.tally.get(self.embedder) if self.embedder else None
        return tally.prepare_texts_per_s if tally else None

    def config_value(self, name: str, key: str, default: Any) -> Any:
        return plan.config_get(self.configs.get(name), key, default)

    # ------------------------------------------------------------ the split's parts
    # ``test``, ``pool`` and ``cheap_pool`` are None until ``split``; the stages after it read them here.
    @property
    def split_test(self) -> Examples:
        """The held-out test part (``split`` has run)."""
        if self.test is None:
            raise RuntimeError("no test part before Session.split()")
        return self.test

    @property
    def split_pool(self) -> Examples:
        """The training pool the embedding stage may embed (``split`` has run)."""
        if self.pool is None:
            raise RuntimeError("no training pool before Session.split()")
        return self.pool

    @property
    def split_cheap_pool(self) -> Examples:
        """The labelled rows TF-IDF and the trainers draw from (``split`` has run)."""
        if self.cheap_pool is None:
            raise RuntimeError("no cheap pool before Session.split()")
        return self.cheap_pool

    # ------------------------------------------------------------ plumbing
    def emit(
        self,
        approach: str,
        phase: str,
        message: str = "",
        done: int = 0,
        total: int | None = None,
        point: CurvePoint | None = None,
    ) -> None:
        if self.progress is None:
            return
        self.progress(
            BenchEvent(
                approach=approach,
                phase=phase,
                done=done,
                total=total,
                message=message,
                elapsed_s=round(self.clock.elapsed, 2),
                budget_s=self.clock.budget_s,
                point=point,
            )
        )

    def check(self) -> None:
        if self.cancel.is_set():
            raise Stop

    def relay(self, name: str) -> Callable[[ProgressEvent], None]:
        """A progress callback for engine ``name`` that forwards its events as BenchEvents."""

        def relay(ev: ProgressEvent) -> None:
            self.emit(name, ev.phase, ev.message, ev.done, ev.total)

        return relay

    def class_ids(self, labels: Sequence[str]) -> list[int]:
        """Class ids of predicted labels; a label the sample never had gets one id past the classes."""
        return [self.class_id.get(y, len(self.classes)) for y in labels]

    def split(self, test_n: int, pool_n: int) -> None:
        """Hold out ``test_n`` rows (never trained on); the pool of ``pool_n`` and the cheap pool."""
        from advisor.data.labelled import stratified_split, stratified_subsample

        train, test = stratified_split(self.sample, test_size=test_n, seed=self.seed)
        # TF-IDF needs no embedding: its curve may climb to the labelled size (the sample permitting).
        cheap = train
        if self.labelled_size and self.labelled_size < len(train):
            cheap = stratified_subsample(train, self.labelled_size, seed=self.seed)
        self.cheap_pool = cheap
        if pool_n < len(train):
            train = stratified_subsample(train, pool_n, seed=self.seed)
        self.pool = self.stage_pool = train
        self.test = test
        self.y_test = np.asarray([self.class_id[y] for y in test.labels])
        self.emit("all", "plan", f"test part {len(test)} rows (never trained on), training pool {len(train)}")
