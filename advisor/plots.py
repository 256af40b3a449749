"""The report's pictures: one approach's learning curve and forecast, and every approach on one plot
(PNG, matplotlib's Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.common.capabilities import label
from advisor.common.output import percent
from engines.atomic import write_with


def plot_curve(advice: Any, approach: str, path: Path) -> None:
    """One PNG: measured points (each seed), the fitted curve, the forecast point and its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = advice.forecasts[approach]
    m = advice.bench.measurements[approach]
    metric = f.metric
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        pts = [p for p in m.points if p.usable]
        if pts:
            ax.scatter(
                [p.n_train for p in pts],
                [getattr(p, metric) for p in pts],
                s=18,
                alpha=0.6,
                label="measured (each seed)",
            )
        if f.curve:
            ax.plot([c[0] for c in f.curve], [c[1] for c in f.curve], "-", label=f"fit: {f.method}")
        if f.value is not None:
            ax.errorbar(
                [f.n_target],
                [f.value],
                yerr=[[f.value - (f.low or f.value)], [(f.high or f.value) - f.value]],
                fmt="o",
                color="crimson",
                capsize=4,
                label=f"forecast at {f.n_target:,}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("labelled training examples")
        ax.set_ylabel(metric)
        ax.set_title(label(approach) + (" (flagged)" if f.flagged else ""))
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


def plot_all(advice: Any, path: Path) -> None:
    """One PNG with every approach: measured points (mean per size), the forecast curve, the
    forecast with its interval at the target, and the target size marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        metric = advice.goals.metric
        for i, (name, f) in enumerate(advice.forecasts.items()):
            color = f"C{i}"
            m = advice.bench.measurements.get(name)
            sizes = sorted({p.n_train for p in (m.points if m else []) if p.usable})
            means = [
                sum(getattr(p, metric) for p in m.points if p.usable and p.n_train == n)
                / sum(1 for p in m.points if p.usable and p.n_train == n)
                for n in sizes
            ]
            shown = label(name)
            if sizes:
                ax.plot(sizes, means, "o", color=color, alpha=0.7, label=f"{shown}: measured")
            if f.curve:
                ax.plot([c[0] for c in f.curve], [c[1] for c in f.curve], "-", color=color, alpha=0.8)
            if f.value is not None:
                ax.errorbar(
                    [f.n_target * (1 + 0.02 * i)],
                    [f.value],
                    fmt="s",
                    color=color,
                    capsize=5,
                    yerr=[[f.value - (f.low or f.value)], [(f.high or f.value) - f.value]],
                    label=f"{shown}: forecast {percent(f.value)}",
                )
        ax.axvline(advice.n_target, color="grey", linestyle=":", label=f"your labels: {advice.n_target:,}")
        ax.set_xscale("log")
        ax.set_xlabel("labelled training examples")
        ax.set_ylabel(metric)
        ax.set_title(f"Learning curves and forecasts at {advice.n_target:,} labels")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
