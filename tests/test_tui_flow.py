"""Pilot tests: the whole TUI flow on a fast fake backend (cancel, bad files, errors)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual.widgets import Button, DataTable, Input, Label, Select, Static
from tui_fakes import FakeBackend
from tui_helpers import until

from advisor.decide.goals import Goals
from advisor.tui.app import create_app
from advisor.tui.screens.goals import parse_form
from advisor.tui.services import describe_error


def run_async(fn):
    """Run an async test with asyncio.run (no async pytest plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def on_step(app, name: str) -> bool:
    """The step's screen is current and composed."""
    return app.current_mode == name and bool(app.screen.query(".body"))


def text_of(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render() if isinstance(widget, (Static, Label)) else widget.value)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # exports and artifacts land here, not in the repo


@run_async
async def test_whole_flow_goals_to_artifact(tmp_path: Path) -> None:
    fake = FakeBackend()
    app = create_app(services=fake.services(), data="demo:fake")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None and app.state.resources is not None)
        assert app.current_mode == "data"
        assert "rows: 40" in text_of(app, "#columns")
        assert "pos" in text_of(app, "#balance") and "20 50%" in text_of(app, "#balance")
        assert app.state.suggested_profile == "cpu-small"

        for key, mode in zip("123456", ["goals", "resources", "data", "bench", "advice", "run"]):
            await pilot.press(key)
            await until(pilot, lambda m=mode: on_step(app, m))

        await pilot.press("2")
        await until(pilot, lambda: on_step(app, "resources"))
        assert "Fake CPU" in str(app.screen.query_one("#machine").get_row_at(0))

        await pilot.press("4", "s")
        await until(pilot, lambda: app.state.advice is not None)
        await until(pilot, lambda: on_step(app, "advice"))  # jumps to the advice when done
        assert "Fine-tune (full)" in text_of(app, "#choice")
        assert len(app.state.bench_points) == 10
        assert app.screen.query_one("#forecasts").row_count == 3

        await pilot.press("e", "p")
        await until(pilot, lambda: (tmp_path / "report.md").exists() and (tmp_path / "plan.json").exists())

        await pilot.press("6")
        await until(pilot, lambda: on_step(app, "run"))
        assert app.screen.query_one("#engine", Select).value == "finetune"
        assert app.screen.query_one("#out-dir", Input).value == "runs/finetune"
        await pilot.press("r")
        await until(pilot, lambda: app.state.manifest is not None)
        assert (tmp_path / "runs" / "finetune" / "manifest.json").exists()
        assert "80.0 %" in text_of(app, "#artifact")

        # try a prediction (the box has focus after the run)
        assert isinstance(app.focused, Input) and app.focused.id == "predict-input"
        await pilot.press(*"great fun", "enter")
        await until(pilot, lambda: "→ pos" in text_of(app, "#answer"))
        assert not app.screen.query_one("#search-input").display  # finetune cannot search
    assert "advise:quick" in fake.calls and "full_run:finetune:resume=False" in fake.calls


@run_async
async def test_other_engine_and_search() -> None:
    fake = FakeBackend()
    app = create_app(services=fake.services(), data="demo:fake", start="run")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        app.screen.query_one("#engine", Select).value = "embedding"
        await pilot.pause()
        assert app.screen.query_one("#out-dir", Input).value == "runs/embedding"
        assert "No advice yet" in text_of(app, "#run-plan")
        await pilot.press("r")
        await until(pilot, lambda: app.state.manifest is not None)
        assert app.screen.query_one("#search-input").display
        app.screen.query_one("#search-input", Input).focus()
        await pilot.press(*"great", "enter")
        await until(pilot, lambda: app.screen.query_one("#hits").row_count > 0)
        assert "nearest" in text_of(app, "#answer")


@run_async
async def test_escape_cancels_the_benchmark_cleanly() -> None:
    fake = FakeBackend(step_delay=0.2)
    app = create_app(services=fake.services(), data="demo:fake", start="bench")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        await pilot.press("s")
        await until(pilot, lambda: len(app.state.bench_points) >= 1)
        await pilot.press("escape")
        await until(pilot, lambda: not app.state.bench_running)
        advice = app.state.advice
        assert advice is not None and advice.cancelled
        assert len(app.state.bench_points) < 10  # stopped early, kept what was measured
        assert app.current_mode == "bench"  # stays put; the partial advice is on step 5
        assert "Cancelled" in text_of(app, "#bench-notice")
        assert app.is_running


@run_async
async def test_cancel_then_resume_the_run() -> None:
    fake = FakeBackend(step_delay=0.1)
    app = create_app(services=fake.services(), data="demo:fake", start="run")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        app.screen.query_one("#engine", Select).value = "tfidf"
        # The screen fills in the output folder when it handles the change: a run started before
        # that has no folder and is refused (a loaded CI machine once got there first).
        await until(pilot, lambda: app.screen.query_one("#out-dir", Input).value == "runs/tfidf")
        await pilot.press("r")
        await until(pilot, lambda: fake.run_started.is_set())
        await pilot.pause(0.15)
        await pilot.press("escape")
        await until(pilot, lambda: not app.state.run_running)
        assert app.state.manifest is None
        assert "run cancelled" in app.state.run_error
        assert "run cancelled" in text_of(app, "#run-notice")
        fake.step_delay = 0.0
        app.screen.query_one("#resume").value = True
        await pilot.press("r")
        await until(pilot, lambda: app.state.manifest is not None)
    assert fake.calls[-1] == "full_run:tfidf:resume=True"


@run_async
async def test_bad_files_show_one_line_in_the_ui(tmp_path: Path) -> None:
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\na,x\nb,x\n", encoding="utf-8")
    fake = FakeBackend()
    app = create_app(services=fake.services(), start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        cases = [
            ("missing.csv", "data file not found: missing.csv"),
            (str(binary), "looks binary"),
            (str(one_class), "only one class"),
        ]
        for path, expected in cases:
            box = app.screen.query_one("#data-path", Input)
            box.value = path
            box.focus()
            await pilot.press("enter")
            await until(pilot, lambda: not app.state.data_loading)
            assert expected in app.state.data_error
            assert expected in text_of(app, "#data-notice")
            assert app.state.dataset is None
        await pilot.press("escape", "4", "s")  # the benchmark refuses politely without data
        await until(pilot, lambda: on_step(app, "bench"))
        assert "load a data file first" in text_of(app, "#bench-notice")
        assert app.is_running


@run_async
async def test_unexpected_backend_errors_are_one_line_never_a_crash() -> None:
    def boom(*_a, **_k):
        raise RuntimeError("boom\nsecond line")

    fake = FakeBackend()
    services = dataclasses.replace(fake.services(), probe=boom)
    services = services.with_task(dataclasses.replace(services.for_task("classification"), advise=boom))
    app = create_app(services=services, data="demo:fake", start="resources")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.resources_error is not None and app.state.dataset is not None)
        assert text_of(app, "#probe-notice") == "probe failed: unexpected RuntimeError: boom"
        await pilot.press("4", "s")
        await until(pilot, lambda: app.state.bench_error is not None)
        assert app.state.bench_error == "unexpected RuntimeError: boom"
        assert app.is_running


@run_async
async def test_goals_form_validates_inline_and_saves_loads(tmp_path: Path) -> None:
    fake = FakeBackend()
    app = create_app(services=fake.services(), goals_path=str(tmp_path / "g.toml"))
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: on_step(app, "goals") and app.state.profiles)
        box = app.screen.query_one("#goal-min-accuracy", Input)
        box.value = "1.5"
        await pilot.pause()
        assert "less than or equal to 1" in str(app.screen.query_one("#goal-min-accuracy-error", Label).render())
        assert app.state.goals_error and app.state.goals_error.startswith("min_accuracy")
        await pilot.press("ctrl+s")
        assert not (tmp_path / "g.toml").exists()  # invalid goals are not saved
        box.value = "0.7"
        app.screen.query_one("#goal-deadline-minutes", Input).value = "30"
        await pilot.pause()
        assert app.state.goals_error is None
        assert app.state.goals.min_accuracy == 0.7 and app.state.goals.deadline_minutes == 30
        await pilot.press("ctrl+s")
        assert "min_accuracy = 0.7" in (tmp_path / "g.toml").read_text()

        box.value = ""
        await pilot.pause()
        assert app.state.goals.min_accuracy is None
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.state.goals.min_accuracy == 0.7 and box.value == "0.7"

        (tmp_path / "g.toml").write_text("[goals]\nmetric = 'nope'\n")
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert "goals file" in text_of(app, "#goals-notice") and "metric" in text_of(app, "#goals-notice")

        select = app.screen.query_one("#profile", Select)
        assert select.value == "cpu-small"
        select.value = "tiny"
        await pilot.pause()
        assert app.state.profile_name == "tiny"


@run_async
async def test_help_theme_and_quit() -> None:
    app = create_app(services=FakeBackend().services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "GoalsScreen")
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark is not dark
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value == 0


def test_parse_form_maps_errors_to_fields() -> None:
    values = {
        "task": "classification",
        "metric": "accuracy",
        "labelled_size": "1,000",
        "min_accuracy": "",
        "latency_budget_ms": "abc",
        "deadline_minutes": "",
        "predictions_per_day": "10000",
        "price_per_hour": "",
        "data_may_leave_machine": False,
        "weights.accuracy": "0",
        "weights.training_time": "0",
        "weights.latency": "0",
        "weights.cost": "0",
    }
    goals, errors = parse_form(values)
    assert goals is None and errors == {"latency_budget_ms": "a number"}
    values["latency_budget_ms"] = "50"
    goals, errors = parse_form(values)
    assert goals is None and "weights" in errors and "positive" in errors["weights"]
    values["weights.accuracy"] = "1"
    goals, errors = parse_form(values)
    assert errors == {} and goals == Goals(
        labelled_size=1000, latency_budget_ms=50, weights={"accuracy": 1, "training_time": 0, "latency": 0, "cost": 0}
    )


def test_describe_error_is_one_line() -> None:
    from engines.errors import DataError

    assert describe_error(DataError("data file not found: x.csv")) == "data file not found: x.csv"
    assert describe_error(ValueError("a\nb")) == "unexpected ValueError: a"
    assert describe_error(FileNotFoundError(2, "No such file or directory", "y")) == "No such file or directory: y"


def _fields(cls) -> set[str]:
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)}
    return set(cls.model_fields)


CONTRACT = [
    ("FakeGpu", "advisor.machine.probe", "GpuInfo"),
    ("FakeResources", "advisor.machine.probe", "Resources"),
    ("FakeDrops", "advisor.data.labelled", "DropCounts"),
    ("FakeDataset", "advisor.data.labelled", "Dataset"),
    ("FakeClass", "advisor.data.summary", "ClassCount"),
    ("FakeLengthStats", "advisor.data.summary", "LengthStats"),
    ("FakeSummary", "advisor.data.summary", "DataSummary"),
    ("FakePoint", "advisor.measure", "CurvePoint"),
    ("FakeBenchEvent", "advisor.measure", "BenchEvent"),
    ("FakeMeasurement", "advisor.measure", "ApproachMeasurement"),
    ("FakeBench", "advisor.measure", "BenchResult"),
    ("FakeForecast", "advisor.forecast.accuracy", "Forecast"),
    ("FakeReason", "advisor.decide.explain", "Reason"),
    ("FakeRuledOut", "advisor.decide.explain", "RuledOut"),
    ("FakeRecommendation", "advisor.decide.recommend", "Recommendation"),
    ("FakeRunSpec", "advisor.run.fullrun", "RunSpec"),
    ("FakePlan", "advisor.run.plan", "Plan"),
    ("FakeAdvice", "advisor.advise", "Advice"),
    ("FakeDataInfo", "advisor.advise", "DataInfo"),
    ("FakeMetrics", "engines.base", "EvalReport"),
    ("FakeFit", "engines.base", "FitReport"),
    ("FakeManifest", "engines.artifacts", "Manifest"),
    ("FakeHit", "engines.store", "Hit"),
]


@pytest.mark.parametrize(("fake", "module", "real"), CONTRACT)
def test_fakes_use_the_real_records_field_names(fake: str, module: str, real: str) -> None:
    """Every field a fake has (and so every field the screens read) exists on the real record."""
    import importlib

    import tui_fakes

    real_cls = getattr(importlib.import_module(module), real)
    missing = _fields(getattr(tui_fakes, fake)) - _fields(real_cls)
    assert not missing, f"{fake} has fields {real} lacks: {sorted(missing)}"


@run_async
async def test_held_out_test_file_goes_to_the_advice_and_the_run(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text(
        "text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(10)), encoding="utf-8"
    )
    test = tmp_path / "test.csv"
    test.write_text("text,label\nfine,pos\nawful,neg\nlovely,pos\n", encoding="utf-8")
    odd = tmp_path / "odd.csv"
    odd.write_text("text,label\nmeh,neutral\nfine,pos\n", encoding="utf-8")
    fake = FakeBackend()
    app = create_app(services=fake.services(), start="data")
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#data-path", Input).value = str(data)
        box = app.screen.query_one("#test-file", Input)
        box.value = str(odd)  # a label the data lacks: one line, nothing loaded
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: not app.state.data_loading)
        assert app.state.dataset is None
        assert app.state.data_error == f"test file: test file {odd} has label(s) the data lacks: 'neutral'"

        box.value = str(test)
        await pilot.press("enter")
        await until(pilot, lambda: app.state.dataset is not None)
        assert app.state.test_rows == 3
        assert "test file: 3 rows" in text_of(app, "#columns")

        await pilot.press("escape", "4", "s")  # escape leaves the text box
        await until(pilot, lambda: app.state.advice is not None)
        assert f"advise:quick:test_file={test}" in fake.calls
        await pilot.press("5")  # the advice shows the data's warnings (here: rows shared with the test file)
        await until(pilot, lambda: on_step(app, "advice") and "⚠" in text_of(app, "#flags"))
        assert f"⚠ 2 of 3 rows in {test} also appear in {data} (same text)" in text_of(app, "#flags")
        await pilot.press("6")
        await until(pilot, lambda: on_step(app, "run"))
        await pilot.press("r")
        await until(pilot, lambda: app.state.manifest is not None)
    assert f"full_run:finetune:resume=False:test_file={test}" in fake.calls


def test_real_run_spec_without_advice_uses_the_test_file(tmp_path: Path) -> None:
    """The real service: no advice yet, a test file → the run trains on the data, scored on the file."""
    from advisor.data.labelled import load_dataset
    from advisor.tui.task_flows import build_run_spec

    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"good {i},pos\nbad {i},neg\n" for i in range(5)), encoding="utf-8")
    ds = load_dataset(str(data))
    spec = build_run_spec(engine="tfidf", advice=None, dataset=ds, profile="tiny", test_file="t.csv")
    assert (spec.train_file, spec.test_file, spec.engine, spec.profile) == (str(data), "t.csv", "tfidf", "tiny")
    plain = build_run_spec(engine="tfidf", advice=None, dataset=ds, profile=None)
    assert plain.train_file is None and plain.test_file is None


@run_async
async def test_two_runs_compared_on_the_run_step() -> None:
    """Two runs finished in the app → `c` compares them: a table of both, the paired lead and
    which to keep (the real `advisor.decide.compare` on the fake runs' predictions)."""
    fake = FakeBackend()
    app = create_app(services=fake.services(), data="demo:fake", start="run")
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        await pilot.press("c")  # nothing finished yet: one line, no worker
        await pilot.pause()
        assert "needs two finished runs" in text_of(app, "#run-notice")
        assert app.screen.query_one("#compare", Button).disabled
        for engine in ("tfidf", "finetune"):
            app.screen.query_one("#engine", Select).value = engine
            await until(pilot, lambda e=engine: app.screen.query_one("#out-dir", Input).value == f"runs/{e}")
            await pilot.press("r")
            await until(pilot, lambda: app.state.manifest is not None and not app.state.run_running)
            app.screen.set_focus(None)  # the predict box takes focus after a run
        assert app.state.runs_done == ["runs/tfidf", "runs/finetune"]
        assert "runs/tfidf, runs/finetune" in text_of(app, "#runs-done")
        assert not app.screen.query_one("#compare", Button).disabled
        await pilot.press("c")
        await until(pilot, lambda: app.state.comparison is not None, timeout=30)
        await pilot.pause()
        table = app.screen.query_one("#compare-table", DataTable)
        assert table.display and table.row_count == 2
        verdict = text_of(app, "#compare-verdict")
        assert "200 held-out rows" in verdict
        assert "finetune leads tfidf by +10.0 points" in verdict
        assert "keep: finetune" in verdict
    assert "compare:runs/tfidf,runs/finetune" in fake.calls


@run_async
async def test_a_failed_comparison_is_one_line() -> None:
    fake = FakeBackend()

    def broken(paths, goals, resources=None):
        from engines.errors import ConfigError

        raise ConfigError("runs/a and runs/b were scored on different held-out rows")

    services = dataclasses.replace(fake.services(), compare_runs=broken)
    app = create_app(services=services, data="demo:fake", start="run")
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None)
        app.state.runs_done = ["runs/a", "runs/b"]
        assert app.compare_runs() is None
        await until(pilot, lambda: not app.state.comparing)
        assert "different held-out rows" in text_of(app, "#compare-verdict")
        assert app.state.comparison is None and app.is_running


@run_async
async def test_a_budget_in_seconds_is_offered_and_used() -> None:
    """``tui --budget 180`` (make demo's): the bench step offers it beside the named budgets and the
    benchmark runs with it; the command line refuses what advise would."""
    import argparse

    from advisor.commands.tui import _budget

    assert [_budget(v) for v in ("quick", "180", "180s", "90.0")] == ["quick", "180", "180", "90"]
    for bad in ("5", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            _budget(bad)
    fake = FakeBackend()
    app = create_app(services=fake.services(), data="demo:fake", budget="180")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.dataset is not None and app.state.resources is not None)
        await pilot.press("4")
        await until(pilot, lambda: on_step(app, "bench"))
        assert app.screen.query_one("#budget", Select).value == "180"
        await pilot.press("s")
        await until(pilot, lambda: app.state.advice is not None)
    assert "advise:180" in fake.calls
