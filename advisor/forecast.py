"""Forecasts for a full run of each approach: quality at the user's labelled size (from
the learning curve), wall time and peak memory on this machine (from measured
throughput), and the same on named hardware (scaled by FLOPs and the Adam memory rule).

The assumptions of every scaled figure are kept in the forecast (``assumptions``) so
the summary and the report print them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from pydantic import Field

from advisor.curves import (
    PRIOR_GAIN_PER_DOUBLING,
    Observation,
    accuracy_fn,
    binomial_interval,
    fit_learning_curve,
    macro_f1_fn,
)
from advisor.hardware import LAYER_PASS_OVERHEAD_MS, TRAIN_PASSES_PER_STEP, HardwareProfile, get_hardware
from advisor.measure import (
    TRAIN_VS_INFER_COST,
    ApproachMeasurement,
    BenchResult,
    config_get,
    finetune_steps,
    valid_share,
)
from engines.base import Record

TRANSFORMERS = ("embedding", "finetune", "lora")
DEFAULT_TOKENS_PER_TEXT = 64.0  # only when nothing measured it; flagged in assumptions
CUDA_CONTEXT_BYTES = 500_000_000
# A fit stopped short by the budget: what its missing steps may still have added, per share of the
# recipe missed (10 points for a whole run; a generic allowance, not measured), and the share missed
# above which its forecast is flagged.
PARTIAL_GAIN = 0.10
PARTIAL_FLAG = 0.1


class ModelShape(Record):
    """Size of a BERT-like encoder, read from its config.json."""

    params: int = Field(description="Parameters (estimated from the config).")
    hidden: int
    layers: int
    heads: int
    name: str = ""


class HardwareForecast(Record):
    """What-if: a full run of one approach on named hardware."""

    hardware: str
    label: str
    train_time_s: float = Field(description="Forecast wall seconds of the full training run.")
    infer_ms_per_text: float = Field(description="Forecast ms per text at batch 1.")
    peak_memory_bytes: int = Field(description="Forecast accelerator memory of training (Adam rule).")
    memory_total_bytes: int
    fits: bool
    train_cost: float = Field(description="Training cost in the hardware's price unit.")
    serving_cost_per_day: float = Field(description="Cost of a day of predictions at the goals' volume.")
    price_per_hour: float
    assumptions: list[str] = Field(default_factory=list)


class Forecast(Record):
    """A full run of one approach, forecast from the micro-benchmark."""

    approach: str
    n_target: int = Field(description="Labelled examples the full run trains on.")
    metric: str
    value: float | None = Field(description="Forecast metric at n_target (None: no usable measurement).")
    low: float | None = None
    high: float | None = None
    method: str = Field(description="Curve fit used: 'log-linear', 'power-law(b∈[..])', 'flat-fallback', 'none'.")
    flagged: bool = False
    flag_reason: str = ""
    extrapolation_factor: float | None = Field(None, description="n_target / largest measured size.")
    n_max_measured: int | None = None
    holdout_error: float | None = Field(None, description="Fit's |error| on the held-back largest size.")
    curve: list[tuple[float, float]] = Field(default_factory=list, description="(n, fitted value) for plots.")
    measured: list[tuple[int, float, float]] = Field(default_factory=list, description="(n, mean, seed sd).")
    projection: list[tuple[float, float]] = Field(
        default_factory=list, description="(n, fitted value) over every size the curve supports (≤ 8× measured).")
    train_time_s: float | None = Field(None, description="Full run wall seconds on this machine.")
    train_time_low_s: float | None = None
    train_time_high_s: float | None = None
    peak_memory_bytes: int | None = Field(None, description="Peak memory of the full run on this machine.")
    infer_ms_per_text: float | None = Field(None, description="p50 ms per text at batch 1 on this machine.")
    infer_ms_per_text_batch: float | None = Field(None, description="p50 ms per text at the large batch.")
    hardware: list[HardwareForecast] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    eval_rows: int | None = Field(
        None, description="Rows the full run is scored on: the interval also covers that score's sampling noise.")
    curve_low: float | None = Field(
        None, description="Interval of the approach's accuracy itself (without the full run's test-set noise, which "
        "approaches scored on the same rows share): what comparisons between approaches use.")
    curve_high: float | None = None
    boot: list[float] = Field(
        default_factory=list, description="Bootstrap replicates of the forecast: replicate i resamples the same "
        "benchmark test rows for every approach, so differences between approaches pair up.")
    candidates: dict[str, float] = Field(
        default_factory=dict, exclude=True, description="What each of the curve's fits (and 'flat') gives at the "
        "target: the cross-fit's gain takes its model-choice spread from them.")


# ---------------------------------------------------------------- model shape
def model_shape(model_ref: str) -> ModelShape | None:
    """Parameters and dimensions from the model's config.json (no torch import)."""
    try:
        from engines.models import resolve_model

        resolved = resolve_model(model_ref)
        cfg = json.loads((resolved.path / "config.json").read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001  unresolvable model: hardware what-ifs are skipped, not fatal
        return None
    return shape_from_config(cfg, name=model_ref)


def shape_from_config(cfg: dict[str, Any], name: str = "") -> ModelShape:
    h = int(cfg.get("hidden_size", cfg.get("dim", 768)))
    layers = int(cfg.get("num_hidden_layers", cfg.get("n_layers", 12)))
    heads = int(cfg.get("num_attention_heads", cfg.get("n_heads", 12)))
    inter = int(cfg.get("intermediate_size", cfg.get("hidden_dim", 4 * h)))
    vocab = int(cfg.get("vocab_size", 30522))
    pos = int(cfg.get("max_position_embeddings", 512))
    types = int(cfg.get("type_vocab_size", 0))
    emb = (vocab + pos + types) * h + 2 * h
    per_layer = 4 * h * h + 4 * h + 2 * h * inter + inter + h + 4 * h
    return ModelShape(params=emb + layers * per_layer, hidden=h, layers=layers, heads=heads, name=name)


# ---------------------------------------------------------------------- helpers
def early_stop_steps(config: Any, n: int, measured: tuple[int, int] | None = None) -> int:
    """Steps a run is likely to take when early stopping is on. Never more than the recipe's
    steps, never fewer than ``min_steps``.

    ``measured`` = (n, best step) of the largest benchmark fit that early-stopped: its
    validation peaked at that step; with more data the peak comes later, taken as ∝ √n (a
    generic assumption, printed with the forecast). Without one: fine-tuning a pre-trained
    encoder usually stops gaining on validation within about an epoch. Either way early
    stopping then waits ``patience × eval_every`` more steps."""
    steps, batch = finetune_steps(config, n)
    vf = float(config_get(config, "valid_fraction", 0.1))
    patience = int(config_get(config, "early_stopping_patience", 3))
    if vf <= 0 or patience <= 0:
        return steps
    every = int(config_get(config, "eval_every_steps", 50))
    if measured is not None and measured[0] > 0 and measured[1] > 0:
        peak = math.ceil(measured[1] * math.sqrt(n / measured[0]))
    else:
        peak = math.ceil(n * (1 - vf) / batch)
    return min(steps, max(int(config_get(config, "min_steps", 150)), peak + patience * every))


def measured_peak(m: ApproachMeasurement) -> tuple[int, int] | None:
    """(n, best step) of the largest usable fine-tune size, when its fits stopped early (with
    several seeds there: every one of them, and the median best step)."""
    usable = [p for p in m.points if p.usable]
    if not usable:
        return None
    n = max(p.n_train for p in usable)
    top = [p for p in usable if p.n_train == n]
    if any(p.stopped != "early_stopping" or not p.best_step for p in top):
        return None
    return n, int(np.median([p.best_step for p in top]))


def activation_bytes(shape: ModelShape, batch: int, seq: int, bytes_per_value: int = 2) -> float:
    """Activations kept for backward: s·b·h·(34 + 5·a·s/h) bytes per layer at 16-bit
    (Korthikanti et al. 2022, "Reducing Activation Recomputation"), ×2 for fp32."""
    per_layer = seq * batch * shape.hidden * (34 + 5 * shape.heads * seq / shape.hidden)
    return per_layer * shape.layers * bytes_per_value / 2


def training_memory_bytes(shape: ModelShape, approach: str, batch: int, seq: int,
                          trainable: int | None = None) -> int:
    """Weights (fp32) + gradients + 2× AdamW states for what trains, + activations."""
    p = shape.params
    if approach == "finetune":
        states = 4 * p + 4 * p + 8 * p
    elif approach == "lora":
        t = trainable if trainable is not None else int(0.005 * p)
        states = 4 * p + 16 * t
    else:  # embedding: inference only
        return int(4 * p + activation_bytes(shape, batch, seq) / shape.layers + CUDA_CONTEXT_BYTES)
    return int(states + activation_bytes(shape, batch, seq) + CUDA_CONTEXT_BYTES)


# --------------------------------------------------------------- the forecasts
def quality_forecast(m: ApproachMeasurement, bench: BenchResult, n_target: int, metric: str,
                     *, seed: int = 0) -> dict[str, Any]:
    usable = [p for p in m.points if p.usable]
    if not usable:
        reason = "; ".join(m.notes) or "no completed training run within this budget"
        return {"value": None, "low": None, "high": None, "method": "none", "flagged": True,
                "flag_reason": f"not measured: {reason}"}
    y_true = np.asarray(bench.test_labels) if bench.test_labels else None
    if y_true is not None and all(p.y_pred is not None and len(p.y_pred) == len(y_true) for p in usable):
        fn = accuracy_fn(y_true) if metric == "accuracy" else macro_f1_fn(y_true, len(bench.classes) + 1)
        obs = [Observation(p.n_train, p.seed, getattr(p, metric), np.asarray(p.y_pred)) for p in usable]
    else:
        fn = None
        obs = [Observation(p.n_train, p.seed, getattr(p, metric)) for p in usable]
    res = fit_learning_curve(obs, n_target, metric_fn=fn, n_test=bench.test_size or None, seed=seed)
    high, flagged, reasons = res.high, res.flagged, [res.flag_reason] if res.flag_reason else []
    partial = [p for p in usable if p.planned_steps and p.n_train == res.n_max]
    if partial:
        # The budget stopped the largest size's fit(s) before the recipe's last steps: scored as they
        # were, so the upper end allows for the steps they missed (a generic allowance, said as such).
        missing = float(np.mean([1 - p.steps / p.planned_steps for p in partial]))
        high = min(1.0, high + PARTIAL_GAIN * missing)
        p = partial[0]
        said = (f"the budget stopped the n={p.n_train:,} fit at {p.steps} of its {p.planned_steps} steps; scored as it "
                f"was, the upper end allows up to +{100 * PARTIAL_GAIN * missing:.1f} points for the steps it missed")
        if missing > PARTIAL_FLAG:
            flagged = True
            reasons.append(said)
    return {"assumption": said if partial else None,"value": res.value, "low": res.low, "high": high, "method": res.method, "flagged": flagged,
            "flag_reason": "; ".join(reasons), "extrapolation_factor": res.extrapolation_factor,
            "n_max_measured": res.n_max, "holdout_error": res.holdout_error, "curve": res.curve,
            "measured": res.measured, "projection": res.projection, "boot": res.boot, "candidates": res.candidates}


def fit_time_at(m: ApproachMeasurement, n_target: int) -> float | None:
    """Fit seconds at ``n_target`` from the measured points: t = a + b·n with a, b ≥ 0
    (non-negative least squares over every measured fit), so a fixed cost measured at small
    n is not multiplied by n_target / n. One size only: linear from the mean there."""
    from scipy.optimize import nnls

    pts = [(p.n_train, p.fit_s) for p in m.points if p.usable and p.fit_s is not None]
    if not pts:
        return None
    ns = np.asarray([n for n, _ in pts], dtype=float)
    ts = np.asarray([t for _, t in pts], dtype=float)
    if len(set(ns.tolist())) < 2:
        return float(ts.mean() * n_target / ns.mean())
    (a, b), _ = nnls(np.column_stack([np.ones_like(ns), ns]), ts)
    return float(a + b * n_target)


def time_forecast(m: ApproachMeasurement, n_target: int, config: Any,
                  embed_rate: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """Full-run wall time and peak memory on this machine, from measured throughput."""
    notes: list[str] = []
    out: dict[str, Any] = {"peak_memory_bytes": m.peak_gpu_bytes or m.peak_rss_bytes}
    # A full run starts cold: its imports and model load, timed in a new process. Older
    # measurements (or a failed or switched-off timing) fall back to the load seen in the
    # benchmark's process (its fits start warm, so neither is in the fitted fit times).
    load = m.start_s if m.start_s is not None else (m.load_s or 0.0)
    if m.approach in ("finetune", "lora"):
        steps, batch = finetune_steps(config, n_target)
        rate = m.train_examples_per_s
        spread = 0.15
        if rate is None and embed_rate:
            rate = embed_rate / TRAIN_VS_INFER_COST
            spread = 0.5
            notes.append(f"{m.approach} throughput not measured: estimated as embedding speed ÷ "
                         f"{TRAIN_VS_INFER_COST:g} (training ≈ forward + backward + optimizer)")
        if rate:
            vf = valid_share(config)
            every = int(config_get(config, "eval_every_steps", 50))
            ckpt = m.checkpoint_s_each or 0.0
            ckpt_every = int(config_get(config, "checkpoint_every_steps", 50))

            def run_s(n_steps: int) -> float:
                evals = n_steps // every if vf > 0 else 0
                eval_s = evals * (vf * n_target) / (rate * TRAIN_VS_INFER_COST)
                return n_steps * batch / rate + eval_s + math.ceil(n_steps / ckpt_every) * ckpt + load

            peak = measured_peak(m)
            stop_steps = early_stop_steps(config, n_target, peak)
            full, likely = run_s(steps), run_s(stop_steps)
            # A short probe's throughput is less sure.
            probe_only = not any(p.usable for p in m.points)
            if probe_only and m.train_examples_per_s:
                spread = 0.25
            out.update(train_time_s=likely, train_time_low_s=likely * (1 - spread),
                       train_time_high_s=full * (1 + spread))
            notes.append(f"{steps} optimizer steps × batch {batch} (≥ min_steps) at {rate:.1f} examples/s measured"
                         if m.train_examples_per_s else f"{steps} steps × batch {batch} at ~{rate:.1f} examples/s")
            if ckpt:
                notes.append(f"a checkpoint every {ckpt_every} steps, {ckpt:.1f}s each (measured)")
            if likely < full:
                why = (f"the benchmark fit on {peak[0]:,} rows peaked at step {peak[1]}, scaled by √n"
                       if peak else "about one epoch")
                notes.append(f"early stopping expected at {stop_steps} steps (~{likely:.0f}s: {why}, + patience); "
                             f"the full recipe ({steps} steps, ~{full:.0f}s) is the upper end")
    elif m.approach == "embedding":
        rate = m.prepare_texts_per_s or m.infer_texts_per_s
        if rate:
            head = fit_time_at(m, n_target) or 0.0
            total = n_target / rate + head + load
            out.update(train_time_s=total, train_time_low_s=total * 0.8, train_time_high_s=total * 1.25)
            notes.append(f"embed {n_target} texts at {rate:.0f} texts/s measured + head fit "
                         "(fixed + per-row cost fitted over the measured sizes)")
    else:
        total = fit_time_at(m, n_target)
        if total is not None:
            total += load
            out.update(train_time_s=total, train_time_low_s=total * 0.6, train_time_high_s=total * 1.6)
            notes.append("fit time = fixed + per-row cost fitted over the measured sizes (±60 %)")
    if "train_time_s" in out and m.start_s is not None and m.start_s >= 0.5:
        what = "imports" if m.approach == "tfidf" else "imports and model load"
        notes.append(f"+ {m.start_s:.1f}s start-up ({what}), timed in a new process")
    return out, notes


def hardware_forecast(m: ApproachMeasurement, hw: HardwareProfile, shape: ModelShape, n_target: int,
                      config: Any, *, predictions_per_day: int, price_per_hour: float | None = None) -> HardwareForecast:
    """Each pass of a batch takes the longer of its FLOPs (≈2·P per token inference, ≈6·P
    training, 4·P for LoRA) at the assumed share of peak, and the host-side cost of its layers
    (launches and Python, measured; see advisor/hardware.py). Memory by the Adam rule."""
    tokens = m.tokens_per_example or DEFAULT_TOKENS_PER_TEXT
    p = shape.params
    eff = hw.effective_flops
    seq = int(min(config_get(config, "max_length", 128), max(8, tokens * 1.5)))
    pass_floor_s = shape.layers * LAYER_PASS_OVERHEAD_MS / 1000
    notes = [f"{hw.utilisation:.0%} of {hw.peak_bf16_tflops:g} bf16 TFLOPS peak, and at least "
             f"{LAYER_PASS_OVERHEAD_MS:g} ms per layer per pass (host-side launches, measured on an H200: "
             f"small models are bound by it); {tokens:.0f} tokens/text"
             + ("" if m.tokens_per_example else " (assumed)")]
    infer_batch = int(config_get(config, "batch_size", 32))

    def infer_batch_s(texts: int) -> float:
        return max(2 * p * tokens * texts / eff, pass_floor_s)

    infer_ms = infer_batch_s(1) * 1000
    if m.approach in ("finetune", "lora"):
        steps, batch = finetune_steps(config, n_target)
        per_token = 6 * p if m.approach == "finetune" else 4 * p
        step_s = max(per_token * tokens * batch / eff, TRAIN_PASSES_PER_STEP * pass_floor_s)
        train_s = steps * step_s
        mem = training_memory_bytes(shape, m.approach, batch, seq)
        notes.append("memory: fp32 weights + grads + 2× AdamW states + activations (Korthikanti et al.)"
                     if m.approach == "finetune" else "memory: fp32 weights + adapters' grads/AdamW + activations")
    else:  # embedding: embed the training texts, head fit on CPU as measured here
        full, rest = divmod(n_target, infer_batch)
        head = fit_time_at(m, n_target) or 0.0
        train_s = full * infer_batch_s(infer_batch) + (infer_batch_s(rest) if rest else 0.0) + head
        mem = training_memory_bytes(shape, "embedding", infer_batch, seq)
        notes.append("head fit assumed to take as long as on this machine (CPU)")
    price = price_per_hour if price_per_hour is not None else hw.price_per_hour
    per_text_batch_ms = infer_batch_s(infer_batch) * 1000 / infer_batch
    serve_h = predictions_per_day * per_text_batch_ms / 3.6e6
    return HardwareForecast(
        hardware=hw.name, label=hw.label, train_time_s=train_s, infer_ms_per_text=infer_ms,
        peak_memory_bytes=mem, memory_total_bytes=hw.memory_bytes, fits=mem <= 0.9 * hw.memory_bytes,
        train_cost=train_s / 3600 * price, serving_cost_per_day=serve_h * price, price_per_hour=price,
        assumptions=notes,
    )


def forecast_approach(m: ApproachMeasurement, bench: BenchResult, *, n_target: int, metric: str = "accuracy",
                      config: Any = None, shape: ModelShape | None = None, hardware: list[str] | None = None,
                      predictions_per_day: int = 10_000, embed_rate: float | None = None) -> Forecast:
    """Everything forecast for one approach."""
    q = quality_forecast(m, bench, n_target, metric, seed=bench.seed)
    t, notes = time_forecast(m, n_target, config, embed_rate=embed_rate)
    said = q.pop("assumption", None)
    if said:
        notes = [said, *notes]
    if m.approach == "embedding" and t.get("peak_memory_bytes") and shape is not None:
        t["peak_memory_bytes"] = int(t["peak_memory_bytes"] + n_target * shape.hidden * 4)
    hws: list[HardwareForecast] = []
    if hardware and shape is not None and m.approach in TRANSFORMERS:
        for name in hardware:
            hws.append(hardware_forecast(m, get_hardware(name), shape, n_target, config,
                                         predictions_per_day=predictions_per_day))
    lat = m.latency_ms
    big = next((v for k, v in lat.items() if k.startswith("p50_b") and k != "p50_b1"), None)
    return Forecast(approach=m.approach, n_target=n_target, metric=metric, hardware=hws,
                    infer_ms_per_text=lat.get("p50_b1"), infer_ms_per_text_batch=big,
                    assumptions=notes, **q, **t)


def forecast_all(bench: BenchResult, *, n_target: int, metric: str = "accuracy",
                 configs: dict[str, Any] | None = None, hardware: list[str] | None = None,
                 predictions_per_day: int = 10_000, eval_rows: int | None = None) -> dict[str, Forecast]:
    """A forecast per measured approach; with ``eval_rows`` (rows the full run is scored on)
    the intervals cover the sampling noise of that score too."""
    configs = configs or {}
    shape = None
    models = {str(config_get(configs.get(a), "model", "")) for a in TRANSFORMERS if a in bench.measurements}
    models.discard("")
    if hardware and models:
        shape = model_shape(min(models))
    emb = bench.measurements.get("embedding")
    embed_rate = (emb.prepare_texts_per_s or emb.infer_texts_per_s) if emb else None
    measured = bench.measurements
    if hardware and len(models) == 1:
        # One encoder, one tokenizer: tokens per text measured by one approach (the trainers
        # count them) hold for the others, whose what-if would otherwise assume a length.
        tokens = next((m.tokens_per_example for a, m in measured.items()
                       if a in TRANSFORMERS and m.tokens_per_example), None)
        if tokens:
            measured = {a: (m.model_copy(update={"tokens_per_example": tokens})
                            if a in TRANSFORMERS and not m.tokens_per_example else m) for a, m in measured.items()}
    out = {
        name: forecast_approach(m, bench, n_target=n_target, metric=metric, config=configs.get(name),
                                shape=shape, hardware=hardware, predictions_per_day=predictions_per_day,
                                embed_rate=embed_rate)
        for name, m in measured.items()
    }
    for name in ("finetune", "lora"):
        if name in out and "embedding" in out:
            out[name] = borrow_gain(out[name], out["embedding"])
    out = with_crossfit(out, bench, measured, metric)
    if eval_rows:
        out = {name: widen_for_eval(f, eval_rows) for name, f in out.items()}
    return out


def with_crossfit(out: dict[str, Forecast], bench: BenchResult, measured: dict[str, ApproachMeasurement],
                  metric: str) -> dict[str, Forecast]:
    """The forecasts re-made from the benchmark's cross-fits (``advisor.crossfit``). When every
    approach with a value has one, all are paired over every cross-fit row; when only some have
    (the cheap approaches cross-validated at full size, the trainers' cross-fit unaffordable),
    theirs pair with the others' curves over the test part, which leads the cross-fit rows."""
    from types import SimpleNamespace

    from advisor import crossfit

    have = crossfit.covered(bench, out)
    if not have:
        return out
    everyone = len(have) == sum(f.value is not None for f in out.values()) >= 2
    test_rows = None if everyone else bench.crossfit_test_rows
    if not everyone and not test_rows:
        return out  # a benchmark from before cross-fits pair with the test part: all or none
    done = dict(out)
    for name in have:
        f, fit = out[name], bench.crossfits[name]
        half = quality_forecast(measured[name], bench, fit.n_train, metric, seed=bench.seed)
        at_half = SimpleNamespace(value=half["value"], boot=half.get("boot") or [],
                                  candidates=half.get("candidates") or {})
        done[name] = crossfit.from_crossfit(f, at_half, fit, bench.crossfit_labels, n_classes=len(bench.classes) + 1,
                                            metric=metric, seed=bench.seed, test_rows=test_rows)
    return done


def widen_for_eval(f: Forecast, eval_rows: int) -> Forecast:
    """The full run reports its score on ``eval_rows`` held-out rows, and that number has its own
    sampling noise (binomial, ≈ ±1.96·√(p(1−p)/rows); Agresti–Coull, so that 100 % keeps a
    width): a 1,000-row test set alone moves it by ±2.7 points at 75 %. The interval is for the
    number the user will see, so it adds that noise in quadrature to each side of the curve's
    interval."""
    if f.value is None or f.low is None or f.high is None:
        return f.model_copy(update={"eval_rows": eval_rows})
    v = f.value
    lo_e, hi_e = binomial_interval(v, eval_rows)
    return f.model_copy(update={
        "low": max(0.0, v - math.hypot(v - f.low, max(0.0, v - lo_e))),
        "high": min(1.0, v + math.hypot(f.high - v, max(0.0, hi_e - v))),
        "eval_rows": eval_rows, "curve_low": f.low, "curve_high": f.high,
    })


def _at(projection: list[tuple[float, float]], n: float) -> float:
    ns = np.log([p[0] for p in projection])
    return float(np.interp(math.log(n), ns, [p[1] for p in projection]))


def borrow_gain(f: Forecast, donor: Forecast) -> Forecast:
    """A fine-tune forecast measured at one size is flat: it assumes more labels add nothing,
    and on every curve measured so far they do. When the frozen-embedding curve on the *same
    data and encoder* was fitted, borrow its gain from the fine-tune's largest measured size
    to the target: the point forecast becomes measured + that gain, the upper end measured +
    twice it, the lower end stays where the flat forecast put it. Still flagged, and said so."""
    if (f.value is None or not f.method.startswith("flat") or not f.n_max_measured
            or f.n_target <= f.n_max_measured or donor.value is None
            or donor.method.startswith(("flat", "none")) or len(donor.projection) < 2):
        return f
    top = donor.projection[-1][0]
    n_eval = min(float(f.n_target), top)
    if n_eval <= f.n_max_measured:
        return f
    gain = _at(donor.projection, n_eval) - _at(donor.projection, f.n_max_measured)
    if gain <= 0:
        return f
    base = f.value
    shifted = [(n, min(1.0, base + _at(donor.projection, n) - _at(donor.projection, f.n_max_measured)))
               for n, _ in donor.projection if n >= f.n_max_measured]
    # Fine-tuning's curve is steeper than the frozen encoder's (it learns the encoder too): the upper
    # end allows twice the borrowed gain, and at least the generic prior per doubling of the labels.
    doublings = math.log2(f.n_target / f.n_max_measured)
    allowance = max(2 * gain, PRIOR_GAIN_PER_DOUBLING * doublings)
    reason = (f"gain from {f.n_max_measured:,} to {int(n_eval):,} labels borrowed from the frozen-embedding "
              f"curve on the same data (+{gain * 100:.1f} points; the upper end allows +{allowance * 100:.1f})")
    return f.model_copy(update={
        "value": min(1.0, base + gain),
        "boot": [min(1.0, b + gain) for b in f.boot],
        "high": min(1.0, max(f.high or base, base + allowance)),
        "method": "flat + embedding gain",
        "flag_reason": "; ".join(r for r in (f.flag_reason, reason) if r),
        "curve": [*[c for c in f.curve if c[0] <= f.n_max_measured], *shifted],
    })
