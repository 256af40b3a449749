"""A new process's start-up (advisor/machine/startup.py): timed for real, and added to the time forecasts."""

from __future__ import annotations

import json
import threading
import time

import pytest

from advisor.forecast.hardware import time_forecast
from advisor.machine import startup
from advisor.measure import ApproachMeasurement, CurvePoint, run_benchmarks
from engines import base
from engines.base import Examples
from engines.config import FinetuneConfig
from engines.tfidf import TfidfEngine

# An engine whose warm-up takes a known time, in a module a new process can import.
SLOW_START = """
import time

from engines.tfidf import TfidfEngine


class SlowStart(TfidfEngine):
    def warm_up(self):
        time.sleep(0.6)
        super().warm_up()


class BrokenStart(TfidfEngine):
    def warm_up(self):
        raise RuntimeError("no model here")
"""


@pytest.fixture
def slow_module(tmp_path, monkeypatch):
    (tmp_path / "slow_start_engines.py").write_text(SLOW_START)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    startup.forget()
    yield __import__("slow_start_engines")
    startup.forget()


def test_the_warm_up_is_timed_in_a_new_process(slow_module):
    timed = startup.time_start_up(slow_module.SlowStart, {"C": 1.0})
    assert timed.error is None
    # The sleep happened there, not here, and only the warm-up is counted (not Python's start).
    assert 0.6 <= timed.seconds < 10
    t0 = time.perf_counter()
    again = startup.time_start_up(slow_module.SlowStart, {"C": 1.0})
    assert again.seconds == timed.seconds and time.perf_counter() - t0 < 0.1  # remembered
    startup.forget()
    assert startup.time_start_up(slow_module.SlowStart, {"C": 1.0}).seconds != timed.seconds


def test_a_failed_or_cancelled_start_up_is_none_with_a_reason(slow_module):
    broken = startup.time_start_up(slow_module.BrokenStart, None)
    assert broken.seconds is None and broken.error == "RuntimeError: no model here"
    cancel = threading.Event()
    cancel.set()
    stopped = startup.time_start_up(slow_module.SlowStart, {"C": 2.0}, cancel=cancel)
    assert stopped == startup.StartUp(None, "cancelled")


def test_a_timing_is_remembered_on_disk_within_its_age(slow_module, tmp_path):
    cache = tmp_path / "cache" / startup.CACHE_NAME
    first = startup.time_start_up(slow_module.SlowStart, {"C": 3.0}, cache=cache)
    assert first.timed_at is None and first.seconds >= 0.6 and cache.exists()
    startup.forget()  # as a new process: only the file remembers
    t0 = time.perf_counter()
    again = startup.time_start_up(slow_module.SlowStart, {"C": 3.0}, cache=cache)
    assert again.seconds == first.seconds and again.timed_at is not None and time.perf_counter() - t0 < 0.5
    # Other settings, or a timing older than allowed: timed again.
    startup.forget()
    assert startup.time_start_up(slow_module.SlowStart, {"C": 4.0}, cache=cache).timed_at is None
    startup.forget()
    assert startup.time_start_up(slow_module.SlowStart, {"C": 3.0}, cache=cache, max_age_s=0.0).timed_at is None
    # A damaged file is timed over and rewritten, not an error.
    cache.write_text("{not json", encoding="utf-8")
    startup.forget()
    fixed = startup.time_start_up(slow_module.SlowStart, {"C": 3.0}, cache=cache)
    assert fixed.timed_at is None and fixed.seconds >= 0.6 and len(json.loads(cache.read_text())) == 1


class Remember:
    """Bench settings that remember start-ups on disk for a day."""

    time_start_up = True
    start_up_cache_days = 1.0
    test_size = 80
    train_sizes = [40, 80]
    cheap_seeds = 1


def remembering(monkeypatch, tmp_path) -> Examples:
    """The slow-starting engine as TF-IDF, a cache folder of this test's own, and 240 easy rows."""
    monkeypatch.setitem(base._REGISTRY, "tfidf", "slow_start_engines:SlowStart")
    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path / "toe-cache"))
    texts = [f"{w} item {i} {'good fine' if i % 2 else 'bad poor'}" for i, w in enumerate(["x"] * 240)]
    return Examples(texts=texts, labels=["pos" if i % 2 else "neg" for i in range(240)])


def test_the_bench_uses_a_remembered_start_up_and_says_so(slow_module, monkeypatch, tmp_path):
    ex = remembering(monkeypatch, tmp_path)

    first = run_benchmarks(ex, engines=("tfidf",), settings=Remember(), budget_s=30)
    startup.forget()
    second = run_benchmarks(ex, engines=("tfidf",), settings=Remember(), budget_s=30)
    assert second.measurements["tfidf"].start_s == first.measurements["tfidf"].start_s >= 0.6
    assert not any("remembered" in n for n in first.notes)
    # Said once for the run, with each engine's seconds, not once per approach.
    said = [n for n in second.notes if "remembered" in n]
    assert len(said) == 1 and "toe-cache" in said[0] and f"tfidf {first.measurements['tfidf'].start_s:.1f}s" in said[0]


def test_start_ups_timed_ahead_are_the_ones_the_next_bench_uses(slow_module, monkeypatch, tmp_path):
    """``probe --start-up`` times them outside any budget; the bench that follows (a new process)
    finds every one remembered under its own key and spends none of its budget on them."""
    from advisor.measure.probes import time_start_ups

    ex = remembering(monkeypatch, tmp_path)

    started: list[str] = []
    ahead = time_start_ups(["tfidf"], {"tfidf": {"C": 5.0}}, Remember(), before=started.append)
    assert started == ["tfidf"] and ahead["tfidf"].timed_at is None and ahead["tfidf"].seconds >= 0.6
    startup.forget()  # as a new process: only the file remembers
    bench = run_benchmarks(ex, engines=("tfidf",), configs={"tfidf": {"C": 5.0}}, settings=Remember(), budget_s=30)
    m = bench.measurements["tfidf"]
    assert m.start_s == ahead["tfidf"].seconds
    assert any("remembered from" in n and "toe-cache" in n for n in bench.notes)

    class Forget(Remember):
        start_up_cache_days = 0.0

    startup.forget()
    again = time_start_ups(["tfidf"], {"tfidf": {"C": 5.0}}, Forget())
    assert again["tfidf"].timed_at is None  # nothing remembered where the profile keeps nothing


def test_the_bench_records_the_start_up_and_the_forecast_adds_it(slow_module, monkeypatch):
    monkeypatch.setitem(base._REGISTRY, "tfidf", "slow_start_engines:SlowStart")
    texts = [f"{w} item {i} {'good fine' if i % 2 else 'bad poor'}" for i, w in enumerate(["x"] * 240)]
    ex = Examples(texts=texts, labels=["pos" if i % 2 else "neg" for i in range(240)])

    class On:
        time_start_up = True
        test_size = 80
        train_sizes = [40, 80]
        cheap_seeds = 1

    m = run_benchmarks(ex, engines=("tfidf",), settings=On(), budget_s=30).measurements["tfidf"]
    assert m.start_s is not None and m.start_s >= 0.6
    with_start, notes = time_forecast(m, 1000, None)
    without, _ = time_forecast(m.model_copy(update={"start_s": None}), 1000, None)
    # Without the new process's timing, the load seen in the bench's own process stands in.
    assert with_start["train_time_s"] == pytest.approx(without["train_time_s"] - m.load_s + m.start_s)
    assert any("start-up" in n and "new process" in n for n in notes)

    class Off(On):
        time_start_up = False

    off = run_benchmarks(ex, engines=("tfidf",), settings=Off(), budget_s=30).measurements["tfidf"]
    assert off.start_s is None and off.load_s is not None


def _points(approach):
    return [
        CurvePoint(approach=approach, n_train=n, seed=0, accuracy=0.7, macro_f1=0.7, fit_s=0.1 + n / 1000)
        for n in (100, 200, 400)
    ]


@pytest.mark.parametrize("approach", ["embedding", "finetune"])
def test_the_start_up_replaces_the_in_process_load(approach):
    m = ApproachMeasurement(
        approach=approach, points=_points(approach), train_examples_per_s=20.0, prepare_texts_per_s=200.0, load_s=0.1
    )
    cfg = FinetuneConfig() if approach == "finetune" else None
    warm, _ = time_forecast(m, 3000, cfg)
    cold, _ = time_forecast(m.model_copy(update={"start_s": 6.0}), 3000, cfg)
    assert cold["train_time_s"] == pytest.approx(warm["train_time_s"] - 0.1 + 6.0)
    assert cold["train_time_high_s"] > warm["train_time_high_s"]


def test_real_tfidf_start_up_is_measured():
    startup.forget()
    timed = startup.time_start_up(TfidfEngine, TfidfEngine().config)
    assert timed.error is None and 0 < timed.seconds < 60
