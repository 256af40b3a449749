"""The machine side of a forecast: model shape, training time and memory on this machine (from
measured throughput) and on named GPUs (FLOPs, launch floor, the Adam rule; the GPUs themselves are
in ``advisor.forecast.hardware_profiles``)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from advisor.common.capabilities import memory_model, trains_weights, uses_transformer
from advisor.forecast.hardware_profiles import HardwareProfile
from advisor.measure import TRAIN_VS_INFER_COST, config_get, finetune_steps, valid_share
from engines.base import Record

if TYPE_CHECKING:
    from advisor.measure import ApproachMeasurement

# Host-side time of one layer in one pass (a forward, or a third of a training step) that no
# FLOP count sees: Python module calls and kernel launches. A small encoder on a big GPU is
# bound by it, not by FLOPs, so a pass takes max(FLOPs / effective FLOPS, layers × this).
# Measured, not assumed: on an H200 (16-core VM host) sentence-transformers' ``encode`` of
# all-MiniLM-L6-v2 (6 layers) took 12.7 ms per batch of 64 short texts (1.63 s for 8,192
# texts, median of 3; benchmarks/embedding_vs_st.py) → 2.1 ms per layer and pass. It
# depends on the host's CPU more than on the GPU (benchmarks/results/gpu-h200.md).
LAYER_PASS_OVERHEAD_MS = 2.1
TRAIN_PASSES_PER_STEP = 3  # forward + backward (≈ 2 forwards) per optimizer step
DEFAULT_TOKENS_PER_TEXT = 64.0  # only when nothing measured it; flagged in assumptions
CUDA_CONTEXT_BYTES = 500_000_000


# ------------------------------------------------------------------ model shape
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


def training_memory_bytes(shape: ModelShape, approach: str, batch: int, seq: int, trainable: int | None = None) -> int:
    """Weights (fp32) + gradients + 2× AdamW states for what trains, + activations; what trains is
    the engine's ``memory_model`` (full weights, adapters, or nothing: forward passes only)."""
    p = shape.params
    kind = memory_model(approach)
    if kind == "full":
        states = 4 * p + 4 * p + 8 * p
    elif kind == "adapters":
        t = trainable if trainable is not None else int(0.005 * p)
        states = 4 * p + 16 * t
    else:  # a frozen encoder: inference only
        return int(4 * p + activation_bytes(shape, batch, seq) / shape.layers + CUDA_CONTEXT_BYTES)
    return int(states + activation_bytes(shape, batch, seq) + CUDA_CONTEXT_BYTES)


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


def time_forecast(
    m: ApproachMeasurement,
    n_target: int,
    config: Any,
    embed_rate: float | None = None,
    train_vs_infer: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Full-run wall time and peak memory on this machine, from measured throughput (``train_vs_infer``:
    this machine's embedding ÷ training speed where the benchmark had it, else the assumed one)."""
    ratio = train_vs_infer or TRAIN_VS_INFER_COST
    notes: list[str] = []
    out: dict[str, Any] = {"peak_memory_bytes": m.peak_gpu_bytes or m.peak_rss_bytes}
    # A full run starts cold: its imports and model load, timed in a new process. Older
    # measurements (or a failed or switched-off timing) fall back to the load seen in the
    # benchmark's process (its fits start warm, so neither is in the fitted fit times).
    load = m.start_s if m.start_s is not None else (m.load_s or 0.0)
    if trains_weights(m.approach):
        steps, batch = finetune_steps(config, n_target)
        rate = m.train_examples_per_s
        spread = 0.15
        if rate is None and embed_rate:
            rate = embed_rate / ratio
            spread = 0.5
            notes.append(
                f"{m.approach} throughput not measured: estimated as embedding speed ÷ "
                f"{ratio:.3g} (training ≈ forward + backward + optimizer"
                + ("; this machine's, measured earlier)" if train_vs_infer else ")")
            )
        if rate:
            train_rate = rate  # measured or estimated, known from here on (run_s uses it)
            vf = valid_share(config)
            every = int(config_get(config, "eval_every_steps", 50))
            ckpt = m.checkpoint_s_each or 0.0
            ckpt_every = int(config_get(config, "checkpoint_every_steps", 50))

            def run_s(n_steps: int) -> float:
                evals = n_steps // every if vf > 0 else 0
                eval_s = evals * (vf * n_target) / (train_rate * ratio)
                return n_steps * batch / train_rate + eval_s + math.ceil(n_steps / ckpt_every) * ckpt + load

            peak = measured_peak(m)
            stop_steps = early_stop_steps(config, n_target, peak)
            full, likely = run_s(steps), run_s(stop_steps)
            # A short probe's throughput is less sure.
            probe_only = not any(p.usable for p in m.points)
            if probe_only and m.train_examples_per_s:
                spread = 0.25
            out.update(
                train_time_s=likely, train_time_low_s=likely * (1 - spread), train_time_high_s=full * (1 + spread)
            )
            notes.append(
                f"{steps} optimizer steps × batch {batch} (≥ min_steps) at {rate:.1f} examples/s measured"
                if m.train_examples_per_s
                else f"{steps} steps × batch {batch} at ~{rate:.1f} examples/s"
            )
            if ckpt:
                notes.append(f"a checkpoint every {ckpt_every} steps, {ckpt:.1f}s each (measured)")
            if likely < full:
                why = (
                    f"the benchmark fit on {peak[0]:,} rows peaked at step {peak[1]}, scaled by √n"
                    if peak
                    else "about one epoch"
                )
                notes.append(
                    f"early stopping expected at {stop_steps} steps (~{likely:.0f}s: {why}, + patience); "
                    f"the full recipe ({steps} steps, ~{full:.0f}s) is the upper end"
                )
    elif memory_model(m.approach) == "frozen":
        rate = m.prepare_texts_per_s or m.infer_texts_per_s
        if rate:
            head = fit_time_at(m, n_target) or 0.0
            total = n_target / rate + head + load
            out.update(train_time_s=total, train_time_low_s=total * 0.8, train_time_high_s=total * 1.25)
            notes.append(
                f"embed {n_target} texts at {rate:.0f} texts/s measured + head fit "
                "(fixed + per-row cost fitted over the measured sizes)"
            )
    else:
        fitted = fit_time_at(m, n_target)
        if fitted is not None:
            total = fitted + load
            out.update(train_time_s=total, train_time_low_s=total * 0.6, train_time_high_s=total * 1.6)
            notes.append("fit time = fixed + per-row cost fitted over the measured sizes (±60 %)")
    if "train_time_s" in out and m.start_s is not None and m.start_s >= 0.5:
        what = "imports and model load" if uses_transformer(m.approach) else "imports"
        notes.append(f"+ {m.start_s:.1f}s start-up ({what}), timed in a new process")
    return out, notes


def hardware_forecast(
    m: ApproachMeasurement,
    hw: HardwareProfile,
    shape: ModelShape,
    n_target: int,
    config: Any,
    *,
    predictions_per_day: int,
    price_per_hour: float | None = None,
) -> HardwareForecast:
    """Each pass of a batch takes the longer of its FLOPs (≈2·P per token inference, ≈6·P
    training, 4·P for LoRA) at the assumed share of peak, and the host-side cost of its layers
    (launches and Python, measured; see ``LAYER_PASS_OVERHEAD_MS``). Memory by the Adam rule."""
    tokens = m.tokens_per_example or DEFAULT_TOKENS_PER_TEXT
    p = shape.params
    eff = hw.effective_flops
    seq = int(min(config_get(config, "max_length", 128), max(8, tokens * 1.5)))
    pass_floor_s = shape.layers * LAYER_PASS_OVERHEAD_MS / 1000
    notes = [
        f"{hw.utilisation:.0%} of {hw.peak_bf16_tflops:g} bf16 TFLOPS peak, and at least "
        f"{LAYER_PASS_OVERHEAD_MS:g} ms per layer per pass (host-side launches, measured on an H200: "
        f"small models are bound by it); {tokens:.0f} tokens/text" + ("" if m.tokens_per_example else " (assumed)")
    ]
    infer_batch = int(config_get(config, "batch_size", 32))

    def infer_batch_s(texts: int) -> float:
        return max(2 * p * tokens * texts / eff, pass_floor_s)

    infer_ms = infer_batch_s(1) * 1000
    if trains_weights(m.approach):
        steps, batch = finetune_steps(config, n_target)
        per_token = 6 * p if memory_model(m.approach) == "full" else 4 * p
        step_s = max(per_token * tokens * batch / eff, TRAIN_PASSES_PER_STEP * pass_floor_s)
        train_s = steps * step_s
        mem = training_memory_bytes(shape, m.approach, batch, seq)
        notes.append(
            "memory: fp32 weights + grads + 2× AdamW states + activations (Korthikanti et al.)"
            if memory_model(m.approach) == "full"
            else "memory: fp32 weights + adapters' grads/AdamW + activations"
        )
    else:  # embedding: embed the training texts, head fit on CPU as measured here
        full, rest = divmod(n_target, infer_batch)
        head = fit_time_at(m, n_target) or 0.0
        train_s = full * infer_batch_s(infer_batch) + (infer_batch_s(rest) if rest else 0.0) + head
        mem = training_memory_bytes(shape, m.approach, infer_batch, seq)
        notes.append("head fit assumed to take as long as on this machine (CPU)")
    price = price_per_hour if price_per_hour is not None else hw.price_per_hour
    per_text_batch_ms = infer_batch_s(infer_batch) * 1000 / infer_batch
    serve_h = predictions_per_day * per_text_batch_ms / 3.6e6
    return HardwareForecast(
        hardware=hw.name,
        label=hw.label,
        train_time_s=train_s,
        infer_ms_per_text=infer_ms,
        peak_memory_bytes=mem,
        memory_total_bytes=hw.memory_bytes,
        fits=mem <= 0.9 * hw.memory_bytes,
        train_cost=train_s / 3600 * price,
        serving_cost_per_day=serve_h * price,
        price_per_hour=price,
        assumptions=notes,
    )
