"""Step 4 — Benchmark: micro-benchmarks in a thread worker, filled in as results land.

A progress bar per approach, a table of learning-curve points, and the curves drawn
in the terminal with each forecast point and its interval. Escape cancels cleanly.
The columns, rows, curves and texts are the goals' task's flow's (``TaskTexts``); a task whose
progress events carry no points (retrieval) fills them in from the advice when the benchmark ends.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, DataTable, Label, ProgressBar, Select, Static
from textual_plotext import PlotextPlot

from advisor.tui.format import fmt_seconds
from advisor.tui.screens.base import StepScreen
from advisor.tui.task_flows import advice_task
from advisor.tui.widgets import Notice

BUDGETS = [
    ("quick (≤ 90 s on 2 CPUs)", "quick"),
    ("standard (≤ 10 min)", "standard"),
    ("thorough (≤ 30 min)", "thorough"),
]


def budget_options(budget: str) -> list[tuple[str, str]]:
    """The named budgets, and ``budget`` in seconds when it is none of them (``tui --budget 180``)."""
    if any(value == budget for _, value in BUDGETS):
        return list(BUDGETS)
    return [*BUDGETS, (f"{budget} s (from --budget)", budget)]


COLORS = {"tfidf": "blue", "embedding": "green", "finetune": "red", "lora": "magenta"}
COLORS |= {"bm25": "blue", "frozen-index": "green", "contrastive": "red", "contrastive-lora": "magenta"}


class CurvePlot(PlotextPlot):
    """The learning curves; a plotext failure (tiny sizes, odd data) shows a line, never a crash."""

    def render(self) -> RenderResult:
        try:
            return super().render()
        except Exception as exc:  # noqa: BLE001 - plotext raises assorted errors on edge cases
            return Text(f"(no plot: {type(exc).__name__})")


def legend(approaches: list[str]) -> str:
    return "  ".join(f"[{COLORS.get(a, 'white')}]●[/] {a}" for a in approaches) + "  [dim]x forecast ±95 %[/]"


class BenchScreen(StepScreen):
    STEP = "bench"
    CSS_PATH = "bench.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start"),
        Binding("escape", "app.escape", "Cancel"),  # leaves a text box first, else cancels
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bench-controls"):
            yield Label("Budget", id="budget-label")
            yield Select(
                budget_options(self.st.budget), value=self.st.budget, allow_blank=False, id="budget", compact=True
            )
            yield Button("Start", id="start-bench", variant="primary", compact=True)
            yield Static("", id="bench-status")
        yield Notice(id="bench-notice")
        yield Vertical(id="bars")
        with Horizontal(id="bench-main"):
            yield DataTable(id="points", cursor_type="row", zebra_stripes=True)
            with Vertical(id="plot-box"):
                yield Static("", id="legend")
                yield CurvePlot(id="curves")

    def on_mount(self) -> None:
        self._bars: dict[str, tuple[ProgressBar, Static]] = {}
        self._columns: tuple[str, ...] = ()
        super().on_mount()

    def _points_table(self) -> DataTable:
        """The points table, emptied, with the columns of the goals' task."""
        table = self.query_one("#points", DataTable)
        columns = self.flow().point_columns
        if self._columns != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
            self._columns = columns
        table.clear()
        return table

    @on(Select.Changed, "#budget")
    def _budget(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.st.budget = str(event.value)

    @on(Button.Pressed, "#start-bench")
    def action_start(self) -> None:
        problem = self.app.start_bench()  # type: ignore[attr-defined]
        if problem:
            self.query_one("#bench-notice", Notice).show(problem, error=True)

    def action_cancel(self) -> None:
        self.app.cancel_bench()  # type: ignore[attr-defined]

    # --- rendering
    def _bar(self, approach: str) -> tuple[ProgressBar, Static]:
        if approach not in self._bars:
            bar = ProgressBar(show_eta=False)
            note = Static("", classes="bar-note")
            self.query_one("#bars", Vertical).mount(
                Horizontal(Label(approach, classes="bar-label"), bar, note, classes="bar-row")
            )
            self._bars[approach] = (bar, note)
        return self._bars[approach]

    def on_bench_event(self, event: Any, *, replay: bool = False) -> None:
        approach = str(event.approach)
        status = self.query_one("#bench-status", Static)
        status.update(f"{fmt_seconds(event.elapsed_s)} of {fmt_seconds(event.budget_s)}")
        if approach == "all":  # planning events: the status line, not a bar
            status.update(
                Content(f"{fmt_seconds(event.elapsed_s)} of {fmt_seconds(event.budget_s)} · {event.message}"[:70])
            )
            return
        bar, note = self._bar(approach)
        if event.phase == "done":
            bar.update(total=max(1, event.done or 1), progress=max(1, event.done or 1))
        elif event.total:
            bar.update(total=event.total, progress=event.done)
        note.update(Content(f"{event.phase} {event.message}".strip()[:60]))
        point = getattr(event, "point", None)
        if point is not None:
            self.query_one("#points", DataTable).add_row(*self.flow().point_row(point))
            if not replay:
                self.draw()

    def _curve_points(self) -> tuple[str, dict[str, list[tuple[int, float]]]]:
        """The plot's title and (n, metric) per approach, as measured so far."""
        flow = self.flow()
        return flow.curve_title(self.st.goals), flow.curves(self.st.advice, self.st.bench_points)

    def draw(self) -> None:
        plot = self.query_one("#curves", CurvePlot)
        plt = plot.plt
        plt.clear_figure()
        title, by_approach = self._curve_points()
        plt.title(title)
        advice = self.st.advice
        forecasts = getattr(advice, "forecasts", None) or {}
        if by_approach:
            plt.xscale("log")  # plotext fails on a log axis with nothing drawn
        for approach, pts in by_approach.items():
            color = COLORS.get(approach, "white")
            plt.scatter([n for n, _ in pts], [y for _, y in pts], color=color, marker="dot")
            fc = forecasts.get(approach)
            if fc is not None and fc.value is not None:
                curve = list(getattr(fc, "projection", None) or getattr(fc, "curve", None) or [])
                if curve:
                    plt.plot([c[0] for c in curve], [c[1] for c in curve], color=color)
                if fc.low is not None and fc.high is not None:
                    plt.plot([fc.n_target, fc.n_target], [fc.low, fc.high], color=color, marker="hd")
                plt.scatter([fc.n_target], [fc.value], color=color, marker="x")
        self.query_one("#legend", Static).update(legend(list(by_approach)) if by_approach else "")
        plot.refresh()

    def sync(self, what: str) -> None:
        if what not in ("bench", "data", "task"):
            return
        st = self.st
        notice = self.query_one("#bench-notice", Notice)
        button = self.query_one("#start-bench", Button)
        button.disabled = st.bench_running
        button.label = "Running…" if st.bench_running else "Start"
        if st.bench_error:
            notice.show(st.bench_error, error=True)
        elif st.bench_running:
            notice.show("Benchmarking a sample of your data… Esc cancels, keeping what was measured.")
        elif st.advice is not None and getattr(st.advice, "cancelled", False):
            notice.show("Cancelled: the advice (step 5) uses the points measured so far.")
        elif st.advice is not None:
            notice.show("Done: the advice is on step 5.")
        elif st.dataset is None:
            notice.show("Load data first (step 3), then press s.")
        elif st.data_task != st.goals.task:
            notice.show(f"The data was read for {st.data_task}: load it again for {st.goals.task} (step 3).")
        else:
            what_data = self.flow().data_phrase(st.dataset)
            notice.show(f"Ready: press s to benchmark {what_data} within the {st.budget} budget.")
        if what in ("bench", "task"):
            self._points_table()
            for bar, note in self._bars.values():
                bar.update(total=None, progress=0)
                note.update("")
            self._replay()

    def _replay(self) -> None:
        st = self.st
        for event in st.bench_events:
            self.on_bench_event(event, replay=True)
        advice_flow = self.flow(advice_task(st.advice)) if st.advice is not None else None
        if advice_flow is not None and not (advice_flow.points_in_events and st.bench_events):
            for row in advice_flow.advice_point_rows(st.advice):  # points no event replayed above
                self.query_one("#points", DataTable).add_row(*row)
        self.draw()
