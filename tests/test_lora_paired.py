"""The paired LoRA gate (``alternative_gate = "paired"``): one LoRA point beside full fine-tuning's
first, on the same rows and seed; left out with its measured lead where that lead plus its time
saving's worth is negative, else forecast as full fine-tuning's forecast plus the lead."""

from __future__ import annotations

import pytest
from fake_engines import FakeFinetune, FakeLora, make_examples
from pydantic import BaseModel

from advisor.forecast.accuracy import forecast_all
from advisor.measure import run_benchmarks
from engines import base


class Settings(BaseModel):
    test_size: int = 200
    train_sizes: list[int] = [50, 100, 200]
    cheap_seeds: int = 2
    finetune_sizes: list[int] = [100, 200]
    finetune_seeds: int = 1
    time_start_up: bool = False
    crossfit: bool = True
    alternative_gate: str = "paired"


def _bench(fakes, monkeypatch, lora_curve, worth=0.0):
    monkeypatch.setitem(base._REGISTRY, "lora", f"{FakeLora.__module__}:FakeLora")
    monkeypatch.setattr(FakeLora, "fits", [])
    monkeypatch.setattr(FakeLora, "CURVE", lora_curve)
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 1e-5)  # a measured throughput
    monkeypatch.setattr(FakeLora, "SECONDS_PER_EXAMPLE", 0.5e-5)
    return run_benchmarks(
        fakes(make_examples(600)),
        engines=("tfidf", "finetune", "lora"),
        settings=Settings(),
        budget_s=30,
        configs={"finetune": {"min_steps": 10, "train_batch_size": 8}},
        time_worth=lambda faster, slower: worth,
        settled=lambda partial: False,
    )


def test_lora_behind_full_finetuning_on_the_same_rows_is_left_out_with_its_lead(fakes, monkeypatch):
    res = _bench(fakes, monkeypatch, (0.70, 2.0, 0.5))
    first = next(p for p in res.measurements["finetune"].points if p.usable)
    assert FakeLora.fits == [first.n_train]  # one fit, on full fine-tuning's first rows
    assert "lora" not in res.measurements and not res.paired
    reason = res.left_out["lora"]
    assert reason.startswith(f"LoRA left out: on the same {first.n_train:,} rows and seed LoRA scored -")
    assert "points under your goals' weights" in reason


def test_a_time_saving_worth_more_than_the_deficit_keeps_lora(fakes, monkeypatch):
    res = _bench(fakes, monkeypatch, (0.88, 2.0, 0.5), worth=0.5)
    assert res.paired == {"lora": "finetune"}


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_lora_ahead_is_kept_and_forecast_as_full_finetuning_plus_its_lead(fakes, monkeypatch, metric):
    res = _bench(fakes, monkeypatch, (0.95, 2.0, 0.5))
    assert res.paired == {"lora": "finetune"} and "lora" not in res.left_out
    lora, full = res.measurements["lora"].points, res.measurements["finetune"].points
    assert [(p.n_train, p.seed) for p in lora] == [(full[0].n_train, full[0].seed)]  # no curve of its own
    assert "lora" not in res.crossfits
    lead = getattr(lora[0], metric) - getattr(full[0], metric)
    assert lead > 0
    fcs = forecast_all(res, n_target=1000, metric=metric, configs={"finetune": {"min_steps": 10}})
    f, ft = fcs["lora"], fcs["finetune"]
    assert f.method == "full fine-tune + paired lead"
    assert f.value == pytest.approx(min(1.0, ft.value + lead))
    assert f.low < f.value < f.high or f.value == 1.0
    assert len(f.boot) == len(ft.boot)
    assert any("lead measured beside its" in a for a in f.assumptions)
    # The other forecasts are what they would be without LoRA in the benchmark.
    alone = forecast_all(
        res.model_copy(update={"measurements": {k: v for k, v in res.measurements.items() if k != "lora"}}),
        n_target=1000,
        metric=metric,
        configs={"finetune": {"min_steps": 10}},
    )
    assert alone["finetune"].value == ft.value and alone["tfidf"].value == fcs["tfidf"].value
