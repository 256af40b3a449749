"""The TUI's steps come from the task registry (``Services.tasks``): an unknown task is one clear line, and a
task registered only here is driven through data → benchmark → run → export by the app's own workers, its
screens showing its flow's texts (no screen tests which task it is)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

from textual.widgets import DataTable, Input, Label, Static
from tui_fakes import FakeAdvice, FakeBackend
from tui_helpers import until

from advisor.common.tasks import get_task
from advisor.decide.goals import Goals
from advisor.tui import screens
from advisor.tui.app import create_app
from advisor.tui.services import Services
from advisor.tui.task_flows import DataRequest, advice_task
from advisor.tui.task_texts import DataForm, DataPanels
from engines.errors import ConfigError


@dataclass(frozen=True)
class ToyAdvice(FakeAdvice):
    task: str = "toy"


@dataclass
class ToyFlow:
    """A third task the app has never heard of, on the fake backend; it records the steps it serves."""

    backend: FakeBackend = field(default_factory=FakeBackend)
    calls: list[str] = field(default_factory=list)
    name: str = "toy"
    opens_search: bool = False
    # What the screens show for it (``TaskTexts``): none of it is another task's.
    demos: tuple[str, ...] = ("demo:toy-one", "demo:toy-two")
    point_columns: tuple[str, ...] = ("toy approach", "toy size")
    points_in_events: bool = False  # the points table fills in from the advice
    forecast_columns: tuple[str, ...] = ("toy approach", "toy forecast")
    data_form: DataForm = DataForm(
        placeholders=("toy data path", "toy input column", "toy output column"),
        extra_file="corpus",
        extra_label="toy extra:",
        sections=("Toy columns", "Toy balance", "Toy lengths"),
        preview=("toy input", "toy output", "toy note"),
    )

    def data_ref(self, dataset: Any) -> str:
        return dataset.ref

    def data_panels(self, dataset: Any, summary: Any, *, test_rows: int | None, limit: int) -> DataPanels:
        examples = list(zip(dataset.examples.texts, dataset.examples.labels))[:limit]
        rows = [(text[:10], label, f"toy row {i}") for i, (text, label) in enumerate(examples)]
        return DataPanels(
            rows, f"toy columns, {test_rows} held out", "toy balance", "toy lengths", "toy dropped", "toy hint"
        )

    def data_phrase(self, dataset: Any) -> str:
        return f"the toy things of {dataset.ref}"

    def point_row(self, point: Any) -> tuple[str, ...]:
        return (f"toy {point.approach}", str(point.n_train))

    def advice_point_rows(self, advice: Any) -> list[tuple[str, ...]]:
        return [(f"toy {name}", str(len(m.points))) for name, m in advice.bench.measurements.items()]

    def curve_title(self, goals: Any) -> str:
        return "toy score vs toy size"

    def curves(self, advice: Any, points: list[Any]) -> dict[str, list[tuple[int, float]]]:
        return {} if advice is None else {"toy-curve": [(10, 0.5), (100, 0.7)]}

    def forecast_rows(self, advice: Any) -> list[tuple[str, ...]]:
        return [(f"toy {advice.recommendation.choice}", "toy value")]

    def advice_notes(self, advice: Any) -> list[str]:
        return ["toy note on the advice"]

    def artifact_text(self, manifest: Any, run_dir: str | None) -> str:
        return f"toy artifact {manifest.engine} in {Path(run_dir or '').name}"

    def read(self, req: DataRequest) -> tuple[Any, Any]:
        self.calls.append(f"read:{req.ref}")
        dataset = self.backend.load_dataset(req.ref)
        return dataset, self.backend.summarize(dataset)

    def held_out_rows(self, req: DataRequest, dataset: Any) -> int | None:
        self.calls.append("held_out_rows")
        return 7

    def measure(self, dataset: Any, goals: Any, *, budget: str, progress: Any, cancel: Any, **_: Any) -> Any:
        self.calls.append(f"measure:{goals.task}:{budget}")
        advice = self.backend.advise(dataset, goals, budget=budget, progress=progress, cancel=cancel)
        return ToyAdvice(**{f.name: getattr(advice, f.name) for f in dataclasses.fields(advice)})

    def train(self, *, engine: str, advice: Any, dataset: Any, out_dir: Path, progress: Any, **kwargs: Any):
        self.calls.append(f"train:{engine}:planned={advice is not None}")
        spec = self.backend.make_run_spec(engine=engine, advice=advice, dataset=dataset, profile=None)
        return self.backend.full_run(spec, out_dir, progress=progress, cancel=kwargs["cancel"]), None

    def write_report(self, advice: Any, path: Path) -> Any:
        self.calls.append("report")
        return path.write_text(f"toy advice: {advice.recommendation.choice}\n", encoding="utf-8")

    def write_plan(self, plan: Any, path: Path) -> Any:
        self.calls.append("plan")
        return path.write_text(plan.run.engine, encoding="utf-8")


def on_step(app: Any, name: str) -> bool:
    return app.current_mode == name and bool(app.screen.query(".body"))


def text_of(app: Any, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render() if isinstance(widget, (Static, Label)) else widget.value)


def columns_of(app: Any, selector: str) -> tuple[str, ...]:
    return tuple(str(c.label) for c in app.screen.query_one(selector, DataTable).columns.values())


def rows_of(app: Any, selector: str) -> list[tuple[str, ...]]:
    table = app.screen.query_one(selector, DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown task 'nope'; try one of: classification, retrieval$"):
        Services().for_task("nope")
    toy = ToyFlow()
    services = Services().with_task(toy)
    assert list(services.tasks) == ["classification", "retrieval", "toy"] and services.for_task("toy") is toy
    assert advice_task(FakeAdvice(None, {}, None, None, False)) == "classification"  # type: ignore[arg-type]


def test_the_app_reads_no_data_for_an_unknown_task() -> None:
    backend = FakeBackend()

    async def scenario() -> None:
        goals = Goals().model_copy(update={"task": "nope"})
        app = create_app(services=backend.services(), data="demo:fake", goals=goals, start="resources")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state.resources is not None and app.state.data_error is not None)
            assert app.state.data_error == "unknown task 'nope'; try one of: classification, retrieval"
            assert not app.state.data_loading and app.state.dataset is None
            for step in ("data", "bench", "advice", "run"):  # its screens draw with the default task's texts
                app.action_goto(step)
                await until(pilot, lambda step=step: on_step(app, step))
            app.action_goto("data")
            await until(pilot, lambda: on_step(app, "data"))
            placeholder = app.screen.query_one("#data-path", Input).placeholder
            assert placeholder == get_task("classification").data_hint
            assert app.is_running

    asyncio.run(scenario())
    assert not any(c.startswith("load_dataset") for c in backend.calls)


def test_a_registered_task_is_driven_by_the_same_workers(tmp_path: Path) -> None:
    backend, toy = FakeBackend(), ToyFlow()
    report, plan, out = tmp_path / "report.md", tmp_path / "plan.json", tmp_path / "runs" / "toy"
    seen: dict[str, str] = {}

    async def scenario() -> None:
        goals = Goals().model_copy(update={"task": "toy"})
        app = create_app(services=backend.services().with_task(toy), data="demo:toy", goals=goals, start="resources")
        async with app.run_test(size=(100, 30)) as pilot:
            st = app.state
            await until(pilot, lambda: st.dataset is not None and st.resources is not None)
            assert (st.data_task, st.test_rows) == ("toy", 7)
            assert app.start_bench() is None
            await until(pilot, lambda: st.advice is not None and not st.bench_running)
            assert advice_task(st.advice) == "toy" and st.bench_events
            seen["choice"] = st.advice.recommendation.choice
            assert app.start_run("tfidf", str(out), resume=False, overwrite=False) is None
            await until(pilot, lambda: st.manifest is not None and not st.run_running)
            assert st.runs_done == [str(out)] and st.search_dir is None  # no search screen for this task
            app.export("report", str(report))
            app.export("plan", str(plan))
            await until(pilot, lambda: report.exists() and plan.exists())

    asyncio.run(scenario())
    assert toy.calls == [
        "read:demo:toy",
        "held_out_rows",
        "measure:toy:quick",
        "train:tfidf:planned=True",
        "report",
        "plan",
    ]
    assert (out / "manifest.json").exists() and plan.read_text(encoding="utf-8") == seen["choice"]
    assert report.read_text(encoding="utf-8") == f"toy advice: {seen['choice']}\n"
    assert backend.calls == ["probe"]  # the classification task's steps were never asked


def test_the_screens_show_the_registered_task_s_texts(tmp_path: Path) -> None:
    """Every per-task text of the data, benchmark, advice and run steps is the task's flow's: a screen that
    picked one by task name would show classification's (or retrieval's) here."""
    toy = ToyFlow()
    out = tmp_path / "runs" / "toy"

    async def scenario() -> None:
        goals = Goals().model_copy(update={"task": "toy"})
        app = create_app(services=FakeBackend().services().with_task(toy), data="demo:toy", goals=goals)
        async with app.run_test(size=(120, 40)) as pilot:
            st = app.state
            await until(pilot, lambda: st.dataset is not None and st.resources is not None and on_step(app, "data"))
            await pilot.pause()
            q = app.screen.query_one
            form = toy.data_form
            assert (
                tuple(q(box, Input).placeholder for box in ("#data-path", "#text-col", "#label-col"))
                == form.placeholders
            )
            assert text_of(app, "#test-file-label") == "toy extra:"
            assert q("#corpus").display and not q("#test-file").display
            sections = tuple(str(label.render()) for label in app.screen.query(".section").results(Label))
            assert sections == (*form.sections, "Dropped / warnings")
            assert columns_of(app, "#preview") == form.preview and rows_of(app, "#preview")[1][2] == "toy row 1"
            panels = [text_of(app, box) for box in ("#columns", "#balance", "#lengths", "#dropped", "#data-hint")]
            assert panels == ["toy columns, 7 held out", "toy balance", "toy lengths", "toy dropped", "toy hint"]
            assert await q("#data-path", Input).suggester.get_suggestion("demo:toy-t") == "demo:toy-two"

            app.action_goto("bench")
            await until(pilot, lambda: on_step(app, "bench"))
            ready = "Ready: press s to benchmark the toy things of demo:toy within the quick budget."
            assert text_of(app, "#bench-notice") == ready
            assert columns_of(app, "#points") == toy.point_columns and rows_of(app, "#points") == []
            assert app.start_bench() is None
            await until(pilot, lambda: st.advice is not None and on_step(app, "advice"))
            await pilot.pause()
            assert columns_of(app, "#forecasts") == toy.forecast_columns
            assert rows_of(app, "#forecasts") == toy.forecast_rows(st.advice)
            assert text_of(app, "#flags").startswith("toy note on the advice")

            app.action_goto("bench")
            await until(pilot, lambda: on_step(app, "bench"))
            points = rows_of(app, "#points")
            assert all(row[0].startswith("toy ") for row in points)  # the events' points, then the advice's
            assert points[-len(st.advice.bench.measurements) :] == toy.advice_point_rows(st.advice)
            assert "toy-curve" in text_of(app, "#legend")
            assert app.screen._curve_points()[0] == "toy score vs toy size"

            app.action_goto("run")
            await until(pilot, lambda: on_step(app, "run"))
            assert app.start_run("tfidf", str(out), resume=False, overwrite=False) is None
            await until(pilot, lambda: st.manifest is not None and not st.run_running)
            await pilot.pause()
            assert st.run_task == "toy" and text_of(app, "#artifact") == "toy artifact tfidf in toy"
            assert not app.screen.query_one("#open-search").display and app.screen.query_one("#try-row").display

    asyncio.run(scenario())


def test_no_screen_tests_which_task_it_is() -> None:
    """The screens ask the flow (``StepScreen.flow``); a task's name compared in a screen is a branch."""
    branch = re.compile(
        r'(==|!=|\bin)\s*[(\[{]?\s*"(classification|retrieval)"|"(classification|retrieval)"\s*(==|!=|in\b|not in\b)'
        r"|\.retrieval\b|is_rank_advice"
    )
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(Path(screens.__file__).parent.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if branch.search(line)
    ]
    assert not found, found
