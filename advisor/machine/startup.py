"""A new process's start-up, timed: what a full run pays before its first training step.

``tune-or-embed run`` starts cold: it imports torch and transformers and loads the model
before it trains. The micro-benchmark runs inside one process that may already hold all of
that (a second ``advise`` in the TUI, the calibration script), so it times the engine's
``warm_up`` in a new Python process instead, and the time forecasts add what it measured.
A profile may remember each timing on disk for some days (``bench.start_up_cache_days``),
so that later advises on the machine spend that part of their budget on the benchmark.
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
    """One timing: seconds (None when it could not be measured) and why not; ``timed_at``
    (epoch seconds) when it was remembered from an earlier advise rather than timed now."""

    seconds: float | None
    error: str | None = None
    timed_at: float | None = None


def timed_on(epoch_s: float) -> str:
    """When a remembered timing was taken, as the advice and ``probe`` say it (local minutes)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch_s))


CACHE_NAME = "start-up.json"  # in the tune-or-embed cache folder (``TOE_CACHE_DIR``)


# Successful timings by (engine, settings): a process that advises twice (the TUI) times each
# start-up once; ``forget()`` makes the next advise time them again, as in a new process (the
# tests use it so; the calibration runs each advise in a new process instead).
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
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds advisor/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def disk_key(target: str, settings: str) -> str:
    """What a remembered timing holds for: the engine, its settings, this interpreter and the
    versions of what its warm-up imports (a new torch or transformers is timed again)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for package in ("torch", "transformers", "scikit-learn"):
        try:
            versions.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            pass
    return json.dumps([target, settings, sys.executable, sys.version.split()[0], *versions])


def engines_key(what: str, *engines: Any) -> str:
    """The disk key of a measurement ``what`` of engine instances ``engines`` (their classes and
    settings, as ``disk_key`` completes it): several engines' measurement shares the start-ups' file."""
    targets = " ".join(f"{type(e).__module__}:{type(e).__qualname__}" for e in engines)
    return disk_key(f"{what} {targets}", json.dumps([_config_json(getattr(e, "config", None)) for e in engines]))


def _read_disk(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, unreadable or damaged: time again
    return data if isinstance(data, dict) else {}


def recall(path: Path, key: str, max_age_s: float, field: str = "seconds") -> tuple[float, float] | None:
    """(value, epoch seconds it was measured at) of ``field`` remembered under ``key`` in the file,
    or None when there is none younger than ``max_age_s`` (or it is damaged)."""
    entry = _read_disk(path).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        value, at = float(entry[field]), float(entry["at"])
    except (TypeError, KeyError, ValueError):
        return None
    return (value, at) if 0 <= time.time() - at <= max_age_s and value >= 0 else None


def remember(path: Path, key: str, value: float, field: str = "seconds") -> None:
    """Add one measurement to the file, atomically; a read-only or full disk only loses the memory."""
    from engines.atomic import write_json

    data = _read_disk(path)
    data[key] = {field: value, "at": time.time()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, data)
    except OSError:
        pass


def time_start_up(
    engine_cls: type,
    config: Any = None,
    *,
    timeout_s: float = 120.0,
    cancel: threading.Event | None = None,
    cache: Path | None = None,
    max_age_s: float = 7 * 86400.0,
) -> StartUp:
    """Seconds that the warm-up of ``engine_cls`` (an Engine class, imported by its module
    path there: the registry of this process may hold engines registered at run time) takes
    in a new Python process, with ``config``: imports, model load, device start. Once per
    engine and settings in this process (see ``forget``), and with ``cache`` (a JSON file)
    once per ``max_age_s`` on this machine: a timing remembered there comes back with its
    ``timed_at``. Never raises: a failure, a timeout or ``cancel`` gives ``seconds=None`` and why."""
    target = f"{engine_cls.__module__}:{engine_cls.__qualname__}"
    settings = _config_json(config)
    if (target, settings) in _timed:
        return StartUp(_timed[target, settings])
    key = ""
    if cache is not None:
        key = disk_key(target, settings)
        kept = recall(cache, key, max_age_s)
        if kept is not None:
            return StartUp(kept[0], timed_at=kept[1])
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CODE, target, settings],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
    except OSError as exc:
        return StartUp(None, f"could not start a new process: {exc}")
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            return StartUp(
                None, "cancelled" if cancel is not None and cancel.is_set() else f"took over {timeout_s:.0f}s"
            )
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
    if cache is not None:
        remember(cache, key, seconds)
    return StartUp(seconds)
