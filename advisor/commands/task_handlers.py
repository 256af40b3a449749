"""Each task's handlers for the commands that read data (inspect, advise, run): the one place a task plugs
into the command line. The commands ask ``handlers(task)`` instead of branching on the task's name."""

from __future__ import annotations

import argparse
import json
from importlib import import_module
from pathlib import Path
from types import ModuleType

from engines.errors import ConfigError

# Task name → the module of its handlers, each with: looks_like(data) -> bool, inspect(args) -> int,
# advise(args, goals, profile, resources, budget, engines) -> int, run_spec(args) and run(args, spec) -> int.
HANDLERS = {
    "classification": "advisor.commands.classification_task",
    "retrieval": "advisor.commands.retrieval_task",
}
DEFAULT_TASK = "classification"  # what DATA is read as when no other task's looks_like claims it


def handlers(task: str) -> ModuleType:
    """The handlers of ``task`` (imported on first use: --help imports none of them)."""
    if task not in HANDLERS:
        raise ConfigError(f"unknown task {task!r}; try one of: {', '.join(HANDLERS)}")
    return import_module(HANDLERS[task])


def detect(data: str | None) -> str:
    """The task DATA looks like: the first other task whose ``looks_like`` claims it, else the default."""
    for task in HANDLERS:
        if task != DEFAULT_TASK and data and handlers(task).looks_like(data):
            return task
    return DEFAULT_TASK


def task_of_run(args: argparse.Namespace) -> str:
    """The task a ``run`` is for: its plan file's ``task`` entry, else the task of its --engine."""
    from engines.base import get_engine

    if args.plan:
        try:
            raw = json.loads(Path(args.plan).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return DEFAULT_TASK  # the default task's plan reader says what is wrong with the file
        task = raw.get("task", DEFAULT_TASK) if isinstance(raw, dict) else DEFAULT_TASK
        return task if task in HANDLERS else DEFAULT_TASK
    if args.engine:
        tasks = get_engine(args.engine).tasks
        return next((t for t in HANDLERS if t in tasks), DEFAULT_TASK)
    return DEFAULT_TASK
