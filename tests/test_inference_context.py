"""The serving path's forward passes: no autograd, and on CUDA no cuDNN attention (issue 28's latency fix)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from engines import backbone  # noqa: E402
from engines.backbone import inference_context  # noqa: E402


def test_cuda_inference_turns_cudnn_attention_off_and_back_on() -> None:
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with inference_context("cuda", "fp32"):
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()
        assert torch.backends.cuda.math_sdp_enabled()
        assert torch.is_inference_mode_enabled()
    assert torch.backends.cuda.cudnn_sdp_enabled() == before


def test_cpu_inference_leaves_attention_kernels_alone() -> None:
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with inference_context("cpu"):
        assert torch.backends.cuda.cudnn_sdp_enabled() == before
        assert torch.is_inference_mode_enabled()
    assert not torch.is_inference_mode_enabled()


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = backbone.inference_context

    def spy(device: str, precision: str = "auto"):
        seen.append(str(device))
        return real(device, precision)

    monkeypatch.setattr(backbone, "inference_context", spy)
    return seen


def test_embedding_and_finetune_serve_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from engines.base import Examples
    from engines.embedding import EmbeddingEngine
    from engines.finetune import FinetuneEngine

    seen = _spy(monkeypatch)
    emb = EmbeddingEngine({"model": "tiny-bert"})
    emb.fit(Examples(texts=["good", "bad", "fine film", "awful"] * 4, labels=["p", "n"] * 8))
    emb.predict(["a new text"])
    assert seen, "embedding did not encode through inference_context"
    seen.clear()
    ft = FinetuneEngine({"model": "tiny-bert", "epochs": 1, "min_steps": 1, "train_batch_size": 8})
    ft.fit(Examples(texts=["good", "bad", "fine film", "awful"] * 4, labels=["p", "n"] * 8))
    seen.clear()
    ft.predict(["a new text"])
    assert seen == ["cpu"]
