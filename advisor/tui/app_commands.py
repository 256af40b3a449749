"""The commands the step screens call on the app (mixed into it): probe, read the data, benchmark,
run, compare, try the artifact, export. Each checks the state, marks what starts, and hands the
backend call to a thread worker (``BackendWorkers``, or ``RankWorkers`` for the retrieval task)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from advisor.tui.rank_format import is_rank_advice
from advisor.tui.rank_workers import RankWorkers
from advisor.tui.state import AppState
from advisor.tui.workers import BackendWorkers


class AppCommands(RankWorkers, BackendWorkers):
    """Needs the app's ``state``, ``sync`` and ``notify``; UI thread only."""

    state: AppState

    if TYPE_CHECKING:  # the app's own (advisor.tui.app)

        def sync(self, what: str) -> None: ...

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
