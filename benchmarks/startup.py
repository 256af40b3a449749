"""Start-up wall time of whole commands: `--help`, `probe`, `profiles`, and the TUI module import.

Each command runs as a fresh process (what a user waits for), once to warm the file cache,
then N times; the median and the range are printed. The TUI line times importing the app
and building it (not drawing: that is checked by tests/test_tui_startup.py).

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("tune-or-embed")

COMMANDS = {
    "tune-or-embed --help": [str(EXE), "--help"],
    "tune-or-embed probe": [str(EXE), "probe"],
    "tune-or-embed probe --json": [str(EXE), "probe", "--json"],
    "tune-or-embed profiles": [str(EXE), "profiles"],
    "import advisor.tui + create_app()": [sys.executable, "-c", "from advisor.tui import create_app; create_app()"],
}


def time_command(argv: list[str], runs: int) -> list[float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=True)  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} logical cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"{'command':40s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    for name, argv in COMMANDS.items():
        ts = time_command(argv, args.runs)
        print(f"{name:40s} {statistics.median(ts):9.3f} {min(ts):7.3f} {max(ts):7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
