"""Shared transformer helpers for the embedding and fine-tuning engines.

Device choice, thread count, seeding, offline tokenizer/encoder loading (safetensors
only, no remote code), length-sorted batches with dynamic padding, pooling,
autocast, and GPU peak-memory helpers.

torch and transformers are imported inside the functions: importing this module is
cheap, and the CLI's start-up never needs it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from engines.errors import ModelNotFoundError, ResourceError


def _model_path(resolved: Any) -> Path:
    """The local folder of ``resolved`` (a ResolvedModel with ``.path``, or a path)."""
    path = Path(getattr(resolved, "path", resolved))
    if not path.is_dir():
        raise ModelNotFoundError(f"model folder not found: {path}")
    return path


# ------------------------------------------------------------------------ device
def pick_device(pref: str = "auto") -> str:
    """'auto' → 'cuda' when available, else 'mps' when available, else 'cpu'.

    An explicit device that is not there raises ResourceError (one line).
    """
    import torch

    pref = (pref or "auto").strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if pref == "cpu":
        return "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ResourceError(f"device {pref!r} asked for, but torch sees no CUDA GPU; use --set device=cpu")
        if ":" in pref:
            try:
                index = int(pref.split(":", 1)[1])
            except ValueError:
                raise ResourceError(f"bad device {pref!r}; use 'cuda' or 'cuda:N'") from None
            if index >= torch.cuda.device_count():
                raise ResourceError(f"device {pref!r} not present ({torch.cuda.device_count()} CUDA device(s))")
        return pref
    if pref == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ResourceError("device 'mps' asked for, but it is not available")
        return "mps"
    raise ResourceError(f"unknown device {pref!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


def set_threads(n: int | None) -> None:
    """Set torch's intra-op CPU threads (None = leave torch's default, all cores)."""
    if n is None:
        return
    import torch

    torch.set_num_threads(max(1, int(n)))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


# ----------------------------------------------------------------------- loading
def _offline_kwargs() -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:  # no "Loading weights" bars on stderr: tune-or-embed draws its own progress
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    return {"local_files_only": True, "trust_remote_code": False}


def load_tokenizer(resolved: Any):
    """The fast tokenizer in the model folder, offline."""
    from transformers import AutoTokenizer

    path = _model_path(resolved)
    try:
        return AutoTokenizer.from_pretrained(str(path), **_offline_kwargs())
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the tokenizer from {path}: {str(exc).splitlines()[0]}") from None


def load_encoder(resolved: Any, device: str = "cpu"):
    """The bare encoder (AutoModel) from safetensors weights, in eval mode, on ``device``."""
    from transformers import AutoModel

    path = _model_path(resolved)
    try:
        model = AutoModel.from_pretrained(str(path), use_safetensors=True, **_offline_kwargs())
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the model from {path}: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model.to(device)


# ----------------------------------------------------------------------- batching
def length_sorted_batches(lengths_or_texts: Sequence[int] | Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices sorted by length (longest first), chunked into batches of ``batch_size``.

    Accepts token lengths or the texts themselves (then character length stands in).
    Sorting keeps texts of similar length together so dynamic padding pads little.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    lengths = [len(x) if isinstance(x, str) else int(x) for x in lengths_or_texts]
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def cut_count(lengths: Iterable[int], max_length: int) -> int:
    """Texts whose token ids (truncated at ``max_length``) reached the limit: they were cut to it,
    unless one was exactly that long."""
    return sum(1 for k in lengths if k >= max_length)


def cut_note(cut: int, n: int, max_length: int, what: str) -> str | None:
    """The note for ``cut`` of ``n`` ``what`` that reached the token limit (None when none did)."""
    if not cut:
        return None
    return (
        f"{cut:,} of {n:,} {what} reached the {max_length}-token limit: only their first {max_length} tokens "
        "were read (raise max_length to read more)"
    )


def tokenize_batch(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict:
    """Tokenize ``texts`` padded to the longest in the batch (not to max_length), truncated."""
    return tokenizer(
        list(texts),
        padding="longest",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )


# ------------------------------------------------------------------------ pooling
def mean_pool(last_hidden: Any, attention_mask: Any):
    """Mean over non-padding tokens (sentence-transformers' 'mean' pooling)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    summed = (last_hidden * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / counts


def cls_pool(last_hidden: Any, attention_mask: Any = None):
    """The first token's hidden state ('cls' pooling)."""
    return last_hidden[:, 0]


def max_pool(last_hidden: Any, attention_mask: Any):
    """Max over non-padding tokens ('max' pooling)."""
    import torch

    mask = attention_mask.unsqueeze(-1).bool()
    filled = last_hidden.masked_fill(~mask, torch.finfo(last_hidden.dtype).min)
    return filled.max(dim=1).values


def pool(mode: str, last_hidden: Any, attention_mask: Any):
    """Pool by name: 'mean', 'cls' or 'max'."""
    if mode == "mean":
        return mean_pool(last_hidden, attention_mask)
    if mode == "cls":
        return cls_pool(last_hidden, attention_mask)
    if mode == "max":
        return max_pool(last_hidden, attention_mask)
    raise ValueError(f"unsupported pooling {mode!r}")


# ---------------------------------------------------------------------- precision
def resolve_precision(device: str, precision: str = "auto") -> str:
    """'auto' → 'bf16' on a CUDA GPU that supports it, else 'fp32'. CPU is always fp32."""
    if not device.startswith("cuda"):
        return "fp32"
    if precision != "auto":
        return precision
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def autocast_context(device: str, precision: str = "auto") -> AbstractContextManager:
    """bf16/fp16 autocast on CUDA; a no-op context on CPU/MPS or for fp32."""
    precision = resolve_precision(device, precision)
    if not device.startswith("cuda") or precision == "fp32":
        return nullcontext()
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def inference_context(device: str, precision: str = "auto") -> AbstractContextManager:
    """What every serving forward pass runs under: ``inference_mode``, autocast, and on CUDA no cuDNN attention.

    cuDNN's scaled-dot-product attention builds a plan per input shape; length-sorted, dynamically
    padded batches (and batch-1 requests) bring new shapes all the time, so on an H200 it turned a
    MiniLM text at batch 1 into tens of milliseconds. Flash, memory-efficient and math kernels need no plan.
    """
    from contextlib import ExitStack

    import torch

    stack = ExitStack()
    stack.enter_context(torch.inference_mode())
    stack.enter_context(autocast_context(device, precision))
    if str(device).startswith("cuda"):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        stack.enter_context(sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]))
    return stack


# ------------------------------------------------------------------------ memory
def peak_gpu_bytes(device: str) -> int | None:
    """torch.cuda.max_memory_allocated on ``device`` (None off CUDA)."""
    if not str(device).startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.max_memory_allocated(torch.device(device)))


def reset_peak_gpu(device: str) -> None:
    """Reset CUDA's peak counter on ``device`` (no-op off CUDA)."""
    if not str(device).startswith("cuda"):
        return
    import torch

    torch.cuda.reset_peak_memory_stats(torch.device(device))


def synchronize(device: str) -> None:
    """Wait for queued GPU work (no-op off CUDA) so timings are honest."""
    if not str(device).startswith("cuda"):
        return
    import torch

    torch.cuda.synchronize(torch.device(device))
