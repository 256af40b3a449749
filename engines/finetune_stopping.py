"""How a fine-tune run (``FinetuneRun``) stops and what it leaves: early stopping's state after a
validation, the budget's check (the contrastive loop's too), the notes on a stop, the weights it keeps
(best validated or latest; LoRA merged) and its ``FitReport`` fields."""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from engines.checkpoint import load_trainable, trainable

if TYPE_CHECKING:
    from engines.finetune_loop import FinetuneRun


def record_validation(run: FinetuneRun, acc: float, loss: float) -> None:
    """Early stopping's state after a validation of ``run``'s current weights scoring ``acc`` and ``loss``:
    a better (accuracy, -loss) keeps a copy of them as the best; ``early_stopping_patience`` validations in a
    row without a gain finish the run."""
    score = (acc, -loss)
    best: dict[str, Any] | None
    best_step: int | None
    if run.best_score is None or score > run.best_score:
        best, best_score, best_step, without = trainable(run.model), score, run.step, 0
    else:
        best, best_score, best_step = run.best, run.best_score, run.best_step
        without = run.evals_without_gain + 1
    finished = "early_stopping" if without >= run.cfg.early_stopping_patience else run.finished
    # one statement: a Ctrl-C cannot leave half of the early-stopping state updated
    (run.best, run.best_score, run.best_step, run.evals_without_gain, run.finished, run.last_eval_step) = (
        best,
        best_score,
        best_step,
        without,
        finished,
        run.step,
    )


def eval_due(run: FinetuneRun) -> bool:
    """Whether ``run`` validates now: it has a validation split, took a step not yet validated, and the
    step is a multiple of ``eval_every_steps`` or the last one."""
    return (
        run.valid_ex is not None
        and run.step > 0
        and run.last_eval_step != run.step
        and (run.step % run.cfg.eval_every_steps == 0 or run.step == run.total_steps)
    )


def valid_sums(logits: Any, y: Any) -> tuple[float, float]:
    """(correct, summed cross-entropy) of ``logits`` (NumPy) against the label tensor ``y``."""
    import torch

    correct = float((logits.argmax(axis=1) == y.numpy()).sum())
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), y, reduction="sum"))
    return correct, loss


def stop_reason(run: FinetuneRun) -> str | None:
    """Why ``run`` stops before its next step: "cancelled" (its ``cancel`` is set), "budget" (the step
    would overrun it) or None."""
    if run.cancel is not None and run.cancel.is_set():
        return "cancelled"
    if out_of_budget(run):
        return "budget"
    return None


def out_of_budget(run: FinetuneRun) -> bool:
    """Whether ``run``'s next step (and its validation, when it has one) would end past its budget."""
    if run.budget_s is None:
        return False
    elapsed = time.perf_counter() - run.t_start
    validates = run.valid_ex is not None and (run.step + 1) % run.cfg.eval_every_steps == 0
    eval_s = run.eval_s if validates else []
    return overruns(run.budget_s, elapsed, run.train_s, run.session_steps, eval_s, run.checkpoint_s)


def overruns(
    budget_s: float, elapsed: float, train_s: float, steps: int, eval_s: list[float], ckpt_s: list[float]
) -> bool:
    """Whether one more step would end past ``budget_s`` (``elapsed`` so far): a step's mean time
    (``train_s`` over ``steps``) plus a validation's (``eval_s``: when the step validates) and a
    checkpoint's (``ckpt_s``: stopping writes one too)."""
    nxt = train_s / steps if steps else 0.0
    if eval_s:
        nxt += sum(eval_s) / len(eval_s)
    if ckpt_s:
        nxt += sum(ckpt_s) / len(ckpt_s)
    return elapsed + nxt > budget_s


def _stopped_by(stop: str) -> str:
    return f"stopped by the {'budget' if stop == 'budget' else 'user'} after "


def stop_note(stop: str, step: int, total_steps: int, resumable: bool) -> str:
    """The note on a run the budget or the user (``stop``: "budget" or "cancelled") stopped."""
    note = f"{_stopped_by(stop)}{step} of {total_steps} steps"
    return note + "; the checkpoint can resume it" if resumable else note


def is_stop_note(note: str, stop: str) -> bool:
    """Whether ``note`` is ``stop_note``'s for a run that ``stop`` stopped."""
    return note.startswith(_stopped_by(stop))


def early_stopping_note(step: int, patience: int) -> str:
    """The note on a run that early stopping ended at ``step`` after ``patience`` validations without a gain."""
    return f"early stopping at step {step}: no validation gain in {patience} evaluations"


def final_model(run: FinetuneRun) -> Any:
    """``run``'s model to keep, in eval mode: the best validated weights (unless a stop left the latest
    ones unvalidated: then those, noted), LoRA merged so that it needs no peft."""
    if run.best is not None:
        current_validated = run.last_eval_step == run.step
        if not current_validated and run.stopped == "budget":
            run.notes.append(
                f"the budget left no time to validate the last {run.step - (run.last_eval_step or 0)}"
                " steps: kept the latest weights"
            )
        elif not current_validated and run.stopped == "cancelled":
            run.notes.append("cancelled before validating the latest weights: kept them")
        else:
            if run.best_step != run.step:
                load_trainable(run.model, run.best)
                run.notes.append(f"kept the best validation weights, from step {run.best_step}")
    model = run.model
    if run.cfg.mode == "lora":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = model.merge_and_unload()
    model.eval()
    return model


def report_fields(run: FinetuneRun) -> dict[str, Any]:
    """What ``run`` did, as ``FitReport`` fields (all but the engine, ``n_train``, wall time, memory
    and device, which the caller knows)."""
    return {
        "examples_seen": run.examples_seen,
        "epochs": round(run.examples_seen / max(1, len(run.train_ex)), 4),
        "steps": run.step,
        "tokens_seen": run.tokens_seen,
        "stopped": run.stopped,
        "best_step": run.best_step,
        "phase_s": run.phase_s,
        "train_examples_per_s": run.session_examples / run.train_s if run.train_s > 0 else None,
        "train_tokens_per_s": run.session_tokens / run.train_s if run.train_s > 0 else None,
        "notes": run.notes,
    }
