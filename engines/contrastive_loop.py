"""The contrastive engines' training: rows from the pairs, no-duplicate batches, the step plan and the loop.

MultipleNegativesRankingLoss under AdamW with linear warm-up and decay and clipping; ``budget_s``,
``cancel`` and progress events are handled between steps (``engines.contrastive`` runs it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from engines.base import ProgressEvent, ProgressFn
from engines.errors import DataError
from engines.records import Pairs


def training_rows(train: Pairs, notes: list[str]) -> list[tuple[str, ...]]:
    """(query, positive) per relevant document, or (query, positive, hard negative) when every
    query has negatives (the k-th positive of a query takes its k-th negative, cycling)."""
    text = train.doc_text()
    missing = [d for ids in (*train.relevant, *train.negatives) for d in ids if d not in text]
    if missing:
        raise DataError(f"{len(missing)} relevant/negative document ids are not in the collection, e.g. {missing[0]!r}")
    use_neg = bool(train.negatives) and all(train.negatives)
    if train.negatives and not use_neg:
        have = sum(1 for n in train.negatives if n)
        notes.append(f"hard negatives given for {have} of {len(train)} queries: trained on in-batch negatives only")
    rows: list[tuple[str, ...]] = []
    for i, (q, rel) in enumerate(zip(train.queries, train.relevant)):
        for j, d in enumerate(rel):
            if use_neg:
                negs = train.negatives[i]
                rows.append((q, text[d], text[negs[j % len(negs)]]))
            else:
                rows.append((q, text[d]))
    return rows


def no_duplicate_batches(rows: Sequence[tuple[str, ...]], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's batches, a pure function of (seed, epoch): no text appears twice in a batch
    (a duplicate would be a false in-batch negative), as sentence-transformers' NO_DUPLICATES
    sampler does. Batches of one row (no negatives to learn from) are dropped when others exist."""
    import numpy as np

    remaining = np.random.default_rng([int(seed), int(epoch)]).permutation(len(rows)).tolist()
    batches: list[list[int]] = []
    while remaining:
        batch: list[int] = []
        seen: set[str] = set()
        left: list[int] = []
        for i in remaining:
            if len(batch) < batch_size and seen.isdisjoint(rows[i]):
                batch.append(i)
                seen.update(rows[i])
            else:
                left.append(i)
        batches.append(batch)
        remaining = left
    multi = [b for b in batches if len(b) > 1]
    return multi or batches


def plan(config: Any, n_rows: int) -> tuple[int, int]:
    """(optimizer steps, batch) for ``n_rows`` training rows: ``engines.finetune.recipe``, the one home
    of the minimum-steps rule (``max(ceil(epochs × batches per epoch), min_steps)``, capped by
    ``max_steps``), so the classification and the contrastive fine-tunes count steps alike."""
    from engines.finetune import recipe

    return recipe(config, n_rows)


class TrainLoop:
    """One fit's optimisation: AdamW, linear warm-up and decay, clipping, budget, cancel, progress."""

    def __init__(
        self,
        engine: Any,
        model: Any,
        rows: list[tuple[str, ...]],
        budget_s: float | None,
        progress: ProgressFn,
        cancel: threading.Event | None,
        t_start: float,
    ) -> None:
        self.engine, self.cfg, self.model, self.rows = engine, engine.config, model, rows
        self.budget_s, self.progress, self.cancel, self.t_start = budget_s, progress, cancel, t_start
        self.device = engine.device or "cpu"
        self.total_steps, self.batch = plan(self.cfg, len(rows))
        self.step = self.examples_seen = self.tokens_seen = 0
        self.train_s = 0.0
        self.stopped = "completed"
        self.notes: list[str] = []
        per_epoch = math.ceil(len(rows) / self.batch)
        if self.total_steps > math.ceil(self.cfg.epochs * per_epoch):
            self.notes.append(
                f"{self.total_steps} optimizer steps (min_steps; {self.cfg.epochs:g} epochs would be "
                f"{math.ceil(self.cfg.epochs * per_epoch)}): small data needs enough steps to learn"
            )

    def _out_of_budget(self) -> bool:
        if self.budget_s is None:
            return False
        step_s = self.train_s / self.step if self.step else 0.0
        return time.perf_counter() - self.t_start + step_s > self.budget_s

    def train(self) -> None:
        import torch
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from transformers import get_linear_schedule_with_warmup

        from engines.backbone import autocast_context, resolve_precision, synchronize

        cfg, model = self.cfg, self.model
        loss_fn = MultipleNegativesRankingLoss(model, scale=cfg.scale)
        decay, no_decay = [], []
        for p in model.parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 else decay).append(p)
        params = decay + no_decay
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        lr = cfg.learning_rate_lora if cfg.mode == "lora" else cfg.learning_rate
        try:
            optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError):
            optimizer = torch.optim.AdamW(groups, lr=lr)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, math.ceil(cfg.warmup_ratio * self.total_steps), self.total_steps
        )
        # fp16 (a CUDA GPU without bf16) needs loss scaling; bf16 and fp32 do not
        scaler = torch.amp.GradScaler("cuda") if resolve_precision(self.device, cfg.precision) == "fp16" else None
        preprocess = getattr(model, "preprocess", None) or model.tokenize
        model.train()
        epoch, batches, pos = 0, no_duplicate_batches(self.rows, self.batch, cfg.seed, 0), 0
        while self.step < self.total_steps:
            if self.cancel is not None and self.cancel.is_set():
                self.stopped = "cancelled"
                break
            if self._out_of_budget():
                self.stopped = "budget"
                break
            if pos == len(batches):
                epoch, pos = epoch + 1, 0
                batches = no_duplicate_batches(self.rows, self.batch, cfg.seed, epoch)
            idx = batches[pos]
            pos += 1
            t0 = time.perf_counter()
            features = []
            for column in zip(*(self.rows[i] for i in idx)):
                feats = preprocess(list(column))
                self.tokens_seen += int(feats["attention_mask"].sum())
                features.append({k: v.to(self.device) if hasattr(v, "to") else v for k, v in feats.items()})
            with autocast_context(self.device, cfg.precision):
                loss = loss_fn(features, None)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            synchronize(self.device)
            self.train_s += time.perf_counter() - t0
            self.step += 1
            self.examples_seen += len(idx)
            self.progress(
                ProgressEvent(
                    phase="train",
                    done=self.step,
                    total=self.total_steps,
                    unit="steps",
                    message=f"loss {float(loss.detach()):.4f}",
                )
            )
        model.eval()
        if self.stopped != "completed":
            who = "budget" if self.stopped == "budget" else "user"
            self.notes.append(
                f"stopped by the {who} after {self.step} of {self.total_steps} steps; the weights keep those steps"
            )
