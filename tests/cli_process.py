"""The CLI in a new process, as a user runs it (test support for the kill and concurrency tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One thread each: several of these processes share the 2 cores at once.
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def cmd(*args: str) -> list[str]:
    """The command line of ``tune-or-embed ARGS`` from this checkout."""
    return [sys.executable, "-m", "advisor", *args]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd(*args), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
