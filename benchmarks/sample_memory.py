"""Peak memory of sampling 1,000 rows from a ~2 GB CSV (streamed, never loaded whole).

Writes a CSV of unique rows (~200 bytes each, 3 imbalanced classes) into a temporary folder, runs
``load_dataset(path, sample=1000)`` in a fresh subprocess, and prints one line: file size, rows,
the subprocess's peak RSS (getrusage of the child) and wall time. The file is deleted afterwards;
nothing is written into the repository.

    python benchmarks/sample_memory.py [--gb 2.0] [--sample 1000] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "the film story actor scene plot music camera light dark funny slow quick great poor warm cold "
    "bright dull clever silly long short tender loud quiet human strange simple rich empty full"
).split()
CHILD = """
import json, sys, time
from advisor.data.labelled import load_dataset
t = time.perf_counter()
ds = load_dataset(sys.argv[1], sample=int(sys.argv[2]), seed=0)
print(json.dumps({"rows": ds.total_rows, "sampled": len(ds.examples), "classes": ds.class_counts,
                  "duplicates": ds.dropped.duplicates, "wall_s": time.perf_counter() - t}))
"""


def write_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """Unique rows 'r<block>-<i> <words>,<label>' until ``target_bytes``; returns the row count."""
    rng = random.Random(seed)
    block = []
    for i in range(20_000):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 40)))
        label = rng.choices(["pos", "neg", "mixed"], weights=[6, 3, 1])[0]
        block.append((f"-{i} {text},{label}\n").encode())
    rows = written = rep = 0
    with path.open("wb", buffering=1 << 22) as fh:
        fh.write(b"text,label\n")
        while written < target_bytes:
            prefix = f"r{rep}".encode()
            chunk = b"".join(prefix + line for line in block)
            fh.write(chunk)
            written += len(chunk)
            rows += len(block)
            rep += 1
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="file size in GB (default 2.0)")
    ap.add_argument("--sample", type=int, default=1000, help="rows to sample (default 1000)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary file (default: system temp)")
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="toe-sample-memory-") as tmp:
        path = Path(tmp) / "big.csv"
        t0 = time.perf_counter()
        write_csv(path, int(args.gb * 1e9))
        write_s = time.perf_counter() - t0
        env = dict(os.environ, PYTHONPATH=str(repo), HF_HUB_OFFLINE="1")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(args.sample)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        size = path.stat().st_size
    print(
        f"sample_memory: sampled {result['sampled']:,} of {result['rows']:,} rows "
        f"({size / 1e9:.2f} GB CSV, classes {result['classes']}) — peak RSS {peak_kib / 1024:.0f} MiB, "
        f"sampling {result['wall_s']:.1f} s (process {wall:.1f} s; writing the file took {write_s:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
