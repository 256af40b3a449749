"""``advise --workers N``: the scalable full runs forecast on N Ray workers (training part ÷ N × the
scaling efficiency, plus the workers' start-up), their worker-hours counted in the cost, the call
made again, and the plan that runs it there."""

from __future__ import annotations

import json

import pytest
from fake_engines import FakeFinetune, make_examples
from recommend_helpers import Res, fc

from advisor.cli import main
from advisor.decide.goals import Goals
from advisor.decide.recommend import recommend
from advisor.decide.scaleout import scale_out, scale_out_lines
from advisor.decide.scoring import cost
from advisor.forecast.scaleout import ASSUMED_RAY_START_S, Scaling, scaled_forecast
from advisor.measure import ApproachMeasurement
from engines.errors import ConfigError


def test_the_training_part_is_divided_and_the_start_up_added():
    f = fc("finetune", 0.8, t=1010.0)
    m = ApproachMeasurement(approach="finetune", start_s=10.0)
    given = scaled_forecast(f, m, Scaling(workers=4, efficiency=0.5, source="given"))
    assert given.train_time_s == pytest.approx(1000 / 2 + 10 + ASSUMED_RAY_START_S)
    assert given.train_workers == 4
    assert any("(assumed)" in a for a in given.assumptions)
    measured = Scaling(workers=4, efficiency=0.5, source="measured", overhead_s=30.0, measured_workers=2)
    out = scaled_forecast(f, m, measured)
    assert out.train_time_s == pytest.approx(1000 / 2 + 30)
    assert any("past 2" in a for a in out.assumptions)


def test_the_cost_counts_every_workers_hours():
    f = fc("finetune", 0.8, t=3600.0, lat=0.0)
    goals = Goals(price_per_hour=2.0)
    assert cost(f.model_copy(update={"train_workers": 4}), goals) == pytest.approx(4 * cost(f, goals)) == 8.0


def test_workers_that_bring_a_fine_tune_inside_the_deadline_change_the_call():
    goals = Goals(deadline_minutes=10)
    forecasts = {"tfidf": fc("tfidf", 0.70, t=5.0), "finetune": fc("finetune", 0.85, t=1800.0)}
    rec = recommend(goals, Res(), {}, forecasts)
    assert rec.choice == "tfidf"  # 30 min on this machine misses the deadline
    s = scale_out(goals, Res(), {}, forecasts, rec, Scaling(workers=8, efficiency=0.8, source="given"))
    assert s.changes_call and s.recommendation.choice == "finetune"
    assert s.runs["finetune"].train_time_s == pytest.approx(1800 / 6.4 + ASSUMED_RAY_START_S)
    assert s.runs["finetune"].one_machine_s == 1800.0
    assert "inside your 10-min deadline" in s.line
    assert s.not_scaled == ["tfidf"]


def test_a_call_that_stays_says_what_the_workers_take():
    goals = Goals(price_per_hour=3.0)
    forecasts = {"tfidf": fc("tfidf", 0.70, t=5.0), "finetune": fc("finetune", 0.85, t=617.0)}
    rec = recommend(goals, Res(), {}, forecasts)
    assert rec.choice == "finetune"
    s = scale_out(goals, Res(), {}, forecasts, rec, Scaling(workers=2, efficiency=1.0, source="given"))
    run = s.runs["finetune"]
    assert not s.changes_call and "stays" in s.line
    assert run.train_time_s == pytest.approx(617 / 2 + ASSUMED_RAY_START_S)
    assert run.worker_hours == pytest.approx(run.train_time_s * 2 / 3600)
    assert run.price == pytest.approx(run.worker_hours * 3.0)
    lines = scale_out_lines(s)
    assert lines[0].startswith("Scale-out on 2 Ray workers: efficiency 1.00 (given)")
    assert lines[-1] == s.line


GPUS = Scaling(workers=4, efficiency=0.5, source="given", overhead_s=30.0, hardware="a100-40gb", gpus_per_worker=8)


def test_gpu_workers_divide_the_hardware_what_if_over_every_gpu():
    f = fc("finetune", 0.8, t=1010.0).model_copy(update={"train_time_low_s": 810.0, "train_time_high_s": 1510.0})
    m = ApproachMeasurement(approach="finetune", start_s=10.0)
    out = scaled_forecast(f, m, GPUS, gpu_s=200.0)  # the what-if: 200 s on one A100
    assert GPUS.ranks == 32
    assert out.train_time_s == pytest.approx(200 / (32 * 0.5) + 30)
    assert out.train_time_low_s == pytest.approx(800 * 0.2 / 16 + 30)  # the interval kept in proportion
    assert out.train_time_high_s == pytest.approx(1500 * 0.2 / 16 + 30)
    assert out.train_workers == 4
    assert any("8 × NVIDIA A100 40 GB" in a and "32 GPUs" in a for a in out.assumptions)
    like_here = scaled_forecast(f, m, GPUS.model_copy(update={"hardware": None}), gpu_s=200.0)
    assert like_here.train_time_s == pytest.approx(1000 / 2 + 30)  # no hardware: workers like this machine
    unknown_size = scaled_forecast(f, m, GPUS)
    assert unknown_size.train_time_s == pytest.approx(1000 / 2 + 30)
    assert any("model's size is unknown" in a for a in unknown_size.assumptions)


def test_the_one_gpu_time_is_the_hardware_what_if(tiny_model):
    from advisor.forecast.hardware import hardware_forecast, model_shape
    from advisor.forecast.hardware_profiles import get_hardware
    from advisor.forecast.scaleout import one_gpu_s
    from engines.config import FinetuneConfig

    config = FinetuneConfig(model="tiny-bert", train_batch_size=16)
    f = fc("finetune", 0.8, t=1010.0, n=20_000)
    m = ApproachMeasurement(approach="finetune", start_s=10.0, tokens_per_example=48.0)
    shape = model_shape("tiny-bert")
    assert shape is not None
    times = {}
    for name in ("t4", "h100"):
        gpu = GPUS.model_copy(update={"hardware": name})
        want = hardware_forecast(m, get_hardware(name), shape, 20_000, config, predictions_per_day=0).train_time_s
        times[name] = one_gpu_s(f, m, config, gpu)
        assert times[name] == pytest.approx(want)
    made = f.model_copy(
        update={
            "hardware": [
                hardware_forecast(m, get_hardware("t4"), shape, 20_000, config, predictions_per_day=0).model_copy(
                    update={"train_time_s": 123.0}
                )
            ]
        }
    )
    assert one_gpu_s(made, m, config, GPUS.model_copy(update={"hardware": "t4"})) == 123.0  # the what-if made
    assert one_gpu_s(f, m, config, GPUS.model_copy(update={"hardware": None})) is None


def test_gpu_workers_are_priced_and_planned_per_gpu(monkeypatch):
    from advisor.measure import BenchResult
    from advisor.scale_advice import check_workers, scale_out_advice, scaled_plan

    goals = Goals(deadline_minutes=10)
    forecasts = {"tfidf": fc("tfidf", 0.70, t=5.0), "finetune": fc("finetune", 0.85, t=1810.0)}
    measurements = {"finetune": ApproachMeasurement(approach="finetune", start_s=10.0)}
    rec = recommend(goals, Res(), measurements, forecasts)
    bench = BenchResult.model_construct(measurements=measurements)
    monkeypatch.setattr("advisor.forecast.scaleout.one_gpu_s", lambda f, m, config, scaling: 60.0)

    def advice(**kw):
        return scale_out_advice(
            bench,
            forecasts,
            rec,
            goals,
            Res(),
            configs={"finetune": None},
            examples=None,
            workers=2,
            efficiency=0.5,
            ray_address=None,
            budget="quick",
            progress=None,
            cancel=None,
            **kw,
        )

    on_a100 = advice(price_per_hour=None, hardware="a100", gpus_per_worker=4)
    run = on_a100.runs["finetune"]
    assert on_a100.scaling.hardware == "a100-40gb" and on_a100.scaling.ranks == 8
    assert run.train_time_s == pytest.approx(60 / (8 * 0.5) + 10 + ASSUMED_RAY_START_S)
    assert run.price == pytest.approx(run.worker_hours * 4 * 1.30)  # 4 A100s at their indicative price
    assert on_a100.changes_call and on_a100.recommendation.choice == "finetune"
    lines = scale_out_lines(on_a100)
    assert lines[0].startswith("Scale-out on 2 Ray workers of 4 × NVIDIA A100 40 GB each (8 GPUs)")
    assert any("4 × 1.30 = 5.20" in line for line in lines)
    _, overrides, planned = scaled_plan(on_a100, bench, forecasts, "10.0.0.9:6379")
    assert overrides == {"workers": 8, "ray_address": "10.0.0.9:6379"}  # one Ray worker per GPU
    assert planned["finetune"].train_time_s == pytest.approx(run.train_time_s)
    priced = advice(price_per_hour=3.0, hardware="h100")
    assert priced.runs["finetune"].price == pytest.approx(priced.runs["finetune"].worker_hours * 3.0)
    assert priced.scaling.ranks == 2 and not priced.price_note
    here = advice(price_per_hour=None)
    assert here.runs["finetune"].train_time_s == pytest.approx(1800 / 1.0 + 10 + ASSUMED_RAY_START_S)
    with pytest.raises(ConfigError, match=r"^\[cluster\] hardware: unknown hardware 'a1000'; try one of: t4, l4"):
        check_workers(4, 0.5, hardware="a1000")
    with pytest.raises(ConfigError, match="gpus_per_worker needs hardware"):
        check_workers(4, 0.5, gpus_per_worker=2)


@pytest.fixture
def fake_csv(fakes, write_csv):
    """400 rows the fake engines (conftest's ``fakes``) learn, the fake fine-tune able to scale out."""
    ex = fakes(make_examples(400))
    return write_csv(list(zip(ex.texts, ex.labels, strict=True)))


@pytest.fixture
def scalable_fake(monkeypatch):
    monkeypatch.setattr(FakeFinetune, "scales_out", True, raising=False)


def test_advise_with_workers_scales_the_fine_tune_and_plans_the_run_there(fake_csv, scalable_fake, tmp_path, capsys):
    plan = tmp_path / "plan.json"
    argv = ["advise", str(fake_csv), "--profile", "tiny", "--budget", "20", "--quiet"]
    code = main([*argv, "--json", "--workers", "4", "--scaling-efficiency", "0.5", "--plan-out", str(plan)])
    assert code == 0
    advice = json.loads(capsys.readouterr().out)
    so = advice["scale_out"]
    assert so["scaling"]["workers"] == 4 and so["scaling"]["source"] == "given"
    assert so["measurement"] is None
    assert set(so["runs"]) == {"finetune"} and set(so["not_scaled"]) == {"tfidf", "embedding"}
    m = advice["bench"]["measurements"]["finetune"]
    start = m["start_s"] if m["start_s"] is not None else (m["load_s"] or 0.0)
    one = advice["forecasts"]["finetune"]["train_time_s"]
    assert so["runs"]["finetune"]["one_machine_s"] == pytest.approx(one)
    expected = max(one - start, 0.0) / 2 + start + ASSUMED_RAY_START_S
    assert so["runs"]["finetune"]["train_time_s"] == pytest.approx(expected)
    spec = json.loads(plan.read_text())["run"]
    assert spec["engine"] == so["recommendation"]["choice"]
    assert spec["engine_config"] == ({"workers": 4} if spec["engine"] == "finetune" else {})
    assert main([*argv, "--workers", "4", "--scaling-efficiency", "0.5"]) == 0
    assert "Scale-out on 4 Ray workers: efficiency 0.50 (given)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--scaling-efficiency", "0.5"], "go with --workers N"),
        (["--ray-address", "127.0.0.1:1"], "go with --workers N"),
        (["--workers", "0", "--scaling-efficiency", "0.5"], "at least 1"),
        (["--workers", "2", "--scaling-efficiency", "3"], "(0, 1.5]"),
    ],
)
def test_bad_worker_options_are_one_line(fake_csv, capsys, extra, says):
    code = main(["advise", str(fake_csv), "--profile", "tiny", "--budget", "20", "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err


def test_workers_without_ray_say_how_to_get_it(fake_csv, capsys, monkeypatch):
    from engines import ray_cluster

    monkeypatch.setattr(ray_cluster, "ray_available", lambda: False)
    code = main(["advise", str(fake_csv), "--profile", "tiny", "--budget", "20", "--quiet", "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'tune-or-embed[ray]'" in err and "Traceback" not in err


def test_the_profiles_cluster_hardware_reaches_advise(fake_csv, scalable_fake, tmp_path, capsys):
    """advise reads the [cluster] section's hardware: a name it does not know is one line before any
    benchmark, a known one forecasts the workers as that GPU."""
    from advisor.machine.profiles import bundled_profiles

    tiny = bundled_profiles()["tiny"].read_text(encoding="utf-8")
    argv = ["advise", str(fake_csv), "--budget", "20", "--quiet", "--workers", "2", "--scaling-efficiency", "0.5"]
    bad = tmp_path / "bad-cluster.toml"
    bad.write_text(tiny + '\n[cluster]\nhardware = "a1000"\n', encoding="utf-8")
    assert main([*argv, "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown hardware 'a1000'; try one of:" in err and "Traceback" not in err
    good = tmp_path / "a100-cluster.toml"
    good.write_text(tiny + '\n[cluster]\nhardware = "a100"\ngpus_per_worker = 2\n', encoding="utf-8")
    assert main([*argv, "--profile", str(good), "--json"]) == 0
    scaling = json.loads(capsys.readouterr().out)["scale_out"]["scaling"]
    assert scaling["hardware"] == "a100-40gb" and scaling["workers"] * scaling["gpus_per_worker"] == 4
