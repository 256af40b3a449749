"""Small helpers the commands share: JSON of a pydantic model, aligned tables, human sizes."""

from __future__ import annotations

import json
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


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None,
                 align: str | None = None) -> str:
    """Rows as an aligned plain-text table. ``align`` holds one 'l' or 'r' per column
    (default: numbers right, text left)."""
    cells = [[_cell(v) for v in row] for row in rows]
    head = [str(h) for h in headers] if headers else None
    width = max((len(r) for r in cells + ([head] if head else [])), default=0)
    if align is None:
        align = "".join(
            "r" if cells and all(_is_number(r[i]) for r in rows if i < len(r) and r[i] not in (None, ""))
            and any(i < len(r) and r[i] not in (None, "") for r in rows) else "l"
            for i in range(width)
        )
    all_rows = ([head] if head else []) + cells
    widths = [max((len(r[i]) for r in all_rows if i < len(r)), default=0) for i in range(width)]

    def line(row: list[str]) -> str:
        parts = []
        for i in range(width):
            text = row[i] if i < len(row) else ""
            parts.append(text.rjust(widths[i]) if align[i:i + 1] == "r" else text.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = []
    if head:
        out.append(line(head))
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in cells]
    return "\n".join(out)


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None,
                align: str | None = None, file: TextIO | None = None) -> None:
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


def human_bytes(n: int | float | None) -> str:
    """1536 → '1.5 KiB'; None → '?'."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover


def human_seconds(s: float | None) -> str:
    """42.0 → '42 s', 125 → '2 min 5 s', 7300 → '2 h 1 min'."""
    if s is None:
        return "?"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec} s" if sec else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if m else f"{h} h"
