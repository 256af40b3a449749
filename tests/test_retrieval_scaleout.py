"""``advise --workers N`` for retrieval: the approaches whose full run embeds the collection on Ray workers get
that part ÷ (N × the scaling efficiency) plus the workers' start-up, their training and search structure
staying in one process; the call is made again, the plan runs it there, and the efficiency is measured by
indexing on 1 and 2 local Ray workers when none is given."""

from __future__ import annotations

import importlib.util
import json

import pytest
from fake_rank_engines import FakeTuned, rank_pairs
from recommend_helpers import Res, fc
from retrieval_helpers import write_pairs_file

from advisor.cli import main
from advisor.decide.goals import Goals
from advisor.decide.recommend import recommend
from advisor.forecast.scaleout import ASSUMED_RAY_START_S, Scaling, scaled_index_forecast
from advisor.measure.rank_records import RankBench, RankMeasurement
from advisor.scale_advice import rank_plan_overrides, rank_scale_out_advice

HAS_RAY = importlib.util.find_spec("ray") is not None


def _bench(docs: int) -> RankBench:
    return RankBench(
        measurements={
            "frozen-index": RankMeasurement(approach="frozen-index", docs_per_s=100.0),
            "bm25": RankMeasurement(approach="bm25", docs_per_s=5000.0),
        },
        metric="ndcg@10",
        test_queries=20,
        pool_queries=100,
        bench_docs=400,
        collection_docs=docs,
        budget_s=60.0,
    )


def _scale_out(forecasts, goals, *, efficiency, **gpus):
    """``rank_scale_out_advice`` on 4 workers for a 100,000-document collection (1,000 s of the frozen
    index's embedding at the measured 100 docs/s), after the one-machine call."""
    return rank_scale_out_advice(
        _bench(100_000),
        forecasts,
        recommend(goals, Res(), {}, forecasts),
        goals,
        Res(),
        configs={"frozen-index": None, "bm25": None},
        docs=["a document"] * 100_000,
        workers=4,
        efficiency=efficiency,
        ray_address=None,
        price_per_hour=None,
        budget="quick",
        progress=None,
        cancel=None,
        **gpus,
    )


def test_only_the_embedding_of_the_collection_is_divided() -> None:
    f = fc("frozen-index", 0.8, t=1200.0)
    given = scaled_index_forecast(f, 1000.0, Scaling(workers=4, efficiency=0.5, source="given"))
    assert given.train_time_s == pytest.approx(200 + 1000 / 2 + ASSUMED_RAY_START_S)
    assert given.train_workers == 4
    assert any("embeds the collection on 4 Ray workers" in a for a in given.assumptions)
    measured = Scaling(workers=4, efficiency=0.5, source="measured", overhead_s=9.0, measured_workers=2)
    assert scaled_index_forecast(f, 1000.0, measured).train_time_s == pytest.approx(200 + 500 + 9)
    assert scaled_index_forecast(f, 0.0, measured) is f  # nothing indexed: nothing to spread


def test_workers_that_bring_the_index_inside_the_deadline_change_the_call() -> None:
    goals = Goals(deadline_minutes=15)
    forecasts = {"frozen-index": fc("frozen-index", 0.80, t=1200.0), "bm25": fc("bm25", 0.60, t=20.0)}
    rec = recommend(goals, Res(), {}, forecasts)
    assert rec.choice == "bm25"  # 20 min of indexing on this machine misses the deadline
    got = _scale_out(forecasts, goals, efficiency=0.5)
    assert got is not None
    out, scaled = got
    assert scaled["frozen-index"].train_time_s == pytest.approx(200 + 500 + ASSUMED_RAY_START_S)
    assert scaled["bm25"] is forecasts["bm25"]  # BM25 tokenizes in one process
    assert out.changes_call and out.recommendation.choice == "frozen-index"
    assert "inside your 15-min deadline" in out.line and out.not_scaled == ["bm25"]
    assert rank_plan_overrides(out, "ray://head:10001") == {"workers": 4, "ray_address": "ray://head:10001"}


def test_advise_retrieval_with_workers_scales_the_index_and_plans_the_run_there(
    rank_fakes, monkeypatch, tmp_path, capsys
) -> None:
    monkeypatch.setattr(FakeTuned, "index_scales_out", True)
    data, plan = tmp_path / "pairs.csv", tmp_path / "plan.json"
    write_pairs_file(data, rank_pairs(300, 0))
    argv = ["advise", str(data), "--profile", "tiny", "--budget", "30", "--engines", ",".join(rank_fakes)]
    extra = ["--workers", "3", "--scaling-efficiency", "0.5", "--quiet"]
    assert main([*argv, *extra, "--json", "--plan-out", str(plan)]) == 0
    advice = json.loads(capsys.readouterr().out)
    so = advice["scale_out"]
    assert so["scaling"]["workers"] == 3 and so["scaling"]["source"] == "given" and so["measurement"] is None
    assert set(so["runs"]) == {"fake-tuned"} and so["not_scaled"] == ["fake-lexical"]
    one = advice["forecasts"]["fake-tuned"]["train_time_s"]
    index_s = advice["data"]["documents"] / advice["bench"]["measurements"]["fake-tuned"]["docs_per_s"]
    want = one - (index_s - index_s / 1.5 - ASSUMED_RAY_START_S)
    assert so["runs"]["fake-tuned"]["train_time_s"] == pytest.approx(max(want, 0.0))
    saved = json.loads(plan.read_text())
    assert saved["engine"] == so["recommendation"]["choice"]
    assert saved["engine_config"] == ({"workers": 3} if saved["engine"] == "fake-tuned" else {})
    assert main([*argv, *extra]) == 0
    assert "Scale-out on 3 Ray workers: efficiency 0.50 (given)" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'tune-or-embed[ray]')")
@pytest.mark.slow
def test_the_index_scaling_is_measured_on_one_and_two_workers(ray_cluster, tiny_model) -> None:
    from advisor.measure.scaling import measure_index_scaling
    from engines.dense import FrozenIndexConfig

    config = FrozenIndexConfig(model="tiny-bert", max_length=32, device="cpu", precision="fp32", batch_size=8)
    docs = [f"document number {i} about lava and chords" for i in range(300)]
    m = measure_index_scaling("frozen-index", config, docs)
    assert m is not None and m.unit == "documents" and m.steps == 300 and m.workers == 2 and m.where == "local"
    assert m.one_examples_per_s > 0 and m.many_examples_per_s > 0 and m.overhead_s >= 0
    assert m.efficiency == pytest.approx(m.many_examples_per_s / (2 * m.one_examples_per_s))


def test_a_measured_efficiency_above_one_is_capped(monkeypatch) -> None:
    from advisor.measure import scaling as scaling_mod
    from advisor.measure.scaling import ScalingMeasurement

    seen = {}

    def measured(name, config, docs, **kw):
        seen["call"] = (name, len(docs))
        return ScalingMeasurement(
            approach=name,
            workers=2,
            steps=512,
            unit="documents",
            one_examples_per_s=29.6,
            many_examples_per_s=70.6,
            efficiency=70.6 / 59.2,
            overhead_s=8.0,
            where="local",
            wall_s=55.0,
        )

    monkeypatch.setattr(scaling_mod, "measure_index_scaling", measured)
    forecasts = {"frozen-index": fc("frozen-index", 0.80, t=1200.0), "bm25": fc("bm25", 0.60, t=20.0)}
    goals = Goals()
    got = _scale_out(forecasts, goals, efficiency=None)
    assert got is not None
    out, scaled = got
    assert seen["call"] == ("frozen-index", 100_000)
    assert out.scaling.efficiency == 1.0 and "capped at 1 from 1.19" in out.scaling.source
    assert scaled["frozen-index"].train_time_s == pytest.approx(200 + 1000 / 4 + 8.0)
    assert out.measurement is not None and out.measurement.unit == "documents"


def test_gpu_workers_index_at_the_hardware_what_ifs_rate(monkeypatch) -> None:
    seen = {}

    def on_one_gpu(docs, config, scaling):
        seen["args"] = (docs, scaling.hardware, scaling.ranks)
        return 100.0  # the what-if: 100,000 documents in 100 s on one L4

    monkeypatch.setattr("advisor.scale_advice.one_gpu_index_s", on_one_gpu)
    forecasts = {"frozen-index": fc("frozen-index", 0.80, t=1200.0), "bm25": fc("bm25", 0.60, t=20.0)}
    got = _scale_out(forecasts, Goals(), efficiency=0.5, hardware="L4", gpus_per_worker=2)
    assert got is not None
    out, scaled = got
    assert seen["args"] == (100_000, "l4", 8)
    assert scaled["frozen-index"].train_time_s == pytest.approx(200 + 100 / (8 * 0.5) + ASSUMED_RAY_START_S)
    run = out.runs["frozen-index"]
    assert run.price == pytest.approx(run.worker_hours * 2 * 0.70)  # 2 L4s a worker, at their indicative price
    assert rank_plan_overrides(out, None) == {"workers": 8}  # one Ray worker per GPU
    assert any("2 × NVIDIA L4 24 GB" in a for a in scaled["frozen-index"].assumptions)


def test_the_one_gpu_index_time_is_the_frozen_encoders_what_if(tiny_model) -> None:
    from advisor.forecast.hardware import hardware_forecast, model_shape
    from advisor.forecast.hardware_profiles import get_hardware
    from advisor.forecast.scaleout import one_gpu_index_s
    from advisor.measure import ApproachMeasurement
    from engines.dense import FrozenIndexConfig

    config = FrozenIndexConfig(model="tiny-bert", max_length=32, batch_size=64)
    shape = model_shape("tiny-bert")
    assert shape is not None
    frozen = ApproachMeasurement(approach="frozen-index")
    for name in ("t4", "h200"):
        gpus = Scaling(workers=2, efficiency=1.0, source="given", hardware=name)
        want = hardware_forecast(frozen, get_hardware(name), shape, 50_000, config, predictions_per_day=0)
        assert one_gpu_index_s(50_000, config, gpus) == pytest.approx(want.train_time_s)
    assert one_gpu_index_s(50_000, config, Scaling(workers=2, efficiency=1.0, source="given")) is None
