"""The model the fine-tune engines train: the pre-trained base loaded once, the classifier built on it
(LoRA-wrapped for ``lora``), tokenizing, batched forward passes that halve the batch on a CUDA out-of-memory
and a step's micro-batched backward (``backward_batch``, ``after_oom``). ``FinetuneModel`` holds the methods."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engines.config import FinetuneConfig
from engines.errors import ConfigError, ModelNotFoundError, ResourceError

if TYPE_CHECKING:
    from engines.records import Examples


def quiet_transformers() -> None:
    """transformers 5 prints a LOAD REPORT and progress bars; the CLI stays clean without them."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _forward_logits(model: Any, batch: dict[str, Any]) -> Any:
    """One forward pass. Module-level so tests can fake a CUDA out-of-memory here (training,
    ``backward_batch``, and predicting, ``_logits``, both look it up here, so one patch reaches both)."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _free_cuda(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def after_oom(device: str, micro: int, batch_size: int) -> tuple[int, str]:
    """After a CUDA out-of-memory in a training step at micro-batch ``micro``: the CUDA cache freed, the
    halved micro-batch and the note saying so (accumulation keeps the ``batch_size``); ResourceError at 1."""
    _free_cuda(device)
    if micro == 1:
        raise ResourceError("CUDA out of memory even at micro-batch 1: lower max_length or use device=cpu") from None
    new = max(1, micro // 2)
    accum = math.ceil(batch_size / new)
    return new, f"CUDA out of memory at batch {micro}: continuing at micro-batch {new} × {accum} accumulation steps"


def backward_batch(
    model: Any,
    seqs: Sequence[Sequence[int]],
    y: Any,
    rows: list[int],
    batch_rows: int,
    micro: int,
    pad_id: int,
    device: str,
    precision: str,
    scaler: Any,
    loss_sum: Any,
) -> Any:
    """Forward and backward passes over ``rows`` (of a batch of ``batch_rows``) in micro-batches of
    ``micro``, each one's summed cross-entropy divided by ``batch_rows`` (through ``scaler`` when there
    is one): the gradients accumulate to the batch's. ``loss_sum`` (a device tensor) plus those losses."""
    import torch

    from engines.backbone import autocast_context

    for s in range(0, len(rows), micro):
        idx = rows[s : s + micro]
        inputs = _collate([seqs[i] for i in idx], pad_id, device)
        with autocast_context(device, precision):
            logits = _forward_logits(model, inputs)
        loss = torch.nn.functional.cross_entropy(logits.float(), y[idx].to(device), reduction="sum") / batch_rows
        (scaler.scale(loss) if scaler is not None else loss).backward()
        loss_sum = loss_sum + loss.detach().float()
    return loss_sum


def _collate(seqs: Sequence[Sequence[int]], pad_id: int, device: str) -> dict[str, Any]:
    """Pad token-id lists to the longest of them (dynamic padding)."""
    import numpy as np
    import torch

    width = max(1, max(len(s) for s in seqs))
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    nb = device.startswith("cuda")
    return {
        "input_ids": torch.from_numpy(ids).to(device, non_blocking=nb),
        "attention_mask": torch.from_numpy(mask).to(device, non_blocking=nb),
    }


class FinetuneModel:
    """Loading, building and running the classifier; FinetuneEngine inherits these methods."""

    config: FinetuneConfig
    device: str
    _tokenizer: Any
    _base: dict[str, Any] | None

    def _ensure_base(self) -> float:
        """Load tokenizer, config and pre-trained weights once (CPU); seconds spent (0 if cached)."""
        if self._base is not None:
            return 0.0
        t0 = time.perf_counter()
        from safetensors.torch import load_file
        from transformers import AutoConfig

        from engines.backbone import load_tokenizer
        from engines.models import model_fingerprint, resolve_model

        quiet_transformers()
        resolved = resolve_model(self.config.model)
        try:
            hf_config = AutoConfig.from_pretrained(str(resolved.path), local_files_only=True, trust_remote_code=False)
            weights: dict[str, Any] = {}
            for f in sorted(resolved.path.glob("*.safetensors")):
                weights.update(load_file(str(f)))
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"cannot load the model from {resolved.path}: {str(exc).splitlines()[0]}"
            ) from None
        self._tokenizer = load_tokenizer(resolved)
        self._base = {
            "path": resolved.path,
            "config": hf_config,
            "weights": weights,
            "id": f"{resolved.path}:{model_fingerprint(resolved)}",
        }
        return time.perf_counter() - t0

    def _build_model(self, classes: list[str]) -> tuple[Any, list[str]]:
        """A fresh classifier on the pre-trained weights (head seeded); the fresh module names."""
        import copy

        from transformers import AutoModelForSequenceClassification

        from engines.backbone import seed_everything

        assert self._base is not None
        cfg = copy.deepcopy(self._base["config"])
        cfg.num_labels = len(classes)
        cfg.id2label = dict(enumerate(classes))
        cfg.label2id = {c: i for i, c in enumerate(classes)}
        cfg.problem_type = "single_label_classification"
        seed_everything(self.config.seed)
        model = AutoModelForSequenceClassification.from_config(cfg)
        prefix = model.base_model_prefix
        weights = self._base["weights"]
        if any(k.startswith(prefix + ".") for k in weights):
            weights = {k[len(prefix) + 1 :]: v for k, v in weights.items() if k.startswith(prefix + ".")}
        try:
            missing, _unexpected = model.base_model.load_state_dict(weights, strict=False)
        except RuntimeError as exc:
            raise ModelNotFoundError(
                f"weights in {self._base['path']} do not fit its config: {str(exc).splitlines()[0]}"
            ) from None
        if len(missing) > max(4, len(weights) // 4):
            raise ModelNotFoundError(
                f"weights in {self._base['path']} do not fit its config ({len(missing)} tensors missing, "
                f"e.g. {missing[0]})"
            )
        params = dict(model.base_model.named_parameters())
        base_modules = {k.rsplit(".", 1)[0] for k in missing if k in params}  # freshly initialised
        head_modules = {n.rsplit(".", 1)[0] for n, _ in model.named_parameters() if not n.startswith(prefix + ".")}
        return model, sorted(base_modules | head_modules)

    def _wrap_lora(self, model: Any, fresh: list[str]) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        cfg = self.config
        lcfg = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_targets),
            modules_to_save=fresh,
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return get_peft_model(model, lcfg)
        except ValueError as exc:
            raise ConfigError(f"LoRA: {str(exc).splitlines()[0]} (lora_targets={list(cfg.lora_targets)})") from None

    def _classifier(self, classes: list[str]) -> Any:
        """A fresh classifier for ``classes`` (``_build_model``), LoRA-wrapped in ``lora`` mode."""
        model, fresh = self._build_model(classes)
        if self.config.mode == "lora":
            model = self._wrap_lora(model, fresh)
        return model

    def _encode_labelled(self, examples: Examples, classes: list[str]) -> tuple[list[list[int]], Any]:
        """(token ids of the ``examples``' texts, a long tensor of their labels' indices in ``classes``)."""
        import torch

        index = {c: i for i, c in enumerate(classes)}
        return self._encode(examples.texts), torch.tensor([index[c] for c in examples.labels], dtype=torch.long)

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        enc = self._tokenizer(
            list(texts),
            truncation=True,
            max_length=self.config.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(x) for x in enc["input_ids"]]

    def _logits(self, model: Any, seqs: list[list[int]], batch_size: int) -> Any:
        """Logits (float32 numpy, input order) in length-sorted batches; halves the batch on OOM."""
        import numpy as np

        from engines.backbone import inference_context, length_sorted_batches

        out = np.zeros((len(seqs), model.config.num_labels), dtype=np.float32)
        pad = self._tokenizer.pad_token_id or 0
        model.eval()
        todo = length_sorted_batches([len(s) for s in seqs], batch_size)
        while todo:
            idx = todo.pop(0)
            try:
                with inference_context(self.device, self.config.precision):
                    logits = _forward_logits(model, _collate([seqs[i] for i in idx], pad, self.device))
            except Exception as exc:
                if not _is_oom(exc) or len(idx) == 1:
                    if _is_oom(exc):
                        raise ResourceError("CUDA out of memory even at batch 1 while predicting") from None
                    raise
                _free_cuda(self.device)
                half = len(idx) // 2
                todo[:0] = [idx[:half], idx[half:]]
                continue
            out[idx] = logits.float().cpu().numpy()
        return out
