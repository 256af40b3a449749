"""The Run step's lower sections, filled from the state: the artifact with its "Try it" boxes, and
the runs compared. Collaborators of ``RunScreen``: they update widgets it composed (none of their own)."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from advisor.tui.format import shorten
from advisor.tui.run_format import (
    comparison_columns,
    comparison_rows,
    comparison_text,
    hit_row,
    prediction_text,
    runs_done_text,
)
from advisor.tui.screens.base import StepScreen


class _Section:
    def __init__(self, screen: StepScreen) -> None:
        self.screen = screen

    def reveal(self, widget: Widget) -> None:
        """Scroll the run screen's body to ``widget`` (call after a refresh when it just grew)."""
        self.screen.query_one("#run-body").scroll_to_widget(widget, animate=False)


class ArtifactSection(_Section):
    """The finished run's artifact (its task's flow's text), and the search button where that flow
    opens the search screen, else the "Try it" boxes and their answers."""

    def mount(self) -> None:
        q = self.screen.query_one
        q("#hits", DataTable).add_columns("score", "label", "text")
        q("#hits").display = False
        q("#search-input").display = False
        q("#open-search").display = False

    def sync(self, st: Any) -> None:
        """After the run's state changed (called with ``sync("run")``, once the notice is set)."""
        q = self.screen.query_one
        manifest = st.manifest
        flow = self.screen.flow(st.run_task) if manifest is not None else None
        searched = flow is not None and flow.opens_search
        q("#open-search").display = searched
        for selector in ("#try-label", "#try-row", "#answer"):
            q(selector).display = not searched
        if flow is None:
            if not st.run_running:
                q("#artifact", Static).update("–")
            return
        q("#artifact", Static).update(Content(flow.artifact_text(manifest, st.run_dir)))
        self._done()
        if searched:
            q("#hits").display = False
            return
        q("#search-input").display = bool(getattr(st.artifact_engine, "supports_search", False))
        box = q("#predict-input", Input)
        box.focus(scroll_visible=False)
        self.reveal(box)

    def _done(self) -> None:
        self.screen.query_one("#run-progress", ProgressBar).update(total=1, progress=1)
        self.screen.query_one("#run-status", Static).update(Content("done"))

    def show_answer(self, msg: Any) -> None:
        """A prediction or search the worker answered (``messages.Answer``)."""
        answer = self.screen.query_one("#answer", Static)
        hits = self.screen.query_one("#hits", DataTable)
        self.screen.call_after_refresh(self.reveal, hits if msg.kind == "search" and not msg.error else answer)
        if msg.error:
            answer.update(Content(f"error: {msg.error}"))
            return
        if msg.kind == "search":
            hits.clear()
            for hit in msg.result:
                hits.add_row(*hit_row(hit))
            hits.display = True
            answer.update(Content(f"{len(msg.result)} nearest stored texts to “{shorten(msg.query, 40)}”"))
            return
        answer.update(Content(prediction_text(msg.query, msg.result)))


class CompareSection(_Section):
    """The runs finished in this session, the compare button, and the comparison's table and verdict."""

    def mount(self) -> None:
        self.screen.query_one("#compare-table").display = False

    def sync(self, st: Any) -> None:
        """After a run or a comparison changed (``sync("run")`` or ``sync("compare")``)."""
        q = self.screen.query_one
        done = st.runs_done
        q("#runs-done", Static).update(Content(runs_done_text(done)))
        q("#compare", Button).disabled = len(done) < 2 or st.comparing or st.run_running
        verdict = q("#compare-verdict", Static)
        table = q("#compare-table", DataTable)
        if st.comparing:
            verdict.update(Content("comparing…"))
            return
        if st.compare_error:
            verdict.update(Content(f"error: {st.compare_error}"))
            return
        c = st.comparison
        if c is None:
            verdict.update("")
            return
        rows = comparison_rows(c)
        table.clear(columns=True)
        table.add_columns(*comparison_columns(c))
        for row in rows:
            table.add_row(*row)
        # Header plus one line per run, set here: an auto height waits for the table's idle-time
        # resize, which a busy machine can hold back for a long time.
        table.styles.height = len(c.runs) + 1
        table.display = True
        verdict.update(Content(comparison_text(c)))
        self.screen.call_after_refresh(self.reveal, verdict)
