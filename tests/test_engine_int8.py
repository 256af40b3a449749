"""The embedding engine's CPU int8 path (ONNX Runtime): agreement with torch, artifacts, errors.

Runs on the builtin random ``tiny-bert``; skipped where onnxruntime is not installed
(it is the optional ``onnx`` extra).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.base import Examples, engine_label, get_engine
from engines.embedding import EmbeddingEngine, EmbeddingInt8Engine
from engines.errors import ArtifactError, ConfigError

POS = ["good", "great", "lovely", "superb", "wonderful", "joy", "delight", "fun"]
NEG = ["bad", "awful", "boring", "dull", "terrible", "mess", "waste", "tedious"]
FILLER = ["the", "film", "movie", "plot", "actors", "story", "scene", "was", "a", "very", "and", "it"]
TINY = {"model": "tiny-bert", "max_length": 64, "device": "cpu", "precision": "fp32"}
INT8 = {**TINY, "backend": "onnx-int8"}
# Measured on tiny-bert (random weights, 32 dims): cosine to the torch vectors ≥ 0.99999 per text
# (min over 200 synthetic texts). The bound leaves room for other CPUs' int8 kernels. The real
# MiniLM-L6 agrees less (min ≈ 0.97, mean ≈ 0.985 on short reviews): see the slow test.
MIN_COSINE = 0.999


def synthetic(n: int, seed: int = 0) -> Examples:
    """Two-class texts of varied length (the same recipe as test_engine_embedding's)."""
    import random

    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.sample(FILLER, rng.randint(1, 10)) + rng.sample(POS if label == "pos" else NEG, 3)
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {i}")
        labels.append(label)
    return Examples(texts=texts, labels=labels)


def _need_ort() -> None:
    pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A private tune-or-embed cache for the module: the int8 export lands here, not in ~/.cache."""
    root = tmp_path_factory.mktemp("toe-cache")
    old = os.environ.get("TOE_CACHE_DIR")
    os.environ["TOE_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("TOE_CACHE_DIR", None)
    else:
        os.environ["TOE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def fitted_int8(cache) -> EmbeddingEngine:
    _need_ort()
    engine = EmbeddingEngine({**INT8, "C": 1.0})
    engine.fit(synthetic(80))
    return engine


def test_int8_vectors_agree_with_torch(fitted_int8):
    texts = synthetic(40, seed=3).texts
    ref = EmbeddingEngine(TINY).encode(texts)
    got = fitted_int8.encode(texts)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # the engine normalised them
    cosine = (ref * got).sum(axis=1)
    assert cosine.min() > MIN_COSINE, f"min cosine {cosine.min():.5f}"
    # Batching with padding does not change a text's vector (the mask reaches the ONNX graph).
    alone = fitted_int8.encode(texts[:1])
    assert float(alone[0] @ got[0]) > 0.9999


def test_export_is_cached_by_model_hash(fitted_int8, cache):
    from engines.onnx_backend import ONNX_FILE, cache_dir

    path = cache_dir(fitted_int8.model_hash) / ONNX_FILE
    assert fitted_int8._onnx_path == path and path.is_file()
    stamp = path.stat().st_mtime_ns
    again = EmbeddingEngine(INT8)
    again.warm_up()
    assert again._onnx_path == path and path.stat().st_mtime_ns == stamp  # reused, not re-exported
    meta = json.loads((path.parent / "onnx-int8.json").read_text())
    assert meta["model_hash"] == fitted_int8.model_hash and meta["quantization"]["weight_type"] == "QInt8"


def test_fit_evaluate_beats_majority(fitted_int8):
    report = fitted_int8.evaluate(synthetic(40, seed=9))
    assert report.n == 40 and report.accuracy > 0.6


def test_artifact_predicts_in_a_new_process_without_the_cache(fitted_int8, tmp_path):
    out = tmp_path / "art"
    fitted_int8.save(out)
    assert (out / "onnx-int8" / "model.int8.onnx").is_file()
    assert json.loads((out / "embedding.json").read_text())["config"]["backend"] == "onnx-int8"
    texts = synthetic(12, seed=5).texts
    before = fitted_int8.predict(texts)
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from engines.embedding import EmbeddingEngine\n"
        "e = EmbeddingEngine.load(Path(sys.argv[1]))\n"
        "p = e.predict(json.loads(sys.argv[2]))\n"
        "print(json.dumps({'labels': p.labels, 'scores': p.scores, 'onnx': str(e._onnx_path),"
        " 'torch_model': e._model is not None}))\n"
    )
    # An empty cache: load must use the artifact's int8 model, never export again.
    env = dict(
        os.environ,
        TOE_CACHE_DIR=str(tmp_path / "empty-cache"),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out), json.dumps(texts)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["labels"] == before.labels
    np.testing.assert_allclose(np.array(got["scores"]), np.array(before.scores), atol=1e-5)
    assert Path(got["onnx"]) == out / "onnx-int8" / "model.int8.onnx" and got["torch_model"] is False
    assert not (tmp_path / "empty-cache" / "onnx-int8").exists()


def test_artifact_without_its_int8_model_is_an_artifact_error(fitted_int8, tmp_path):
    out = tmp_path / "art"
    fitted_int8.save(out)
    (out / "onnx-int8" / "model.int8.onnx").unlink()
    with pytest.raises(ArtifactError, match="int8 model missing"):
        EmbeddingEngine.load(out)


def test_registered_variant_forces_the_backend(cache):
    cls = get_engine("embedding-int8")
    assert cls is EmbeddingInt8Engine and cls.alternative_to == "embedding" and not cls.supports_gpu
    assert engine_label("embedding-int8") == "Frozen embeddings (int8) + head"
    if _ort_missing():
        return
    assert cls(TINY).config.backend == "onnx-int8"
    assert cls(EmbeddingEngine(TINY).config).config.backend == "onnx-int8"
    assert cls().config.backend == "onnx-int8"


def _ort_missing() -> bool:
    from engines.onnx_backend import onnxruntime_available

    return not onnxruntime_available()


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_gpu_device_is_refused(device):
    with pytest.raises(ConfigError, match="CPU only"):
        EmbeddingEngine({**INT8, "device": device})
    with pytest.raises(ConfigError, match="CPU only"):
        EmbeddingInt8Engine({**TINY, "device": device})


def test_missing_onnxruntime_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime → ImportError
    with pytest.raises(ConfigError) as info:
        EmbeddingEngine(INT8)
    msg = str(info.value)
    assert msg == "backend 'onnx-int8' needs onnxruntime: pip install 'tune-or-embed[onnx]'"
    from engines import onnx_backend

    with pytest.raises(ConfigError, match=r"pip install 'tune-or-embed\[onnx\]'"):
        onnx_backend.require_onnxruntime()


def test_torch_backend_and_imports_stay_lazy():
    code = (
        "import sys; from engines.base import get_engine; import engines.onnx_backend; "
        "from engines.embedding import EmbeddingEngine; get_engine('embedding-int8').label; "
        "print('onnxruntime' in sys.modules, 'torch' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_real_model_int8_agrees_with_torch(cache):
    """all-MiniLM-L6-v2 int8 vs torch on review-like texts (measured: min ≈ 0.97, mean ≈ 0.985)."""
    _need_ort()
    texts = [
        "a great film",
        "terrible acting and a dull plot",
        "I loved it",
        "meh",
        "one of the best movies of the year, truly",
        "The plot was thin, but the performances carried it and I left the cinema smiling.",
        "an overlong, self-important slog that mistakes noise for depth",
        "warm, funny and sharply observed; the cast is terrific",
    ]
    ref = EmbeddingEngine({"device": "cpu", "precision": "fp32"}).encode(texts)
    got = EmbeddingInt8Engine({}).encode(texts)
    cosine = (ref * got).sum(axis=1)
    assert cosine.min() > 0.94 and cosine.mean() > 0.97, cosine.round(4).tolist()


def test_profiles_give_the_variant_its_approachs_section_and_run_uses_it(cache, tmp_path, capsys):
    """`advise --engines …,embedding-int8` and `run --engine embedding-int8` read the profile's
    embedding section; the artifact carries the int8 model and predicts."""
    _need_ort()
    import csv

    from advisor.cli import main
    from advisor.machine.profiles import engine_config, load_profile

    profile = load_profile("tiny")
    assert engine_config(profile, "embedding-int8") == profile.embedding
    with pytest.raises(ConfigError, match="try one of"):
        engine_config(profile, "quantum")
    data = tmp_path / "reviews.csv"
    examples = synthetic(120)
    with data.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["review", "sentiment"])
        w.writerows(zip(examples.texts, examples.labels, strict=True))
    out = tmp_path / "art"
    assert main(["run", "--engine", "embedding-int8", "--profile", "tiny", "--data", str(data), "--out", str(out)]) == 0
    assert (out / "onnx-int8").is_dir()
    capsys.readouterr()
    assert main(["predict", str(out), "--text", "a lovely film"]) == 0
    assert capsys.readouterr().out.strip()
