"""The tasks the advisor serves, and what differs between them as plain data: their metrics (the
first is the default), what their data holds, and how a forecast's size and a prediction are named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.errors import ConfigError
from engines.records import RANK_METRICS


@dataclass(frozen=True)
class Task:
    """One task: everything the front ends and the explanations ask by task name."""

    name: str
    metrics: tuple[str, ...]
    data_hint: str  # what DATA may be
    columns: tuple[str, str]  # the two columns a file of this task holds
    preview: tuple[str, str]  # a data preview's headers
    sizes: str  # what the forecast's size counts
    prediction: str  # what one prediction is

    @property
    def default_metric(self) -> str:
        return self.metrics[0]


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="classification",
            metrics=("accuracy", "macro_f1"),
            data_hint="path to CSV/TSV/JSONL/Parquet/folder, or demo:rotten-tomatoes",
            columns=("text column", "label column"),
            preview=("label", "text"),
            sizes="labels",
            prediction="text at batch 1",
        ),
        Task(
            name="retrieval",
            metrics=RANK_METRICS,
            data_hint="query/document pairs file, BEIR folder, or demo:bbc-headlines",
            columns=("query column", "doc column"),
            preview=("query", "relevant document"),
            sizes="training queries",
            prediction="query (embedding + search)",
        ),
    )
}


def get_task(name: str) -> Task:
    """The task called ``name``; unknown names get "try one of …"."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; try one of: {', '.join(TASKS)}") from None


def task_of_metric(metric: str) -> str | None:
    """The task whose metric ``metric`` is (None for no task's)."""
    return next((t.name for t in TASKS.values() if metric in t.metrics), None)


def on_task(goals: Any, task: str) -> Any:
    """``goals`` (a Goals) switched to ``task``, scored by that task's default metric."""
    return goals.model_copy(update={"task": task, "metric": get_task(task).default_metric})
