"""Forecasts: time from throughput, memory rule, hardware what-if, quality from curves."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.bench import ApproachMeasurement, BenchResult, CurvePoint
from advisor.forecast import (
    finetune_steps,
    forecast_all,
    hardware_forecast,
    shape_from_config,
    training_memory_bytes,
)
from advisor.hardware import get_hardware
from engines.config import FinetuneConfig
from engines.errors import ConfigError

MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
          "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}


def test_shape_matches_minilm_parameter_count():
    shape = shape_from_config(MINILM)
    assert shape.params == pytest.approx(22.7e6, rel=0.02)


def test_finetune_steps_honour_min_steps():
    cfg = FinetuneConfig()
    assert finetune_steps(cfg, 100) == (150, 16)
    assert finetune_steps(cfg, 10_000) == (1125, 16)  # 2 epochs × 9,000 / 16


def test_memory_rule_full_vs_lora():
    shape = shape_from_config(MINILM)
    full = training_memory_bytes(shape, "finetune", 16, 128)
    lora = training_memory_bytes(shape, "lora", 16, 128)
    assert full > lora > 4 * shape.params
    assert full >= 16 * shape.params


def _measurement(approach, rate=20.0, points=()):
    return ApproachMeasurement(approach=approach, points=list(points), train_examples_per_s=rate,
                               tokens_per_example=25.0, load_s=2.0, peak_rss_bytes=1_500_000_000,
                               latency_ms={"p50_b1": 10.0, "p50_b32": 3.0})


def test_time_forecast_from_throughput():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).tolist()
    pts = []
    for n, acc in [(200, 0.70), (400, 0.74)]:
        pred = [t if rng.random() < acc else 1 - t for t in y]
        pts.append(CurvePoint(approach="finetune", n_train=n, seed=0, accuracy=float(np.mean(np.array(pred) == y)),
                              macro_f1=0.7, fit_s=120, y_pred=pred))
    bench = BenchResult(measurements={"finetune": _measurement("finetune", points=pts)}, classes=["a", "b"],
                        test_size=300, test_labels=y)
    cfg = FinetuneConfig()
    f = forecast_all(bench, n_target=3000, configs={"finetune": cfg})["finetune"]
    steps, batch = finetune_steps(cfg, 3000)
    expected_train = steps * batch / 20.0
    assert expected_train + 2 <= f.train_time_s <= expected_train * 1.2 + 2
    assert f.train_time_low_s < f.train_time_s < f.train_time_high_s
    assert f.flagged and f.method == "flat-fallback"  # two sizes only
    assert f.value is not None and f.low <= f.value <= f.high
    assert f.high >= 0.74  # the rising two-point slope is in the upper end
    assert f.infer_ms_per_text == 10.0 and f.infer_ms_per_text_batch == 3.0


def test_unmeasured_approach_has_no_value():
    bench = BenchResult(measurements={"finetune": _measurement("finetune", rate=None)}, classes=["a", "b"])
    f = forecast_all(bench, n_target=1000, configs={"finetune": FinetuneConfig()})["finetune"]
    assert f.value is None and f.flagged and f.method == "none"


def test_hardware_what_if_scales_by_flops():
    shape = shape_from_config(MINILM)
    m = _measurement("finetune")
    cfg = FinetuneConfig()
    t4 = hardware_forecast(m, get_hardware("t4"), shape, 10_000, cfg, predictions_per_day=10_000)
    h100 = hardware_forecast(m, get_hardware("H100"), shape, 10_000, cfg, predictions_per_day=10_000)
    assert t4.fits and h100.fits
    assert h100.train_time_s < t4.train_time_s
    steps, batch = finetune_steps(cfg, 10_000)
    flops = 6 * shape.params * 25 * steps * batch
    assert t4.train_time_s >= flops / (65e12 * 0.25)
    assert t4.train_cost == pytest.approx(t4.train_time_s / 3600 * 0.35)
    assert any("TFLOPS" in a for a in t4.assumptions)
    with pytest.raises(ConfigError):
        get_hardware("abacus")
