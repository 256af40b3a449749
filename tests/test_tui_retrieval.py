"""Pilot tests of the TUI's retrieval flow: goals (retrieval) → pairs → benchmark → advice → run →
search, on the real retrieval backend with fake engines (``tui_rank_fakes``)."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual.widgets import DataTable, Input, Label, Select, Static
from tui_fakes import FakeBackend
from tui_helpers import until
from tui_rank_fakes import rank_services, register, write_pairs

from advisor.decide.goals import Goals
from advisor.tui.app import create_app


def run_async(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def on_step(app, name: str) -> bool:
    return app.current_mode == name and bool(app.screen.query(".body"))


def text_of(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render() if isinstance(widget, (Static, Label)) else widget.value)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def engines(monkeypatch):
    return register(monkeypatch)


@run_async
async def test_retrieval_from_goals_to_search(tmp_path: Path, engines) -> None:
    pairs = write_pairs(tmp_path / "pairs.csv")
    calls: list[str] = []
    app = create_app(services=rank_services(FakeBackend().services(), calls=calls))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: on_step(app, "goals") and app.state.resources is not None)
        app.screen.query_one("#goal-task", Select).value = "retrieval"
        # The metric follows the task (accuracy is not a ranking metric), and the goals stay valid.
        await until(pilot, lambda: app.state.goals.task == "retrieval")
        assert app.state.goals.metric == "ndcg@10" and app.state.goals_error is None
        assert app.screen.query_one("#goal-metric", Select).value == "ndcg@10"

        await pilot.press("3")
        await until(pilot, lambda: on_step(app, "data"))
        assert "demo:bbc-headlines" in app.screen.query_one("#data-path", Input).placeholder
        assert app.screen.query_one("#corpus").display and not app.screen.query_one("#test-file").display
        box = app.screen.query_one("#data-path", Input)
        box.value = str(pairs)
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.state.dataset is not None)
        assert app.state.data_task == "retrieval"
        assert "queries: 200" in text_of(app, "#columns") and "documents: 200" in text_of(app, "#columns")
        assert "per query: mean 1.00" in text_of(app, "#balance")
        preview = app.screen.query_one("#preview", DataTable)
        assert preview.row_count == 50 and str(preview.get_row_at(0)[0]).startswith("q0 ")

        await pilot.press("escape", "4", "s")
        await until(pilot, lambda: app.state.advice is not None, timeout=60)
        await until(pilot, lambda: on_step(app, "advice"))
        advice = app.state.advice
        assert advice.task == "retrieval" and advice.recommendation.choice == "fake-tuned"
        assert "Recommendation:" in text_of(app, "#choice")
        assert app.screen.query_one("#forecasts", DataTable).row_count == 2
        assert "held-out queries" in text_of(app, "#flags")
        await pilot.press("e", "p")
        await until(pilot, lambda: (tmp_path / "report.md").exists() and (tmp_path / "plan.json").exists())
        assert json.loads((tmp_path / "plan.json").read_text())["engine"] == "fake-tuned"
        assert "retrieval" in (tmp_path / "report.md").read_text()

        await pilot.press("4")  # the measured points, filled in when the benchmark ended
        await until(pilot, lambda: on_step(app, "bench"))
        measured = sum(len(m.points) for m in advice.bench.measurements.values())
        assert measured >= 3 and app.screen.query_one("#points", DataTable).row_count == measured

        await pilot.press("6")
        await until(pilot, lambda: on_step(app, "run"))
        engine = app.screen.query_one("#engine", Select)
        assert engine.value == "fake-tuned"
        assert [v for _, v in engine._options if isinstance(v, str)] == engines  # the retrieval engines only
        assert app.screen.query_one("#out-dir", Input).value == "runs/fake-tuned"
        await pilot.press("r")
        await until(pilot, lambda: app.state.manifest is not None, timeout=30)
        await until(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
        await until(pilot, lambda: app.state.search_engine is not None)
        assert (tmp_path / "runs" / "fake-tuned" / "manifest.json").exists()
        assert "ndcg@10" in text_of(app, "#search-title")

        query = app.screen.query_one("#query", Input)
        assert app.focused is query
        await pilot.press(*"q7 ", "enter")  # the tuned fake knows query q7's document: d7
        await until(pilot, lambda: app.screen.query_one("#search-hits", DataTable).row_count > 0)
        table = app.screen.query_one("#search-hits", DataTable)
        assert table.row_count == 10
        first = [str(c) for c in table.get_row_at(0)]
        docs = {d: t for d, t in zip(app.state.dataset.pairs.doc_ids, app.state.dataset.pairs.docs)}
        assert first[0] == "1" and first[2] == "d7" and first[3] == docs["d7"]
        assert "10 nearest documents" in text_of(app, "#search-summary")

        await pilot.press("escape", "escape")  # leave the box, then back to the run step
        await until(pilot, lambda: type(app.screen).__name__ == "RunScreen")
        assert "ndcg@10" in text_of(app, "#artifact")
        assert app.screen.query_one("#open-search").display
        await pilot.press("slash")  # opens the same index again, already loaded
        await until(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
        assert app.state.search_engine is not None

        # Back, and a second run (the other engine, same split): its index replaces the one searched.
        await pilot.press("escape", "escape")
        await until(pilot, lambda: type(app.screen).__name__ == "RunScreen")
        app.screen.query_one("#engine", Select).value = "fake-lexical"
        await until(pilot, lambda: app.screen.query_one("#out-dir", Input).value == "runs/fake-lexical")
        assert "was not recommended" in text_of(app, "#run-plan")
        await pilot.press("r")
        await until(pilot, lambda: app.state.search_dir == "runs/fake-lexical" and app.state.search_engine is not None)
        assert type(app.screen).__name__ == "SearchScreen" and app.state.search_hits == []
        assert app.state.runs_done == ["runs/fake-tuned", "runs/fake-lexical"]
    assert calls == [
        "advise_retrieval:quick",
        "rank_full_run:fake-tuned:resume=False",
        "rank_full_run:fake-lexical:resume=False",
    ]


@run_async
async def test_task_switch_rereads_the_data_and_bench_refuses_stale_data(tmp_path: Path, engines) -> None:
    """A retrieval demo typed for classification fails in one line; switching the task reads it again."""
    pairs = write_pairs(tmp_path / "pairs.csv", 40)
    fake = FakeBackend()
    app = create_app(services=rank_services(fake.services()), data=str(pairs), start="data")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: not app.state.data_loading and app.state.resources is not None)
        assert app.state.data_task is None and "no text column" in app.state.data_error
        app.state.goals = Goals(task="retrieval")
        app.task_changed()
        await until(pilot, lambda: app.state.data_task == "retrieval" and not app.state.data_loading)
        assert app.state.data_error is None and "queries: 40" in text_of(app, "#columns")
        app.state.goals = Goals()  # the data was read as pairs: no classification benchmark on it
        assert "read for retrieval" in app.start_bench()
        assert not app.state.bench_running


@run_async
async def test_cancel_the_retrieval_run_and_search_errors_are_one_line(tmp_path: Path, engines, monkeypatch) -> None:
    from fake_rank_engines import FakeTuned

    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 0.05)
    pairs = write_pairs(tmp_path / "pairs.csv", 60)
    app = create_app(
        services=rank_services(FakeBackend().services()), data=str(pairs), goals=Goals(task="retrieval"), start="run"
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        app.screen.query_one("#engine", Select).value = "fake-tuned"
        await until(pilot, lambda: app.screen.query_one("#out-dir", Input).value == "runs/fake-tuned")
        assert "No advice yet" in text_of(app, "#run-plan")
        await pilot.press("r")
        await until(pilot, lambda: "train" in text_of(app, "#run-status"), timeout=20)
        await pilot.press("escape")
        await until(pilot, lambda: not app.state.run_running, timeout=20)
        assert app.state.manifest is None and "run cancelled" in app.state.run_error
        assert type(app.screen).__name__ == "RunScreen"

        app.open_search(str(tmp_path / "nothing-here"))  # a folder that is no artifact
        await until(pilot, lambda: not app.state.search_loading)
        assert app.state.search_error and "\n" not in app.state.search_error
        assert app.state.search_error in text_of(app, "#search-notice")
        assert app.search("anything") == app.state.search_error


@run_async
async def test_escape_cancels_the_retrieval_benchmark(tmp_path: Path, engines, monkeypatch) -> None:
    from fake_rank_engines import FakeTuned

    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 0.05)  # the tuned fake's fit takes seconds
    pairs = write_pairs(tmp_path / "pairs.csv", 80)
    app = create_app(
        services=rank_services(FakeBackend().services()), data=str(pairs), goals=Goals(task="retrieval"), start="bench"
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        assert "the pairs of" in text_of(app, "#bench-notice")
        await pilot.press("s")
        await until(pilot, lambda: any(e.approach == "fake-tuned" for e in app.state.bench_events), timeout=20)
        await pilot.press("escape")
        await until(pilot, lambda: not app.state.bench_running, timeout=20)
        advice = app.state.advice
        assert advice is not None and advice.cancelled and advice.task == "retrieval"
        assert advice.bench.measurements["fake-lexical"].points  # what was measured is kept
        assert "Cancelled" in text_of(app, "#bench-notice") and app.current_mode == "bench"
        assert app.screen.query_one("#points", DataTable).row_count >= 1


def test_rank_format_rows() -> None:
    """The retrieval screens' text: scores ×100 as the CLI prints them, the measured value at the largest
    size averaged over both folds, and search hits as (rank, score, id, one-line text)."""
    from types import SimpleNamespace as N

    from advisor.tui import rank_format
    from engines.records import SearchHit

    points = [N(n_train=40, fold=0, value=0.5, fit_s=1.0, stopped="completed")]
    points += [N(n_train=80, fold=f, value=v, fit_s=2.0, stopped="completed") for f, v in ((0, 0.7), (1, 0.8))]
    fc = N(value=0.8123, low=0.75, high=0.86, flagged=True, infer_ms_per_text=12.34, train_time_s=300.0)
    fc.__dict__.update(peak_memory_bytes=2 * 1024**3, n_target=1677, method="flat-fallback")
    advice = N(
        bench=N(measurements={"contrastive": N(points=points, notes=[]), "bm25": N(points=[], notes=["cancelled"])}),
        forecasts={"contrastive": fc},
        recommendation=N(choice="contrastive"),
    )
    rows = rank_format.forecast_rows(advice)
    assert rows[0] == (
        "▶ contrastive",
        "81.2 [75.0–86.0] ⚑",
        "75.0",
        "5 min",
        "12.3",
        "2.0 GiB",
        "1,677",
        "flat-fallback",
    )
    assert rows[1][:3] == ("  bm25", "–", "–")
    assert rank_format.point_rows(advice)[-1] == ("bm25", "–", "–", "–", "–", "cancelled")
    assert rank_format.point_rows(advice)[2][:4] == ("contrastive", "80", "1", "80.0")
    hits = [SearchHit(doc_id="d7", score=0.91234, text="line one\nline two")]
    assert rank_format.hit_rows(hits) == [("1", "0.912", "d7", "line one line two")]


@pytest.mark.parametrize(
    ("argv", "task", "metric"),
    [
        (["--data", "demo:chatterbot-qa"], "retrieval", "ndcg@10"),  # a retrieval demo starts on its task
        (["--data", "demo:rotten-tomatoes"], "classification", "accuracy"),
        (["--data", "demo:rotten-tomatoes", "--task", "retrieval"], "retrieval", "ndcg@10"),
    ],
)
def test_tui_command_starts_on_the_datas_task(monkeypatch, argv, task, metric) -> None:
    import advisor.tui.app as tui_app
    from advisor.cli import main

    seen = {}

    class Opened:
        def run(self):
            return 0

    def capture(**kwargs):
        seen.update(kwargs)
        return Opened()

    monkeypatch.setattr(tui_app, "create_app", capture)
    assert main(["tui", *argv]) == 0
    goals = seen["goals"] or Goals()
    assert (goals.task, goals.metric) == (task, metric)
