"""The calibration's Markdown: the tables of a results document, and the machine they ran on."""

from __future__ import annotations

import platform
from collections import Counter
from itertools import groupby
from pathlib import Path

from calibration_judge import outlook_checks, summarise
from calibration_tasks import TASKS


def _fmt(x, spec="{:.1f}", none="–"):
    return none if x is None else spec.format(x)


SUMMARY_HEADER = (
    "| budget | tasks | choice within 1 pt of the best full run | decision = best actual | calls made | "
    "right where it called | high/medium calls right | accuracy-only agrees | macro-F1-only agrees | forecasts | "
    "mean / max abs error (pts) | actual inside interval | time within ±25 % | mean advise s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
)


def _summary_line(budget: str, s: dict) -> str:
    pct = lambda v: _fmt(v, "{:.0%}")  # noqa: E731
    return (
        f"| {budget} | {s['tasks']} | {pct(s.get('within_1pt_of_best'))} | {pct(s['decision_agreement_all'])} | "
        f"{s['calls_made']} | {pct(s['decision_agreement_calls'])} | "
        f"{_confident(s)} | "
        f"{pct(s['decision_agreement_accuracy_only'])} | {pct(s.get('decision_agreement_macro_f1'))} | "
        f"{s['forecasts']} | {_fmt(s['mean_abs_error_points'])} / {_fmt(s['max_abs_error_points'])} | "
        f"{pct(s['coverage'])} | {pct(s['time_within_25pct'])} | {_fmt(s['mean_advise_s'], '{:.0f}')} |"
    )


def _confident(s: dict) -> str:
    """High/medium calls right, the ties among them named: a tie is a call the full runs themselves
    could not tell from the best (``compare`` on them calls the two too close)."""
    right, n, tied = s.get("confident_calls_right"), s.get("confident_calls"), s.get("confident_calls_tied")
    if right is None or n is None:
        return "–"
    right_or_tied = right + (tied or 0)
    return f"{right_or_tied} of {n}" + (f" ({tied} a tie in the full runs)" if tied else "")


def publish(doc: dict, out_json: Path, out_md: Path) -> str:
    """Summarise ``doc``'s rows, write it (JSON) and its tables (Markdown); returns the Markdown."""
    from engines.atomic import write_json, write_text

    doc["summary"] = summarise(doc["rows"]) if doc["rows"] else {}
    md = render_markdown(doc)
    write_json(out_json, doc)
    write_text(out_md, md)
    return md


def _code_line(doc: dict) -> str:
    """Which commits each budget's rows come from, with counts."""
    parts = []
    for budget in doc["summary"]:
        counts = Counter((r.get("commit"), r.get("forecast_commit")) for r in doc["rows"] if r["budget"] == budget)
        parts.append(
            f"{budget}: "
            + ", ".join(
                f"{c or 'not recorded (before rows kept their commit)'}"
                f"{f' (forecasts re-made at {fc} from its saved benchmarks)' if fc else ''} ({n})"
                for (c, fc), n in sorted(counts.items(), key=lambda kv: str(kv[0]))
            )
        )
    return "Code the rows come from: " + "; ".join(parts) + "."


def _commands(commands: list[str]) -> str:
    """The commands in order, a run of one command (a sitting resumed) named once with its count."""
    runs = [(c, len(list(same))) for c, same in groupby(commands)]
    return "; ".join(f"`{c}`" + (f" ({n} times: resumed)" if n > 1 else "") for c, n in runs)


def render_markdown(doc: dict) -> str:
    lines = [
        "# Calibration: advise's forecasts against real full runs",
        "",
        f"Machine: {doc['machine']}. Profile: `{doc['profile']}`. "
        f"Commands: {_commands(doc.get('commands', [doc['command']]))}.",
        f"Started {doc['started']}; {len(doc['rows'])} (task, budget) rows.",
        "",
        _code_line(doc),
        "",
        "## Summary per budget",
        "",
        *SUMMARY_HEADER,
    ]
    lines += [_summary_line(budget, s) for budget, s in doc["summary"].items()]
    held = {t for t, task in TASKS.items() if task.held_out}
    held_rows = [r for r in doc["rows"] if r["task"] in held]
    if held_rows:
        lines += [
            "",
            f"Held-out data only ({', '.join(sorted({r['task'] for r in held_rows}))}): data nobody looked at "
            "while the forecaster was built, added once it was settled (what changed after their first run, "
            "and why, is in docs/CALIBRATION.md); their rows are in the table above too.",
            "",
            *SUMMARY_HEADER,
            *[_summary_line(budget, s) for budget, s in summarise(held_rows).items()],
        ]
    lines += [
        "",
        "## Are the intervals the right width?",
        "",
        "Each error in units of its interval's half-width on the actual's side, ×1.96: a 95 % interval "
        "of the right width gives an RMS of about 1; below 1 the intervals are wider than the errors need, "
        "above 1 narrower. Differences: for each pair of approaches, the forecast lead against the paired "
        "95 % band that the decision uses (the actual lead inside it?). The actual lead has its own "
        "noise from the test rows, which that band leaves out (it compares approaches on the same benchmark rows).",
        "",
        "| budget | forecasts | RMS standardised error | differences | actual lead inside its band | RMS standardised error of the lead |",
        "|---|---|---|---|---|---|",
    ]
    for budget, s in doc["summary"].items():
        lines.append(
            f"| {budget} | {s['forecasts']} | {_fmt(s.get('rms_z'), '{:.2f}')} | {s.get('differences', 0)} | "
            f"{_fmt(s.get('difference_coverage'), '{:.0%}')} | {_fmt(s.get('difference_rms_z'), '{:.2f}')} |"
        )
    lines += [
        "",
        "## Per task and approach",
        "",
        "| task | budget | approach | forecast % [interval] | actual % | error pts | inside | method | forecast / actual train time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        for eng, e in r["engines"].items():
            if "forecast" in e:
                interval = f"{100 * e['forecast']:.1f} [{_fmt(e['low'] and 100 * e['low'])}, {_fmt(e['high'] and 100 * e['high'])}]"
                lines.append(
                    f"| {r['task']} | {r['budget']} | {eng} | {interval} | {100 * e['actual']:.1f} | "
                    f"{e['error_points']:+.1f} | {'yes' if e['inside'] else 'no'} | {e['method']}{' (flagged)' if e['flagged'] else ''} | "
                    f"{_fmt(e['forecast_train_s'], '{:.0f}')} s / {e['actual_train_s']:.0f} s ({_fmt(e['time_ratio'], '{:.2f}')}) |"
                )
            else:
                lines.append(f"| {r['task']} | {r['budget']} | {eng} | no forecast | {100 * e['actual']:.1f} | | | | |")
    lines += [
        "",
        "## Cost of advice",
        "",
        "| task | budget | advise wall s | transformer full runs wall s | advise / full runs |",
        "|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lines.append(
            f"| {r['task']} | {r['budget']} | {r['advise_s']:.0f} | "
            f"{_fmt(r.get('transformer_full_runs_s'), '{:.0f}')} | {_fmt(r.get('advise_over_full_runs'), '{:.1%}')} |"
        )
    lines += [
        "",
        "## Decisions",
        "",
        "| task | budget | recommended (default goals) | confidence | too close? | best actual (default goals) | agrees | "
        "accuracy-only choice | most accurate | agrees | macro-F1-only choice | best macro-F1 | agrees | left out |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    yn = {True: "yes", False: "no", None: "–"}
    for r in doc["rows"]:
        d, a, m = r["decision_default"], r["decision_accuracy_only"], r.get("decision_macro_f1") or {}
        lines.append(
            f"| {r['task']} | {r['budget']} | {r['choice']} | {r.get('confidence', '–')} | {yn[r['too_close']]} | "
            f"{d['best']} | {'tie' if d.get('tie') else yn[d['agrees']]} | {r['choice_accuracy_only']} | {a['best']} | {yn[a['agrees']]} | "
            f"{r.get('choice_macro_f1', '–')} | {m.get('best', '–')} | {yn[m.get('agrees')]} | "
            f"{', '.join(r.get('left_out') or {}) or '–'} |"
        )
    lines += [
        "",
        'Default goals: the "best actual" is the advisor\'s own decision rule applied to what the full runs really gave '
        "(held-out accuracy with its 95 % bootstrap interval, training time, latency), i.e. the call a perfect forecaster "
        'would make; "agrees" means the same choice, "tie" that the rule applied to the full runs calls the two too '
        'close (the best won the tie as the cheaper). Accuracy only: "agrees" means the choice is the most accurate '
        "full run or not significantly worse than it (paired bootstrap over test rows, 95 %). Accuracy is always measured "
        "on a held-out test split that neither advise nor the full runs saw; advise is told of it (`--test-file`), so "
        "it forecasts a full run on every training row, and its intervals are for the score the full run reports on "
        "that split (they include the split's own sampling noise; comparisons between approaches, scored on the same "
        "rows, use the intervals without it).",
        "",
    ]
    return "\n".join(lines + _misses(doc["rows"]) + _outlooks(doc))


def _outlooks(doc: dict) -> list[str]:
    """Each too-close call's outlook (would the next budget settle it?) against that budget's row."""
    checked = [o for budget in doc["summary"] for o in outlook_checks(doc["rows"], budget)]
    if not checked:
        return []
    yn = {True: "yes", False: "no", None: "not run"}
    out = [
        "### Would a longer budget settle a too-close call?",
        "",
        "When a call is too close, advise judges whether the next budget up would settle it (`advisor/decide/settle.py`): "
        "it narrows the forecasts' benchmark noise to the held-out rows that budget would score on, keeps the "
        "rest of their uncertainty, and re-runs the decision at the same point values (when the budget could not "
        "measure an option at all, the next would try it: that call is not judged). Each judgement against "
        "the same task's row at that budget:",
        "",
        "| budget | too-close calls judged | said likely to settle | next budget run | judgement right |",
        "|---|---|---|---|---|",
    ]
    for budget, s in doc["summary"].items():
        if s.get("outlooks"):
            out.append(
                f"| {budget} | {s['outlooks']} | {s['outlooks_likely']} | {s['outlooks_checked']} | "
                f"{s['outlooks_right']} of {s['outlooks_checked']} |"
            )
    out += ["", "| task | budget | call | outlook | next budget | settled there? |", "|---|---|---|---|---|---|"]
    for o in checked:
        out.append(
            f"| {o['task']} | {o['budget']} | {o['choice']} | {'likely' if o['likely'] else 'unlikely'} | "
            f"{o['next']} | {yn[o['settled']]} |"
        )
    return [*out, ""]


def _misses(rows: list[dict]) -> list[str]:
    """The default-goal calls that missed, with how far apart the two options were: the lead the
    forecasts gave and its paired band (a band holding 0 is a tie, and a tie goes to the cheaper
    option), against the lead the full runs showed."""
    missed = [r for r in rows if "actual_lead" in r["decision_default"]]
    if not missed:
        return []

    def lead(v: list[float] | None) -> str:
        return "–" if v is None else f"{100 * v[0]:+.1f} [{100 * v[1]:+.1f}, {100 * v[2]:+.1f}]"

    out = [
        "### Where the default-goal call missed",
        "",
        "The lead of the best actual over the call, in points: as the forecasts gave it, with the paired 95 % band "
        "the decision used (a lead under that band's half-width towards 0 ÷ √2 makes the two a tie, the intervals' "
        "overlap rule, and a tie goes to the cheaper option; a band that holds 0 leaves any call too close), and as "
        "the full runs showed it on the test split, with its own 95 % interval (paired bootstrap over the test rows).",
        "",
        "| task | budget | call | best actual | too close? | forecast lead [band] | actual lead [interval] |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in missed:
        d = r["decision_default"]
        out.append(
            f"| {r['task']} | {r['budget']} | {r['choice']} | {d['best']} | {'yes' if r['too_close'] else 'no'} | "
            f"{lead(d.get('forecast_lead'))} | {lead(d['actual_lead'])} |"
        )
    return [*out, ""]


def machine_line() -> str:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        import torch

        tv = torch.__version__
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except Exception:  # pragma: no cover
        tv, gpu = "?", "?"
    return (
        f"{psutil.cpu_count(logical=True)} logical cores ({cpu}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {gpu}, Python {platform.python_version()}, torch {tv}"
    )
