"""Text for the classification flow's screens (no Textual here): the labelled data at a glance, the
benchmark's points, the forecasts; `ClassificationTexts` serves them to the screens (`TaskTexts`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from advisor.common.tasks import get_task
from advisor.tui.format import bar, fmt_bytes, fmt_interval, fmt_num, fmt_pct, fmt_seconds, shorten
from advisor.tui.run_format import artifact_text
from advisor.tui.task_texts import Curves, DataForm, DataPanels, Row

# advisor.data.demo.DEMOS of this task, copied: importing the registry costs start-up (tested to match).
DEMOS = [
    "demo:rotten-tomatoes",
    "demo:bbc-news",
    "demo:presidential-debates",
    "demo:tweets-sentiment",
    "demo:icd10-chapters",
    "demo:fine-food-reviews",
    "demo:bird-strikes",
]
TASK = get_task("classification")  # its data hint, column names and preview headers
POINT_COLUMNS = ("approach", "n", "seed", "acc", "F1", "fit")
FORECAST_COLUMNS = (
    "approach",
    "forecast [95 %]",
    "measured",
    "train time",
    "latency",
    "peak mem",
    "texts/s",
    "at n",
    "fit",
)


# ------------------------------------------------------------------------------------- data
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


def columns_text(dataset: Any, summary: Any, test_rows: int | None) -> str:
    """Which columns were read and how many rows (and the held-out file's): the first panel."""
    rows = getattr(summary, "rows", None) or len(dataset.examples.labels)
    total = getattr(dataset, "total_rows", rows)
    return (
        f"text: [b]{dataset.text_col}[/b]\nlabel: [b]{dataset.label_col}[/b]\nrows: {rows:,}"
        + (f" (of {total:,})" if total and total != rows else "")
        + (f"\ntest file: {test_rows:,} rows\n(every data row trains)" if test_rows else "")
    )


def balance_text(summary: Any, dataset: Any) -> str:
    """A bar per class (the twelve largest) and the largest/smallest ratio."""
    classes = class_rows(summary, dataset)
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
    return "\n".join(shown) or "–"


def dropped_text(dataset: Any, summary: Any) -> str:
    lines = []
    dropped = getattr(summary, "dropped", None) or getattr(dataset, "dropped", None)
    if dropped is not None:
        values = dropped.model_dump() if hasattr(dropped, "model_dump") else vars(dropped)
        lines += [
            f"{k.replace('_', ' ')}: {v:,}"
            for k, v in values.items()
            if isinstance(v, int) and v and k != "total_rows_read"
        ]
    warnings = list(getattr(summary, "warnings", None) or getattr(dataset, "warnings", None) or [])
    lines += [f"⚠ {w}" for w in warnings]
    return "\n".join(lines) or "nothing dropped"


# ------------------------------------------------------------------------------- benchmark
def point_row(p: Any) -> Row:
    """One measured point (``POINT_COLUMNS``): approach, n, seed, accuracy, macro-F1, fit time."""
    return (p.approach, f"{p.n_train:,}", str(p.seed), fmt_pct(p.accuracy), fmt_pct(p.macro_f1), fmt_seconds(p.fit_s))


def curves(points: list[Any]) -> Curves:
    """(labelled examples, accuracy) per approach, from the usable points measured so far."""
    by_approach: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for p in points:
        if getattr(p, "usable", True):
            by_approach[p.approach].append((p.n_train, p.accuracy))
    return by_approach


# ---------------------------------------------------------------------------------- advice
def latency_text(latency: Any) -> str:
    """p50 ms per text at batch 1 from a measurement's ``latency_ms``."""
    if not latency:
        return "–"
    if isinstance(latency, dict):
        for key in ("p50_b1", 1, "1"):
            if key in latency:
                return f"{latency[key]:.1f} ms"
    return "–"


def forecast_rows(advice: Any) -> list[Row]:
    """The forecasts table of the advice step (``FORECAST_COLUMNS``)."""
    measurements = getattr(advice.bench, "measurements", {}) or {}
    forecasts = getattr(advice, "forecasts", {}) or {}
    choice = getattr(advice.recommendation, "choice", None)
    rows: list[Row] = []
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


# ----------------------------------------------------------------------------- the texts
class ClassificationTexts:
    """The classification task's `TaskTexts` (mixed into `ClassificationFlow`)."""

    demos = DEMOS
    point_columns: Row = POINT_COLUMNS
    points_in_events = True
    forecast_columns: Row = FORECAST_COLUMNS

    data_form = DataForm(
        placeholders=(TASK.data_hint, *TASK.columns),
        extra_file="test-file",
        extra_label="test file:",
        sections=("Columns", "Classes", "Lengths"),
        preview=TASK.preview,
    )

    def data_ref(self, dataset: Any) -> str:
        return str(getattr(dataset, "ref", None) or "")

    def data_panels(self, dataset: Any, summary: Any, *, test_rows: int | None, limit: int) -> DataPanels:
        shown = list(zip(dataset.examples.labels, dataset.examples.texts))[:limit]
        return DataPanels(
            rows=[(shorten(label, 16), shorten(text, 300)) for label, text in shown],
            columns=columns_text(dataset, summary, test_rows),
            balance=balance_text(summary, dataset),
            lengths="\n".join(length_lines(summary)) or "–",
            dropped=dropped_text(dataset, summary),
            hint="Looks right? Press [b]4[/b] to benchmark the approaches on a sample of it.",
        )

    def data_phrase(self, dataset: Any) -> str:
        return self.data_ref(dataset)

    def point_row(self, point: Any) -> Row:
        return point_row(point)

    def advice_point_rows(self, advice: Any) -> list[Row]:
        measurements = getattr(advice.bench, "measurements", None) or {}
        return [point_row(p) for meas in measurements.values() for p in meas.points]

    def curve_title(self, goals: Any) -> str:
        return "accuracy vs labelled examples"

    def curves(self, advice: Any, points: list[Any]) -> Curves:
        return curves(points)

    def forecast_rows(self, advice: Any) -> list[Row]:
        return forecast_rows(advice)

    def advice_notes(self, advice: Any) -> list[str]:
        return []

    def artifact_text(self, manifest: Any, run_dir: str | None) -> str:
        return artifact_text(manifest, run_dir)
