"""Fine-tuning on Ray Train (``run --engine finetune --workers N``, engines/ray_finetune.py): on a local
Ray cluster started here (``ray.init(num_cpus=2)``), 2 data-parallel workers take the one-process run's
steps and reach its weights and held-out accuracy; a worker killed mid-run gives one line, and the run
resumes from the last checkpoint to the same weights."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from test_engine_finetune import TINY, assert_same_model, toy

from engines.base import Examples
from engines.errors import ResourceError
from engines.finetune import FinetuneEngine

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'tune-or-embed[ray]')")


@pytest.fixture(scope="module")
def still_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny BERT without dropout: one process and N workers then compute the same sums, so their
    weights may differ only by float summation order."""
    folder = tmp_path_factory.mktemp("still") / "tiny-bert-still"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def accuracy(engine: FinetuneEngine, test: Examples) -> float:
    return float(np.mean(np.asarray(engine.predict(test.texts).labels) == np.asarray(test.labels)))


def test_budgeted_fits_stay_in_one_process(still_model):
    """The advisor's benchmark fits (with a budget) never start Ray, whatever ``workers`` says."""
    report = FinetuneEngine({**TINY, "model": str(still_model), "workers": 2}).fit(toy(40), budget_s=60)
    assert report.device == "cpu" and not any("Ray" in note for note in report.notes)


def test_an_unreachable_ray_address_fails_fast_in_one_line():
    import time

    from engines.ray_cluster import check_reachable

    t0 = time.monotonic()
    with pytest.raises(ResourceError) as info:
        check_reachable("127.0.0.1:9", timeout_s=2.0)  # the discard port: nothing listens there
    assert time.monotonic() - t0 < 5
    assert "\n" not in str(info.value) and "cannot reach the Ray cluster at 127.0.0.1:9" in str(info.value)


@needs_ray
def test_run_on_an_unreachable_cluster_is_one_line_and_writes_nothing(tiny_csv, tmp_path, capsys):
    import ray

    from advisor.cli import main

    if ray.is_initialized():
        pytest.skip("another test's Ray cluster is connected in this process")
    out = tmp_path / "o"
    argv = ["run", "--engine", "finetune", "--data", str(tiny_csv), "--set", "model=tiny-bert"]
    argv += ["--workers", "2", "--ray-address", "127.0.0.1:9", "--out", str(out)]
    assert main(argv) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in err[0], err
    assert not out.exists()


@needs_ray
@pytest.mark.slow
def test_two_workers_take_the_one_process_steps(ray_cluster, still_model, tmp_path):
    train, test = toy(80, seed=1), toy(200, seed=2)
    cfg = {**TINY, "model": str(still_model)}
    one = FinetuneEngine(cfg)
    one_report = one.fit(train)
    two = FinetuneEngine({**cfg, "workers": 2})
    report = two.fit(train, workdir=tmp_path / "work")
    assert report.device == "ray" and report.stopped == one_report.stopped
    assert (report.steps, report.examples_seen, report.best_step) == (
        one_report.steps,
        one_report.examples_seen,
        one_report.best_step,
    )
    assert any("2 Ray workers" in note for note in report.notes)
    assert_same_model(two, one, atol=1e-4)
    assert accuracy(two, test) == accuracy(one, test)
    two.save(tmp_path / "art")  # a plain fine-tune artifact: loads and predicts without Ray
    assert FinetuneEngine.load(tmp_path / "art").predict(test.texts).labels == one.predict(test.texts).labels


@needs_ray
@pytest.mark.slow
def test_a_worker_killed_mid_run_is_one_line_and_the_run_resumes(ray_cluster, still_model, tmp_path):
    """SIGKILL one Ray Train worker after the first checkpoints: the fit fails with one line naming the
    checkpoint; ``resume=True`` finishes from it with the uninterrupted run's weights."""
    import psutil

    train = toy(80, seed=1)
    cfg = {**TINY, "model": str(still_model), "min_steps": 200, "checkpoint_every_steps": 10}
    cfg.update(early_stopping_patience=0)
    work = tmp_path / "work"
    killed: list[int] = []

    def kill_one(event) -> None:
        if event.phase == "train" and event.done >= 25 and not killed:
            for proc in psutil.Process().children(recursive=True):  # this test's own cluster only
                try:
                    is_worker = "RayTrainWorker" in " ".join(proc.cmdline())
                except psutil.Error:
                    continue
                if is_worker:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                    break

    with pytest.raises(ResourceError) as info:
        FinetuneEngine({**cfg, "workers": 2}).fit(train, workdir=work, progress=kill_one)
    assert killed, "no Ray Train worker process found to kill"
    message = str(info.value)
    assert "\n" not in message and "--resume" in message, message

    resumed = FinetuneEngine({**cfg, "workers": 2})
    report = resumed.fit(train, workdir=work, resume=True)
    assert report.steps == 200 and report.stopped == "completed"
    assert any("resumed from the checkpoint at step" in note for note in report.notes), report.notes
    one = FinetuneEngine(cfg)
    one.fit(train)
    # 200 steps of float sums in another order drift by ~1e-4; a wrong resume moves weights by ~ the rate.
    assert_same_model(resumed, one, atol=1e-3)
    test = toy(200, seed=2)
    assert resumed.predict(test.texts).labels == one.predict(test.texts).labels


@needs_ray
@pytest.mark.slow
def test_cancel_stops_every_worker_at_one_step_with_a_checkpoint(ray_cluster, still_model, tmp_path):
    import threading

    from engines import checkpoint as ckpt

    cfg = {**TINY, "model": str(still_model), "min_steps": 200, "early_stopping_patience": 0, "workers": 2}
    cancel = threading.Event()

    def cancel_early(event) -> None:
        if event.phase == "train" and event.done >= 5:
            cancel.set()

    report = FinetuneEngine(cfg).fit(toy(80, seed=1), workdir=tmp_path / "work", progress=cancel_early, cancel=cancel)
    assert report.stopped == "cancelled" and 5 <= report.steps < 200, (report.stopped, report.steps)
    assert ckpt.load_latest(tmp_path / "work").state.step == report.steps


@needs_ray
@pytest.mark.slow
def test_run_with_workers_writes_the_usual_artifact(ray_cluster, still_model, write_csv, tmp_path, capsys):
    """``run --engine finetune --workers 2`` end to end: the one-process run's held-out predictions, the
    usual artifact (``predict`` needs no Ray), no work folder left behind."""
    from advisor.cli import main

    train = toy(120, seed=5)
    data = write_csv(list(zip(train.texts, train.labels, strict=True)))
    common = ["run", "--engine", "finetune", "--data", str(data), "--profile", "tiny", "--json"]
    common += ["--set", f"model={still_model}"]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    two = json.loads(capsys.readouterr().out)
    assert any("data-parallel on 2 Ray workers" in note for note in two["fit"]["notes"])
    assert two["fit"]["steps"] == one["fit"]["steps"]
    assert not (tmp_path / "two.work").exists()
    held = [json.loads((tmp_path / d / "heldout.json").read_text()) for d in ("one", "two")]
    assert held[0]["rows_digest"] == held[1]["rows_digest"]
    same = np.mean(np.asarray(held[0]["y_pred"]) == np.asarray(held[1]["y_pred"]))
    assert same >= 0.95, same
    assert main(["predict", str(tmp_path / "two"), "--text", "a great and brilliant film", "--json"]) == 0


def test_scaling_is_measured_on_one_and_two_workers(ray_cluster, still_model):
    from advisor.measure.scaling import measure_scaling
    from engines.config import FinetuneConfig

    cfg = FinetuneConfig(**{**TINY, "model": str(still_model)})
    m = measure_scaling("finetune", cfg, toy(200, seed=3), steps=6)
    assert m is not None and (m.steps, m.workers, m.where, m.cpus_per_worker) == (6, 2, "local", 1)
    assert m.one_examples_per_s > 0 and m.many_examples_per_s > 0
    assert m.efficiency == pytest.approx(m.many_examples_per_s / (2 * m.one_examples_per_s))
    assert m.overhead_s > 0


def test_the_scaling_forecast_meets_a_two_worker_run(ray_cluster, still_model, tmp_path):
    """The forecast of a 2-worker fit (the one-process training time ÷ 2 × the measured efficiency,
    plus the measured start-up) against the 2-worker fit itself, on the same steps."""
    from advisor.measure.scaling import measure_scaling
    from engines.config import FinetuneConfig

    cfg = {**TINY, "model": str(still_model), "min_steps": 40, "max_steps": 40, "early_stopping_patience": 0}
    train = toy(200, seed=4)
    m = measure_scaling("finetune", FinetuneConfig(**cfg), train, steps=10)
    one = FinetuneEngine({**cfg, "threads": 1}).fit(train)
    forecast = one.phase_s["train"] / (2 * m.efficiency) + m.overhead_s
    two = FinetuneEngine({**cfg, "workers": 2, "threads": 1})
    t0 = time.perf_counter()
    two.fit(train, workdir=tmp_path / "work")
    actual = time.perf_counter() - t0
    assert 0.4 < forecast / actual < 2.5, (forecast, actual)
