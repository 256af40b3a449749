"""Small text formatters shared by the screens (no Textual here)."""

from __future__ import annotations

from advisor.common.output import human_bytes, human_seconds, interval, number, percent

# Thin names for the screens: every formatter lives in ``advisor.common.output``; here only the
# screens' "unknown" mark ("–") is chosen.
MISSING = "–"


def fmt_bytes(n: float | None) -> str:
    """Human size in binary units: 1.5 GiB ('–' when unknown)."""
    return human_bytes(n, missing_text=MISSING)


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """0.7634 → '76.3 %'."""
    return percent(x, digits, missing_text=MISSING)


def fmt_interval(value: float | None, low: float | None, high: float | None) -> str:
    """'76.3 % [72.1–80.0]'."""
    return interval(value, low, high, compact=True, missing_text=MISSING)


def fmt_seconds(s: float | None) -> str:
    """Durations a person reads: 42 s, 3 min 5 s, 1 h 12 min."""
    return human_seconds(s, missing_text=MISSING)


def fmt_num(x: float | None, digits: int = 1) -> str:
    """1234.5 → '1,234.5'."""
    return number(x, digits, missing_text=MISSING)


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
