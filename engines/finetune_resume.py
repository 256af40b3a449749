"""Checkpoints of a fine-tune run: what ``FinetuneRun`` writes every few steps and on a stop, and how a
resumed run reads it back (engines.checkpoint holds the format; this module maps a run onto it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines import checkpoint as ckpt
from engines.base import ProgressEvent
from engines.checkpoint import load_trainable, trainable

if TYPE_CHECKING:
    from engines.finetune_loop import FinetuneRun


def restore(run: FinetuneRun) -> None:
    """Load the latest checkpoint in the run's workdir into it (with ``resume``; else nothing)."""
    ck = ckpt.restore_latest(
        run.workdir,
        run.resume,
        run.fingerprint,
        run.notes,
        belongs_to="data",
        load_weights=lambda found: load_trainable(run.model, found.weights),
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        scaler=run.scaler,
    )
    if ck is None:
        return
    st = ck.state
    run.step, run.examples_seen, run.tokens_seen = st.step, st.examples_seen, st.tokens_seen
    run.micro = min(st.micro_batch, run.cfg.train_batch_size)
    run.best = ck.best
    run.best_score = tuple(st.best_score) if st.best_score else None  # type: ignore[assignment]
    run.best_step, run.evals_without_gain = st.best_step, st.evals_without_gain
    run.last_eval_step, run.finished = st.last_eval_step, st.finished
    run.notes = [n for n in st.notes if n not in run.notes] + run.notes
    run.notes.append(f"resumed from the checkpoint at step {st.step} of {st.total_steps}")


def torch_rng(device: str) -> dict[str, Any]:
    """torch's generator states (Python/NumPy generators are not used inside a step)."""
    import torch

    states = {"torch": torch.get_rng_state()}
    if device.startswith("cuda"):
        states.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def save(run: FinetuneRun, rng: dict[str, Any] | None = None) -> None:
    """Write the run's state as the workdir's latest checkpoint (``rng``: the generator states to resume with)."""
    assert run.workdir is not None
    run.progress(ProgressEvent(phase="save", done=run.step, total=run.total_steps, unit="steps", message="checkpoint"))
    tensors, py_rng, np_rng = ckpt.capture_rng()
    if rng is not None:  # a step cut short restarts from the generator state it began with
        tensors = rng
    opt_t, groups, scalars = ckpt.optimizer_to_flat(run.optimizer.state_dict())
    state = ckpt.TrainState(
        fingerprint=run.fingerprint,
        step=run.step,
        total_steps=run.total_steps,
        examples_seen=run.examples_seen,
        tokens_seen=run.tokens_seen,
        micro_batch=run.micro,
        best_score=run.best_score,
        best_step=run.best_step,
        evals_without_gain=run.evals_without_gain,
        last_eval_step=run.last_eval_step,
        finished=run.finished,
        notes=list(run.notes),
        scheduler=ckpt._jsonable(run.scheduler.state_dict()),
        scaler=ckpt._jsonable(run.scaler.state_dict()) if run.scaler is not None else None,
        optimizer_groups=groups,
        optimizer_scalars=scalars,
        python_rng=py_rng,
        numpy_rng=np_rng,
    )
    ckpt.save_checkpoint(
        run.workdir, state, weights=trainable(run.model), optimizer_tensors=opt_t, rng=tensors, best=run.best
    )
