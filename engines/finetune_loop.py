"""The fine-tune training loop (``FinetuneRun``, one ``fit``): early stopping on a validation split,
the time budget, Ctrl-C, checkpoints (engines.finetune_resume), CUDA out-of-memory retries that halve
the micro-batch and keep the effective batch; the optimizer is engines.finetune_optim's."""

from __future__ import annotations

import math
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines import finetune_model, finetune_optim, finetune_resume
from engines.base import Examples, ProgressEvent, ProgressFn
from engines.checkpoint import _fingerprint, _load_trainable, _trainable
from engines.errors import ResourceError
from engines.finetune import epoch_batches, plan_steps
from engines.finetune_model import _collate, _free_cuda, _is_oom

if TYPE_CHECKING:
    from engines.finetune import FinetuneEngine


class FinetuneRun:
    """One ``fit``: the loop, early stopping, budget, cancel, checkpoints and OOM retries."""

    def __init__(
        self,
        engine: FinetuneEngine,
        train: Examples,
        valid: Examples | None,
        budget_s: float | None,
        progress: ProgressFn,
        cancel: threading.Event | None,
        workdir: Path | None,
        resume: bool,
        t_start: float,
    ) -> None:
        self.engine, self.cfg = engine, engine.config
        self.budget_s, self.progress, self.cancel = budget_s, progress, cancel
        self.workdir, self.resume, self.t_start = (Path(workdir) if workdir else None), resume, t_start
        self.device = engine.device
        self.notes: list[str] = []
        self.phase_s: dict[str, float] = {}
        self.fingerprint = _fingerprint(train, valid, self.cfg, engine._base["id"])  # type: ignore[index]
        self.classes = sorted(set(train.labels))
        self.train_ex, self.valid_ex = engine._split(train, valid, self.notes)
        self.step = self.examples_seen = self.tokens_seen = 0
        self.session_examples = self.session_tokens = self.session_steps = 0
        self.train_s = 0.0
        self.eval_s: list[float] = []
        self.best: dict[str, Any] | None = None
        self.best_score: tuple[float, float] | None = None
        self.best_step: int | None = None
        self.evals_without_gain = 0
        self.last_eval_step: int | None = None
        self.finished: str | None = None
        self.stopped = "completed"
        self.final_model: Any = None

    def _add(self, phase: str, seconds: float) -> None:
        self.phase_s[phase] = self.phase_s.get(phase, 0.0) + seconds

    # ---------------------------------------------------------------- setup
    def _setup(self) -> None:
        import torch

        from engines.backbone import resolve_precision

        t0 = time.perf_counter()
        cfg, eng = self.cfg, self.engine
        index = {c: i for i, c in enumerate(self.classes)}
        self.seqs = eng._encode(self.train_ex.texts)
        self.lengths = [len(s) for s in self.seqs]
        self.y = torch.tensor([index[c] for c in self.train_ex.labels], dtype=torch.long)
        if self.valid_ex is not None:
            self.valid_seqs = eng._encode(self.valid_ex.texts)
            self.valid_y = torch.tensor([index[c] for c in self.valid_ex.labels], dtype=torch.long)
        self.total_steps, self.per_epoch = plan_steps(len(self.train_ex), cfg)
        epoch_steps = math.ceil(cfg.epochs * self.per_epoch)
        if self.total_steps > epoch_steps:
            self.notes.append(
                f"{self.total_steps} optimizer steps (min_steps; {cfg.epochs:g} epochs would be "
                f"{epoch_steps}): small data needs enough steps to learn"
            )
        model, fresh = eng._build_model(self.classes)
        if cfg.mode == "lora":
            model = eng._wrap_lora(model, fresh)
        self.model = model.to(self.device)
        self.precision = resolve_precision(self.device, cfg.precision)
        if cfg.precision in ("bf16", "fp16") and not self.device.startswith("cuda"):
            self.notes.append(f"precision {cfg.precision} needs a CUDA GPU: training in fp32 on {self.device}")
        self.optimizer, self.scheduler, self.scaler = finetune_optim.build(
            self.model, cfg, self.total_steps, self.precision
        )
        self.micro = cfg.train_batch_size
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._epoch: tuple[int, list[list[int]]] = (-1, [])
        self._updating = False
        self._step_rng: dict[str, Any] | None = None
        self._ckpt_step: int | None = None
        self._ckpt_s: list[float] = []
        self._add("prepare", time.perf_counter() - t0)

    # ---------------------------------------------------------------- checkpoints (engines.finetune_resume)
    def _restore(self) -> None:
        finetune_resume.restore(self)

    def _checkpoint(self, rng: dict[str, Any] | None = None) -> None:
        if self.workdir is None:
            return
        t0 = time.perf_counter()
        finetune_resume.save(self, rng)
        self._ckpt_step = self.step
        self._ckpt_s.append(time.perf_counter() - t0)
        self._add("checkpoint", self._ckpt_s[-1])

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        t0 = time.perf_counter()
        correct, loss_sum, rows = self._valid_sums(self.valid_seqs, self.valid_y)
        self.model.train()
        acc, loss = correct / rows, loss_sum / rows
        score = (acc, -loss)
        best: dict[str, Any] | None
        best_step: int | None
        if self.best_score is None or score > self.best_score:
            best, best_score, best_step, without = _trainable(self.model), score, self.step, 0
        else:
            best, best_score, best_step = self.best, self.best_score, self.best_step
            without = self.evals_without_gain + 1
        finished = "early_stopping" if without >= self.cfg.early_stopping_patience else self.finished
        # one statement: a Ctrl-C cannot leave half of the early-stopping state updated
        (self.best, self.best_score, self.best_step, self.evals_without_gain, self.finished, self.last_eval_step) = (
            best,
            best_score,
            best_step,
            without,
            finished,
            self.step,
        )
        self.eval_s.append(time.perf_counter() - t0)
        self._add("eval", self.eval_s[-1])
        self.progress(
            ProgressEvent(
                phase="eval",
                done=self.step,
                total=self.total_steps,
                unit="steps",
                message=f"validation accuracy {acc:.3f} loss {loss:.3f}",
            )
        )

    def _valid_sums(self, seqs: list[list[int]], y: Any) -> tuple[float, float, int]:
        """(correct, summed cross-entropy, rows) of ``seqs`` under the current weights."""
        import torch

        logits = self.engine._logits(self.model, seqs, self.cfg.batch_size)
        correct = float((logits.argmax(axis=1) == y.numpy()).sum())
        loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), y, reduction="sum"))
        return correct, loss, len(seqs)

    def _eval_due(self) -> bool:
        return (
            self.valid_ex is not None
            and self.step > 0
            and self.last_eval_step != self.step
            and (self.step % self.cfg.eval_every_steps == 0 or self.step == self.total_steps)
        )

    # ---------------------------------------------------------------- one step
    def _train_step(self) -> float:
        import torch

        epoch, pos = divmod(self.step, self.per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.lengths, self.cfg.train_batch_size, self.cfg.seed, epoch))
        batch = self._epoch[1][pos]
        rows = self._rows(batch)
        pad = self.engine._tokenizer.pad_token_id or 0
        from engines.backbone import autocast_context

        rng_start = torch.get_rng_state()
        self._step_rng = finetune_resume.torch_rng(self.device)
        while True:
            self.optimizer.zero_grad(set_to_none=True)
            loss_sum = torch.zeros((), device=self.device)
            try:
                for s in range(0, len(rows), self.micro):
                    idx = rows[s : s + self.micro]
                    inputs = _collate([self.seqs[i] for i in idx], pad, self.device)
                    with autocast_context(self.device, self.cfg.precision):
                        logits = finetune_model._forward_logits(self.model, inputs)
                    loss = torch.nn.functional.cross_entropy(
                        logits.float(), self.y[idx].to(self.device), reduction="sum"
                    ) / len(batch)
                    (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
                    loss_sum = loss_sum + loss.detach().float()
                break
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self.optimizer.zero_grad(set_to_none=True)
                _free_cuda(self.device)
                if self.micro == 1:
                    raise ResourceError(
                        "CUDA out of memory even at micro-batch 1: lower max_length or use device=cpu"
                    ) from None
                old, self.micro = self.micro, max(1, self.micro // 2)
                accum = math.ceil(self.cfg.train_batch_size / self.micro)
                self.notes.append(
                    f"CUDA out of memory at batch {old}: continuing at micro-batch "
                    f"{self.micro} × {accum} accumulation steps"
                )
                torch.set_rng_state(rng_start)
        loss_sum = self._reduce(loss_sum)
        self._updating = True
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self._params, self.cfg.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        tokens = sum(self.lengths[i] for i in batch)
        self.examples_seen += len(batch)
        self.tokens_seen += tokens
        self.session_examples += len(batch)
        self.session_tokens += tokens
        self._updating, self._step_rng = False, None
        return float(loss_sum)

    # Data-parallel hooks (engines.ray_finetune): in one process a step computes its whole batch.
    def _rows(self, batch: list[int]) -> list[int]:
        """The rows of ``batch`` this process computes (its loss is still divided by the whole batch)."""
        return batch

    def _reduce(self, loss_sum: Any) -> Any:
        """Combine this process's gradients and loss with the other processes' (none here)."""
        return loss_sum

    def _out_of_budget(self) -> bool:
        if self.budget_s is None:
            return False
        elapsed = time.perf_counter() - self.t_start
        step_s = self.train_s / self.session_steps if self.session_steps else 0.0
        nxt = step_s
        if self.valid_ex is not None and (self.step + 1) % self.cfg.eval_every_steps == 0 and self.eval_s:
            nxt += sum(self.eval_s) / len(self.eval_s)
        if self._ckpt_s:  # stopping writes a checkpoint too
            nxt += sum(self._ckpt_s) / len(self._ckpt_s)
        return elapsed + nxt > self.budget_s

    # ---------------------------------------------------------------- the loop
    def train(self) -> None:
        from engines.backbone import synchronize

        self._setup()
        self._restore()
        self.model.train()
        if self._eval_due():  # interrupted between a step and its validation
            self._validate()
        stop: str | None = None
        try:
            while self.finished is None and self.step < self.total_steps:
                if self.cancel is not None and self.cancel.is_set():
                    stop = "cancelled"
                    break
                if self._out_of_budget():
                    stop = "budget"
                    break
                t0 = time.perf_counter()
                loss = self._train_step()
                synchronize(self.device)
                self.train_s += time.perf_counter() - t0
                self.session_steps += 1
                self.progress(
                    ProgressEvent(
                        phase="train", done=self.step, total=self.total_steps, unit="steps", message=f"loss {loss:.4f}"
                    )
                )
                if self._eval_due():
                    self._validate()
                if self.step == self.total_steps and self.finished is None:
                    self.finished = "completed"
                if self.finished is not None or self.step % self.cfg.checkpoint_every_steps == 0:
                    self._checkpoint()
        except KeyboardInterrupt:
            # A step cut short restarts from its beginning: its RNG state and the counters before it.
            if not self._updating:
                self._checkpoint(self._step_rng)
            raise
        if stop is not None:
            self.stopped = stop
            if self._ckpt_step != self.step:
                self._checkpoint()
            self.notes.append(
                f"stopped by the {'budget' if stop == 'budget' else 'user'} after "
                f"{self.step} of {self.total_steps} steps; the checkpoint can resume it"
                if self.workdir
                else f"stopped by the {'budget' if stop == 'budget' else 'user'} after "
                f"{self.step} of {self.total_steps} steps"
            )
        elif self.finished == "early_stopping":
            self.stopped = "early_stopping"
            self.notes.append(
                f"early stopping at step {self.step}: no validation gain in "
                f"{self.cfg.early_stopping_patience} evaluations"
            )
        self._finish()

    def report_fields(self) -> dict[str, Any]:
        """What the run did, as ``FitReport`` fields (all but the engine, ``n_train``, wall time,
        memory and device, which the caller knows)."""
        return {
            "examples_seen": self.examples_seen,
            "epochs": round(self.examples_seen / max(1, len(self.train_ex)), 4),
            "steps": self.step,
            "tokens_seen": self.tokens_seen,
            "stopped": self.stopped,
            "best_step": self.best_step,
            "phase_s": self.phase_s,
            "train_examples_per_s": self.session_examples / self.train_s if self.train_s > 0 else None,
            "train_tokens_per_s": self.session_tokens / self.train_s if self.train_s > 0 else None,
            "notes": self.notes,
        }

    def _finish(self) -> None:
        """Keep the best validated weights; merge LoRA so the model needs no peft."""
        if self.best is not None:
            current_validated = self.last_eval_step == self.step
            if not current_validated and self.stopped == "budget":
                self.notes.append(
                    f"the budget left no time to validate the last {self.step - (self.last_eval_step or 0)}"
                    " steps: kept the latest weights"
                )
            elif not current_validated and self.stopped == "cancelled":
                self.notes.append("cancelled before validating the latest weights: kept them")
            else:
                if self.best_step != self.step:
                    _load_trainable(self.model, self.best)
                    self.notes.append(f"kept the best validation weights, from step {self.best_step}")
        model = self.model
        if self.cfg.mode == "lora":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = model.merge_and_unload()
        model.eval()
        self.final_model = model
