"""The commands the step screens call on the app (mixed into it): probe, read the data, benchmark, run,
compare, try the artifact, export. Each checks the state, marks what starts, and hands the step of the
goals' task (``services.for_task``) to a thread worker (``BackendWorkers``), never branching on the task."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from advisor.tui.services import describe_error
from advisor.tui.state import AppState
from advisor.tui.task_flows import DataRequest, TaskFlow, advice_task
from advisor.tui.workers import BackendWorkers


class AppCommands(BackendWorkers):
    """Needs the app's ``state``, ``sync`` and ``notify``; UI thread only."""

    state: AppState

    if TYPE_CHECKING:  # the app's own (advisor.tui.app)

        def sync(self, what: str) -> None: ...

    def refresh_probe(self) -> None:
        self.state.probing = True
        self.sync("probe")
        self.probe_worker()

    def _flow(self, task: str) -> tuple[TaskFlow | None, str | None]:
        """The steps of ``task``, or (None, why) for a task no flow serves."""
        from engines.errors import ConfigError

        try:
            return self.services.for_task(task), None
        except ConfigError as exc:
            return None, describe_error(exc)

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
        flow, why = self._flow(st.goals.task)
        if flow is None:  # as a failed read: nothing loaded, one line
            st.dataset, st.summary, st.data_task, st.data_error, st.data_loading = None, None, None, why, False
            self.sync("data")
            return
        st.data_error = None
        st.data_loading = True
        self.sync("data")
        self.data_worker(flow, DataRequest(ref, text_col, label_col, encoding, st.test_file, st.corpus))

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
        flow, why = self._flow(st.goals.task)
        if flow is None:
            return why
        st.bench_cancel = threading.Event()
        st.bench_running, st.bench_error, st.advice = True, None, None
        st.bench_events, st.bench_points = [], []
        self.sync("bench")
        self.bench_worker(
            flow, st.dataset, st.goals, st.profile_name, st.budget, st.resources, st.bench_cancel, st.test_file
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
        advice = st.advice if st.advice is not None and advice_task(st.advice) == st.goals.task else None
        if advice is None and st.data_task != st.goals.task:
            return f"load the data for the {st.goals.task} task first (step 3)"
        flow, why = self._flow(st.goals.task)
        if flow is None:
            return why
        st.run_cancel = threading.Event()
        st.run_running, st.run_error, st.manifest, st.artifact_engine = True, None, None, None
        st.run_engine, st.run_dir, st.run_started_at = engine, out_dir.strip(), time.monotonic()
        self.sync("run")
        args = (engine, advice, st.dataset, st.profile_name, st.run_dir, resume, overwrite, st.run_cancel, st.test_file)
        self.train_worker(flow, *args)
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
        advice = self.state.advice
        if advice is None:
            self.notify("No advice yet: run the benchmark first (step 4)", severity="warning")
            return
        flow, why = self._flow(advice_task(advice))  # the advice's own task: its report and plan writers
        if flow is None:
            self.notify(why or "", title=f"Could not write the {what}", severity="error")
            return
        self.export_worker(flow, what, advice, path)
