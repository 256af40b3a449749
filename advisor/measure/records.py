"""Typed records of the micro-benchmark: its points, per-approach measurements, cross-fits,
result and progress events (frozen, they cross into forecasts, the CLI and the TUI), and the
``Tally`` a run keeps per engine while it measures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import Field

from engines.base import FitReport, Record


class CurvePoint(Record):
    """One learning-curve point: an approach trained on ``n_train`` examples (one seed), scored on the test part."""

    approach: str = Field(description="Engine name.")
    n_train: int = Field(description="Training examples given to fit.")
    seed: int = Field(description="Seed of the nested subset (and the engine).")
    accuracy: float | None = Field(description="Accuracy on the held-out test part (None: not scored, a probe).")
    macro_f1: float | None = Field(description="Macro-F1 on the held-out test part.")
    fit_s: float = Field(description="Wall seconds of fit.")
    stopped: str = Field(
        "completed", description="Why fit ended; only completed/early_stopping points enter the curve."
    )
    steps: int = Field(0, description="Optimizer steps (fine-tuning).")
    best_step: int | None = Field(None, description="Step of the best validation score (fine-tuning).")
    usable: bool = Field(True, description="Whether the point enters the learning curve.")
    planned_steps: int | None = Field(
        None,
        description="The recipe's steps when the budget stopped this fit short but late enough to score it "
        "(at least PARTIAL_MIN of them); None: it ran in full.",
    )
    y_pred: list[int] | None = Field(
        None, exclude=True, description="Predicted class ids on the test part (bootstrap)."
    )


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
        None, description="Seconds to write one resumable checkpoint (fine-tuning)."
    )
    examples_seen_at_max: int | None = None
    prepare_texts_per_s: float | None = Field(None, description="Embedding throughput while caching vectors.")
    infer_texts_per_s: float | None = Field(None, description="Inference throughput at the large batch.")
    latency_ms: dict[str, float] = Field(
        default_factory=dict, description="p50_b1, p95_b1, p50_bN, p95_bN: ms per text."
    )
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    load_s: float | None = Field(None, description="Warm-up (imports, model load) in the benchmark's process, seconds.")
    start_s: float | None = Field(
        None, description="The same warm-up timed in a new process: the start-up a full run pays, seconds."
    )
    device: str = "cpu"
    spent_s: float = Field(0.0, description="Benchmark seconds spent on this approach.")
    notes: list[str] = Field(default_factory=list)
    unmeasured: str | None = Field(
        None, description="Why no usable point was measured, as the benchmark saw it (None: one was, or no reason)."
    )


class CrossFit(Record):
    """Two-fold cross-fit of one approach: trained on one stratified half of the cross-fit rows and
    scored on the other, both ways, so that every one of those rows gets one prediction from a
    model that never saw it."""

    approach: str
    n_train: int = Field(
        description="Rows each fold's fit trained on (the rows outside its fold, at most the labelled size)."
    )
    folds: int = Field(2, description="Folds: each fit trained on all but one, scored on that one.")
    rows: int = Field(description="Rows scored out of fold: every cross-fit row, once.")
    accuracy: float = Field(description="Out-of-fold accuracy over all the rows.")
    macro_f1: float = Field(description="Out-of-fold macro-F1 over all the rows.")
    fit_s: list[float] = Field(default_factory=list, description="Wall seconds of each fold's fit.")
    y_pred: list[int] | None = Field(None, exclude=True, description="Out-of-fold class ids, row by row (bootstrap).")


class BenchResult(Record):
    """Everything the micro-benchmark measured: what the forecasts, the advice and the report read."""

    measurements: dict[str, ApproachMeasurement] = Field(default_factory=dict)
    crossfits: dict[str, CrossFit] = Field(
        default_factory=dict,
        description="Cross-fits on the sample (the last stage, when the budget allowed it); "
        "every approach with a forecast or none.",
    )
    crossfit_labels: list[int] | None = Field(None, exclude=True, description="Cross-fit rows' class ids.")
    crossfit_test_rows: int | None = Field(
        None,
        description="The first this many cross-fit rows are the test part, in its order (so a cross-fit "
        "pairs with curves scored there); None: cross-fit rows drawn otherwise (older benchmarks).",
    )
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
        default_factory=dict,
        description="Approaches asked for but left out because they cannot win on this "
        "machine (e.g. LoRA where full fine-tuning fits and LoRA is not much faster), with the one-line reason.",
    )
    train_vs_infer: float | None = Field(
        None,
        description="This machine's embedding ÷ training speed, remembered from an earlier measurement, that "
        "the plan used; None: the assumed plan.TRAIN_VS_INFER_COST.",
    )
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


@dataclass
class Tally:
    """What a run has measured of one engine so far (mutable while it runs; ``results`` turns it
    into an ``ApproachMeasurement``)."""

    notes: list[str] = field(default_factory=list)
    start_s: float | None = None  # warm-up timed in a new process
    load_s: float | None = None  # warm-up in the benchmark's process
    prepare_texts_per_s: float | None = None  # embedding rate while caching vectors
    prepare_s: float | None = None  # seconds of the load probe
    infer_texts_per_s: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    rate_steps: int = -1  # steps of the fit the throughput comes from (the longest so far)
    train_examples_per_s: float | None = None
    train_tokens_per_s: float | None = None
    tokens_per_example: float | None = None
    checkpoint_s_each: float | None = None
    device: str = "cpu"
    last_fit: FitReport | None = None
    spent_s: float = 0.0
    pool_cut: int | None = None  # rows of the pool embedded when the budget cut it short
    unmeasured: str | None = None  # why no usable point was measured
