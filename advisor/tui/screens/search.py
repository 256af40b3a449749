"""The search screen: a finished retrieval run's index, searched as you type queries.

Opened over the Run step when a retrieval run finishes (and by `/` there). The artifact's engine
loads in a worker (a dense index imports torch); each query runs in a worker too, and the top 10
hits fill a table: rank, score, document id and the start of the document. Esc goes back.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import DataTable, Input, Label, Static

from advisor.tui import rank_format
from advisor.tui.format import shorten
from advisor.tui.rank_workers import SEARCH_K
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice


class SearchScreen(StepScreen):
    STEP = "run"
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.escape", "Back"),  # leaves the query box first, then goes back to the run
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="search-title")
        with Horizontal(id="search-form"):
            yield Label("Query", id="query-label")
            yield Input(
                "",
                placeholder=f"type a query and press Enter: the {SEARCH_K} nearest documents",
                id="query",
                compact=True,
            )
        yield Notice(id="search-notice")
        yield Static("", id="search-summary")
        yield DataTable(id="search-hits", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#search-hits", DataTable).add_columns("rank", "score", "doc id", "text")
        super().on_mount()
        self.sync("search")
        self.query_one("#query", Input).focus()

    def action_cancel(self) -> None:
        views = self.app.views  # type: ignore[attr-defined]
        if views.get("search") is self:
            del views["search"]  # gone from the stack: the app's syncs no longer reach it
        self.dismiss()

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        problem = self.app.search(event.value)  # type: ignore[attr-defined]
        if problem:
            self.query_one("#search-notice", Notice).show(problem, error=True)

    def sync(self, what: str) -> None:
        if what not in ("search", "run"):
            return
        st = self.st
        title = f"Search {st.search_dir or '–'}"
        manifest = st.manifest
        if getattr(manifest, "rank_metrics", None) is not None and st.run_dir == st.search_dir:
            title = rank_format.manifest_text(manifest, st.search_dir or "").splitlines()[1]
            title = f"Search {st.search_dir} — {title}"
        self.query_one("#search-title", Static).update(Content(title))
        if what != "search":
            return
        notice = self.query_one("#search-notice", Notice)
        if st.search_loading:
            notice.show(f"loading the index in {st.search_dir}…")
        elif st.search_error:
            notice.show(st.search_error, error=True)
        elif st.search_query is None:
            notice.show("The index is ready: type a query, Enter searches. Esc leaves the box, Esc again goes back.")
        else:
            notice.show(None)
        table = self.query_one("#search-hits", DataTable)
        table.clear()
        for row in rank_format.hit_rows(st.search_hits):
            table.add_row(*row)
        summary = ""
        if st.search_query is not None and not st.search_error:
            found = f"{len(st.search_hits)} nearest document{'s' if len(st.search_hits) != 1 else ''}"
            summary = f"{found} to “{shorten(st.search_query, 60)}”"
        self.query_one("#search-summary", Static).update(Content(summary))
