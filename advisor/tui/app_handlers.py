"""The app's handlers of what the workers post (mixed into it): each stores the result in the
state, tells the screens (``sync``, or the one screen that shows a stream of events) and notifies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor.tui import messages as m
from advisor.tui.services import Services
from advisor.tui.state import AppState

if TYPE_CHECKING:  # mixed into the App: type-check against it (at run time a plain mixin)
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


class WorkerHandlers(_AppBase):
    """Needs the app's ``services``, ``state``, ``views``, ``sync``, ``action_goto`` and ``open_search``."""

    services: Services
    state: AppState
    views: dict[str, Any]

    if TYPE_CHECKING:  # the app's own (advisor.tui.app, advisor.tui.rank_app)

        def sync(self, what: str) -> None: ...

        def action_goto(self, name: str) -> None: ...

        def open_search(self, out_dir: str) -> None: ...

    def on_probe_done(self, msg: m.ProbeDone) -> None:
        st = self.state
        st.probing = False
        st.resources, st.resources_error = msg.resources, msg.error
        st.profiles, st.suggested_profile, st.profile_error = msg.profiles, msg.suggested, msg.profile_error
        self.sync("probe")

    def on_data_loaded(self, msg: m.DataLoaded) -> None:
        if msg.ref != self.state.data_ref:
            return  # an older load finished after a newer one started
        st = self.state
        st.dataset, st.summary, st.data_error, st.data_loading = msg.dataset, msg.summary, None, False
        st.test_rows, st.data_task = msg.test_rows, msg.task
        self.sync("data")

    def on_data_failed(self, msg: m.DataFailed) -> None:
        if msg.ref != self.state.data_ref:
            return
        st = self.state
        st.dataset, st.summary, st.data_error, st.data_loading, st.data_task = None, None, msg.error, False, None
        self.sync("data")

    def on_bench_progress(self, msg: m.BenchProgress) -> None:
        self.state.bench_events.append(msg.event)
        point = getattr(msg.event, "point", None)
        if point is not None:
            self.state.bench_points.append(point)
        view = self.views.get("bench")
        if view is not None and view.is_mounted:
            view.on_bench_event(msg.event)

    def on_bench_done(self, msg: m.BenchDone) -> None:
        st = self.state
        st.bench_running, st.advice = False, msg.advice
        self.sync("bench")
        self.sync("advice")
        if getattr(msg.advice, "cancelled", False):
            self.notify("Benchmark cancelled: the advice uses what was measured so far", severity="warning")
        else:
            self.notify("Benchmark done: here is the advice")
            self.action_goto("advice")

    def on_bench_failed(self, msg: m.BenchFailed) -> None:
        self.state.bench_running, self.state.bench_error = False, msg.error
        self.sync("bench")
        self.notify(msg.error, title="Benchmark failed", severity="error")

    def on_run_progress(self, msg: m.RunProgress) -> None:
        view = self.views.get("run")
        if view is not None and view.is_mounted:
            view.on_run_event(msg.event, msg.at)

    def on_run_done(self, msg: m.RunDone) -> None:
        st = self.state
        st.run_running, st.manifest, st.artifact_engine, st.run_task = False, msg.manifest, msg.engine, msg.task
        if msg.out_dir in st.runs_done:
            st.runs_done.remove(msg.out_dir)  # run again (overwrite or resume): now the newest
        st.runs_done.append(msg.out_dir)
        self.sync("run")
        self.notify(f"Artifact written to {msg.out_dir}")
        if self.services.for_task(msg.task).opens_search:
            st.search_dir = None  # (re)load the index just written
            self.open_search(msg.out_dir)

    def on_run_failed(self, msg: m.RunFailed) -> None:
        st = self.state
        st.run_running, st.run_error = False, msg.error
        self.sync("run")
        self.notify(
            msg.error,
            title="Run cancelled" if msg.cancelled else "Run failed",
            severity="warning" if msg.cancelled else "error",
        )

    def on_compared(self, msg: m.Compared) -> None:
        st = self.state
        st.comparing, st.compare_error = False, msg.error
        if msg.error is None:
            st.comparison = msg.result
        self.sync("compare")
        if msg.error:
            self.notify(msg.error, title="Could not compare the runs", severity="error")

    def on_answer(self, msg: m.Answer) -> None:
        view = self.views.get("run")
        if view is not None and view.is_mounted:
            view.show_answer(msg)

    def on_exported(self, msg: m.Exported) -> None:
        if msg.error:
            self.notify(msg.error, title=f"Could not write the {msg.what}", severity="error")
        else:
            self.notify(f"Wrote the {msg.what}: {msg.path}")
