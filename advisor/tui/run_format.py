"""The Run step's text (no Textual): the plan line, progress and ETA, the artifact, a prediction,
the finished runs and their comparison."""

from __future__ import annotations

from typing import Any

from advisor.tui.format import fmt_interval, fmt_pct, fmt_seconds, shorten


def eta_seconds(done: int, total: int | None, started_at: float, done_at_start: int, now: float) -> float | None:
    """Seconds left in a phase at the rate seen since it started (None when unknown)."""
    if not total or done <= done_at_start or now <= started_at:
        return None
    rate = (done - done_at_start) / (now - started_at)
    return max(0.0, (total - done) / rate)


class PhaseClock:
    """When the run's current phase began and how far it was then: the ETA's rate is since then."""

    def __init__(self) -> None:
        self._phase: tuple[str, float, int] | None = None

    def reset(self) -> None:
        """A new run starts: its first event opens a phase."""
        self._phase = None

    def status(self, event: Any, at: float) -> str:
        """The status line for a progress event received at ``at`` (``time.monotonic``)."""
        if self._phase is None or self._phase[0] != event.phase:
            self._phase = (event.phase, at, event.done)
        _, started, done0 = self._phase
        eta = eta_seconds(event.done, event.total, started, done0, at)
        count = f"{event.done:,}/{event.total:,}" if event.total else f"{event.done:,}"
        parts = [
            f"{event.phase} {count} {event.unit}",
            f"{fmt_seconds(eta)} left" if eta is not None else "",
            event.message,
        ]
        return " · ".join(p for p in parts if p)


def plan_text(engine: str | None, recommendation: Any) -> str:
    """What a run of ``engine`` (None: none picked) will do, given the advice's recommendation."""
    rec = getattr(recommendation, "choice", None)
    if engine is None:
        text = "Pick an engine."
    elif rec is None:
        text = f"No advice yet: {engine} will train with the profile's settings (or benchmark first, step 4)."
    elif engine == rec:
        text = f"{engine} is the recommended approach; the run uses the advice's plan (same split and settings)."
    else:
        text = f"{engine} was not recommended ({rec} was); the run uses the same data and split."
    runner_up = getattr(recommendation, "runner_up", None)
    if getattr(recommendation, "too_close", False) and runner_up:
        text += (
            f"\nThe advice is too close to call between {rec} and {runner_up}: run both, then compare them here (c)."
        )
    return text


def artifact_text(manifest: Any, run_dir: str | None) -> str:
    """A finished classification run: where, its held-out scores and training time, how to use it."""
    metrics = manifest.metrics
    n = getattr(metrics, "n", None)
    held_out = f"on {n:,} held-out rows" if n else "held-out"
    wall = getattr(getattr(manifest, "fit", None), "wall_s", None)
    return (
        f"{run_dir}\n{manifest.engine}: accuracy {fmt_pct(metrics.accuracy)}, "
        f"macro-F1 {fmt_pct(metrics.macro_f1)} {held_out}; trained in {fmt_seconds(wall)}\n"
        f'Use it elsewhere: tune-or-embed predict {run_dir} --text "…"'
    )


def prediction_text(query: str, pred: Any) -> str:
    """One text's predicted label and its top five class scores."""
    scores = dict(zip(pred.classes, pred.scores[0])) if pred.scores else {}
    top = sorted(scores.items(), key=lambda kv: -kv[1])[:5]
    detail = "  ".join(f"{k} {v:.2f}" for k, v in top)
    return f"“{shorten(query, 50)}” → {pred.labels[0]}    {detail}"


def hit_row(hit: Any) -> tuple[str, str, str]:
    """A search hit as the hits table's row: score, label, text."""
    return f"{hit.score:.3f}", shorten(hit.label, 14), shorten(hit.text, 200)


def runs_done_text(done: list[str]) -> str:
    """The runs finished in this session, and whether they can be compared yet."""
    if not done:
        return "No runs finished yet. After two or more (same data), compare them here."
    listed = "Finished here: " + ", ".join(done)
    if len(done) < 2:
        listed += " (run another engine to compare)"
    return listed


def comparison_columns(comparison: Any) -> tuple[str, ...]:
    """The compare table's header: the metric compared is the third column."""
    return ("run", "approach", comparison.metric, "training", "latency (batch 1)")


def comparison_rows(comparison: Any) -> list[tuple[str, str, str, str, str]]:
    """One compare-table row per run: its name, approach, metric (95 % interval), training, latency."""
    from advisor.common.capabilities import label

    return [
        (
            shorten(r.name, 30),
            label(r.engine),
            fmt_interval(r.value, r.low, r.high),
            fmt_seconds(r.train_s),
            "–" if r.ms_b1 is None else f"{r.ms_b1:.2f} ms",
        )
        for r in comparison.runs
    ]


def comparison_text(comparison: Any) -> str:
    """The comparison's heading (metric, shared rows) and its verdict lines."""
    from advisor.decide.compare import verdict_lines

    c = comparison
    head = f"{c.metric} on the same {c.rows:,} held-out rows (95 % intervals over those rows)"
    return "\n".join([head, *verdict_lines(c)])
