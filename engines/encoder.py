"""The frozen encoder of the embedding engines (``FrozenEncoder``, inherited by EmbeddingEngine):
loading it (torch, or ONNX Runtime int8 via engines.onnx_backend), tokenizing, length-sorted
batches with dynamic padding, pooling + L2 normalisation, ``encode``, and the text-keyed cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engines.base import ProgressEvent, ProgressFn
from engines.config import EmbeddingConfig
from engines.errors import Cancelled, ConfigError

SUPPORTED_POOLING = ("mean", "cls", "max")
CHUNK_BATCHES = 16  # chunks of this many batches: a budgeted fit embeds them in order; an index reports per chunk


class FrozenEncoder:
    """The encoder half of EmbeddingEngine: runs under ``torch.inference_mode`` with the pooling its
    sentence-transformers config names (mean for MiniLM); texts are tokenized once, then padded per
    batch; vectors are cached by text, so the advisor's nested re-fits only refit the head. With
    ``backend="onnx-int8"`` the forward pass runs in ONNX Runtime; tokenizing, batching, pooling and
    normalisation are shared by both paths."""

    config: EmbeddingConfig
    device: str | None
    model_name: str | None
    model_hash: str | None
    last_embed_texts_per_s: float | None
    last_embed_tokens_per_s: float | None
    _model_dir: Path | None
    _resolved: Any
    _pooling: str | None
    _model: Any
    _tokenizer: Any
    _cache: dict[str, Any]
    _onnx: Any
    _onnx_path: Path | None
    _dim: int | None

    def _ensure_model(self) -> None:
        if self._model is not None or self._onnx is not None:
            return
        from engines import backbone
        from engines.models import model_fingerprint, pooling_mode, resolve_model

        cfg: EmbeddingConfig = self.config
        resolved = resolve_model(str(self._model_dir) if self._model_dir is not None else cfg.model)
        pooling = self._pooling or pooling_mode(resolved)
        if pooling not in SUPPORTED_POOLING:
            raise ConfigError(
                f"model {resolved.name} asks for {pooling!r} pooling; supported: {', '.join(SUPPORTED_POOLING)}"
            )
        import sklearn.linear_model  # noqa: F401 - a one-time import cost, paid with the model load

        if cfg.backend == "onnx-int8":
            self._load_onnx(resolved)
        else:
            self.device = backbone.pick_device(cfg.device)
            backbone.set_threads(cfg.threads)
            self._tokenizer = backbone.load_tokenizer(resolved)
            self._model = backbone.load_encoder(resolved, self.device)
            self._dim = getattr(self._model.config, "hidden_size", None)
        self._pooling = pooling
        self._resolved = resolved
        if self._model_dir is None:
            self._model_dir = Path(resolved.path)
            self.model_name = resolved.name
            self.model_hash = model_fingerprint(resolved)

    def _load_onnx(self, resolved: Any) -> None:
        """The int8 encoder: the artifact's copy after ``load``, else the cache's (exported once per weights)."""
        from engines import backbone, onnx_backend
        from engines.models import model_fingerprint

        cfg: EmbeddingConfig = self.config
        onnx_backend.check_device(cfg.device)
        onnx_backend.require_onnxruntime()
        self.device = "cpu"
        backbone.set_threads(cfg.threads)
        path = self._onnx_path
        if path is None:
            path = onnx_backend.cached_int8_model(resolved, self.model_hash or model_fingerprint(resolved))
            self._onnx_path = path
        self._tokenizer = backbone.load_tokenizer(resolved)
        self._onnx = onnx_backend.OnnxEncoder(path, threads=cfg.threads)
        self._dim = self._onnx.dim

    def _encode_batches(
        self, texts: Sequence[str], *, in_order_chunks: bool
    ) -> Iterator[tuple[list[int], Any, int, int]]:
        """Yield (indices, L2-normalised float32 vectors, non-padding tokens, texts cut at max_length) per batch.

        Texts are tokenized once without padding; each batch is padded to its own
        longest text. Batches are length-sorted over all texts, or — with
        ``in_order_chunks`` (budgeted fits) — within consecutive chunks, so that a
        fit stopped early has embedded an unbiased prefix of the data.
        """
        import numpy as np
        import torch

        from engines.backbone import cut_count, inference_context, length_sorted_batches

        cfg: EmbeddingConfig = self.config
        enc = self._tokenizer(
            list(texts),
            truncation=True,
            max_length=cfg.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids = enc["input_ids"]
        lengths = [len(x) for x in ids]
        bs = cfg.batch_size
        if in_order_chunks:
            chunk = bs * CHUNK_BATCHES
            batches = []
            for start in range(0, len(ids), chunk):
                local = length_sorted_batches(lengths[start : start + chunk], bs)
                batches.extend([[start + i for i in b] for b in local])
        else:
            batches = length_sorted_batches(lengths, bs)
        pad_id = self._tokenizer.pad_token_id or 0
        device = self.device
        for batch in batches:
            width = max(lengths[i] for i in batch)
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : lengths[i]] = ids[i]
                mask[row, : lengths[i]] = 1
            if self._onnx is not None:  # int8 on the CPU: same ids, same pooling below
                hidden = torch.from_numpy(self._onnx(input_ids, mask))
                mask_t = torch.from_numpy(mask)
                with torch.inference_mode():
                    pooled = self._pool_normalize(hidden, mask_t)
            else:
                if device is None:  # _ensure_model sets it together with _model
                    raise RuntimeError("the encoder's device is unset: _ensure_model() must run first")
                input_t = torch.from_numpy(input_ids).to(device)
                mask_t = torch.from_numpy(mask).to(device)
                with inference_context(device, cfg.precision):
                    out = self._model(input_ids=input_t, attention_mask=mask_t)
                    pooled = self._pool_normalize(out.last_hidden_state, mask_t)
            yield batch, pooled.cpu().numpy(), int(mask.sum()), cut_count((lengths[i] for i in batch), cfg.max_length)

    def _pool_normalize(self, hidden: Any, mask: Any) -> Any:
        """The one home of pooling + L2 normalisation, for both backends: float32 (batch × dim)."""
        import torch

        from engines.backbone import pool

        if self._pooling is None:  # _ensure_model sets it before any forward pass
            raise RuntimeError("the encoder's pooling is unset: _ensure_model() must run first")
        pooled = pool(self._pooling, hidden, mask).float()
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def encode(self, texts: Sequence[str]) -> Any:
        """L2-normalised vectors for ``texts`` (input order), no cache: the honest speed path."""
        return self.encode_counted(texts)[0]

    def encode_counted(self, texts: Sequence[str]) -> tuple[Any, int]:
        """``encode``'s vectors, and how many of the texts reached the token limit (``cut_count``)."""
        import numpy as np

        self._ensure_model()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32), 0
        out: Any = None
        cut = 0
        for batch, vecs, _, n_cut in self._encode_batches(texts, in_order_chunks=False):
            if out is None:
                out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
            out[batch] = vecs
            cut += n_cut
        return out, cut

    def _embed_into_cache(
        self, texts: Sequence[str], *, progress: ProgressFn, cancel: threading.Event | None, deadline: float | None
    ) -> tuple[str, int, int, float, int]:
        """Embed the texts not cached yet. Returns (stopped, texts embedded, tokens, seconds, texts of
        those that reached the token limit)."""
        todo = self.uncached(texts)
        if not todo:
            return "completed", 0, 0, 0.0, 0
        self._ensure_model()
        t0 = time.perf_counter()
        done = tokens = cut = 0
        stopped = "completed"
        progress(ProgressEvent(phase="embed", done=0, total=len(todo), unit="texts"))
        for batch, vecs, n_tok, n_cut in self._encode_batches(todo, in_order_chunks=deadline is not None):
            for i, v in zip(batch, vecs, strict=True):
                self._cache[todo[i]] = v
            done += len(batch)
            tokens += n_tok
            cut += n_cut
            progress(ProgressEvent(phase="embed", done=done, total=len(todo), unit="texts"))
            if done < len(todo):
                if cancel is not None and cancel.is_set():
                    stopped = "cancelled"
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    stopped = "budget"
                    break
        seconds = time.perf_counter() - t0
        if done and seconds > 0:
            self.last_embed_texts_per_s = done / seconds
            self.last_embed_tokens_per_s = tokens / seconds
        return stopped, done, tokens, seconds, cut

    def uncached(self, texts: Sequence[str]) -> list[str]:
        """The distinct ``texts`` ``prepare`` has not embedded yet (what embedding them would cost)."""
        return [t for t in dict.fromkeys(texts) if t not in self._cache]


def encode_in_chunks(
    encoder: FrozenEncoder,
    texts: Sequence[str],
    *,
    progress: ProgressFn,
    cancel: threading.Event | None,
    phase: str,
) -> Any:
    """``encoder.encode``'s vectors for a collection: longest texts first, in chunks of
    ``CHUNK_BATCHES`` batches; ``progress`` after each chunk, ``cancel`` (→ Cancelled) looked at
    before each."""
    import numpy as np

    texts = list(texts)
    chunk = encoder.config.batch_size * CHUNK_BATCHES
    if len(texts) <= chunk:
        return encoder.encode(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out: Any = None
    progress(ProgressEvent(phase=phase, done=0, total=len(texts), unit="texts"))
    for start in range(0, len(texts), chunk):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"cancelled while encoding ({start} of {len(texts)} texts done)")
        idx = order[start : start + chunk]
        vecs = encoder.encode([texts[i] for i in idx])
        if out is None:
            out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        progress(ProgressEvent(phase=phase, done=start + len(idx), total=len(texts), unit="texts"))
    return out
