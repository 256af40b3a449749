"""The backend the TUI calls, as one injectable object: the real public functions of `advisor` and
`engines`, each imported lazily when first called, and each task's steps (`advisor.tui.task_flows`) by
name. Tests pass fakes. No Textual here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from advisor.tui.task_flows import DEFAULT_TASK, TaskFlow, default_flows


def _probe(**kwargs: Any) -> Any:
    from advisor.machine.probe import probe

    return probe(**kwargs)


def _list_profiles() -> list[tuple[str, str]]:
    from advisor.machine.profiles import list_profiles

    return list_profiles()


def _load_profile(name_or_path: str | None = None, *, resources: Any = None) -> Any:
    from advisor.machine.profiles import load_profile

    return load_profile(name_or_path, resources=resources)


def _compare_runs(paths: list[str], goals: Any, resources: Any = None) -> Any:
    from advisor.decide.compare import compare_dirs

    return compare_dirs(paths, goals, resources)


def _load_search_engine(directory: Any) -> Any:
    """A retrieval artifact's engine, checked the way ``tune-or-embed search`` checks it (torch may load)."""
    from engines.artifacts import load_settled, read_manifest
    from engines.base import get_engine
    from engines.errors import ArtifactError, ConfigError

    manifest = read_manifest(directory)
    try:
        cls = get_engine(manifest.engine)
    except ConfigError:
        raise ArtifactError(f"{directory} was written by unknown engine {manifest.engine!r}") from None
    if "retrieval" not in cls.tasks:
        raise ConfigError(f"{directory} is a {manifest.engine} artifact, not a retrieval index")
    engine, _ = load_settled(directory)
    return engine


def _engine_names() -> list[str]:
    from engines.base import engine_names

    return engine_names()


def _engine_class(name: str) -> Any:
    from engines.base import get_engine

    return get_engine(name)


@dataclass(frozen=True)
class Services:
    """What the app may call. Defaults are the real functions; tests inject fakes.

    ``tasks`` holds each task's steps and texts (`TaskFlow`) by name: the app asks ``for_task(name)`` and
    the screens ``shown_for(name)`` instead of branching on the task. The rest serves every task
    (``load_search_engine``: the search screen's).
    """

    probe: Callable[..., Any] = _probe
    list_profiles: Callable[[], list[tuple[str, str]]] = _list_profiles
    load_profile: Callable[..., Any] = _load_profile
    compare_runs: Callable[..., Any] = _compare_runs
    engine_names: Callable[[], list[str]] = _engine_names
    engine_class: Callable[[str], Any] = _engine_class
    load_search_engine: Callable[[Any], Any] = _load_search_engine
    tasks: Mapping[str, TaskFlow] = field(default_factory=default_flows)

    def for_task(self, task: str) -> TaskFlow:
        """The steps of ``task``; unknown names get "try one of …"."""
        try:
            return self.tasks[task]
        except KeyError:
            from engines.errors import ConfigError

            raise ConfigError(f"unknown task {task!r}; try one of: {', '.join(self.tasks)}") from None

    def shown_for(self, task: str | None) -> TaskFlow:
        """The flow whose texts the screens show for ``task``: its own, else the default task's (an
        unknown task's steps fail in one line; its screens still draw)."""
        flow = self.tasks.get(task or DEFAULT_TASK) or self.tasks.get(DEFAULT_TASK)
        return flow if flow is not None else next(iter(self.tasks.values()))

    def with_task(self, flow: TaskFlow) -> Services:
        """These services with ``flow`` registered under its name (replacing that task's, if any)."""
        return replace(self, tasks={**self.tasks, flow.name: flow})


def describe_error(exc: BaseException) -> str:
    """One line for the UI: a UserError's own text, anything else its type and message."""
    from engines.errors import UserError

    if isinstance(exc, UserError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory; try a smaller sample, batch size or max length"
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}{f': {exc.filename}' if exc.filename else ''}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first
