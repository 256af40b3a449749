"""Human outputs of an Advice: the terminal summary (plain-text tables) and a Markdown report
whose first picture puts every approach's learning curve on one plot, with one plot per approach
after it (the pictures: ``advisor.plots``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from advisor.common.capabilities import label
from advisor.common.output import gigabytes, human_seconds, interval, percent
from advisor.decide.scaleout import scale_out_lines
from advisor.plots import plot_all, plot_curve
from engines.atomic import write_text

# The columns of the measured-approaches table, in the terminal summary and the Markdown report.
MEASURE_HEADERS = [
    "approach",
    "points",
    "n",
    "accuracy",
    "macro-F1",
    "train ex/s",
    "infer texts/s",
    "ms/text b1",
    "ms/text batch",
    "peak mem",
]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _measure_rows(advice: Any) -> list[list[str]]:
    rows = []
    for name, m in advice.bench.measurements.items():
        usable = [p for p in m.points if p.usable]
        acc = interval(m.accuracy, m.ci_low, m.ci_high)
        f1 = percent(m.macro_f1)
        big = next((v for k, v in m.latency_ms.items() if k.startswith("p50_b") and k != "p50_b1"), None)
        rows.append(
            [
                label(name),
                f"{len(usable)}/{len(m.points)}",
                str(m.n_max or "-"),
                acc,
                f1,
                f"{m.train_examples_per_s:.1f}" if m.train_examples_per_s else "-",
                f"{m.infer_texts_per_s:.0f}" if m.infer_texts_per_s else "-",
                _ms(m.latency_ms.get("p50_b1")),
                _ms(big),
                gigabytes(m.peak_gpu_bytes or m.peak_rss_bytes),
            ]
        )
    return rows


def _forecast_rows(advice: Any) -> list[list[str]]:
    rows = []
    for name, f in advice.forecasts.items():
        val = interval(f.value, f.low, f.high, missing_text="not measured")
        rows.append(
            [
                label(name),
                val,
                f.method + (" ⚑" if f.flagged else ""),
                f"{f.extrapolation_factor:.1f}×" if f.extrapolation_factor else "-",
                f"~{human_seconds(f.train_time_s, coarse=True)}" if f.train_time_s else "n/a",
                gigabytes(f.peak_memory_bytes),
                _ms(f.infer_ms_per_text),
            ]
        )
    return rows


def _crossfit_lines(advice: Any) -> list[str]:
    """The cross-fits, when the benchmark ran any: each approach's out-of-fold score on every
    cross-fit row (each fold scored by a model trained on the others), what the forecasts start from."""
    fits = getattr(advice.bench, "crossfits", None) or {}
    if not fits:
        return []
    one = next(iter(fits.values()))
    rows = [
        [
            label(n),
            f"{f.folds}",
            f"{f.n_train:,}",
            percent(f.accuracy),
            percent(f.macro_f1),
            " + ".join(f"{s:.0f}s" for s in f.fit_s),
        ]
        for n, f in fits.items()
    ]
    return [
        "",
        f"Cross-validated on all {one.rows:,} labelled rows (every row scored by a model that never saw it):",
        *_table(["approach", "folds", "labels a fit", "accuracy", "macro-F1", "fits"], rows),
    ]


def notes(advice: Any) -> list[str]:
    """The benchmark's notes, each once: notes that differ only in a chosen value (the head's C,
    fit by fit) become one line listing the values."""
    raw = list(advice.bench.notes) + [f"{label(n)}: {x}" for n, m in advice.bench.measurements.items() for x in m.notes]
    out: list[str] = []
    values: dict[str, list[str]] = {}
    for line in raw:
        m = re.match(r"^(.*?)\bC=([0-9.e+-]+) chosen (.*)$", line)
        if m:
            key = f"{m.group(1)}C chosen {m.group(3)}"
            if key not in values:
                values[key] = []
                out.append(key)
            if m.group(2) not in values[key]:
                values[key].append(m.group(2))
        elif line not in out:
            out.append(line)
    return [f"{line}: C = {', '.join(values[line])}" if line in values else line for line in out]


def _eval_note(advice: Any) -> str:
    rows = next((f.eval_rows for f in advice.forecasts.values() if f.eval_rows), None)
    return f", interval = what the full run will report on its {rows:,} test rows" if rows else ""


def recommendation_lines(rec: Any, left_out: dict[str, str] | None = None) -> list[str]:
    """The call, its reasons, what was ruled or left out and what would change it (any task)."""
    out = ["", f"Recommendation: {rec.label}  (confidence: {rec.confidence})"]
    out += [f"  - {r.text}" for r in rec.reasons]
    if rec.settle:
        out.append(f"  ! {rec.settle}")
    if rec.ruled_out:
        out.append("Ruled out:")
        out += [f"  - {r.reason}" for r in rec.ruled_out]
    if left_out:
        out.append("Left out of the benchmark:")
        out += [f"  - {why}" for why in left_out.values()]
    if rec.flips:
        out.append("What would change it:")
        out += [f"  - {line}" for line in rec.flips]
    return out


def render_summary(advice: Any) -> str:
    """The readable summary for the terminal."""
    rec = advice.recommendation
    b = advice.bench
    out = [
        (
            f"Data: {advice.data.ref} — {advice.data.total_rows:,} rows, {len(advice.data.classes)} classes; "
            f"forecast for a full run on {advice.n_target:,} labelled examples"
        ),
        *(f"warning: {w}" for w in advice.data.warnings),
        (
            f"Benchmarks: budget {advice.budget} ({advice.budget_s:.0f}s), spent {b.spent_s:.0f}s; sample "
            f"{b.sample_size:,} rows, test part {b.test_size:,} (never trained on), pool {b.pool_size:,}; "
            f"profile {advice.profile}" + ("  [CANCELLED: partial results]" if advice.cancelled else "")
        ),
        "",
        "Measured (largest size, mean over seeds, 95 % bootstrap interval over test rows):",
        *_table(
            MEASURE_HEADERS,
            _measure_rows(advice),
        ),
        *_crossfit_lines(advice),
        "",
        f"Forecast at {advice.n_target:,} labels ({advice.goals.metric}{_eval_note(advice)}; ⚑ = flagged):",
        *_table(
            ["approach", advice.goals.metric, "fit", "extrap.", "train time", "memory", "ms/text"],
            _forecast_rows(advice),
        ),
    ]
    flags = [(label(n), f.flag_reason) for n, f in advice.forecasts.items() if f.flagged and f.flag_reason]
    for shown, why in flags:
        out.append(f"  ⚑ {shown}: {why}")
    hw = [(n, h) for n, f in advice.forecasts.items() for h in f.hardware]
    if hw:
        out += ["", f"What-if on {hw[0][1].label}:"]
        out += _table(
            ["approach", "train time", "ms/text b1", "memory", "fits", "train cost", "serving/day"],
            [
                [
                    label(n),
                    f"~{human_seconds(h.train_time_s, coarse=True)}",
                    _ms(h.infer_ms_per_text),
                    gigabytes(h.peak_memory_bytes),
                    "yes" if h.fits else "NO",
                    f"{h.train_cost:.3g}",
                    f"{h.serving_cost_per_day:.3g}",
                ]
                for n, h in hw
            ],
        )
        out.append(f"  assumptions: {'; '.join(hw[0][1].assumptions)}; ${hw[0][1].price_per_hour:g}/h (indicative)")
    out += recommendation_lines(rec, b.left_out)
    if getattr(advice, "scale_out", None) is not None:
        out += ["", *scale_out_lines(advice.scale_out)]
    said = notes(advice)
    if said:
        out.append("Notes:")
        out += [f"  - {x}" for x in said]
    return "\n".join(out) + "\n"


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows),
    ]


def write_report(advice: Any, path: str | Path) -> Path:
    """Markdown report at ``path`` with a PNG per approach beside it (``<stem>-<approach>.png``)."""
    path = Path(path)
    rec = advice.recommendation
    lines = [
        f"# tune-or-embed advice: {rec.label}",
        "",
        (
            f"*{advice.created_at} · tune-or-embed {advice.tool_version} · profile `{advice.profile}` · "
            f"budget {advice.budget} ({advice.budget_s:.0f}s, spent {advice.bench.spent_s:.0f}s)*"
        ),
        "",
        (
            f"Data `{advice.data.ref}` ({advice.data.total_rows:,} rows, {len(advice.data.classes)} classes, "
            f"fingerprint `{advice.data.fingerprint}`). Forecast target: a full run on **{advice.n_target:,}** "
            f"labelled examples; test part of the benchmark: {advice.bench.test_size:,} rows no engine trained on."
        ),
        "",
        *(f"> **Warning**: {w}\n" for w in advice.data.warnings),
    ]
    if advice.cancelled:
        lines += ["> **Cancelled**: these results are what was measured before the interruption.", ""]
    lines += [f"## Recommendation: {rec.label} (confidence {rec.confidence})", ""]
    if advice.forecasts:
        overview = path.with_name(f"{path.stem}-curves.png")
        plot_all(advice, overview)
        lines += [f"![Every approach's learning curve and forecast]({overview.name})", ""]
    lines += [f"- {r.text}" for r in rec.reasons]
    if rec.settle:
        lines += ["", f"**{rec.settle}**"]
    if rec.ruled_out:
        lines += ["", "### Ruled out", *[f"- {r.reason}" for r in rec.ruled_out]]
    if advice.bench.left_out:
        lines += ["", "### Left out of the benchmark", *[f"- {why}" for why in advice.bench.left_out.values()]]
    if rec.flips:
        lines += ["", "### What would change it", *[f"- {x}" for x in rec.flips]]
    said = notes(advice)
    if said:
        lines += ["", "### Notes", *[f"- {x}" for x in said]]
    lines += [
        "",
        "## Measured",
        *_md_table(
            MEASURE_HEADERS,
            _measure_rows(advice),
        ),
    ]
    lines += [
        "",
        f"## Forecast at {advice.n_target:,} labels",
        "",
        f"{advice.goals.metric.capitalize()}{_eval_note(advice)}.",
        "",
        *_md_table(
            ["approach", advice.goals.metric, "fit", "extrap.", "train time", "memory", "ms/text"],
            _forecast_rows(advice),
        ),
    ]
    for name, f in advice.forecasts.items():
        if f.flag_reason:
            lines.append(f"- {label(name)}: {f.flag_reason}")
        for a in f.assumptions:
            lines.append(f"- {label(name)}: {a}")
    for name, f in advice.forecasts.items():
        for h in f.hardware:
            lines.append(
                f"- What-if {h.label}, {label(name)}: ~{human_seconds(h.train_time_s, coarse=True)} training, "
                f"{gigabytes(h.peak_memory_bytes)} ({'fits' if h.fits else 'does NOT fit'}), "
                f"cost {h.train_cost:.3g}; assumptions: {'; '.join(h.assumptions)}"
            )
    if getattr(advice, "scale_out", None) is not None:
        lines += ["", "## On more workers", "", "```", *scale_out_lines(advice.scale_out), "```"]
    lines += ["", "## Learning curves", ""]
    for name in advice.forecasts:
        if not advice.bench.measurements[name].points:
            continue
        png = path.with_name(f"{path.stem}-{name}.png")
        plot_curve(advice, name, png)
        lines += [f"![{label(name)}]({png.name})", ""]
    if advice.plan is not None:
        lines += [
            "## Run it",
            "",
            "```",
            "tune-or-embed run plan.json",
            "```",
            "",
            "```json",
            advice.plan.run.model_dump_json(indent=2),
            "```",
        ]
    write_text(path, "\n".join(lines) + "\n")
    return path
