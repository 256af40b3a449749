"""The TUI's steps come from the task registry (``Services.tasks``): an unknown task is one clear line, and a
task registered only here is driven through data → benchmark → run → export by the app's own workers."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

from tui_fakes import FakeAdvice, FakeBackend
from tui_helpers import until

from advisor.decide.goals import Goals
from advisor.tui.app import create_app
from advisor.tui.services import Services
from advisor.tui.task_flows import DataRequest, advice_task
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
