"""Small helpers the commands share: JSON of a pydantic model, aligned tables, and the one home
of every number formatter (durations, sizes, percentages, intervals) that reports and screens use."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from pydantic import BaseModel


def to_json(obj: BaseModel | Any) -> str:
    """Indented JSON of a pydantic model (or of plain data)."""
    if isinstance(obj, BaseModel):
        return obj.model_dump_json(indent=2)
    return json.dumps(obj, indent=2, default=str)


def print_json(obj: BaseModel | Any, file: TextIO | None = None) -> None:
    """Print ``obj`` as JSON on stdout (or ``file``)."""
    print(to_json(obj), file=file or sys.stdout)


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None, align: str | None = None) -> str:
    """Rows as an aligned plain-text table. ``align`` holds one 'l' or 'r' per column
    (default: numbers right, text left)."""
    cells = [[_cell(v) for v in row] for row in rows]
    head = [str(h) for h in headers] if headers else None
    width = max((len(r) for r in cells + ([head] if head else [])), default=0)
    if align is None:
        align = "".join(
            "r"
            if cells
            and all(_is_number(r[i]) for r in rows if i < len(r) and r[i] not in (None, ""))
            and any(i < len(r) and r[i] not in (None, "") for r in rows)
            else "l"
            for i in range(width)
        )
    all_rows = ([head] if head else []) + cells
    widths = [max((len(r[i]) for r in all_rows if i < len(r)), default=0) for i in range(width)]

    def line(row: list[str]) -> str:
        parts = []
        for i in range(width):
            text = row[i] if i < len(row) else ""
            parts.append(text.rjust(widths[i]) if align[i : i + 1] == "r" else text.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = []
    if head:
        out.append(line(head))
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in cells]
    return "\n".join(out)


def print_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str] | None = None,
    align: str | None = None,
    file: TextIO | None = None,
) -> None:
    print(format_table(rows, headers, align), file=file or sys.stdout)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def missing(x: Any) -> bool:
    """None, NaN or infinite: a value a formatter prints as its ``missing`` text."""
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def human_bytes(n: int | float | None, missing_text: str = "?") -> str:
    """Binary units: 1536 → '1.5 KiB'; None → '?' (or ``missing_text``)."""
    if missing(n):
        return missing_text
    value = float(n)  # type: ignore[arg-type]
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover


def gigabytes(b: float | None, missing_text: str = "n/a") -> str:
    """Decimal gigabytes, as the reports print memory: 2.3e9 → '2.3 GB'."""
    return missing_text if missing(b) else f"{b / 1e9:.1f} GB"  # type: ignore[operator]


def human_seconds(s: float | None, coarse: bool = False, missing_text: str = "n/a") -> str:
    """Durations a person reads. Fine (fixed two units, for columns): 4.2 s, 42 s, 2 min 0 s,
    2 h 1 min. ``coarse`` (one unit, for forecasts): 42 s, then minutes from 90 s (3 min), then
    hours from 90 min (1.5 h). None, NaN and infinities print ``missing_text``."""
    if missing(s):
        return missing_text
    s = float(s)  # type: ignore[arg-type]
    if coarse:
        if s < 90:
            return f"{s:.0f} s"
        if s < 5400:
            return f"{s / 60:.0f} min"
        return f"{s / 3600:.1f} h"
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int((s % 3600) // 60)} min"


def percent(x: float | None, digits: int = 1, missing_text: str = "n/a") -> str:
    """0.7634 → '76.3 %'."""
    return missing_text if missing(x) else f"{100 * x:.{digits}f} %"  # type: ignore[operator]


def interval(
    value: float | None, low: float | None, high: float | None, *, compact: bool = False, missing_text: str = "n/a"
) -> str:
    """A metric with its interval: '76.3 % [72.1 %–80.0 %]'; ``compact``: '76.3 % [72.1–80.0]'
    (just the value when an end is missing)."""
    if missing(value):
        return missing_text
    if not compact:
        return f"{percent(value)} [{percent(low)}–{percent(high)}]"
    if missing(low) or missing(high):
        return percent(value)
    return f"{percent(value)} [{100 * low:.1f}–{100 * high:.1f}]"  # type: ignore[operator]


def number(x: float | None, digits: int = 1, missing_text: str = "n/a") -> str:
    """1234.5 → '1,234.5'."""
    return missing_text if x is None else f"{x:,.{digits}f}"


def format_pairs_summary(s: Any) -> str:
    """Text for ``inspect`` of retrieval data (an ``advisor.data.pairs_summary.PairsSummary``)."""
    lines = [
        f"retrieval data {s.source} ({s.format}, fingerprint {s.fingerprint})",
        f"queries: {s.queries:,} ({s.duplicate_queries:,} duplicate text(s); {s.dropped_queries:,} dropped "
        "without a relevant document)",
        f"collection: {s.documents:,} documents, {s.relevant_documents:,} relevant to some query "
        f"({s.duplicate_documents:,} duplicate text(s))",
        f"relevant documents per query: mean {s.relevant_per_query_mean:.2f}, max {s.relevant_per_query_max:,}"
        + (f"; {s.queries_with_negatives:,} queries with hard negatives" if s.queries_with_negatives else ""),
        "",
    ]
    stats = [("queries", s.query_words), ("documents", s.doc_words)]
    stats += [("queries", s.query_tokens), ("documents", s.doc_tokens)] if s.query_tokens else []
    rows = [[what, st.unit, st.mean, st.p50, st.p90, st.p99, st.max] for what, st in stats]
    lines.append(format_table(rows, ["length", "unit", "mean", "p50", "p90", "p99", "max"]))
    if s.max_tokens is not None and s.share_queries_over is not None:
        lines += [
            "",
            f"longer than {s.max_tokens:,} tokens (truncated): queries {percent(s.share_queries_over)}, "
            f"documents {percent(s.share_docs_over)} (of {s.tokens_measured_on:,} texts measured)",
        ]
    lines += [f"warning: {w}" for w in s.warnings]
    return "\n".join(lines)
