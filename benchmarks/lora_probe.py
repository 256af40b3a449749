"""Can a small paired probe tell where LoRA beats full fine-tuning? (issue 24)

For each calibration task, the two trainers are fitted as ``advise``'s benchmark would fit its first
fine-tune point: the profile's recipe, the same ``--n`` rows of the task's training split and the same
seed, each scored on the same test part held out of that training split (never on the task's own
test split). The probe's LoRA − full lead, with its paired 95 % bootstrap interval, is set beside the
lead the full runs of ``benchmarks/calibration.py`` measured on the task's test split
(``benchmarks/results/calibration.json``). A decision rule for LoRA would have to rest on this
agreement; this script decides nothing.

    python benchmarks/lora_probe.py --out /tmp/lora-probe.jsonl            # every calibration task
    python benchmarks/lora_probe.py --summarise /tmp/lora-probe.jsonl --md benchmarks/results/lora_probe.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibration_tasks import FULL_TASKS, ROOT, TASKS, task_split  # noqa: E402

CALIBRATION = ROOT / "benchmarks" / "results" / "calibration.json"
TRAINERS = ("finetune", "lora")


def probe(task_name: str, n: int, seed: int, profile_name: str) -> dict:
    """Both trainers on the same ``n`` rows and seed, scored on the same test part."""
    import numpy as np

    from advisor.common.bootstrap import interval
    from advisor.data.sampling import stratified_split, stratified_subsample
    from advisor.machine.profiles import engine_config, load_profile
    from engines.base import get_engine

    train, _ = task_split(TASKS[task_name], 0)  # the task's own test split stays unseen
    test_n = min(2000, int(0.4 * len(train)))  # the standard budget's test part (plan.TEST_SHARE)
    pool, part = stratified_split(train, test_size=test_n, seed=seed)
    sub = stratified_subsample(pool, min(n, len(pool)), seed=seed)
    profile = load_profile(profile_name)
    correct, secs = {}, {}
    for name in TRAINERS:
        config = engine_config(profile, name).model_copy(update={"seed": seed})
        eng = get_engine(name)(config)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="toe-lora-probe-") as work:
            eng.fit(sub, workdir=Path(work))
        secs[name] = time.perf_counter() - start
        pred = eng.predict(part.texts).labels
        correct[name] = np.asarray([p == y for p, y in zip(pred, part.labels, strict=True)], dtype=float)
    diff = correct["lora"] - correct["finetune"]
    rng = np.random.default_rng(seed)
    boots = np.asarray([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)])
    lo, hi = interval(boots)
    return {
        "task": task_name,
        "n": len(sub),
        "test_rows": len(part),
        "seed": seed,
        "profile": profile_name,
        "finetune": float(correct["finetune"].mean()),
        "lora": float(correct["lora"].mean()),
        "lead": float(diff.mean()),
        "lead_lo": float(lo),
        "lead_hi": float(hi),
        "fit_s": secs,
    }


def full_leads(profile: str, seed: int = 0) -> dict[str, float]:
    """LoRA − full fine-tuning accuracy of the calibration's full runs, per task."""
    runs = json.loads(CALIBRATION.read_text())["full_runs"]
    out = {}
    for key, r in runs.items():
        task, prof, s = key.split("/")
        if prof == profile and s == f"seed{seed}" and "lora" in r and "finetune" in r:
            out[task] = r["lora"]["accuracy"] - r["finetune"]["accuracy"]
    return out


def gate(row: dict, worth: float = 0.0) -> bool:
    """The paired gate that was tried in advise and dropped (docs/CALIBRATION.md): LoRA kept only where
    the lower end of its lead's band, plus what its time saving is worth (0 here: accuracy only), is
    above zero."""
    return row["lead_lo"] + worth > 0


def judged(kept: bool, full: float) -> str:
    """The gate's call against the full runs, with the calibration's 1-point tolerance: LoRA kept
    where it trailed by more than a point breaks a call; left out where it led by more misses one."""
    if kept:
        return "breaks" if round(full, 6) < -0.01 else "fixes" if round(full, 6) > 0.01 else "same"
    return "misses" if round(full, 6) > 0.01 else "right"


def summarise(rows: list[dict], profile: str) -> str:
    """The probe's lead beside the full runs' lead, per task; how often their signs agree, how far
    apart they are, and what the paired gate would have done."""
    import numpy as np

    full = full_leads(profile)
    lines = [
        "| task | probe n / test rows | seed | probe full FT % | probe LoRA % | probe lead [95 %] | "
        "full-run lead | gate | against the full runs | fit s full / LoRA |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    agree, gaps, calls = 0, [], []
    for r in rows:
        f = full.get(r["task"])
        kept = gate(r)
        verdict = "" if f is None else judged(kept, f)
        lines.append(
            f"| {r['task']} | {r['n']} / {r['test_rows']} | {r['seed']} | {100 * r['finetune']:.1f} | "
            f"{100 * r['lora']:.1f} | {100 * r['lead']:+.1f} [{100 * r['lead_lo']:+.1f}, {100 * r['lead_hi']:+.1f}] | "
            f"{'' if f is None else f'{100 * f:+.1f}'} | {'kept' if kept else 'left out'} | {verdict} | "
            f"{r['fit_s']['finetune']:.0f} / {r['fit_s']['lora']:.0f} |"
        )
        if f is not None:
            agree += (r["lead"] >= 0) == (f >= 0)
            gaps.append(f - r["lead"])
            calls.append(verdict)
    if gaps:
        g = 100 * np.asarray(gaps)
        lines += [
            "",
            f"Tasks: {len(gaps)}. Sign of the lead the same in probe and full run: {agree} of {len(gaps)}. "
            f"Full-run lead minus probe lead: mean {g.mean():+.1f}, RMS {np.sqrt(np.mean(g**2)):.1f} points.",
            "The gate (LoRA kept where its band's lower end is above zero), judged by the full runs with the "
            "calibration's 1-point tolerance: "
            + ", ".join(f"{calls.count(k)} {k}" for k in ("fixes", "same", "right", "misses", "breaks"))
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", help="comma-separated calibration tasks (default: the published ones)")
    p.add_argument("--n", type=int, default=600, help="rows each trainer fits (advise's first point: 600)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--profile", default="cpu-small")
    p.add_argument("--out", help="JSON lines, appended task by task (a re-run skips what is there)")
    p.add_argument("--summarise", help="a JSON-lines file of probes to tabulate")
    p.add_argument("--md", help="with --summarise: write the table here too")
    args = p.parse_args(argv)
    if args.summarise:
        rows = [json.loads(line) for line in Path(args.summarise).read_text().splitlines() if line.strip()]
        text = summarise(rows, args.profile)
        print(text)
        if args.md:
            Path(args.md).write_text(text)
        return 0
    if not args.out:
        p.error("--out is needed to run probes")
    tasks = args.tasks.split(",") if args.tasks else [t for t in FULL_TASKS if not TASKS[t].demo]
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["task"], r["seed"]) for r in map(json.loads, out.read_text().splitlines()) if r}
    for seed in map(int, args.seeds.split(",")):
        for name in tasks:
            if (name, seed) in done:
                continue
            row = probe(name, args.n, seed, args.profile)
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"{time.strftime('%H:%M:%S')} {name} seed {seed}: LoRA − full {100 * row['lead']:+.1f} "
                f"[{100 * row['lead_lo']:+.1f}, {100 * row['lead_hi']:+.1f}]",
                file=sys.stderr,
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
