"""The retrieval flow's commands and messages on the app (mixed into it): the task switch, the
search screen over a finished run's index, and the searches typed there.

Like the rest of the app: UI thread only; the backend runs in ``RankWorkers``' threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor.tui import messages as m
from advisor.tui.rank_workers import RankWorkers
from advisor.tui.task_flows import advice_task


class RankCommands(RankWorkers):
    """Needs the app's ``state``, ``views``, ``sync``, ``load_data`` and screen stack."""

    state: Any
    views: dict[str, Any]

    if TYPE_CHECKING:  # the app's own (advisor.tui.app)

        def sync(self, what: str) -> None: ...

        def load_data(self, *args: Any) -> None: ...

    def task_changed(self) -> None:
        """The goals' task changed: what was read, measured or run for the other task no longer applies."""
        st = self.state
        if st.advice is not None and advice_task(st.advice) != st.goals.task and not st.bench_running:
            st.advice, st.bench_events, st.bench_points, st.bench_error = None, [], [], None
        self.sync("task")
        if st.data_ref and not st.data_loading and (st.data_error or st.data_task not in (None, st.goals.task)):
            self.load_data(st.data_ref, st.text_col, st.label_col, st.encoding, st.test_file, st.corpus)
        else:
            self.sync("bench")
            self.sync("advice")

    def open_search(self, out_dir: str) -> None:
        """Show the search screen over the retrieval artifact in ``out_dir`` (its engine loads in a worker)."""
        from advisor.tui.screens.search import SearchScreen

        st = self.state
        if st.search_dir != out_dir or (st.search_engine is None and not st.search_loading):
            st.search_dir, st.search_engine, st.search_error, st.search_loading = out_dir, None, None, True
            st.search_query, st.search_hits = None, []
            self.search_load_worker(out_dir)
        if isinstance(self.screen, SearchScreen):
            self.sync("search")
            return
        if self.current_mode != "run":
            self.switch_mode("run")
        view = SearchScreen()
        self.views["search"] = view
        self.push_screen(view)

    def search(self, query: str) -> str | None:
        """Search the loaded index; a reason when it cannot."""
        st = self.state
        if st.search_engine is None:
            return "the index is still loading" if st.search_loading else (st.search_error or "no index loaded")
        if not query.strip():
            return "type a query"
        self.search_worker(st.search_engine, query.strip())
        return None

    def on_search_ready(self, msg: m.SearchReady) -> None:
        st = self.state
        if msg.out_dir != st.search_dir:
            return  # an older load
        st.search_loading, st.search_engine, st.search_error = False, msg.engine, msg.error
        self.sync("search")

    def on_search_hits(self, msg: m.SearchHits) -> None:
        st = self.state
        st.search_query, st.search_hits, st.search_error = msg.query, msg.hits, msg.error
        self.sync("search")
