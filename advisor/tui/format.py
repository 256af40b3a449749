"""Small text formatters shared by the screens (no Textual here)."""

from __future__ import annotations

import math

from advisor.output import human_bytes


def fmt_bytes(n: float | None) -> str:
    """Human size in binary units: 1.5 GiB ('–' when unknown)."""
    return "–" if n is None else human_bytes(n)


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """0.7634 → '76.3 %'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.{digits}f} %"


def fmt_interval(value: float | None, low: float | None, high: float | None) -> str:
    """'76.3 % [72.1–80.0]'."""
    if value is None:
        return "–"
    if low is None or high is None:
        return fmt_pct(value)
    return f"{fmt_pct(value)} [{100 * low:.1f}–{100 * high:.1f}]"


def fmt_seconds(s: float | None) -> str:
    """Durations a person reads: 42 s, 3 min 5 s, 1 h 12 min."""
    if s is None or (isinstance(s, float) and (math.isnan(s) or math.isinf(s))):
        return "–"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int((s % 3600) // 60)} min"


def fmt_num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def bar(fraction: float | None, width: int = 20) -> str:
    """A text bar: '██████░░░░'."""
    if fraction is None:
        return "░" * width
    fraction = min(1.0, max(0.0, float(fraction)))
    full = round(fraction * width)
    return "█" * full + "░" * (width - full)


def shorten(text: str, width: int) -> str:
    """One line, at most ``width`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
