"""The fine-tune optimizer: AdamW (fused where torch has it) with weight decay off for biases and
norms, a linear warm-up then linear decay of the rate, a grad scaler for fp16; ``update``, one clipped
step on computed gradients (the contrastive loop's too)."""

from __future__ import annotations

import math
from typing import Any

from engines.config import FinetuneConfig


class LinearWarmupDecay:
    """LR factor: linear warm-up to 1, then linear decay to 0 (transformers' linear schedule)."""

    def __init__(self, warmup: int, total: int) -> None:
        self.warmup, self.total = warmup, total

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return step / max(1, self.warmup)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


def build(model: Any, cfg: FinetuneConfig, total_steps: int, precision: str) -> tuple[Any, Any, Any]:
    """(optimizer, scheduler, scaler or None) over ``model``'s trainable parameters."""
    import torch

    lr = cfg.learning_rate_lora if cfg.mode == "lora" else cfg.learning_rate
    decay: list[Any] = []  # torch parameters
    no_decay: list[Any] = []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:  # fused AdamW (CPU and CUDA): ~6x faster than the per-tensor loop on CPU
        optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        optimizer = torch.optim.AdamW(groups, lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, LinearWarmupDecay(math.ceil(cfg.warmup_ratio * total_steps), total_steps)
    )
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    return optimizer, scheduler, scaler


def update(optimizer: Any, scheduler: Any, scaler: Any, params: list[Any], max_grad_norm: float) -> None:
    """One optimizer step on the gradients already computed: unscale them (fp16), clip ``params`` to
    ``max_grad_norm``, step (through the scaler when there is one) and advance the LR schedule."""
    import torch

    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
