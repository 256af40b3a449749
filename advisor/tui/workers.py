"""Thread workers: each calls one public backend function and reports by messages.

Harlequin style: ``@work(thread=True, exclusive=True, exit_on_error=False)``; a
worker never touches a widget, it only ``post_message``s to the app. Every error
becomes one line (`describe_error`), so a failing backend never crashes the UI.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from advisor.tui import messages as m
from advisor.tui.rank_format import is_rank_advice
from advisor.tui.services import Services, describe_error

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

    @work(thread=True, exclusive=True, group="data", exit_on_error=False, description="load the data")
    def data_worker(
        self, ref: str, text_col: str | None, label_col: str | None, encoding: str | None, test_file: str | None = None
    ) -> None:
        try:
            dataset = self.services.load_dataset(ref, text_col=text_col, label_col=label_col, encoding=encoding)
            summary = self.services.summarize(dataset)
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.DataFailed(ref, describe_error(exc)))
            return
        test_rows = None
        if test_file:
            try:  # read now, so a bad test file is one line here, not after a benchmark
                test_rows = self.services.check_test_file(
                    test_file, dataset, text_col=text_col, label_col=label_col, encoding=encoding
                )
            except BaseException as exc:  # noqa: BLE001
                self.post_message(m.DataFailed(ref, f"test file: {describe_error(exc)}"))
                return
        self.post_message(m.DataLoaded(ref, dataset, summary, test_rows))

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False, description="micro-benchmarks")
    def bench_worker(
        self,
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
            advice = self.services.advise(
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
    def full_run_worker(
        self,
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
            spec = self.services.make_run_spec(
                engine=engine, advice=advice, dataset=dataset, profile=profile, test_file=test_file
            )
            manifest = self.services.full_run(
                spec, Path(out_dir), resume=resume, overwrite=overwrite, progress=progress, cancel=cancel
            )
            loaded, _ = self.services.load_artifact(Path(out_dir))
        except BaseException as exc:  # noqa: BLE001
            self.post_message(
                m.RunFailed(describe_error(exc), isinstance(exc, (Cancelled, KeyboardInterrupt)) or cancel.is_set())
            )
            return
        self.post_message(m.RunDone(manifest, out_dir, loaded))

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
    def export_worker(self, what: str, advice: Any, path: str) -> None:
        rank = is_rank_advice(advice)
        try:
            if what == "plan":
                if advice.plan is None:
                    from engines.errors import ConfigError

                    raise ConfigError("no plan: the advice recommends nothing to run")
                (self.services.write_rank_plan if rank else self.services.write_plan)(advice.plan, Path(path))
            else:
                (self.services.write_rank_report if rank else self.services.write_report)(advice, Path(path))
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.Exported(what, None, describe_error(exc)))
            return
        self.post_message(m.Exported(what, path, None))
