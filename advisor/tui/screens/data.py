"""Step 3 — Data: pick a file (path completion), preview rows, columns, balance, lengths.

The form (its demos, boxes and panel titles) is the goals' task's flow's, the preview and panels the
flow's of the task the data was read for (``TaskTexts``): retrieval reads query/document pairs, say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import Suggester
from textual.widgets import Button, DataTable, Input, Label, Static

# The demos each task's flow offers, re-exported: a start-up test checks these copies against the registry.
from advisor.tui.class_format import DEMOS as DEMOS
from advisor.tui.rank_format import RANK_DEMOS as RANK_DEMOS
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice

PREVIEW_ROWS = 50


class PathSuggester(Suggester):
    """Completes file-system paths (and the demo names ``demos()`` gives) as you type; → accepts."""

    def __init__(self, demos: Callable[[], list[str]] = list) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.demos = demos

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        for demo in self.demos():
            if demo.startswith(value) and demo != value:
                return demo
        path = Path(value).expanduser()
        folder, stem = (path, "") if value.endswith("/") else (path.parent, path.name)
        try:
            names = sorted(
                p.name + ("/" if p.is_dir() else "")
                for p in folder.iterdir()
                if p.name.startswith(stem) and not p.name.startswith(".")
            )
        except OSError:
            return None
        if not names:
            return None
        prefix = value[: len(value) - len(stem)] if stem else value
        return prefix + names[0]


class DataScreen(StepScreen):
    STEP = "data"
    CSS_PATH = "data.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+l", "load", "Load")]

    def compose_body(self) -> ComposeResult:
        st = self.st
        with Horizontal(id="data-form"):
            yield Input(
                st.data_ref or "",
                placeholder=self.flow().data_form.placeholders[0],
                suggester=PathSuggester(self._demos),
                id="data-path",
                compact=True,
            )
            yield Input(
                st.text_col or "",
                tooltip="blank: detected from the column names and contents",
                placeholder="text column",
                id="text-col",
                compact=True,
            )
            yield Input(st.label_col or "", placeholder="label column", id="label-col", compact=True)
            yield Button("Load", id="load-data", variant="primary", compact=True)
        with Horizontal(id="test-form"):
            yield Label("test file:", id="test-file-label")
            yield Input(
                st.test_file or "",
                placeholder="optional held-out file to score the full run on (then every data row trains)",
                suggester=PathSuggester(self._demos),
                id="test-file",
                compact=True,
                tooltip="same columns as the data; blank: the full run holds out a part of the data",
            )
            yield Input(
                st.corpus or "",
                placeholder="optional file of more documents for the collection searched (id/text or one column)",
                suggester=PathSuggester(),
                id="corpus",
                compact=True,
                tooltip="the index holds these and every document of the pairs; blank: the pairs' documents",
            )
        yield Notice(id="data-notice")
        with Horizontal(id="data-main"):
            yield DataTable(id="preview", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="data-side"):
                yield Label("Columns", classes="section")
                yield Static("–", id="columns")
                yield Label("Classes", classes="section")
                yield Static("–", id="balance")
                yield Label("Lengths", classes="section")
                yield Static("–", id="lengths")
                yield Label("Dropped / warnings", classes="section")
                yield Static("–", id="dropped")
        with Vertical(id="data-next"):
            yield Static("", id="data-hint")

    def on_mount(self) -> None:
        self._preview: tuple[str, ...] = ()
        super().on_mount()
        if not self.st.data_ref:
            self.query_one("#data-path", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#load-data")
    def action_load(self) -> None:
        ref = self.query_one("#data-path", Input).value.strip()
        if not ref:
            self.query_one("#data-notice", Notice).show("type a path or demo:rotten-tomatoes", error=True)
            return
        text_col = self.query_one("#text-col", Input).value.strip() or None
        label_col = self.query_one("#label-col", Input).value.strip() or None
        test_file = self.query_one("#test-file", Input).value.strip() or None
        corpus = self.query_one("#corpus", Input).value.strip() or None
        self.app.load_data(ref, text_col, label_col, self.st.encoding, test_file, corpus)  # type: ignore[attr-defined]

    def _demos(self) -> list[str]:
        return list(self.flow().demos)

    def _relabel(self) -> None:
        """The form for the goals' task: the column boxes, and its optional extra file (a held-out
        file, an extra corpus) with the other box hidden."""
        form = self.flow().data_form
        for selector, text in zip(("#data-path", "#text-col", "#label-col"), form.placeholders, strict=True):
            self.query_one(selector, Input).placeholder = text
        self.query_one("#test-file-label", Label).update(form.extra_label)
        for box in ("test-file", "corpus"):
            self.query_one(f"#{box}").display = box == form.extra_file
        for label, name in zip(self.query(".section").results(Label), form.sections):
            label.update(name)

    def _preview_columns(self, columns: tuple[str, ...]) -> DataTable:
        table = self.query_one("#preview", DataTable)
        if self._preview != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
            self._preview = columns
        table.clear()
        return table

    def sync(self, what: str) -> None:
        if what in ("data", "task"):
            self._relabel()
        if what != "data":
            return
        st = self.st
        notice = self.query_one("#data-notice", Notice)
        if st.data_loading:
            notice.show(f"loading {st.data_ref}…")
        elif st.data_error:
            notice.show(st.data_error, error=True)
        else:
            notice.show(None)
        ds, summary = st.dataset, st.summary
        flow = self.flow(st.data_task)  # the task the data was read for (the goals' before any)
        table = self._preview_columns(flow.data_form.preview)
        hint = self.query_one("#data-hint", Static)
        if ds is None:
            for widget_id in ("#columns", "#balance", "#lengths", "#dropped"):
                self.query_one(widget_id, Static).update("–")
            hint.update("")
            return
        path_input = self.query_one("#data-path", Input)
        ref = flow.data_ref(ds)
        if path_input.value.strip() != ref:
            path_input.value = ref
        panels = flow.data_panels(ds, summary, test_rows=st.test_rows, limit=PREVIEW_ROWS)
        for row in panels.rows:
            table.add_row(*row)
        for widget_id, text in (
            ("#columns", panels.columns),
            ("#balance", panels.balance),
            ("#lengths", panels.lengths),
            ("#dropped", panels.dropped),
        ):
            self.query_one(widget_id, Static).update(text)
        hint.update(panels.hint)
