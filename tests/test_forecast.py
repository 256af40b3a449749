"""Forecasts: time from throughput, memory rule, hardware what-if, quality from curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.forecast.accuracy import forecast_all
from advisor.forecast.hardware import (
    LAYER_PASS_OVERHEAD_MS,
    TRAIN_PASSES_PER_STEP,
    early_stop_steps,
    hardware_forecast,
    shape_from_config,
    training_memory_bytes,
)
from advisor.forecast.hardware_profiles import get_hardware
from advisor.measure import ApproachMeasurement, BenchResult, CurvePoint, finetune_steps
from engines.config import FinetuneConfig
from engines.errors import ConfigError

MINILM = {
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}

# The recipe with early stopping on (the default before the recipe grid): the arithmetic these tests check.
ES_RECIPE = {"epochs": 2.0, "learning_rate": 5e-5, "early_stopping_patience": 3}


def test_shape_matches_minilm_parameter_count():
    shape = shape_from_config(MINILM)
    assert shape.params == pytest.approx(22.7e6, rel=0.02)


def test_finetune_steps_honour_min_steps():
    cfg = FinetuneConfig(**ES_RECIPE)
    assert finetune_steps(cfg, 100) == (150, 16)
    assert finetune_steps(cfg, 10_000) == (1126, 16)  # 2 epochs × 563 batches (9,000 rows, length-grouped)


def test_memory_rule_full_vs_lora():
    shape = shape_from_config(MINILM)
    full = training_memory_bytes(shape, "finetune", 16, 128)
    lora = training_memory_bytes(shape, "lora", 16, 128)
    assert full > lora > 4 * shape.params
    assert full >= 16 * shape.params


def _measurement(approach, rate=20.0, points=()):
    return ApproachMeasurement(
        approach=approach,
        points=list(points),
        train_examples_per_s=rate,
        tokens_per_example=25.0,
        load_s=2.0,
        peak_rss_bytes=1_500_000_000,
        latency_ms={"p50_b1": 10.0, "p50_b32": 3.0},
    )


def test_time_forecast_from_throughput():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).tolist()
    pts = []
    for n, acc in [(200, 0.70), (400, 0.74)]:
        pred = [t if rng.random() < acc else 1 - t for t in y]
        pts.append(
            CurvePoint(
                approach="finetune",
                n_train=n,
                seed=0,
                accuracy=float(np.mean(np.array(pred) == y)),
                macro_f1=0.7,
                fit_s=120,
                y_pred=pred,
            )
        )
    bench = BenchResult(
        measurements={"finetune": _measurement("finetune", points=pts)},
        classes=["a", "b"],
        test_size=300,
        test_labels=y,
    )
    cfg = FinetuneConfig(**ES_RECIPE)
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
    f = forecast_all(bench, n_target=1000, configs={"finetune": FinetuneConfig(**ES_RECIPE)})["finetune"]
    assert f.value is None and f.flagged and f.method == "none"
    assert f.flag_reason == "not measured: no completed training run within this budget"
    # Why it was not measured is the benchmark's own record, not whatever notes it has (a remembered start-up).
    m = _measurement("finetune", rate=None).model_copy(
        update={"notes": ["start-up 6.5s in a new process, remembered"], "unmeasured": "no fine-tune point fits"}
    )
    bench = BenchResult(measurements={"finetune": m}, classes=["a", "b"])
    f = forecast_all(bench, n_target=1000, configs={"finetune": FinetuneConfig(**ES_RECIPE)})["finetune"]
    assert f.flag_reason == "not measured: no fine-tune point fits"


def test_hardware_what_if_scales_by_flops():
    shape = shape_from_config(MINILM)
    m = _measurement("finetune")
    cfg = FinetuneConfig(**ES_RECIPE)
    t4 = hardware_forecast(m, get_hardware("t4"), shape, 10_000, cfg, predictions_per_day=10_000)
    h100 = hardware_forecast(m, get_hardware("H100"), shape, 10_000, cfg, predictions_per_day=10_000)
    assert t4.fits and h100.fits
    steps, batch = finetune_steps(cfg, 10_000)
    flops = 6 * shape.params * 25 * steps * batch
    assert t4.train_time_s >= flops / (65e12 * 0.25)
    # MiniLM-L6 is bound by the host-side cost of its 6 layers on both GPUs, not by FLOPs:
    # the same time on a T4 and an H100 (what was measured: a small model does not use an H100).
    floor = steps * TRAIN_PASSES_PER_STEP * shape.layers * LAYER_PASS_OVERHEAD_MS / 1000
    assert h100.train_time_s == pytest.approx(floor) and t4.train_time_s == pytest.approx(floor)
    assert h100.infer_ms_per_text == pytest.approx(shape.layers * LAYER_PASS_OVERHEAD_MS)
    # A large model on long texts is bound by FLOPs on a T4: the faster GPU is faster.
    large = shape.model_copy(update={"params": 335_000_000, "layers": 24, "hidden": 1024, "heads": 16})
    long_texts = m.model_copy(update={"tokens_per_example": 256.0})
    t4_l = hardware_forecast(long_texts, get_hardware("t4"), large, 10_000, cfg, predictions_per_day=10_000)
    h100_l = hardware_forecast(long_texts, get_hardware("h100"), large, 10_000, cfg, predictions_per_day=10_000)
    assert h100_l.train_time_s < t4_l.train_time_s
    assert t4_l.train_time_s == pytest.approx(6 * large.params * 256 * steps * batch / (65e12 * 0.25))
    assert t4.train_cost == pytest.approx(t4.train_time_s / 3600 * 0.35)
    assert any("TFLOPS" in a for a in t4.assumptions)
    with pytest.raises(ConfigError):
        get_hardware("abacus")


@pytest.mark.parametrize(
    ("name", "memory", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", None, "h100"),
        ("NVIDIA H200", None, "h200"),
        ("NVIDIA A100-SXM4-80GB", None, "a100-80gb"),
        ("NVIDIA A100-PCIE-40GB", 42_000_000_000, "a100-40gb"),
        ("NVIDIA A100-SXM4", 85_000_000_000, "a100-80gb"),
        ("NVIDIA A10G", None, "a10"),
        ("NVIDIA L4", None, "l4"),
        ("Tesla T4", None, "t4"),
        ("NVIDIA L40S", None, None),
        ("NVIDIA GeForce RTX 4090", None, None),
    ],
)
def test_match_hardware_names_the_profile_of_an_nvml_gpu_name(name, memory, expected):
    from advisor.forecast.hardware_profiles import match_hardware

    found = match_hardware(name, memory)
    assert (found.name if found else None) == expected


def test_flat_fine_tune_forecast_borrows_the_embedding_curve_gain():
    from advisor.forecast.accuracy import Forecast, borrow_gain

    proj = [(n, 0.60 + 0.02 * math.log(n)) for n in (100, 200, 400, 800, 1600, 3200, 6400)]
    emb = Forecast(
        approach="embedding",
        n_target=3200,
        metric="accuracy",
        value=proj[5][1],
        low=0.7,
        high=0.8,
        method="log-linear",
        projection=proj,
    )
    ft = Forecast(
        approach="finetune",
        n_target=3200,
        metric="accuracy",
        value=0.75,
        low=0.72,
        high=0.78,
        method="flat-fallback",
        flagged=True,
        flag_reason="only 1 training size(s) measured",
        n_max_measured=800,
    )
    out = borrow_gain(ft, emb)
    gain = 0.02 * math.log(3200 / 800)
    assert out.value == pytest.approx(0.75 + gain)
    # The upper end: twice the gain, or (here larger) 3 points for each of the 2 doublings.
    assert out.high == pytest.approx(0.75 + max(2 * gain, 0.06)) and out.low == 0.72
    assert out.flagged and "borrowed" in out.flag_reason and out.method.startswith("flat")
    # Nothing to borrow from a flat donor, or when the target is within the measured range.
    assert borrow_gain(ft, emb.model_copy(update={"method": "flat-fallback"})) == ft
    within = ft.model_copy(update={"n_target": 800})
    assert borrow_gain(within, emb) == within


def test_early_stop_steps_one_epoch_plus_patience_capped_by_the_recipe():
    cfg = FinetuneConfig(**ES_RECIPE)  # batch 16, 2 epochs, min 150 steps, 10 % validation, patience 3 × 50 steps
    assert early_stop_steps(cfg, 10_000) == math.ceil(9000 / 16) + 150  # 713 of the recipe's 1,125
    assert early_stop_steps(cfg, 1000) == finetune_steps(cfg, 1000)[0] == 150  # min_steps: no early end
    assert (
        early_stop_steps(FinetuneConfig(epochs=2.0, early_stopping_patience=0), 10_000) == 1250
    )  # no validation split


def test_early_stop_steps_scale_a_measured_peak_by_root_n():
    cfg = FinetuneConfig(**ES_RECIPE)
    # A 2,500-row benchmark fit peaked at step 200: at 10,000 rows the peak is taken at 200·√4 = 400.
    assert early_stop_steps(cfg, 10_000, (2500, 200)) == 400 + 150
    # Never beyond the recipe, never under min_steps.
    assert early_stop_steps(cfg, 10_000, (100, 5000)) == finetune_steps(cfg, 10_000)[0]
    assert early_stop_steps(FinetuneConfig(epochs=2.0, early_stopping_patience=1), 10_000, (10_000, 10)) == 150
    assert early_stop_steps(cfg, 3000, (3000, 1)) == 151


def test_only_an_early_stopped_largest_point_gives_a_measured_peak():
    from advisor.forecast.hardware import measured_peak
    from advisor.measure import ApproachMeasurement, CurvePoint

    def pt(n: int, stopped: str, best: int | None) -> CurvePoint:
        return CurvePoint(
            approach="finetune",
            n_train=n,
            seed=0,
            accuracy=0.8,
            macro_f1=0.8,
            fit_s=1.0,
            stopped=stopped,
            steps=300,
            best_step=best,
        )

    m = ApproachMeasurement(approach="finetune", points=[pt(400, "early_stopping", 100), pt(2000, "completed", 300)])
    assert measured_peak(m) is None  # the largest fit was still gaining at its end
    m = ApproachMeasurement(approach="finetune", points=[pt(400, "completed", 150), pt(2000, "early_stopping", 200)])
    assert measured_peak(m) == (2000, 200)


def test_finetune_time_counts_checkpoints_and_ranges_to_the_full_recipe():
    cfg = FinetuneConfig(**ES_RECIPE)
    m = _measurement("finetune")
    with_ckpt = m.model_copy(update={"checkpoint_s_each": 2.0})
    bench = BenchResult(measurements={"finetune": m}, classes=["a", "b"])
    plain = forecast_all(bench, n_target=10_000, configs={"finetune": cfg})["finetune"]
    bench = BenchResult(measurements={"finetune": with_ckpt}, classes=["a", "b"])
    ck = forecast_all(bench, n_target=10_000, configs={"finetune": cfg})["finetune"]
    likely = early_stop_steps(cfg, 10_000)
    assert ck.train_time_s - plain.train_time_s == pytest.approx(2.0 * math.ceil(likely / 50))
    full_steps = finetune_steps(cfg, 10_000)[0]
    # The point is the likely early stop; the upper end is the whole recipe (plus spread).
    assert plain.train_time_high_s > full_steps * 16 / 20.0 > plain.train_time_s


def test_interval_covers_the_full_runs_test_set_noise():
    from advisor.forecast.accuracy import Forecast, widen_for_eval

    f = Forecast(approach="tfidf", n_target=1000, metric="accuracy", value=0.75, low=0.73, high=0.77, method="x")
    w = widen_for_eval(f, 1000)
    half = 1.96 * math.sqrt(0.75 * 0.25 / 1000)  # ±2.7 points from a 1,000-row test set alone
    assert w.low == pytest.approx(0.75 - math.hypot(0.02, half), abs=1.5e-3)  # Agresti–Coull: centre 74.9 %
    assert w.high == pytest.approx(0.75 + math.hypot(0.02, half), abs=1.5e-3)
    assert (w.curve_low, w.curve_high, w.eval_rows) == (0.73, 0.77, 1000) and w.value == 0.75
    assert widen_for_eval(f, 100_000).high - widen_for_eval(f, 100_000).low < w.high - w.low


def test_a_perfect_score_keeps_an_interval():
    """100 % on a few hundred rows does not mean 100 % on the next few hundred: the interval keeps
    a width (a plain √(p(1−p)/n) would collapse to nothing, and one error would fall outside)."""
    from advisor.forecast.accuracy import Forecast, widen_for_eval
    from advisor.forecast.curves import binomial_se

    f = Forecast(approach="finetune", n_target=400, metric="accuracy", value=1.0, low=1.0, high=1.0, method="x")
    w = widen_for_eval(f, 300)
    assert w.high == 1.0 and w.low < 0.99  # 4 errors in 300 rows (98.7 %) stay inside
    assert binomial_se(0.75, 1000) == pytest.approx(math.sqrt(0.75 * 0.25 / 1000), rel=0.01)  # no change mid-range


def test_a_perfect_benchmark_curve_keeps_an_interval():
    from advisor.forecast.curves import Observation, fit_learning_curve

    obs = [Observation(n, 0, 1.0) for n in (60, 120, 240)]
    res = fit_learning_curve(obs, 400, n_test=160)
    assert res.value == 1.0 and res.low < 0.985


def test_what_if_borrows_tokens_per_text_measured_by_another_approach_on_the_same_encoder(monkeypatch):
    import advisor.forecast.accuracy as fc
    from engines.config import EmbeddingConfig

    monkeypatch.setattr(fc, "model_shape", lambda ref: shape_from_config(MINILM, ref))
    emb = _measurement("embedding").model_copy(update={"tokens_per_example": None})
    bench = BenchResult(measurements={"finetune": _measurement("finetune"), "embedding": emb}, classes=["a", "b"])
    configs = {"finetune": FinetuneConfig(model="m", **ES_RECIPE), "embedding": EmbeddingConfig(model="m")}
    out = forecast_all(bench, n_target=1000, configs=configs, hardware=["t4"])
    (hw,) = out["embedding"].hardware
    assert "25 tokens/text" in hw.assumptions[0] and "(assumed)" not in hw.assumptions[0]
    # Another encoder for the embedding: its texts tokenize differently, nothing is borrowed.
    configs["embedding"] = EmbeddingConfig(model="other")
    (hw,) = forecast_all(bench, n_target=1000, configs=configs, hardware=["t4"])["embedding"].hardware
    assert "(assumed)" in hw.assumptions[0]


def _curve_points(approach, y, accs, rng):
    pts = []
    for n, acc in accs:
        pred = [t if rng.random() < acc else 1 - t for t in y]
        pts.append(
            CurvePoint(
                approach=approach,
                n_train=n,
                seed=0,
                accuracy=float(np.mean(np.array(pred) == y)),
                macro_f1=0.7,
                fit_s=10,
                y_pred=pred,
            )
        )
    return pts


def _crossfit_bench(with_crossfit=("tfidf", "finetune")):
    from advisor.measure import CrossFit

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400).tolist()
    sizes = (250, 500, 1000, 2000)
    meas = {
        "tfidf": _measurement("tfidf", points=_curve_points("tfidf", y, zip(sizes, (0.66, 0.69, 0.72, 0.75)), rng)),
        "finetune": _measurement(
            "finetune", points=_curve_points("finetune", y, zip(sizes, (0.70, 0.74, 0.78, 0.82)), rng)
        ),
    }
    labels = rng.integers(0, 2, 4000)
    fits = {}
    for name, acc in (("tfidf", 0.74), ("finetune", 0.79)):
        pred = np.where(rng.random(4000) < acc, labels, 1 - labels)
        fits[name] = CrossFit(
            approach=name,
            n_train=2000,
            rows=4000,
            accuracy=float(np.mean(pred == labels)),
            macro_f1=0.7,
            fit_s=[1.0, 1.0],
            y_pred=pred.tolist(),
        )
    return BenchResult(
        measurements=meas,
        classes=["a", "b"],
        test_size=400,
        test_labels=y,
        seed=0,
        crossfits={k: v for k, v in fits.items() if k in with_crossfit},
        crossfit_labels=labels.tolist(),
    )


def test_a_cross_fit_forecast_is_the_out_of_fold_score_plus_the_curves_gain_from_half_the_rows():
    from advisor.decide.scoring import diff_band
    from advisor.forecast import crossfit
    from advisor.forecast.accuracy import quality_forecast

    bench = _crossfit_bench()
    curve_only = forecast_all(bench.model_copy(update={"crossfits": {}}), n_target=4000)
    out = forecast_all(bench, n_target=4000)
    for name, f in out.items():
        fit = bench.crossfits[name]
        half = quality_forecast(bench.measurements[name], bench, 2000, "accuracy")["value"]
        gain = curve_only[name].value - half
        assert gain > 0.0  # rising curves
        assert f.method == "cross-fit + curve gain" and not f.flagged
        assert f.value == pytest.approx(fit.accuracy + gain)
        # Lower end: no gain at all is possible; upper end: the largest gain of the curve's fits.
        assert f.low <= fit.accuracy - 0.01 and f.high >= fit.accuracy + gain
        assert len(f.boot) == 200
    # Every approach scored on the same 4,000 rows: the lead's band is paired and far narrower
    # than the curves' (400 held-out rows, extrapolated).
    assert crossfit.rows_used(bench, out) == 4000 and crossfit.rows_used(bench, curve_only) is None
    lo, hi = diff_band(out["finetune"], out["tfidf"])
    clo, chi = diff_band(curve_only["finetune"], curve_only["tfidf"])
    assert lo > 0 and hi - lo < 0.6 * (chi - clo)


def test_a_cross_fit_missing_an_approach_is_not_used():
    """Pairing needs the same rows for every approach: a cross-fit without one of them (or a saved
    benchmark without its predictions) leaves the curve forecasts as they are."""
    part = _crossfit_bench(with_crossfit=("finetune",))
    assert all(f.method != "cross-fit + curve gain" for f in forecast_all(part, n_target=4000).values())
    whole = _crossfit_bench()
    stripped = whole.model_copy(
        update={"crossfits": {k: v.model_copy(update={"y_pred": None}) for k, v in whole.crossfits.items()}}
    )
    assert all(f.method != "cross-fit + curve gain" for f in forecast_all(stripped, n_target=4000).values())
