"""The retrieval advisor (advisor.measure.ranking, advisor.retrieval) and its CLI paths (advise, run, search) on
fake retrieval engines: measurements, paired forecasts, the call, the plan, the artifact, the search."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from fake_rank_engines import FakeTuned, rank_pairs
from retrieval_helpers import write_pairs_file

from advisor.cli import main
from advisor.decide.goals import Goals
from advisor.forecast.curves import PRIOR_GAIN_PER_DOUBLING
from advisor.retrieval import advise_retrieval


def _data(n: int = 300, extra: int = 100):
    return SimpleNamespace(pairs=rank_pairs(n, extra), source="pairs.csv", fingerprint="x")


def test_advice_measures_forecasts_and_decides(rank_fakes) -> None:
    advice = advise_retrieval(
        _data(), Goals(task="retrieval"), profile="tiny", budget=60, resources=None, engines=rank_fakes
    )
    b = advice.bench
    assert set(b.measurements) == set(rank_fakes)
    lexical, tuned = b.measurements["fake-lexical"], b.measurements["fake-tuned"]
    # Learns nothing: fitted and indexed once, scored on both folds of held-out queries.
    assert [p.fold for p in lexical.points] == [0, 1] and len({p.n_train for p in lexical.points}) == 1
    assert b.fold1_queries > 0 and not set(b.measurements) - {"fake-lexical", "fake-tuned"}
    # Trained: once per fold on the queries outside it (the cross-fit), then smaller sizes on fold 0.
    pool = b.pool_queries
    assert [(p.n_train, p.fold) for p in tuned.points] == [(pool, 0), (pool, 1), (pool // 2, 0), (pool // 4, 0)]
    assert FakeTuned.fits == [pool, pool, pool // 2, pool // 4]
    assert all(len(p.per_query) == (b.test_queries if p.fold == 0 else b.fold1_queries) for p in tuned.points)
    f_lex, f_tuned = advice.forecasts["fake-lexical"], advice.forecasts["fake-tuned"]
    assert f_lex.metric == "ndcg@10" and f_lex.method.startswith("measured")
    assert f_lex.low <= f_lex.value <= f_lex.high
    # The interval covers the full run's own held-out queries too; comparisons use the curve's own.
    assert f_lex.eval_rows == advice.full_run_test_queries
    assert f_lex.low < f_lex.curve_low and f_lex.high > f_lex.curve_high
    # The untrained engine's score is the mean of its per-query values on both folds' queries.
    assert f_lex.value == pytest.approx(float(np.mean(lexical.points[0].per_query + lexical.points[1].per_query)))
    assert f_tuned.method.startswith("cross-fit + curve gain") and f_tuned.low <= f_tuned.value <= f_tuned.high
    # Replicates pair up (same resampled queries): the tuned engine's skill puts it far ahead of overlap.
    assert len(f_lex.boot) == len(f_tuned.boot) == 200
    assert f_tuned.value > f_lex.value + 0.2
    rec = advice.recommendation
    assert rec.choice == "fake-tuned" and not rec.too_close
    assert advice.plan is not None and advice.plan.engine == "fake-tuned" and advice.plan.task == "retrieval"
    assert advice.n_target + advice.full_run_test_queries == 300


def test_budget_leaves_out_a_size_it_cannot_afford(rank_fakes, monkeypatch) -> None:
    from engines.finetune import recipe

    steps = recipe({}, 240)[0]
    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 10.0 / steps)  # ~10 s a point: one fits in 15 s
    advice = advise_retrieval(_data(), Goals(task="retrieval"), profile="tiny", budget=15, engines=rank_fakes)
    tuned = advice.bench.measurements["fake-tuned"]
    assert len(tuned.points) == 1 and tuned.points[0].planned_steps == steps
    assert any("not started" in note for note in tuned.notes)
    # Its second fold was not measured: every approach is compared on fold 0's queries alone, and with
    # no learning curve the gain to the full run's size is the generic prior's.
    lexical = advice.bench.measurements["fake-lexical"]
    f_lex, f_tuned = advice.forecasts["fake-lexical"], advice.forecasts["fake-tuned"]
    assert f_lex.value == pytest.approx(float(np.mean(lexical.points[0].per_query)))
    assert f_tuned.method == "held-out + prior gain"
    assert f_tuned.value == pytest.approx(
        min(
            1.0,
            tuned.points[0].value + 0.5 * PRIOR_GAIN_PER_DOUBLING * np.log2(advice.n_target / tuned.points[0].n_train),
        )
    )
    assert advice.bench.spent_s < 15 * 1.2
    # Its forecast's training time is the measured seconds per step times the recipe's steps.
    assert advice.forecasts["fake-tuned"].train_time_s == pytest.approx(
        10.0 * recipe({}, advice.n_target)[0] / steps, rel=0.3
    )


def test_a_cut_collection_is_extrapolated_to_the_whole_one(rank_fakes) -> None:
    # 1,300 documents, a benchmark collection of 400: each fold is also scored on a half collection, and
    # the drop per doubling is carried to the whole collection, query by query.
    advice = advise_retrieval(
        _data(300, extra=1000), Goals(task="retrieval"), profile="tiny", budget=60, engines=rank_fakes
    )
    b = advice.bench
    assert b.bench_docs == 400 and 200 < b.half_docs < 400 and b.collection_docs == 1300
    lexical = b.measurements["fake-lexical"]
    raw = np.concatenate([p.per_query for p in lexical.points])
    half = np.concatenate([p.per_query_half for p in lexical.points])
    assert half.mean() > raw.mean()  # fewer distractors, more found
    shift = np.log2(1300 / 400) / np.log2(400 / b.half_docs)
    f_lex = advice.forecasts["fake-lexical"]
    assert f_lex.value == pytest.approx(float(np.clip(raw - shift * (half - raw), 0, 1).mean()))
    assert f_lex.value < raw.mean()
    assert any("extrapolated" in a for a in f_lex.assumptions)


def test_a_fit_that_cannot_finish_stops_after_its_first_steps(rank_fakes, monkeypatch) -> None:
    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 0.2)  # 30+ s a point, the budget is 12 s
    advice = advise_retrieval(_data(), Goals(task="retrieval"), profile="tiny", budget=12, engines=rank_fakes)
    tuned = advice.bench.measurements["fake-tuned"]
    assert tuned.points == [] and "stopped after its first steps" in tuned.notes[0]
    assert advice.bench.spent_s < 5  # the pace said so after a few steps: the budget is not spent for nothing
    assert advice.forecasts["fake-tuned"].value is None


def test_a_fit_the_budget_cuts_short_is_not_scored(rank_fakes, monkeypatch) -> None:
    monkeypatch.setattr(FakeTuned, "REPORTS_STEPS", False)  # no progress events: only the budget stops it
    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 1.0)  # 150+ s a point, the budget is 10 s
    advice = advise_retrieval(_data(), Goals(task="retrieval"), profile="tiny", budget=10, engines=rank_fakes)
    tuned = advice.bench.measurements["fake-tuned"]
    assert tuned.points == [] and "too few to score" in tuned.notes[0]
    assert advice.forecasts["fake-tuned"].value is None
    rec = advice.recommendation
    assert rec.choice == "fake-lexical" and rec.too_close  # an unmeasured option is not a loser


def test_goals_keep_task_and_metric_together() -> None:
    assert Goals(task="retrieval").metric == "ndcg@10"
    assert Goals(task="retrieval", metric="mrr@10").metric == "mrr@10"
    with pytest.raises(ValueError, match="for classification"):
        Goals(task="retrieval", metric="accuracy")
    with pytest.raises(ValueError, match="for retrieval"):
        Goals(metric="recall@10")


def test_cli_advise_run_and_search(rank_fakes, tmp_path, capsys) -> None:
    pairs = rank_pairs(200, 0)
    data = tmp_path / "pairs.csv"
    write_pairs_file(data, pairs)
    plan = tmp_path / "plan.json"
    code = main(
        ["advise", str(data), "--profile", "tiny", "--budget", "30", "--engines", ",".join(rank_fakes)]
        + ["--plan-out", str(plan), "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "queries" in out and "Recommendation:" in out and "ndcg@10" in out
    saved = json.loads(plan.read_text())
    assert saved["task"] == "retrieval" and saved["engine"] in rank_fakes

    art = tmp_path / "art"
    assert main(["run", str(plan), "--out", str(art)]) == 0
    out = capsys.readouterr().out
    assert "ndcg@10" in out and "held-out" in out
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["rank_metrics"]["n"] == saved["test_queries"]

    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(pairs.queries[:5]) + "\n", encoding="utf-8")
    assert main(["search", str(art), "--file", str(queries), "-k", "3", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["query"] for r in results] == pairs.queries[:5]
    assert all(len(r["hits"]) == 3 for r in results)
    assert main(["predict", str(art), "--text", "some text"]) != 0
    assert "search" in capsys.readouterr().err

    # Another engine on the same data and split: compare pairs them over the same held-out queries.
    other = tmp_path / "other"
    other_engine = next(e for e in rank_fakes if e != saved["engine"])
    assert main(["run", "--engine", other_engine, "--data", str(data), "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["compare", str(art), str(other), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "ndcg@10" and result["rows"] == saved["test_queries"]
    assert result["best"] == "art"  # the plan's engine (fake-tuned) finds the relevant document far more often
    assert result["leads"][0]["low"] > 0


def test_retrieval_run_needs_a_retrieval_engine(rank_fakes, tmp_path, capsys) -> None:
    data = tmp_path / "pairs.csv"
    write_pairs_file(data, rank_pairs(50, 0))
    code = main(["run", "--engine", "tfidf", "--data", str(data), "--corpus", str(data), "--out", str(tmp_path / "o")])
    assert code != 0
    assert "--corpus is for retrieval" in capsys.readouterr().err


def test_inspect_reads_pairs_as_retrieval_data(tmp_path, capsys) -> None:
    data = tmp_path / "pairs.csv"
    write_pairs_file(data, rank_pairs(30, 0))
    assert main(["inspect", str(data)]) == 0
    out = capsys.readouterr().out
    assert "queries: 30" in out and "collection: 30 documents" in out
    assert main(["inspect", str(data), "--task", "retrieval", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queries"] == 30


def test_an_interrupted_contrastive_run_resumes(tmp_path) -> None:
    """The real contrastive engine on the tiny model: Ctrl-C (cancel) keeps the checkpoint, --resume ends it."""
    import threading

    from advisor.run.rank_run import RankRunSpec, rank_full_run
    from engines.errors import Cancelled

    data = tmp_path / "pairs.csv"
    write_pairs_file(data, rank_pairs(40, 0))
    spec = RankRunSpec(
        engine="contrastive",
        data=str(data),
        profile="tiny",
        engine_config={"min_steps": 12, "checkpoint_every_steps": 2, "train_batch_size": 8},
    )
    out, cancel = tmp_path / "run", threading.Event()

    def stop_at_step_5(ev) -> None:
        if ev.phase == "train" and ev.done >= 5:
            cancel.set()

    with pytest.raises(Cancelled, match="--resume"):
        rank_full_run(spec, out, progress=stop_at_step_5, cancel=cancel)
    assert (tmp_path / "run.work").is_dir() and not out.exists()
    manifest = rank_full_run(spec, out, resume=True)
    assert manifest.fit.steps >= 12 and manifest.rank_metrics.n == 8
    assert not (tmp_path / "run.work").exists()


def test_a_run_hands_its_workdir_to_an_index_that_resumes(rank_fakes, monkeypatch, tmp_path) -> None:
    from fake_rank_engines import FakeLexical

    from advisor.run.rank_run import RankRunSpec, rank_full_run

    seen = []

    def index(self, doc_ids, docs, *, progress=None, cancel=None, workdir=None, resume=False) -> None:
        seen.append((workdir, resume))
        self.indexed_ids = list(doc_ids)
        self._docs = [set(d.split()) for d in docs]

    monkeypatch.setattr(FakeLexical, "index_resumes", lambda self: True)
    monkeypatch.setattr(FakeLexical, "index", index)
    data = tmp_path / "pairs.csv"
    write_pairs_file(data, rank_pairs(60, 0))
    spec = RankRunSpec(engine="fake-lexical", data=str(data), profile="tiny")
    rank_full_run(spec, tmp_path / "art")
    rank_full_run(spec, tmp_path / "art2", resume=True)
    assert seen == [(tmp_path / "art.work", False), (tmp_path / "art2.work", True)]
    assert not (tmp_path / "art.work").exists()  # removed once the artifact is written
