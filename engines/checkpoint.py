"""Resumable training state for the fine-tuning engine, written atomically.

A checkpoint is one folder ``<workdir>/checkpoints/step-00000050/`` holding

- ``weights.safetensors``  the trainable parameters (all of them for a full fine-tune,
  adapters + head for LoRA); frozen weights are rebuilt from the pre-trained model;
- ``best.safetensors``     the best-on-validation trainable parameters, when there are any;
- ``optimizer.safetensors`` AdamW's per-parameter tensors (step, moments), flattened;
- ``rng.safetensors``      torch's CPU (and CUDA) generator states;
- ``state.json``           every scalar: counters, early-stopping state, the scheduler's and
  the grad scaler's state, the optimizer's parameter groups, Python/NumPy RNG states and a
  fingerprint of the data and settings it belongs to.

The folder is built under a temporary name and renamed into place (``staged_dir``), then
``LATEST`` (a small JSON file, itself written atomically) is pointed at it, and older
folders are removed. A ``kill -9`` at any moment leaves either the previous complete
checkpoint or the new one. No pickle anywhere: tensors in safetensors, the rest in JSON.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import Field

from engines.atomic import staged_dir, write_json, write_with
from engines.base import Examples, Record
from engines.config import FinetuneConfig
from engines.errors import ArtifactError, ConfigError, ResourceError

CHECKPOINTS = "checkpoints"
LATEST = "LATEST"
FORMAT = 1


class TrainState(Record):
    """The scalar part of a training checkpoint."""

    format: int = Field(FORMAT, description="Checkpoint format version.")
    fingerprint: str = Field(description="Hash of the training data and the settings that shape the result.")
    step: int = Field(description="Optimizer steps completed.")
    total_steps: int = Field(description="Optimizer steps planned.")
    examples_seen: int = Field(description="Training examples processed so far (with repeats).")
    tokens_seen: int = Field(description="Non-padding training tokens processed so far.")
    micro_batch: int = Field(description="Micro-batch size in use (smaller than the batch after a CUDA OOM).")
    best_score: tuple[float, float] | None = Field(
        None, description="(validation accuracy, -loss) of the best weights."
    )
    best_step: int | None = Field(None, description="Step of the best weights.")
    evals_without_gain: int = Field(0, description="Validations since the last improvement.")
    last_eval_step: int | None = Field(None, description="Step of the last validation.")
    finished: str | None = Field(None, description="'completed' or 'early_stopping' once training is over.")
    notes: list[str] = Field(default_factory=list, description="Notes gathered so far.")
    scheduler: dict[str, Any] = Field(default_factory=dict, description="LR scheduler state_dict.")
    scaler: dict[str, Any] | None = Field(None, description="fp16 GradScaler state_dict.")
    optimizer_groups: list[dict[str, Any]] = Field(default_factory=list, description="Optimizer param_groups.")
    optimizer_scalars: dict[str, Any] = Field(default_factory=dict, description="Non-tensor optimizer state.")
    python_rng: Any = Field(None, description="random.getstate() as JSON.")
    numpy_rng: Any = Field(None, description="numpy.random.get_state() as JSON.")


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    state: TrainState
    weights: dict[str, Any]
    optimizer_tensors: dict[str, Any]
    rng: dict[str, Any]
    best: dict[str, Any] | None = field(default=None)


# --------------------------------------------------------------------- optimizer
def optimizer_to_flat(opt_state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors ``{"<idx>.<key>": t}``, groups and scalars (JSON)."""
    import torch

    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for idx, per_param in opt_state["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    groups = [_jsonable(g) for g in opt_state["param_groups"]]
    return tensors, groups, scalars


def optimizer_from_flat(
    tensors: dict[str, Any], groups: list[dict[str, Any]], scalars: dict[str, Any]
) -> dict[str, Any]:
    """Inverse of ``optimizer_to_flat``: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for flat, value in list(tensors.items()) + list(scalars.items()):
        idx, _, key = flat.partition(".")
        state.setdefault(int(idx), {})[key] = value
    fixed = []
    for g in groups:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        fixed.append(g)
    return {"state": state, "param_groups": fixed}


def _jsonable(obj: Any) -> Any:
    """Tuples → lists, tensors/numpy scalars → Python numbers; JSON round-trips it."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


# --------------------------------------------------------------------------- RNG
def capture_rng() -> tuple[dict[str, Any], Any, Any]:
    """(torch generator tensors, python state, numpy state) — everything random in training."""
    import random

    import numpy as np
    import torch

    tensors = {"torch": torch.get_rng_state().clone()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s.clone()
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))  # the legacy form is a tuple
    return tensors, _jsonable(random.getstate()), [np_state[0], np_state[1].tolist(), *np_state[2:]]


def restore_rng(tensors: dict[str, Any], python_state: Any, numpy_state: Any) -> None:
    """Put the generators back as ``capture_rng`` found them."""
    import random

    import numpy as np
    import torch

    torch.set_rng_state(tensors["torch"])
    cuda = sorted((k for k in tensors if k.startswith("cuda.")), key=lambda k: int(k.split(".")[1]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
    if python_state is not None:
        version, internal, gauss = python_state
        random.setstate((version, tuple(internal), gauss))
    if numpy_state is not None:
        name, keys, pos, has_gauss, cached = numpy_state
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# ------------------------------------------------------------------------ save/load
def _dir(workdir: Path) -> Path:
    return Path(workdir) / CHECKPOINTS


def _save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    write_with(path, lambda tmp: save_file(tensors, str(tmp)))


def save_checkpoint(
    workdir: Path,
    state: TrainState,
    *,
    weights: dict[str, Any],
    optimizer_tensors: dict[str, Any],
    rng: dict[str, Any],
    best: dict[str, Any] | None = None,
) -> Path:
    """Write one complete checkpoint atomically, point LATEST at it, drop older ones."""
    root = _dir(workdir)
    name = f"step-{state.step:08d}"
    final = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        with staged_dir(final, overwrite=True) as tmp:
            _save_tensors(tmp / "weights.safetensors", weights)
            _save_tensors(tmp / "optimizer.safetensors", optimizer_tensors)
            _save_tensors(tmp / "rng.safetensors", rng)
            if best is not None:
                _save_tensors(tmp / "best.safetensors", best)
            write_json(tmp / "state.json", state)
        write_json(root / LATEST, {"format": FORMAT, "checkpoint": name, "step": state.step})
    except OSError as exc:
        cls = ResourceError if exc.errno == 28 else ArtifactError
        raise cls(f"cannot write a checkpoint in {root}: {exc.strerror or exc}") from None
    for old in root.iterdir():
        if old.is_dir() and old.name != name and (old.name.startswith("step-") or old.name.startswith(".")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _latest_name(root: Path) -> str | None:
    try:
        return str(json.loads((root / LATEST).read_text(encoding="utf-8"))["checkpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    # LATEST missing or unreadable: fall back on the newest complete folder.
    done = sorted(p.name for p in root.glob("step-*") if (p / "state.json").is_file())
    return done[-1] if done else None


def load_latest(workdir: Path) -> Checkpoint | None:
    """The newest complete checkpoint in ``workdir``, or None when there is none.

    A checkpoint that exists but cannot be read raises ArtifactError (one line).
    """
    from safetensors.torch import load_file

    root = _dir(workdir)
    if not root.is_dir():
        return None
    name = _latest_name(root)
    if name is None:
        return None
    path = root / name
    try:
        state = TrainState.model_validate_json((path / "state.json").read_text(encoding="utf-8"))
        if state.format != FORMAT:
            raise ValueError(f"format {state.format}, expected {FORMAT}")
        weights = load_file(str(path / "weights.safetensors"))
        opt = load_file(str(path / "optimizer.safetensors"))
        rng = load_file(str(path / "rng.safetensors"))
        best = load_file(str(path / "best.safetensors")) if (path / "best.safetensors").is_file() else None
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the user
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArtifactError(
            f"checkpoint {path} is unreadable ({first}); delete {root} or run without --resume"
        ) from None
    return Checkpoint(path=path, state=state, weights=weights, optimizer_tensors=opt, rng=rng, best=best)


def restore_latest(
    workdir: Path | None,
    resume: bool,
    fingerprint: str,
    notes: list[str],
    *,
    belongs_to: str,
    load_weights: Callable[[Checkpoint], None],
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
) -> Checkpoint | None:
    """Resume a run from ``workdir``'s latest checkpoint (only with ``resume``): its weights (by
    ``load_weights``), optimizer, LR schedule, grad scaler (when both have one) and generators; the caller
    restores its own counters from the checkpoint returned. None, with a note, when there is none;
    ConfigError when it belongs to other ``belongs_to`` ("data", "pairs") or settings."""
    if workdir is None or not resume:
        return None
    found = load_latest(workdir)
    if found is None:
        notes.append(f"no checkpoint in {workdir}: started from the beginning")
        return None
    st = found.state
    if st.fingerprint != fingerprint:
        raise ConfigError(
            f"the checkpoint in {workdir} belongs to other {belongs_to} or settings; run without --resume to start over"
        )
    load_weights(found)
    optimizer.load_state_dict(optimizer_from_flat(found.optimizer_tensors, st.optimizer_groups, st.optimizer_scalars))
    scheduler.load_state_dict(dict(st.scheduler))
    if scaler is not None and st.scaler:
        scaler.load_state_dict(dict(st.scaler))
    restore_rng(found.rng, st.python_rng, st.numpy_rng)
    return found


def clear(workdir: Path) -> bool:
    """Remove every checkpoint in ``workdir``; True when there were some."""
    root = _dir(workdir)
    if not root.exists():
        return False
    shutil.rmtree(root, ignore_errors=True)
    return True


# ------------------------------------------------------------ the run's weights
def _fingerprint(train: Examples, valid: Examples | None, cfg: FinetuneConfig, model_id: str) -> str:
    """What a checkpoint belongs to: the data, the model and the settings that shape the weights."""
    keys = (
        "model",
        "max_length",
        "mode",
        "train_batch_size",
        "learning_rate",
        "learning_rate_lora",
        "weight_decay",
        "warmup_ratio",
        "max_grad_norm",
        "epochs",
        "min_steps",
        "max_steps",
        "valid_fraction",
        "eval_every_steps",
        "early_stopping_patience",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_targets",
        "seed",
    )
    h = hashlib.sha256()
    h.update(json.dumps({k: getattr(cfg, k) for k in keys}, sort_keys=True, default=list).encode())
    h.update(model_id.encode())
    for part in (train, valid):
        h.update(b"\x02")
        if part is not None:
            for t, y in zip(part.texts, part.labels, strict=True):
                h.update(t.encode("utf-8", "surrogatepass") + b"\x00" + y.encode("utf-8", "surrogatepass") + b"\x01")
    return h.hexdigest()[:32]


def trainable(model: Any) -> dict[str, Any]:
    """CPU copies of the parameters that train (what checkpoints and 'best' hold)."""
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: Any, tensors: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in tensors]
    if missing or any(n not in params for n in tensors):
        raise ArtifactError(f"checkpoint weights do not match the model ({len(missing)} missing)")
    with torch.no_grad():
        for n, t in tensors.items():
            params[n].copy_(t)
