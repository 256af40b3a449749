"""Step 5 — Advice: the choice, how sure, why (with numbers), what would flip it,
and every approach's forecast side by side; e / p export the report and the plan.
Every task's advice shares the recommendation record; the forecasts table is its task's flow's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, Static

from advisor.tui.screens.base import StepScreen
from advisor.tui.task_flows import advice_task
from advisor.tui.widgets import Notice


def _text(item: Any) -> str:
    return str(getattr(item, "text", item))


class AdviceScreen(StepScreen):
    STEP = "advice"
    CSS_PATH = "advice.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export('report')", "Export report"),
        Binding("p", "export('plan')", "Save plan"),
        Binding("r", "app.goto('run')", "Go to run"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="advice-body"):
            yield Static("No advice yet: load data (3), then run the benchmark (4).", id="choice")
            yield Static("", id="settle")
            yield Label("Forecasts for the full run", classes="section")
            yield DataTable(id="forecasts", cursor_type="row", zebra_stripes=True)
            yield Static("", id="flags", classes="dim")
            yield Label("Why", classes="section")
            yield Static("–", id="reasons")
            yield Label("Ruled out", classes="section")
            yield Static("–", id="ruled-out")
            yield Label("What would change the decision", classes="section")
            yield Static("–", id="flips")
            with Horizontal(id="export-row"):
                yield Label("Export to folder", id="export-label")
                yield Input(".", id="export-dir", compact=True)
                yield Button("Report (e)", id="export-report", compact=True)
                yield Button("Plan (p)", id="export-plan", compact=True)
        yield Notice(id="advice-notice")

    def on_mount(self) -> None:
        self._columns: tuple[str, ...] = ()
        super().on_mount()

    def _table(self, columns: tuple[str, ...]) -> DataTable:
        table = self.query_one("#forecasts", DataTable)
        if self._columns != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
            self._columns = columns
        table.clear()
        return table

    def action_export(self, what: str) -> None:
        folder = Path(self.query_one("#export-dir", Input).value.strip() or ".")
        name = "plan.json" if what == "plan" else "report.md"
        self.app.export(what, str(folder / name))  # type: ignore[attr-defined]

    @on(Button.Pressed, "#export-report")
    def _report(self) -> None:
        self.action_export("report")

    @on(Button.Pressed, "#export-plan")
    def _plan(self) -> None:
        self.action_export("plan")

    def sync(self, what: str) -> None:
        if what not in ("advice", "bench"):
            return
        advice = self.st.advice
        flow = self.flow(advice_task(advice))  # no advice: the default task's columns
        table = self._table(flow.forecast_columns)
        if advice is None:
            self.query_one("#choice", Static).update("No advice yet: load data (3), then run the benchmark (4).")
            for widget_id, empty in (("#settle", ""), ("#flags", ""), ("#reasons", "–"), ("#ruled-out", "–")):
                self.query_one(widget_id, Static).update(empty)
            self.query_one("#flips", Static).update("–")
            return
        rec = advice.recommendation
        cancelled = " (from a cancelled benchmark: partial)" if getattr(advice, "cancelled", False) else ""
        self.query_one("#choice", Static).update(
            f"Recommendation: [b reverse] {rec.label} [/]  confidence [b]{rec.confidence}[/b]{cancelled}"
        )
        settle = []
        if getattr(rec, "too_close", False):
            settle.append("Too close to call at this budget: the cheaper option is recommended.")
        if getattr(rec, "settle", None):
            settle.append(str(rec.settle))
        self.query_one("#settle", Static).update(Content("\n".join(settle)))
        reasons = [f"{i}. {_text(r)}" for i, r in enumerate(rec.reasons, 1)]
        self.query_one("#reasons", Static).update(Content("\n".join(reasons) or "–"))
        for row in flow.forecast_rows(advice):
            table.add_row(*row)
        forecasts = getattr(advice, "forecasts", {}) or {}
        flagged = [
            *flow.advice_notes(advice),
            *(
                f"⚑ {a}: {getattr(fc, 'flag_reason', '') or 'fallback forecast, wide interval'}"
                for a, fc in forecasts.items()
                if getattr(fc, "flagged", False)
            ),
            *(f"⚠ {w}" for w in getattr(getattr(advice, "data", None), "warnings", None) or []),
        ]
        self.query_one("#flags", Static).update(Content("\n".join(flagged)))
        ruled = [f"✗ {r.approach}: {r.reason}" for r in getattr(rec, "ruled_out", [])]
        self.query_one("#ruled-out", Static).update(Content("\n".join(ruled) or "nothing"))
        flips = [f"• {_text(f)}" for f in getattr(rec, "flips", [])]
        self.query_one("#flips", Static).update(Content("\n".join(flips) or "–"))
