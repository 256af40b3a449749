"""The app: six steps from goals to a trained artifact, one screen (and .tcss) each.

`create_app(...)` is the factory the CLI and the tests share. The app holds the
state, runs the backend in thread workers (`BackendWorkers`, and `RankWorkers` for the
retrieval task) and tells the screens what changed; screens never call the backend
themselves. A retrieval run ends on the search screen, over the index it produced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from advisor.decide.goals import Goals
from advisor.tui import messages as m
from advisor.tui.rank_app import RankCommands
from advisor.tui.rank_format import is_rank_advice
from advisor.tui.screens import STEPS, load_screen
from advisor.tui.screens.base import StepScreen
from advisor.tui.services import Services
from advisor.tui.state import AppState
from advisor.tui.workers import BackendWorkers

DARK, LIGHT = "textual-dark", "textual-light"


class TuneOrEmbedApp(RankCommands, BackendWorkers, App[int]):
    """Fine-tune or embed? Measure, forecast, decide, then train."""

    TITLE = "tune-or-embed"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(i), f"goto('{name}')", title, show=False) for i, (name, title, _) in enumerate(STEPS, 1)],
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("escape", "escape", "Cancel", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        *,
        services: Services | None = None,
        data: str | None = None,
        text_col: str | None = None,
        label_col: str | None = None,
        encoding: str | None = None,
        test_file: str | None = None,
        corpus: str | None = None,
        goals: Goals | None = None,
        goals_path: str | None = None,
        profile: str | None = None,
        budget: str = "quick",
        start: str | None = None,
        theme: str | None = None,
        on_ready: Callable[[App], None] | None = None,
    ) -> None:
        super().__init__()
        self.services = services or Services()
        self.state = AppState(
            goals=goals or Goals(),
            profile=profile,
            data_ref=data,
            text_col=text_col,
            label_col=label_col,
            encoding=encoding,
            test_file=test_file or None,
            corpus=corpus or None,
            budget=budget,
        )
        if goals_path:
            self.state.goals_path = goals_path
        self.views: dict[str, StepScreen] = {}
        for name, _title, target in STEPS:
            self.add_mode(name, partial(self._make_view, name, target))
        self._start = start or ("data" if data else "goals")
        self._on_ready = on_ready
        if theme:
            self.theme = theme

    # ----------------------------------------------------------------- lifecycle
    def _make_view(self, name: str, target: str) -> StepScreen:
        view = load_screen(target)()  # each screen's module is imported on first visit
        self.views[name] = view
        return view

    def on_mount(self) -> None:
        self.switch_mode(self._start)

    def on_ready(self) -> None:
        """After the first frame: start the probe (and the data load) in workers."""
        if self._on_ready is not None:
            self._on_ready(self)
        self.refresh_probe()
        if self.state.data_ref:
            st = self.state
            self.load_data(st.data_ref, st.text_col, st.label_col, st.encoding, st.test_file, st.corpus)

    def sync(self, what: str) -> None:
        """Tell every screen built so far that part of the state changed."""
        for view in list(self.views.values()):
            if view.is_mounted:
                view.sync(what)

    # ------------------------------------------------------------------- actions
    def action_goto(self, name: str) -> None:
        if self.current_mode != name:
            self.switch_mode(name)

    def action_help(self) -> None:
        from advisor.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    def action_escape(self) -> None:
        from textual.widgets import Input

        if isinstance(self.focused, Input):
            self.screen.set_focus(None)  # leave the box so 1–6 and the other keys work
            return
        view = self.screen
        if isinstance(view, StepScreen):
            view.action_cancel()

    async def action_quit(self) -> None:
        for event in (self.state.bench_cancel, self.state.run_cancel):
            if event is not None:
                event.set()
        self.exit(0)

    # -------------------------------------------------------- commands from screens
    def refresh_probe(self) -> None:
        self.state.probing = True
        self.sync("probe")
        self.probe_worker()

    def load_data(
        self,
        ref: str,
        text_col: str | None,
        label_col: str | None,
        encoding: str | None,
        test_file: str | None = None,
        corpus: str | None = None,
    ) -> None:
        """Read the data for the goals' task (retrieval: the column names are the query and document ones)."""
        ref = ref.strip()
        st = self.state
        st.data_ref, st.text_col, st.label_col = ref, text_col, label_col
        st.encoding = encoding
        st.test_file, st.test_rows = (test_file or "").strip() or None, None
        st.corpus = (corpus or "").strip() or None
        st.data_error = None
        st.data_loading = True
        self.sync("data")
        if st.retrieval:
            self.pairs_worker(ref, text_col, label_col, st.corpus)
        else:
            self.data_worker(ref, text_col, label_col, encoding, st.test_file)

    def start_bench(self) -> str | None:
        """Start the micro-benchmarks; a reason string when they cannot start."""
        st = self.state
        if st.bench_running:
            return "the benchmark is already running (Escape cancels it)"
        if st.dataset is None:
            return "load a data file first (step 3)" if not st.data_loading else "the data is still loading"
        if st.goals_error:
            return f"fix the goals first (step 1): {st.goals_error}"
        if st.data_task != st.goals.task:
            return f"the data was read for {st.data_task}: load it again (step 3) for the {st.goals.task} task"
        st.bench_cancel = threading.Event()
        st.bench_running, st.bench_error, st.advice = True, None, None
        st.bench_events, st.bench_points = [], []
        self.sync("bench")
        if st.retrieval:
            self.rank_bench_worker(st.dataset, st.goals, st.profile_name, st.budget, st.resources, st.bench_cancel)
        else:
            self.bench_worker(
                st.dataset, st.goals, st.profile_name, st.budget, st.resources, st.bench_cancel, st.test_file
            )
        return None

    def cancel_bench(self) -> bool:
        if self.state.bench_running and self.state.bench_cancel is not None:
            self.state.bench_cancel.set()
            self.notify("Cancelling the benchmark; keeping what was measured…")
            return True
        return False

    def start_run(self, engine: str, out_dir: str, *, resume: bool, overwrite: bool) -> str | None:
        st = self.state
        if st.run_running:
            return "a run is already going (Escape cancels it)"
        if st.advice is None and st.dataset is None:
            return "load a data file first (step 3)"
        if not out_dir.strip():
            return "choose an output folder"
        advice = st.advice if st.advice is not None and is_rank_advice(st.advice) == st.retrieval else None
        if advice is None and st.data_task != st.goals.task:
            return f"load the data for the {st.goals.task} task first (step 3)"
        st.run_cancel = threading.Event()
        st.run_running, st.run_error, st.manifest, st.artifact_engine = True, None, None, None
        st.run_engine, st.run_dir, st.run_started_at = engine, out_dir.strip(), time.monotonic()
        self.sync("run")
        args = (engine, advice, st.dataset, st.profile_name, st.run_dir, resume, overwrite, st.run_cancel)
        if st.retrieval:
            self.rank_run_worker(*args)
        else:
            self.full_run_worker(*args, st.test_file)
        return None

    def cancel_run(self) -> bool:
        if self.state.run_running and self.state.run_cancel is not None:
            self.state.run_cancel.set()
            self.notify("Cancelling the run; the checkpoint is kept (Resume continues it)…")
            return True
        return False

    def compare_runs(self) -> str | None:
        """Compare the runs finished in this session; a reason when it cannot start."""
        st = self.state
        paths = list(st.runs_done)
        if st.comparing:
            return "already comparing"
        if len(paths) < 2:
            return "compare needs two finished runs on the same data: run another engine first"
        st.comparing, st.compare_error = True, None
        self.sync("compare")
        self.compare_worker(paths, st.goals, st.resources)
        return None

    def ask(self, kind: str, query: str) -> None:
        if self.state.artifact_engine is not None and query.strip():
            self.answer_worker(self.state.artifact_engine, kind, query.strip())

    def export(self, what: str, path: str) -> None:
        if self.state.advice is None:
            self.notify("No advice yet: run the benchmark first (step 4)", severity="warning")
            return
        self.export_worker(what, self.state.advice, path)

    # ------------------------------------------------------------ worker messages
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
            view.on_bench_event(msg.event)  # type: ignore[attr-defined]

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
            view.on_run_event(msg.event, msg.at)  # type: ignore[attr-defined]

    def on_run_done(self, msg: m.RunDone) -> None:
        st = self.state
        st.run_running, st.manifest, st.artifact_engine = False, msg.manifest, msg.engine
        if msg.out_dir in st.runs_done:
            st.runs_done.remove(msg.out_dir)  # run again (overwrite or resume): now the newest
        st.runs_done.append(msg.out_dir)
        self.sync("run")
        self.notify(f"Artifact written to {msg.out_dir}")
        if msg.task == "retrieval":
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
            view.show_answer(msg)  # type: ignore[attr-defined]

    def on_exported(self, msg: m.Exported) -> None:
        if msg.error:
            self.notify(msg.error, title=f"Could not write the {msg.what}", severity="error")
        else:
            self.notify(f"Wrote the {msg.what}: {msg.path}")


def create_app(
    *,
    services: Services | None = None,
    data: str | None = None,
    goals: Goals | None = None,
    goals_path: str | None = None,
    profile: str | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str | None = None,
    test_file: str | None = None,
    corpus: str | None = None,
    budget: str = "quick",
    start: str | None = None,
    theme: str | None = None,
    on_ready: Callable[[App], None] | None = None,
) -> TuneOrEmbedApp:
    """The app, with the real backend unless ``services`` is given (tests pass fakes)."""
    return TuneOrEmbedApp(
        services=services,
        data=data,
        goals=goals,
        goals_path=goals_path,
        profile=profile,
        text_col=text_col,
        label_col=label_col,
        encoding=encoding,
        test_file=test_file,
        corpus=corpus,
        budget=budget,
        start=start,
        theme=theme,
        on_ready=on_ready,
    )
