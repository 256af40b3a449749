"""The CLI in a new process, as a user runs it, and killed at a named point (test support for the kill
and concurrency tests)."""

from __future__ import annotations

import os
import signal
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


def cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd(*args), cwd=ROOT, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


# A program's prelude: argv[1] = "module:qualname" to wrap, argv[2] = "before" | "after", argv[3] = which
# call (1-based); it leaves the rest in sys.argv[1:] (the command line of the CLI, for ``CLI``).
WRAP = r"""
import functools, importlib, os, signal, sys
target, when, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
mod_name, _, qual = target.partition(":")
owner = importlib.import_module(mod_name)
*parents, attr = qual.split(".")
for p in parents:
    owner = getattr(owner, p)
original = getattr(owner, attr)
calls = [0]
def die():
    sys.stderr.write(f"KILLED at {target} {when}\n"); sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
@functools.wraps(original)
def wrapper(*a, **k):
    calls[0] += 1
    if when == "before" and calls[0] == nth:
        die()
    out = original(*a, **k)
    if when == "after" and calls[0] == nth:
        die()
    return out
setattr(owner, attr, wrapper)
sys.argv = ["tune-or-embed", *sys.argv[4:]]
"""
CLI = WRAP + "from advisor.cli import main\nsys.exit(main())\n"


def killed_at(
    target: str, when: str, args: list[str], nth: int = 1, program: str = CLI, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``program`` (by default the CLI with ``args``; ``env`` added to the environment), SIGKILLed
    just ``when`` its ``nth`` call of ``target``; checks that it died there."""
    proc = subprocess.run(
        [sys.executable, "-c", program, target, when, str(nth), *args],
        cwd=ROOT,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])
    assert f"KILLED at {target}" in proc.stderr
    return proc
