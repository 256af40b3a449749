"""This machine's training ÷ embedding speed (advisor/measure/train_speed.py): measured by probe --data
or by an advise, remembered beside the start-ups, and what plans the next advise's first fine-tune point."""

from __future__ import annotations

import json

import pytest
from data_helpers import tiny_rows

from advisor.forecast.hardware import time_forecast
from advisor.measure import ApproachMeasurement, plan, probes, train_speed, trainers
from advisor.measure.results import result
from advisor.measure.session import Session
from engines.base import Examples

TINY = {"model": "tiny-bert", "max_length": 64, "device": "cpu"}
CONFIGS = {"embedding": TINY, "finetune": {**TINY, "train_batch_size": 8}}
ENGINES = ("tfidf", "embedding", "finetune")


class Remember:
    """Bench settings that remember start-ups (and the training speed) on disk for a day."""

    time_start_up = True
    start_up_cache_days = 1.0


class TimeNothing(Remember):
    time_start_up = False  # the switch for every measurement outside the budget


@pytest.fixture
def examples(monkeypatch, tmp_path) -> Examples:
    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path / "toe-cache"))
    rows = tiny_rows(40)
    return Examples(texts=[t for t, _ in rows], labels=[y for _, y in rows])


def session(ex: Examples, settings: object, engines: tuple[str, ...] = ENGINES) -> Session:
    return Session(
        ex,
        engines=engines,
        configs=CONFIGS,
        settings=settings,
        budget_s=60,
        labelled_size=None,
        seed=0,
        progress=None,
        cancel=None,
        settled=None,
    )


def test_measured_ahead_it_plans_the_next_bench_and_is_said(examples):
    measured = train_speed.measure(ENGINES, CONFIGS, Remember(), examples)
    assert measured is not None and measured.remembered_in is not None
    assert measured.ratio == pytest.approx(measured.embed_texts_per_s / measured.train_examples_per_s)
    assert train_speed.BOUNDS[0] <= measured.ratio <= train_speed.BOUNDS[1]

    s = session(examples, Remember())
    assert s.train_vs_infer == plan.TRAIN_VS_INFER_COST  # until recalled
    train_speed.recall(s)
    assert s.train_vs_infer == pytest.approx(measured.ratio) and s.train_vs_infer_at is not None
    # The first point's cost (no training measured yet) follows the remembered ratio.
    s.tally["embedding"].prepare_texts_per_s = 400.0
    s.split(40, 40)
    cost = trainers.finetune_cost(s, "finetune", 40)
    s.train_vs_infer *= 2
    assert cost is not None and trainers.finetune_cost(s, "finetune", 40) > cost
    probes.note_remembered(s)
    assert len(s.notes) == 1 and "this machine's training speed" in s.notes[0]
    assert result(s).train_vs_infer == pytest.approx(s.train_vs_infer)  # the forecasts use it too
    # A bench that does not time start-ups reads nothing remembered either.
    off = session(examples, TimeNothing())
    train_speed.recall(off)
    assert off.train_vs_infer == plan.TRAIN_VS_INFER_COST and off.train_vs_infer_at is None


def test_an_advise_remembers_what_it_measured_only_when_it_is_a_measurement(examples):
    s = session(examples, Remember())
    for name in ("embedding", "finetune"):
        s.engine(name)
    s.tally["embedding"].prepare_texts_per_s = 300.0
    s.tally["finetune"].train_examples_per_s = 60.0
    s.tally["finetune"].rate_steps = 3  # too few steps: not this machine's speed yet
    assert not train_speed.remember(s) and not s.notes
    fresh = session(examples, Remember())
    train_speed.recall(fresh)
    assert fresh.train_vs_infer_at is None
    s.tally["finetune"].rate_steps = 40
    assert train_speed.remember(s)
    # The advice says that the next one plans with it (this one planned with the assumed ratio).
    assert len(s.notes) == 1 and "÷ 5.0, is remembered: the next advise plans" in s.notes[0]
    train_speed.recall(fresh)
    assert fresh.train_vs_infer == pytest.approx(5.0) and fresh.train_vs_infer_at is not None
    # A ratio no machine has (a broken timing) is not remembered over it.
    s.tally["finetune"].train_examples_per_s = 3000.0
    assert not train_speed.remember(s)
    again = session(examples, Remember())
    train_speed.recall(again)
    assert again.train_vs_infer == pytest.approx(5.0)
    # Without an embedder there is nothing to compare.
    assert train_speed.planning_pair(("tfidf", "finetune")) is None


def test_cli_probe_data_measures_it_and_says_whether_it_is_kept(capsys, tmp_path, write_csv, monkeypatch):
    from advisor.cli import main

    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path / "toe-cache"))
    data = write_csv(tiny_rows(40))
    assert main(["probe", "--data", str(data), "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert f"training speed on {data}:" in out and "not remembered (profile tiny" in out
    assert main(["probe", "--data", str(data), "--profile", "tiny", "--json"]) == 0
    ratio = json.loads(capsys.readouterr().out)["train_vs_infer"]
    assert train_speed.BOUNDS[0] <= ratio <= train_speed.BOUNDS[1]


def test_a_fine_tune_not_measured_is_timed_with_the_ratio_the_bench_had():
    m = ApproachMeasurement(approach="finetune", start_s=5.0)
    config = {"train_batch_size": 16, "min_steps": 150, "epochs": 2, "valid_fraction": 0.0}
    assumed, said = time_forecast(m, 1000, config, embed_rate=300.0)
    mine, said_mine = time_forecast(m, 1000, config, embed_rate=300.0, train_vs_infer=3.0)
    assert f"÷ {plan.TRAIN_VS_INFER_COST:g} " in said[0] and "÷ 3 " in said_mine[0] and "this machine's" in said_mine[0]
    # Training at 300 / 3 instead of 300 / 5.5 examples/s: the same steps in 3 / 5.5 of the time.
    assert mine["train_time_s"] - 5.0 == pytest.approx((assumed["train_time_s"] - 5.0) * 3.0 / plan.TRAIN_VS_INFER_COST)
