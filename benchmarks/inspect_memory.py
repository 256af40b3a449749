"""Peak RSS and wall time of ``inspect big.csv`` at 1x and 10x the file size, streamed and loaded whole.

Writes CSVs of two short columns (text, label: unique short reviews, 3 classes, ~50 bytes a row) of
about each ``--mb`` size, then runs, each as a fresh process with its own peak RSS read from ``os.wait4``:

- ``python -m advisor inspect FILE``: the batched read (``advisor.data.summary_stream``);
- before: ``summarize(load_dataset(FILE))``, the whole file in memory, as ``inspect`` did before.

The streamed and whole reports must be equal (checked on ``--json``). Prints a Markdown table and writes
it to ``benchmarks/results/inspect_memory.md``.

    python benchmarks/inspect_memory.py [--mb 30,300] [--tmp DIR] [--no-before]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORDS = {
    "pos": "great warm clever bright tender funny rich moving".split(),
    "neg": "dull slow silly poor empty cold boring flat".split(),
    "mixed": "odd uneven long quiet strange uneasy mild plain".split(),
}
FILLER = "the film story actor scene plot music camera light long short quiet simple strange human".split()
WHOLE = """
import sys
from advisor.common.output import print_json
from advisor.data.labelled import load_dataset
from advisor.data.summary import summarize
print_json(summarize(load_dataset(sys.argv[1])))
"""


def write_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """Unique short reviews ``<words> <i>,<label>`` until ``target_bytes``; returns the row count."""
    rng = random.Random(seed)
    labels = list(WORDS)
    block = []
    for _ in range(10_000):
        label = rng.choices(labels, weights=[5, 4, 1])[0]
        words = rng.sample(FILLER, 4) + rng.sample(WORDS[label], 2)
        rng.shuffle(words)
        block.append((" ".join(words), label))
    rows = written = 0
    with path.open("w", encoding="utf-8", buffering=1 << 22) as fh:
        fh.write("text,label\n")
        while written < target_bytes:
            lines = "".join(f"{text} {rows + i},{label}\n" for i, (text, label) in enumerate(block))
            fh.write(lines)
            written += len(lines)
            rows += len(block)
    return rows


def measure(argv: list[str], folder: Path, what: str = "") -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS bytes of this child alone, stdout, stderr) of ``python ARGV``, its output
    in files in ``folder`` (no pipe to fill); a failure ends the benchmark with the child's error.
    ``benchmarks/predict_memory.py`` measures its children with it too."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
    t0 = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors = err_path.read_text(encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"{what or argv[:2]} failed ({proc.returncode}): {errors.strip()}")
    stdout = out_path.read_text(encoding="utf-8")
    return wall, usage.ru_maxrss * 1024, stdout, errors  # ru_maxrss is KiB on Linux


def without_approximation(report: dict) -> dict:
    """``report`` less the warning that its counts are approximate."""
    return dict(report, warnings=[w for w in report["warnings"] if not w.startswith("approximate counts")])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", default="30,300", help="comma-separated file sizes in MB (default 30,300)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary files (default: system temp)")
    ap.add_argument("--no-before", action="store_true", help="skip the whole-file runs")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/inspect_memory.md"), help="Markdown to write")
    args = ap.parse_args()
    sizes = [float(s) for s in args.mb.split(",")]
    sys.path.insert(0, str(REPO))
    from advisor.data.summary_stream import BATCH_ROWS, BLOOM_BITS, EXACT_DISTINCT

    results = []
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="toe-inspect-memory-") as tmp:
        for mb in sizes:
            data = Path(tmp) / f"big-{mb:g}mb.csv"
            rows = write_csv(data, int(mb * 1e6))
            size = data.stat().st_size
            wall, rss, out, _ = measure(["-m", "advisor", "inspect", str(data), "--json"], Path(tmp))
            streamed = json.loads(out)
            if streamed["total_rows"] != rows:
                raise SystemExit(f"expected {rows} rows, inspect counted {streamed['total_rows']}")
            approx = any(w.startswith("approximate counts") for w in streamed["warnings"])
            report = "approximate (Bloom filter)" if approx else "exact"
            if not args.no_before:
                b_wall, b_rss, out, _ = measure(["-c", WHOLE, str(data)], Path(tmp))
                equal = json.loads(out) == without_approximation(streamed)
                report += ", equal to before's" if equal else ", differs from before's"
                report += " (its approximation warning aside)" if approx else ""
            results.append((f"`inspect` {rows:,} rows", size, wall, rss, report))
            print(results[-1], flush=True)
            if not args.no_before:
                results.append((f"before: whole file, {rows:,} rows", size, b_wall, b_rss, "exact"))
                print(results[-1], flush=True)
            data.unlink()

    lines = [
        f"# `inspect` memory (batches of {BATCH_ROWS:,} rows)",
        "",
        f"{platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CSV of two short columns (unique texts, 3 classes); "
        "each run a fresh process; *before* is `summarize(load_dataset(FILE))`, the whole file in memory as "
        "`inspect` read it before.",
        f"Command: `python benchmarks/inspect_memory.py --mb {args.mb}{' --no-before' if args.no_before else ''}`",
        "",
        "| run | input | wall | peak RSS | report |",
        "|---|---:|---:|---:|---|",
    ]
    for name, size, wall, rss, report in results:
        lines.append(f"| {name} | {size / 1e6:.1f} MB | {wall:.1f} s | {rss / 2**20:.0f} MiB | {report} |")
    streamed_runs = [r for r in results if not r[0].startswith("before")]
    if len(streamed_runs) >= 2:
        lines += ["", f"`inspect` peak RSS, largest / smallest file: {streamed_runs[-1][3] / streamed_runs[0][3]:.2f}×"]
    before = [r for r in results if r[0].startswith("before")]
    if len(before) >= 2:
        lines.append(f"Before, largest / smallest file: {before[-1][3] / before[0][3]:.2f}×")
    lines += [
        "",
        f"Past {EXACT_DISTINCT:,} distinct rows `inspect` finds duplicates with a {BLOOM_BITS // 8 // 2**20} MiB "
        "Bloom filter and says its counts "
        "are approximate; *equal to before's* means every count and length still matched the whole-file report.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
