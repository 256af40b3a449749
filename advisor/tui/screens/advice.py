"""Step 5 — Advice: the choice, how sure, why (with numbers), what would flip it,
and every approach's forecast side by side; e / p export the report and the plan.
A retrieval advice shares the recommendation record; its forecasts table has its own columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, Static

from advisor.tui import rank_format
from advisor.tui.format import fmt_bytes, fmt_interval, fmt_num, fmt_seconds
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice


def latency_text(latency: Any) -> str:
    """p50 ms per text at batch 1 from a measurement's ``latency_ms``."""
    if not latency:
        return "–"
    if isinstance(latency, dict):
        for key in ("p50_b1", 1, "1"):
            if key in latency:
                return f"{latency[key]:.1f} ms"
    return "–"


def _text(item: Any) -> str:
    return str(getattr(item, "text", item))


def forecast_rows(advice: Any) -> list[tuple[str, ...]]:
    measurements = getattr(advice.bench, "measurements", {}) or {}
    forecasts = getattr(advice, "forecasts", {}) or {}
    choice = getattr(advice.recommendation, "choice", None)
    rows: list[tuple[str, ...]] = []
    for approach in list(dict.fromkeys([*forecasts, *measurements])):
        fc, meas = forecasts.get(approach), measurements.get(approach)
        name = f"▶ {approach}" if approach == choice else f"  {approach}"
        measured = fmt_interval(
            getattr(meas, "accuracy", None), getattr(meas, "ci_low", None), getattr(meas, "ci_high", None)
        )
        if fc is not None and fc.value is not None:
            forecast = fmt_interval(fc.value, fc.low, fc.high) + (" ⚑" if fc.flagged else "")
        else:
            forecast = "–"
        rows.append(
            (
                name,
                forecast,
                measured,
                fmt_seconds(getattr(fc, "train_time_s", None)),
                latency_text(getattr(meas, "latency_ms", None)),
                fmt_bytes(getattr(fc, "peak_memory_bytes", None)),
                fmt_num(getattr(meas, "infer_texts_per_s", None), 0),
                f"{fc.n_target:,}" if fc is not None else "–",
                str(getattr(fc, "method", "–")),
            )
        )
    return rows


class AdviceScreen(StepScreen):
    STEP = "advice"
    CSS_PATH = "advice.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export('report')", "Export report"),
        Binding("p", "export('plan')", "Save plan"),
        Binding("r", "app.goto('run')", "Go to run"),
    ]
    COLUMNS = ("approach", "forecast [95 %]", "measured", "train time", "latency", "peak mem", "texts/s", "at n", "fit")

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
        rank = rank_format.is_rank_advice(advice)
        table = self._table(rank_format.FORECAST_COLUMNS if rank else self.COLUMNS)
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
        for row in rank_format.forecast_rows(advice) if rank else forecast_rows(advice):
            table.add_row(*row)
        forecasts = getattr(advice, "forecasts", {}) or {}
        flagged = [
            f"⚑ {a}: {getattr(fc, 'flag_reason', '') or 'fallback forecast, wide interval'}"
            for a, fc in forecasts.items()
            if getattr(fc, "flagged", False)
        ]
        if rank:
            flagged.insert(0, rank_format.bench_note(advice))
        flagged += [f"⚠ {w}" for w in getattr(getattr(advice, "data", None), "warnings", None) or []]
        self.query_one("#flags", Static).update(Content("\n".join(flagged)))
        ruled = [f"✗ {r.approach}: {r.reason}" for r in getattr(rec, "ruled_out", [])]
        self.query_one("#ruled-out", Static).update(Content("\n".join(ruled) or "nothing"))
        flips = [f"• {_text(f)}" for f in getattr(rec, "flips", [])]
        self.query_one("#flips", Static).update(Content("\n".join(flips) or "–"))
