"""Thread workers, one per step for every task: each calls the step of the `TaskFlow` it is given (or
one backend function), never touches a widget, only ``post_message``s to the app; every error becomes
one line (`describe_error`). Harlequin style: ``@work(thread=True, exclusive=True, exit_on_error=False)``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from advisor.tui import messages as m
from advisor.tui.services import Services, describe_error
from advisor.tui.task_flows import DataRequest, TaskFlow

if TYPE_CHECKING:  # mixed into the App: type-check against it (at run time a plain mixin)
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


class BackendWorkers(_AppBase):
    """Mixed into the App: ``self.services`` and ``self.post_message`` are the app's."""

    services: Services

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False, description="probe the machine")
    def probe_worker(self) -> None:
        resources = error = suggested = profile_error = None
        profiles: list[tuple[str, str]] = []
        try:
            resources = self.services.probe()
        except BaseException as exc:  # noqa: BLE001 - shown as one line
            error = describe_error(exc)
        try:
            profiles = list(self.services.list_profiles())
            suggested = self.services.load_profile(None, resources=resources).name
        except BaseException as exc:  # noqa: BLE001
            profile_error = describe_error(exc)
        self.post_message(m.ProbeDone(resources, error, profiles, suggested, profile_error))

    @work(thread=True, exclusive=True, group="data", exit_on_error=False, description="read the data")
    def data_worker(self, flow: TaskFlow, req: DataRequest) -> None:
        try:
            dataset, summary = flow.read(req)
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.DataFailed(req.ref, describe_error(exc)))
            return
        try:  # read now, so a bad test file is one line here, not after a benchmark
            test_rows = flow.held_out_rows(req, dataset)
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.DataFailed(req.ref, f"test file: {describe_error(exc)}"))
            return
        self.post_message(m.DataLoaded(req.ref, dataset, summary, test_rows, task=flow.name))

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False, description="micro-benchmarks")
    def bench_worker(
        self,
        flow: TaskFlow,
        dataset: Any,
        goals: Any,
        profile: str | None,
        budget: str,
        resources: Any,
        cancel: threading.Event,
        test_file: str | None = None,
    ) -> None:
        def progress(event: Any) -> None:
            self.post_message(m.BenchProgress(event))

        try:
            advice = flow.measure(
                dataset,
                goals,
                profile=profile,
                budget=budget,
                resources=resources,
                progress=progress,
                cancel=cancel,
                test_file=test_file,
            )
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.BenchFailed(describe_error(exc)))
            return
        self.post_message(m.BenchDone(advice))

    @work(thread=True, exclusive=True, group="run", exit_on_error=False, description="full run")
    def train_worker(
        self,
        flow: TaskFlow,
        engine: str,
        advice: Any,
        dataset: Any,
        profile: str | None,
        out_dir: str,
        resume: bool,
        overwrite: bool,
        cancel: threading.Event,
        test_file: str | None = None,
    ) -> None:
        from engines.errors import Cancelled

        def progress(event: Any) -> None:
            self.post_message(m.RunProgress(event, time.monotonic()))

        try:
            manifest, loaded = flow.train(
                engine=engine,
                advice=advice,
                dataset=dataset,
                profile=profile,
                test_file=test_file,
                out_dir=Path(out_dir),
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                cancel=cancel,
            )
        except BaseException as exc:  # noqa: BLE001
            self.post_message(
                m.RunFailed(describe_error(exc), isinstance(exc, (Cancelled, KeyboardInterrupt)) or cancel.is_set())
            )
            return
        self.post_message(m.RunDone(manifest, out_dir, loaded, task=flow.name))

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False, description="compare runs")
    def compare_worker(self, paths: list[str], goals: Any, resources: Any) -> None:
        try:
            result = self.services.compare_runs(paths, goals, resources)
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.Compared(None, describe_error(exc)))
            return
        self.post_message(m.Compared(result, None))

    @work(thread=True, exclusive=True, group="answer", exit_on_error=False, description="predict or search")
    def answer_worker(self, engine: Any, kind: str, query: str, k: int = 5) -> None:
        try:
            result = engine.search(query, k) if kind == "search" else engine.predict([query])
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.Answer(kind, query, None, describe_error(exc)))
            return
        self.post_message(m.Answer(kind, query, result, None))

    @work(thread=True, exclusive=False, group="export", exit_on_error=False, description="export")
    def export_worker(self, flow: TaskFlow, what: str, advice: Any, path: str) -> None:
        try:
            if what == "plan":
                if advice.plan is None:
                    from engines.errors import ConfigError

                    raise ConfigError("no plan: the advice recommends nothing to run")
                flow.write_plan(advice.plan, Path(path))
            else:
                flow.write_report(advice, Path(path))
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.Exported(what, None, describe_error(exc)))
            return
        self.post_message(m.Exported(what, path, None))
