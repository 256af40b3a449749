"""The fine-tune training loop (``FinetuneRun``, one ``fit``): steps, validations, the time budget, Ctrl-C,
CUDA out-of-memory retries that halve the micro-batch and keep the effective batch. Checkpoints are
engines.finetune_resume's, the optimizer engines.finetune_optim's, early stopping engines.finetune_stopping's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines import finetune_model, finetune_optim, finetune_resume, finetune_stopping
from engines.base import Examples, ProgressEvent, ProgressFn
from engines.checkpoint import _fingerprint
from engines.finetune import epoch_batches, min_steps_note, plan_steps, validation_split
from engines.finetune_model import _is_oom, after_oom

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
        self.train_ex, self.valid_ex = validation_split(train, valid, self.cfg, self.notes)
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
        from engines.backbone import cut_count, cut_note, resolve_precision

        t0 = time.perf_counter()
        cfg, eng = self.cfg, self.engine
        self.seqs, self.y = eng._encode_labelled(self.train_ex, self.classes)
        self.lengths = [len(s) for s in self.seqs]
        said = cut_note(cut_count(self.lengths, cfg.max_length), len(self.lengths), cfg.max_length, "training texts")
        if said is not None:
            self.notes.append(said)
        if self.valid_ex is not None:
            self.valid_seqs, self.valid_y = eng._encode_labelled(self.valid_ex, self.classes)
        self.total_steps, self.per_epoch = plan_steps(len(self.train_ex), cfg)
        note = min_steps_note(self.total_steps, cfg.epochs, self.per_epoch)
        if note is not None:
            self.notes.append(note)
        self.model = eng._classifier(self.classes).to(self.device)
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
        self.checkpoint_s: list[float] = []
        self._add("prepare", time.perf_counter() - t0)

    # ---------------------------------------------------------------- checkpoints (engines.finetune_resume)
    def _checkpoint(self, rng: dict[str, Any] | None = None) -> None:
        if self.workdir is None:
            return
        t0 = time.perf_counter()
        finetune_resume.save(self, rng)
        self._ckpt_step = self.step
        self.checkpoint_s.append(time.perf_counter() - t0)
        self._add("checkpoint", self.checkpoint_s[-1])

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        t0 = time.perf_counter()
        correct, loss_sum, rows = self._valid_sums(self.valid_seqs, self.valid_y)
        self.model.train()
        acc, loss = correct / rows, loss_sum / rows
        finetune_stopping.record_validation(self, acc, loss)
        self.eval_s.append(time.perf_counter() - t0)
        self._add("eval", self.eval_s[-1])
        msg = f"validation accuracy {acc:.3f} loss {loss:.3f}"
        self.progress(ProgressEvent(phase="eval", done=self.step, total=self.total_steps, unit="steps", message=msg))

    def _valid_sums(self, seqs: list[list[int]], y: Any) -> tuple[float, float, int]:
        """(correct, summed cross-entropy, rows) of ``seqs`` under the current weights."""
        logits = self.engine._logits(self.model, seqs, self.cfg.batch_size)
        return (*finetune_stopping.valid_sums(logits, y), len(seqs))

    # ---------------------------------------------------------------- one step
    def _train_step(self) -> float:
        import torch

        epoch, pos = divmod(self.step, self.per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.lengths, self.cfg.train_batch_size, self.cfg.seed, epoch))
        batch = self._epoch[1][pos]
        rows = self._rows(batch)
        pad = self.engine._tokenizer.pad_token_id or 0
        rng_start = torch.get_rng_state()
        self._step_rng = finetune_resume.torch_rng(self.device)
        while True:
            self.optimizer.zero_grad(set_to_none=True)
            loss_sum = torch.zeros((), device=self.device)
            try:
                loss_sum = finetune_model.backward_batch(
                    self.model, self.seqs, self.y, rows, len(batch), self.micro, pad, self.device,
                    self.cfg.precision, self.scaler, loss_sum,
                )  # fmt: skip
                break
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self.optimizer.zero_grad(set_to_none=True)
                self.micro, note = after_oom(self.device, self.micro, self.cfg.train_batch_size)
                self.notes.append(note)
                torch.set_rng_state(rng_start)
        loss_sum = self._reduce(loss_sum)
        self._updating = True
        finetune_optim.update(self.optimizer, self.scheduler, self.scaler, self._params, self.cfg.max_grad_norm)
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

    # ---------------------------------------------------------------- the loop
    def train(self) -> None:
        from engines.backbone import synchronize

        self._setup()
        finetune_resume.restore(self)
        self.model.train()
        if finetune_stopping.eval_due(self):  # interrupted between a step and its validation
            self._validate()
        stop: str | None = None
        try:
            while self.finished is None and self.step < self.total_steps:
                stop = finetune_stopping.stop_reason(self)
                if stop is not None:
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
                if finetune_stopping.eval_due(self):
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
            self.notes.append(finetune_stopping.stop_note(stop, self.step, self.total_steps, bool(self.workdir)))
        elif self.finished == "early_stopping":
            self.stopped = "early_stopping"
            self.notes.append(finetune_stopping.early_stopping_note(self.step, self.cfg.early_stopping_patience))
        self.final_model = finetune_stopping.final_model(self)

    def report_fields(self) -> dict[str, Any]:
        """What the run did, as ``FitReport`` fields (engines.finetune_stopping.report_fields)."""
        return finetune_stopping.report_fields(self)
