"""Micro-benchmarks: each approach's engine on nested subsets of a sample, within a budget
(``run_benchmarks``), and the records they return. ``plan`` is the budget arithmetic, ``records``
the results; ``session``, the stages and ``runner`` run it (``runner.run`` says how)."""

from advisor.measure.plan import (
    TEST_SHARE,
    TRAIN_VS_INFER_COST,
    config_get,
    finetune_steps,
    planned_test_rows,
    valid_share,
    wanted_test_rows,
)
from advisor.measure.records import ApproachMeasurement, BenchEvent, BenchProgress, BenchResult, CrossFit, CurvePoint
from advisor.measure.runner import run_benchmarks

__all__ = [
    "TEST_SHARE",
    "TRAIN_VS_INFER_COST",
    "ApproachMeasurement",
    "BenchEvent",
    "BenchProgress",
    "BenchResult",
    "CrossFit",
    "CurvePoint",
    "config_get",
    "finetune_steps",
    "planned_test_rows",
    "run_benchmarks",
    "valid_share",
    "wanted_test_rows",
]
