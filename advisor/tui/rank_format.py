"""Text for the retrieval flow's screens (no Textual here): the pairs at a glance, the benchmark's
points, the forecasts, the full run's scores and the search hits; `RetrievalTexts` serves them (`TaskTexts`).

Ranking metrics (nDCG@10, recall@10, MRR@10) are shown as the CLI shows them: ×100, one decimal,
no per-cent sign ("83.0 [80.2–86.0]").
"""

from __future__ import annotations

from typing import Any

from advisor.common.output import human_seconds
from advisor.common.tasks import get_task
from advisor.tui.format import MISSING, fmt_bytes, fmt_num, fmt_seconds, shorten
from advisor.tui.task_texts import Curves, DataForm, DataPanels, Row

SNIPPET = 160  # characters of a document shown per search hit
# advisor.data.demo.DEMOS of this task, copied: importing the registry costs start-up (tested to match).
RANK_DEMOS = ["demo:bbc-headlines", "demo:icd10-terms", "demo:chatterbot-qa"]
TASK = get_task("retrieval")  # its data hint, column names and preview headers


def score(x: float | None) -> str:
    """0.8301 → '83.0' ('–' when unknown)."""
    return MISSING if x is None else f"{100 * x:.1f}"


def score_interval(value: float | None, low: float | None, high: float | None) -> str:
    """'83.0 [80.2–86.0]'."""
    if value is None:
        return MISSING
    if low is None or high is None:
        return score(value)
    return f"{score(value)} [{score(low)}–{score(high)}]"


# ------------------------------------------------------------------------------------- data
def preview_rows(dataset: Any, limit: int) -> list[tuple[str, str]]:
    """(query, its first relevant document) for the first ``limit`` queries."""
    pairs = dataset.pairs
    n = min(limit, len(pairs.queries))
    wanted = {rel[0] for rel in pairs.relevant[:n] if rel}
    text = {d: t for d, t in zip(pairs.doc_ids, pairs.docs) if d in wanted}
    return [(q, text.get(rel[0], "") if rel else "") for q, rel in zip(pairs.queries[:n], pairs.relevant[:n])]


def columns_text(dataset: Any, summary: Any) -> str:
    """Which columns were read and how much: the data step's first panel (Rich markup)."""
    if getattr(dataset, "query_col", None):
        lines = [f"query: [b]{dataset.query_col}[/b]", f"document: [b]{dataset.doc_col}[/b]"]
    else:
        lines = [f"format: [b]{getattr(dataset, 'format', '?')}[/b]"]
    lines += [f"queries: {summary.queries:,}", f"documents: {summary.documents:,}"]
    if getattr(dataset, "corpus", None):
        lines.append(f"(with the corpus {shorten(dataset.corpus, 24)})")
    return "\n".join(lines)


def relevance_text(summary: Any) -> str:
    lines = [
        f"per query: mean {summary.relevant_per_query_mean:.2f}, max {summary.relevant_per_query_max:,}",
        f"relevant to some query: {summary.relevant_documents:,} of {summary.documents:,}",
    ]
    if summary.queries_with_negatives:
        lines.append(f"queries with hard negatives: {summary.queries_with_negatives:,}")
    if summary.duplicate_queries or summary.duplicate_documents:
        lines.append(f"duplicate texts: {summary.duplicate_queries:,} queries, {summary.duplicate_documents:,} docs")
    return "\n".join(lines)


def length_lines(summary: Any) -> list[str]:
    """'queries   p50 8  p90 12  max 30' in words, queries then documents."""
    lines = []
    for what, stats in (("queries", summary.query_words), ("documents", summary.doc_words)):
        parts = [f"{k} {fmt_num(float(getattr(stats, k)), 0)}" for k in ("p50", "p90", "max")]
        lines.append(f"{what:<9} " + "  ".join(parts))
    return ["(words)", *lines]


def dropped_text(summary: Any) -> str:
    values = summary.dropped.model_dump() if hasattr(summary.dropped, "model_dump") else vars(summary.dropped)
    lines = [
        f"{k.replace('_', ' ')}: {v:,}" for k, v in values.items() if isinstance(v, int) and v and k != "rows_read"
    ]
    lines += [f"⚠ {w}" for w in summary.warnings]
    return "\n".join(lines) or "nothing dropped"


# ------------------------------------------------------------------------------- benchmark
def curve_points(advice: Any) -> Curves:
    """(training queries, metric) per approach, as measured."""
    out: Curves = {}
    for name, meas in advice.bench.measurements.items():
        if meas.points:
            out[name] = sorted((p.n_train, p.value) for p in meas.points)
    return out


POINT_COLUMNS = ("approach", "n", "fold", "score ×100", "fit", "stopped")


def point_row(name: str, p: Any) -> Row:
    """A measured point of approach ``name`` (``POINT_COLUMNS``): approach, n, the held-out fold it was
    scored on, metric, fit time, how the fit ended."""
    return (name, f"{p.n_train:,}", str(getattr(p, "fold", 0)), score(p.value), fmt_seconds(p.fit_s), p.stopped)


def point_rows(advice: Any) -> list[Row]:
    """One row per measured point (``point_row``), or why an approach has none."""
    rows: list[Row] = []
    for name, meas in advice.bench.measurements.items():
        rows += [point_row(name, p) for p in meas.points]
        if not meas.points:
            note = shorten("; ".join(meas.notes) or "not measured", 60)
            rows.append((name, MISSING, MISSING, MISSING, MISSING, note))
    return rows


# -------------------------------------------------------------------------------- advice
FORECAST_COLUMNS = ("approach", "forecast [95 %]", "measured", "full run", "ms/query", "peak mem", "at n", "fit")


def forecast_rows(advice: Any) -> list[tuple[str, ...]]:
    """The forecasts table of the advice step, for a retrieval advice (``FORECAST_COLUMNS``)."""
    measurements = advice.bench.measurements
    choice = advice.recommendation.choice
    rows: list[tuple[str, ...]] = []
    for name in list(dict.fromkeys([*advice.forecasts, *measurements])):
        fc, meas = advice.forecasts.get(name), measurements.get(name)
        measured = _largest_mean(meas.points) if meas is not None else None
        forecast = MISSING
        if fc is not None and fc.value is not None:
            forecast = score_interval(fc.value, fc.low, fc.high) + (" ⚑" if fc.flagged else "")
        ms = getattr(fc, "infer_ms_per_text", None)
        rows.append(
            (
                f"▶ {name}" if name == choice else f"  {name}",
                forecast,
                score(measured),
                human_seconds(getattr(fc, "train_time_s", None), coarse=True, missing_text=MISSING),
                MISSING if ms is None else f"{ms:.1f}",
                fmt_bytes(getattr(fc, "peak_memory_bytes", None)),
                f"{fc.n_target:,}" if fc is not None else MISSING,
                str(getattr(fc, "method", MISSING)),
            )
        )
    return rows


def _largest_mean(pts: list[Any]) -> float | None:
    """The measured metric at the largest training size, averaged over the folds scored there."""
    if not pts:
        return None
    n = max(p.n_train for p in pts)
    values = [p.value for p in pts if p.n_train == n]
    return sum(values) / len(values)


def bench_note(advice: Any) -> str:
    """What the benchmark searched: its held-out queries and (smaller) collection."""
    b = advice.bench
    folds = 1 + bool(getattr(b, "fold1_queries", 0))
    held_out = b.test_queries + getattr(b, "fold1_queries", 0)
    return (
        f"{b.metric} ×100 on {held_out:,} held-out queries ({folds} fold{'s' if folds > 1 else ''}) over "
        f"{b.bench_docs:,} of {b.collection_docs:,} documents; forecast for a full run on "
        f"{advice.n_target:,} training queries"
    )


# ---------------------------------------------------------------------------- run, search
def manifest_text(manifest: Any, out_dir: str) -> str:
    """The finished run: its held-out scores (Rich-free plain text)."""
    m = manifest.rank_metrics
    shown = ", ".join(f"{k} {score(v)}" for k, v in m.metrics.items())
    return (
        f"{out_dir}\n{manifest.engine}: {shown} on {m.n:,} held-out queries "
        f"(trained on {manifest.split.n_train:,} queries)\n"
        f'Use it elsewhere: tune-or-embed search {out_dir} "…" -k 10'
    )


def hit_rows(hits: list[Any]) -> list[tuple[str, str, str, str]]:
    """(rank, score, document id, the start of its text) per hit."""
    return [
        (str(rank), f"{h.score:.3f}", shorten(h.doc_id, 24), shorten(getattr(h, "text", "") or "", SNIPPET))
        for rank, h in enumerate(hits, 1)
    ]


# ----------------------------------------------------------------------------- the texts
class RetrievalTexts:
    """The retrieval task's `TaskTexts` (mixed into `RetrievalFlow`); its benchmark's progress events
    carry no points: they come with the advice (training queries → the goals' metric)."""

    demos = RANK_DEMOS
    point_columns: Row = POINT_COLUMNS
    points_in_events = False
    forecast_columns: Row = FORECAST_COLUMNS

    data_form = DataForm(
        placeholders=(TASK.data_hint, *TASK.columns),
        extra_file="corpus",
        extra_label="corpus:",
        sections=("Columns", "Relevance", "Lengths"),
        preview=TASK.preview,
    )

    def data_ref(self, dataset: Any) -> str:
        return str(getattr(dataset, "source", None) or "")

    def data_panels(self, dataset: Any, summary: Any, *, test_rows: int | None, limit: int) -> DataPanels:
        return DataPanels(
            rows=[(shorten(query, 60), shorten(doc, 300)) for query, doc in preview_rows(dataset, limit)],
            columns=columns_text(dataset, summary),
            balance=relevance_text(summary),
            lengths="\n".join(length_lines(summary)),
            dropped=dropped_text(summary),
            hint="Looks right? Press [b]4[/b] to benchmark BM25, the frozen index and a contrastive fine-tune on it.",
        )

    def data_phrase(self, dataset: Any) -> str:
        return f"the pairs of {self.data_ref(dataset)}"

    def point_row(self, point: Any) -> Row:
        return point_row(point.approach, point)

    def advice_point_rows(self, advice: Any) -> list[Row]:
        return point_rows(advice)

    def curve_title(self, goals: Any) -> str:
        return f"{goals.metric} vs training queries"

    def curves(self, advice: Any, points: list[Any]) -> Curves:
        return {} if advice is None else curve_points(advice)

    def forecast_rows(self, advice: Any) -> list[Row]:
        return forecast_rows(advice)

    def advice_notes(self, advice: Any) -> list[str]:
        return [bench_note(advice)]

    def artifact_text(self, manifest: Any, run_dir: str | None) -> str:
        return manifest_text(manifest, run_dir or "")
