"""Step 3 — Data: pick a file (path completion), preview rows, columns, balance, lengths.

For the retrieval task the same step reads query/document pairs (a pair file, a BEIR folder or a
retrieval demo, plus an optional corpus file): the preview shows queries and their documents, the
side panels the pairs summary (``advisor.data.pairs_summary``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import Suggester
from textual.widgets import Button, DataTable, Input, Label, Static

from advisor.common.tasks import TASKS, get_task
from advisor.tui import rank_format
from advisor.tui.format import bar, fmt_num, shorten
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice

# advisor.data.demo.DEMOS by name and task, copied: importing the registry costs start-up (tested to match).
DEMOS = [
    "demo:rotten-tomatoes",
    "demo:bbc-news",
    "demo:presidential-debates",
    "demo:tweets-sentiment",
    "demo:icd10-chapters",
    "demo:fine-food-reviews",
    "demo:bird-strikes",
]
RANK_DEMOS = ["demo:bbc-headlines", "demo:icd10-terms", "demo:chatterbot-qa"]
PREVIEW_ROWS = 50
PLACEHOLDERS = {t.name: (t.data_hint, *t.columns) for t in TASKS.values()}  # (data path, 1st, 2nd column)


class PathSuggester(Suggester):
    """Completes file-system paths (and the demo names ``demos()`` gives) as you type; → accepts."""

    def __init__(self, demos: Callable[[], list[str]] = lambda: DEMOS) -> None:
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


def class_rows(summary: Any, dataset: Any) -> list[tuple[str, int, float]]:
    """(label, count, share) per class, largest first, from the summary (or the data)."""
    classes = getattr(summary, "classes", None)
    rows: list[tuple[str, int, float]] = []
    if isinstance(classes, dict):
        total = sum(_count(v) for v in classes.values()) or 1
        rows = [(str(k), _count(v), _count(v) / total) for k, v in classes.items()]
    elif classes:
        for item in classes:
            label = getattr(item, "label", None) or getattr(item, "name", None) or str(item)
            count = int(getattr(item, "count", 0))
            rows.append((str(label), count, float(getattr(item, "share", 0.0))))
    elif dataset is not None:
        from collections import Counter

        counts = Counter(dataset.examples.labels)
        total = sum(counts.values()) or 1
        rows = [(k, v, v / total) for k, v in counts.items()]
    return sorted(rows, key=lambda r: -r[1])


def _count(v: Any) -> int:
    return int(v if isinstance(v, (int, float)) else getattr(v, "count", 0))


def length_lines(summary: Any) -> list[str]:
    """'chars   p50 108  p90 …' per length unit the summary measured."""
    lengths = getattr(summary, "lengths", None) or {}
    lines = []
    for unit, stats in lengths.items():
        values = stats.model_dump() if hasattr(stats, "model_dump") else vars(stats)
        parts = [f"{k} {fmt_num(float(values[k]), 0)}" for k in ("p50", "p90", "max") if k in values]
        lines.append(f"{unit:<6} " + "  ".join(parts))
    return lines


class DataScreen(StepScreen):
    STEP = "data"
    CSS_PATH = "data.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+l", "load", "Load")]

    def compose_body(self) -> ComposeResult:
        st = self.st
        with Horizontal(id="data-form"):
            yield Input(
                st.data_ref or "",
                placeholder=PLACEHOLDERS["classification"][0],
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
                suggester=PathSuggester(),
                id="test-file",
                compact=True,
                tooltip="same columns as the data; blank: the full run holds out a part of the data",
            )
            yield Input(
                st.corpus or "",
                placeholder="optional file of more documents for the collection searched (id/text or one column)",
                suggester=PathSuggester(list),
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
        self._preview_task: str | None = None
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
        return RANK_DEMOS if self.st.retrieval else DEMOS

    def _relabel(self) -> None:
        """The form for the goals' task: the column boxes, and a held-out file or an extra corpus."""
        task = self.st.goals.task
        for selector, text in zip(("#data-path", "#text-col", "#label-col"), PLACEHOLDERS[task], strict=True):
            self.query_one(selector, Input).placeholder = text
        rank = self.st.retrieval
        self.query_one("#test-file-label", Label).update("corpus:" if rank else "test file:")
        self.query_one("#test-file").display = not rank
        self.query_one("#corpus").display = rank
        names = ("Columns", "Relevance", "Lengths") if rank else ("Columns", "Classes", "Lengths")
        for label, name in zip(self.query(".section").results(Label), names):
            label.update(name)

    def _preview_columns(self, task: str) -> DataTable:
        table = self.query_one("#preview", DataTable)
        if self._preview_task != task:
            table.clear(columns=True)
            table.add_columns(*get_task(task).preview)
            self._preview_task = task
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
        table = self._preview_columns(st.data_task or st.goals.task)
        hint = self.query_one("#data-hint", Static)
        if ds is None:
            for widget_id in ("#columns", "#balance", "#lengths", "#dropped"):
                self.query_one(widget_id, Static).update("–")
            hint.update("")
            return
        path_input = self.query_one("#data-path", Input)
        if path_input.value.strip() != rank_format.data_ref(ds):
            path_input.value = rank_format.data_ref(ds)
        if st.data_task == "retrieval":
            self._show_pairs(table, ds, summary)
            return
        for text, label in list(zip(ds.examples.texts, ds.examples.labels))[:PREVIEW_ROWS]:
            table.add_row(shorten(label, 16), shorten(text, 300))
        rows = getattr(summary, "rows", None) or len(ds.examples.labels)
        total = getattr(ds, "total_rows", rows)
        self.query_one("#columns", Static).update(
            f"text: [b]{ds.text_col}[/b]\nlabel: [b]{ds.label_col}[/b]\nrows: {rows:,}"
            + (f" (of {total:,})" if total and total != rows else "")
            + (f"\ntest file: {st.test_rows:,} rows\n(every data row trains)" if st.test_rows else "")
        )
        classes = class_rows(summary, ds)
        width = max((len(c[0]) for c in classes), default=5)
        shown = [
            f"{shorten(lab, 14):<{min(width, 14)}} {bar(share, 8)} {count:,} {100 * share:.0f}%"
            for lab, count, share in classes[:12]
        ]
        if len(classes) > 12:
            shown.append(f"… and {len(classes) - 12} more")
        ratio = getattr(summary, "imbalance_ratio", None)
        if ratio:
            shown.append(f"largest/smallest: {ratio:.1f}×")
        self.query_one("#balance", Static).update("\n".join(shown) or "–")
        self.query_one("#lengths", Static).update("\n".join(length_lines(summary)) or "–")
        self.query_one("#dropped", Static).update(_dropped_text(ds, summary))
        hint.update("Looks right? Press [b]4[/b] to benchmark the approaches on a sample of it.")

    def _show_pairs(self, table: DataTable, ds: Any, summary: Any) -> None:
        for query, doc in rank_format.preview_rows(ds, PREVIEW_ROWS):
            table.add_row(shorten(query, 60), shorten(doc, 300))
        self.query_one("#columns", Static).update(rank_format.columns_text(ds, summary))
        self.query_one("#balance", Static).update(rank_format.relevance_text(summary))
        self.query_one("#lengths", Static).update("\n".join(rank_format.length_lines(summary)))
        self.query_one("#dropped", Static).update(rank_format.dropped_text(summary))
        self.query_one("#data-hint", Static).update(
            "Looks right? Press [b]4[/b] to benchmark BM25, the frozen index and a contrastive fine-tune on it."
        )


def _dropped_text(ds: Any, summary: Any) -> str:
    lines = []
    dropped = getattr(summary, "dropped", None) or getattr(ds, "dropped", None)
    if dropped is not None:
        values = dropped.model_dump() if hasattr(dropped, "model_dump") else vars(dropped)
        lines += [
            f"{k.replace('_', ' ')}: {v:,}"
            for k, v in values.items()
            if isinstance(v, int) and v and k != "total_rows_read"
        ]
    warnings = list(getattr(summary, "warnings", None) or getattr(ds, "warnings", None) or [])
    lines += [f"⚠ {w}" for w in warnings]
    return "\n".join(lines) or "nothing dropped"
