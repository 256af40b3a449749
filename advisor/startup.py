"""A new process's start-up, timed: what a full run pays before its first training step.

``tune-or-embed run`` starts cold: it imports torch and transformers and loads the model
before it trains. The micro-benchmark runs inside one process that may already hold all of
that (a second ``advise`` in the TUI, the calibration script), so it times the engine's
``warm_up`` in a new Python process instead, and the time forecasts add what it measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

# Runs in the new process: build the engine as a full run does, then time its warm-up alone
# (a full run's fit starts after the engine is built, so that part is not counted).
_CODE = """\
import importlib, json, sys, time
module, _, name = sys.argv[1].partition(":")
cls = getattr(importlib.import_module(module), name)
engine = cls(cls.config_cls(**json.loads(sys.argv[2])))
t0 = time.perf_counter()
engine.warm_up()
print(json.dumps({"start_s": time.perf_counter() - t0}))
"""


class StartUp(NamedTuple):
    """One timing: seconds (None when it could not be measured) and why not."""

    seconds: float | None
    error: str | None = None


# Successful timings by (engine, settings): a process that advises twice (the TUI) times each
# start-up once; ``forget()`` makes the next advise time them again (the calibration does, so
# that each of its runs pays what a user's single ``advise`` pays).
_timed: dict[tuple[str, str], float] = {}


def forget() -> None:
    """Drop the remembered timings."""
    _timed.clear()


def _config_json(config: Any) -> str:
    if config is None:
        return "{}"
    if hasattr(config, "model_dump"):
        return json.dumps(config.model_dump(mode="json"))
    return json.dumps(dict(config))


def _env() -> dict[str, str]:
    """This environment, with the project importable from the new process whatever its cwd."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def time_start_up(engine_cls: type, config: Any = None, *, timeout_s: float = 120.0,
                  cancel: threading.Event | None = None) -> StartUp:
    """Seconds that the warm-up of ``engine_cls`` (an Engine class, imported by its module
    path there: the registry of this process may hold engines registered at run time) takes
    in a new Python process, with ``config``: imports, model load, device start. Once per
    engine and settings in this process (see ``forget``). Never raises: a failure, a timeout
    or ``cancel`` gives ``seconds=None`` and why."""
    target = f"{engine_cls.__module__}:{engine_cls.__qualname__}"
    settings = _config_json(config)
    if (target, settings) in _timed:
        return StartUp(_timed[target, settings])
    try:
        proc = subprocess.Popen([sys.executable, "-c", _CODE, target, settings],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    except OSError as exc:
        return StartUp(None, f"could not start a new process: {exc}")
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            return StartUp(None, "cancelled" if cancel is not None and cancel.is_set()
                           else f"took over {timeout_s:.0f}s")
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        last = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return StartUp(None, last[:200])
    try:
        seconds = float(json.loads(out.strip().splitlines()[-1])["start_s"])
    except (ValueError, KeyError, IndexError, TypeError):
        return StartUp(None, "no timing in the new process's output")
    _timed[target, settings] = seconds
    return StartUp(seconds)
