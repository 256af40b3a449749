"""Peak RSS and wall time of ``predict ART --data big.csv --out preds.csv`` (and ``--json``) at 1x and 10x the rows.

Fits a TF-IDF artifact on 600 labelled rows (``full_run``), writes CSVs of N short unique texts,
runs each ``predict`` as a fresh process (``python -m advisor``), and reads that child's own peak RSS
from ``os.wait4``. Also times ``predict --text x`` (start-up and artifact load) as the floor.
Prints a Markdown table and writes it to ``benchmarks/results/predict_memory.md``.

    python benchmarks/predict_memory.py [--rows 100000,1000000] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from inspect_memory import measure as child_rss  # noqa: E402  (one home for a child's peak RSS)

WORDS = {
    "pos": "great warm clever bright tender funny rich moving".split(),
    "neg": "dull slow silly poor empty cold boring flat".split(),
}
FILLER = "the film story actor scene plot music camera light long short quiet simple strange human".split()


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` unique short reviews, columns text,label (pos/neg)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", buffering=1 << 22) as fh:
        fh.write("text,label\n")
        for i in range(rows):
            label = "pos" if i % 2 else "neg"
            words = rng.sample(FILLER, 5) + rng.sample(WORDS[label], 2)
            rng.shuffle(words)
            fh.write(f"{' '.join(words)} {i},{label}\n")


def measure(argv: list[str]) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS bytes of this child alone, stderr, stdout) of ``python -m advisor ARGV``."""
    with tempfile.TemporaryDirectory(prefix="toe-predict-memory-") as tmp:
        wall, rss, out, err = child_rss(["-m", "advisor", *argv], Path(tmp), what="predict")
    return wall, rss, err, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100000,1000000", help="comma-separated row counts (default 100000,1000000)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary files (default: system temp)")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/predict_memory.md"), help="Markdown to write")
    args = ap.parse_args()
    sizes = [int(s) for s in args.rows.split(",")]
    sys.path.insert(0, str(REPO))
    from advisor.commands.predict import BATCH_ROWS
    from advisor.run.fullrun import RunSpec, full_run

    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="toe-predict-memory-") as tmp:
        folder = Path(tmp)
        train = folder / "train.csv"
        write_csv(train, 600, seed=1)
        art = folder / "art"
        full_run(RunSpec(engine="tfidf", profile="tiny", data=str(train), test_size=100), art, speed_texts=0)
        results, json_runs = [], []
        wall, rss, _, _ = measure(["predict", str(art), "--text", "a warm and clever film"])
        results.append(("`--text` (1 text)", 0, 0, wall, rss))
        for n in sizes:
            data = folder / f"big-{n}.csv"
            write_csv(data, n)
            out = folder / f"preds-{n}.csv"
            wall, rss, err, _ = measure(["predict", str(art), "--data", str(data), "--out", str(out)])
            if f"wrote {n} predictions" not in err:
                raise SystemExit(f"unexpected output for {n} rows: {err.strip()}")
            results.append((f"`--data` {n:,} rows `--out`", data.stat().st_size, out.stat().st_size, wall, rss))
            wall, rss, _, printed = measure(["predict", str(art), "--data", str(data), "--json"])
            if printed.count("\n") != n + 2 or not printed.rstrip().endswith("}"):
                raise SystemExit(f"unexpected --json output for {n} rows")
            json_runs.append((f"`--data` {n:,} rows `--json`", data.stat().st_size, len(printed.encode()), wall, rss))
            data.unlink()
            out.unlink()

    lines = [
        f"# `predict --out` and `--json` memory (batches of {BATCH_ROWS:,} rows)",
        "",
        f"{platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; TF-IDF artifact; each run a fresh process.",
        f"Command: `python benchmarks/predict_memory.py --rows {args.rows}`",
        "",
        "| run | input | output | wall | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, size_in, size_out, wall, rss in results:
        mb_in = f"{size_in / 1e6:.1f} MB" if size_in else "—"
        mb_out = f"{size_out / 1e6:.1f} MB" if size_out else "—"
        lines.append(f"| {name} | {mb_in} | {mb_out} | {wall:.1f} s | {rss / 2**20:.0f} MiB |")
    for name, size_in, size_out, wall, rss in json_runs:
        lines.append(
            f"| {name} | {size_in / 1e6:.1f} MB | {size_out / 1e6:.1f} MB | {wall:.1f} s | {rss / 2**20:.0f} MiB |"
        )
    if len(results) >= 3:
        lines += ["", f"Peak RSS, largest / smallest file: `--out` {results[-1][4] / results[1][4]:.2f}×"]
        lines[-1] += f", `--json` {json_runs[-1][4] / json_runs[0][4]:.2f}×"
    text = "\n".join(lines) + "\n"
    print(text, end="")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
