"""The contrastive engines' training: rows from the pairs, no-duplicate batches, the step plan, the loop.

MultipleNegativesRankingLoss under AdamW with linear warm-up and decay and clipping; ``budget_s``,
``cancel``, progress and checkpoints (``engines.checkpoint``: resume reaches the same weights) between steps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.base import ProgressEvent, ProgressFn
from engines.errors import DataError
from engines.finetune_optim import update
from engines.finetune_stopping import overruns
from engines.records import Pairs

if TYPE_CHECKING:
    from engines.checkpoint import Checkpoint


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


_FINGERPRINT_KEYS = (
    "model", "max_length", "mode", "train_batch_size", "learning_rate", "learning_rate_lora", "weight_decay",
    "warmup_ratio", "max_grad_norm", "epochs", "min_steps", "max_steps", "scale", "lora_r", "lora_alpha",
    "lora_dropout", "lora_targets", "seed",
)  # fmt: skip


def fingerprint(rows: Sequence[tuple[str, ...]], config: Any, model_id: str) -> str:
    """What a checkpoint belongs to: the training rows, the model and the settings that shape the weights."""
    import hashlib
    import json

    h = hashlib.sha256()
    h.update(json.dumps({k: getattr(config, k) for k in _FINGERPRINT_KEYS}, sort_keys=True, default=list).encode())
    h.update(model_id.encode())
    for row in rows:
        for text in row:
            h.update(text.encode("utf-8", "surrogatepass") + b"\x00")
        h.update(b"\x01")
    return h.hexdigest()[:32]


def build_optimizer(model: Any, config: Any, total_steps: int, device: str) -> tuple[Any, Any, Any, list[Any]]:
    """(AdamW, its linear warm-up and decay schedule, the fp16 grad scaler or None, the parameters to clip)
    over ``model``'s trainable parameters: weight decay off for biases and norms, fused AdamW where torch has it."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from engines.backbone import resolve_precision

    decay: list[Any] = []
    no_decay: list[Any] = []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    lr = config.learning_rate_lora if config.mode == "lora" else config.learning_rate
    try:
        optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        optimizer = torch.optim.AdamW(groups, lr=lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * total_steps), total_steps)
    # fp16 (a CUDA GPU without bf16) needs loss scaling; bf16 and fp32 do not
    scaler = torch.amp.GradScaler("cuda") if resolve_precision(device, config.precision) == "fp16" else None
    return optimizer, scheduler, scaler, decay + no_decay


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
        *,
        workdir: Path | None = None,
        resume: bool = False,
        model_id: str = "",
    ) -> None:
        from engines.finetune import min_steps_note

        self.engine, self.cfg, self.model, self.rows = engine, engine.config, model, rows
        self.budget_s, self.progress, self.cancel, self.t_start = budget_s, progress, cancel, t_start
        self.workdir, self.resume = (Path(workdir) if workdir is not None else None), resume
        self.fingerprint = fingerprint(rows, engine.config, model_id)
        self._ckpt_step: int | None = None
        self._ckpt_s: list[float] = []
        self.device = engine.device or "cpu"
        self.total_steps, self.batch = plan(self.cfg, len(rows))
        self.step = self.examples_seen = self.tokens_seen = 0
        self.session_steps = self.session_examples = self.session_tokens = 0  # this call's work (for speeds)
        self.train_s = 0.0
        self.stopped = "completed"
        self.notes: list[str] = []
        note = min_steps_note(self.total_steps, self.cfg.epochs, math.ceil(len(rows) / self.batch))
        if note is not None:
            self.notes.append(note)

    def _out_of_budget(self) -> bool:
        if self.budget_s is None:
            return False
        elapsed = time.perf_counter() - self.t_start
        return overruns(self.budget_s, elapsed, self.train_s, self.session_steps, [], self._ckpt_s)

    def train(self) -> None:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        from engines.backbone import autocast_context, synchronize

        cfg, model = self.cfg, self.model
        loss_fn = MultipleNegativesRankingLoss(model, scale=cfg.scale)
        optimizer, scheduler, scaler, params = build_optimizer(model, cfg, self.total_steps, self.device)
        preprocess = getattr(model, "preprocess", None) or model.tokenize
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self._restore()
        model.train()
        epoch, batches, pos = self._position()
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
                n_tokens = int(feats["attention_mask"].sum())
                self.tokens_seen += n_tokens
                self.session_tokens += n_tokens
                features.append({k: v.to(self.device) if hasattr(v, "to") else v for k, v in feats.items()})
            with autocast_context(self.device, cfg.precision):
                loss = loss_fn(features, None)
            (scaler.scale(loss) if scaler is not None else loss).backward()
            update(optimizer, scheduler, scaler, params, cfg.max_grad_norm)
            optimizer.zero_grad(set_to_none=True)
            synchronize(self.device)
            self.train_s += time.perf_counter() - t0
            self.step += 1
            self.session_steps += 1
            self.examples_seen += len(idx)
            self.session_examples += len(idx)
            self.progress(
                ProgressEvent(
                    phase="train",
                    done=self.step,
                    total=self.total_steps,
                    unit="steps",
                    message=f"loss {float(loss.detach()):.4f}",
                )
            )
            if self.step % cfg.checkpoint_every_steps == 0 or self.step == self.total_steps:
                self._checkpoint()
        if self._ckpt_step != self.step:
            self._checkpoint()
        model.eval()
        if self.stopped != "completed":
            who = "budget" if self.stopped == "budget" else "user"
            self.notes.append(
                f"stopped by the {who} after {self.step} of {self.total_steps} steps; the weights keep those steps"
            )

    # ------------------------------------------------------------------ checkpoints
    def _position(self) -> tuple[int, list[list[int]], int]:
        """(epoch, its batches, next batch) after ``self.step`` steps: batches are a pure function of
        (seed, epoch), so a resumed run takes up exactly where the checkpoint left off."""
        epoch, done = 0, 0
        while True:
            batches = no_duplicate_batches(self.rows, self.batch, self.cfg.seed, epoch)
            if done + len(batches) > self.step:
                return epoch, batches, self.step - done
            done += len(batches)
            epoch += 1

    def _checkpoint(self) -> None:
        from engines import checkpoint as ckpt

        if self.workdir is None:
            return
        t0 = time.perf_counter()
        rng, py_rng, np_rng = ckpt.capture_rng()
        opt_t, groups, scalars = ckpt.optimizer_to_flat(self.optimizer.state_dict())
        state = ckpt.TrainState(
            fingerprint=self.fingerprint,
            step=self.step,
            total_steps=self.total_steps,
            examples_seen=self.examples_seen,
            tokens_seen=self.tokens_seen,
            micro_batch=self.batch,
            finished="completed" if self.step >= self.total_steps else None,
            scheduler=ckpt._jsonable(self.scheduler.state_dict()),
            scaler=ckpt._jsonable(self.scaler.state_dict()) if self.scaler is not None else None,
            optimizer_groups=groups,
            optimizer_scalars=scalars,
            python_rng=py_rng,
            numpy_rng=np_rng,
        )
        ckpt.save_checkpoint(self.workdir, state, weights=ckpt.trainable(self.model), optimizer_tensors=opt_t, rng=rng)
        self._ckpt_step = self.step
        self._ckpt_s.append(time.perf_counter() - t0)

    def _restore(self) -> None:
        from engines import checkpoint as ckpt

        found = ckpt.restore_latest(
            self.workdir,
            self.resume,
            self.fingerprint,
            self.notes,
            belongs_to="pairs",
            load_weights=self._load_weights,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
        )
        if found is None:
            return
        st = found.state
        self.step, self.examples_seen, self.tokens_seen = st.step, st.examples_seen, st.tokens_seen
        self._ckpt_step = st.step
        self.notes.append(f"resumed from the checkpoint at step {st.step} of {st.total_steps}")

    def _load_weights(self, found: Checkpoint) -> None:
        """Copy a checkpoint's weights into the trainable parameters (ArtifactError when they differ)."""
        import torch

        from engines.errors import ArtifactError

        params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        if set(params) != set(found.weights):
            raise ArtifactError(f"checkpoint weights in {found.path} do not match the model")
        with torch.no_grad():
            for name, tensor in found.weights.items():
                params[name].copy_(tensor)
