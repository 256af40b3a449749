"""Micro-benchmarks: run each approach's engine on nested subsets of a sample, within a budget.

The same engine code a full run uses is fitted on nested, stratified subsets of a
training pool and scored on ONE held-out test part that no engine ever trains on.
The budget is spent where it buys the most: TF-IDF and the frozen-embedding head are
cheap (many sizes × seeds, embeddings cached once by ``prepare``); fine-tuning gets the
largest sizes it can afford, each with the full run's minimum-steps recipe, planned
from measured throughput. A fine-tune point that cannot finish inside the budget is
still run briefly as a throughput probe (time and memory forecasts need it), but it is
never used as a learning-curve point.

Modules: ``plan`` (pure budget arithmetic), ``records`` (typed results), ``session`` (a run's
state and single fits), ``probes``, ``cheap``, ``trainers``, ``crossfits`` (the stages),
``results`` and ``runner`` (the order of stages and ``run_benchmarks``).
"""

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
    "TEST_SHARE", "TRAIN_VS_INFER_COST", "ApproachMeasurement", "BenchEvent", "BenchProgress", "BenchResult",
    "CrossFit", "CurvePoint", "config_get", "finetune_steps", "planned_test_rows", "run_benchmarks",
    "valid_share", "wanted_test_rows",
]
