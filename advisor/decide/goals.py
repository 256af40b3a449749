"""What the user wants: the form the TUI shows and ``--goals FILE`` (TOML) fills.

Every field has a description; the TUI uses them as help text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor.common.tasks import TASKS, task_of_metric
from engines.errors import ConfigError

# The named benchmark budgets (wall seconds) when a profile names none.
BUDGETS = {"quick": 90.0, "standard": 600.0, "thorough": 1800.0}


def budget_seconds(budget: str | float, budgets: dict[str, float] | None = None) -> tuple[str, float]:
    """('quick'|'standard'|'thorough'|'custom', seconds) from a name or a number of seconds."""
    table = {**BUDGETS, **(budgets or {})}
    if isinstance(budget, int | float):
        seconds = float(budget)
    else:
        key = str(budget).strip().lower()
        if key in table:
            return key, float(table[key])
        try:
            seconds = float(key.rstrip("s"))
        except ValueError:
            raise ConfigError(
                f"unknown budget {budget!r}; use quick, standard, thorough or a number of seconds"
            ) from None
    if seconds < 10:
        raise ConfigError(f"budget {seconds:g}s is too short; give at least 10 seconds")
    return "custom", seconds


class Weights(BaseModel):
    """How much each criterion matters; only their ratios count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accuracy: float = Field(0.6, ge=0, description="Weight of forecast held-out quality (the chosen metric).")
    training_time: float = Field(0.15, ge=0, description="Weight of the full run's wall time.")
    latency: float = Field(0.15, ge=0, description="Weight of inference latency per prediction.")
    cost: float = Field(0.1, ge=0, description="Weight of money: training plus serving at the expected volume.")

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        if self.accuracy + self.training_time + self.latency + self.cost <= 0:
            raise ValueError("at least one weight must be positive")
        return self

    def normalised(self) -> dict[str, float]:
        """Weights that sum to 1."""
        total = self.accuracy + self.training_time + self.latency + self.cost
        return {k: v / total for k, v in self.model_dump().items()}


class Goals(BaseModel):
    """The project's goals, as the user states them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: Literal["classification", "retrieval"] = Field(
        "classification",
        description="What the model must do: label texts (classification) or find the documents relevant to a "
        "query (retrieval, from query/document pairs).",
    )
    metric: Literal["accuracy", "macro_f1", "ndcg@10", "recall@10", "mrr@10"] = Field(
        "accuracy",
        description="The quality that matters. Classification: accuracy or macro_f1 (on imbalanced classes they can "
        "pick different winners). Retrieval: ndcg@10 (its default), recall@10 or mrr@10.",
    )
    labelled_size: int | None = Field(
        None, ge=2, description="Labelled examples you will have in the end; default: all rows of the data."
    )
    weights: Weights = Field(default_factory=Weights, description="Accuracy vs training time vs latency vs cost.")
    min_accuracy: float | None = Field(
        None, ge=0, le=1, description="Options forecast below this (in the chosen metric, 0–1) are ruled out."
    )
    latency_budget_ms: float | None = Field(
        None, gt=0, description="Most milliseconds one prediction (batch 1) may take on the target machine."
    )
    deadline_minutes: float | None = Field(None, gt=0, description="Most minutes the full training run may take.")
    predictions_per_day: int = Field(
        10_000, ge=0, description="Expected predictions per day in production, for serving cost."
    )
    price_per_hour: float | None = Field(
        None, ge=0, description="What an hour of the target machine costs (any currency); None: cost in machine-hours."
    )
    data_may_leave_machine: bool = Field(
        False, description="Whether the data may be sent to a hosted service. tune-or-embed itself never sends it."
    )

    @model_validator(mode="before")
    @classmethod
    def _task_metric(cls, raw: object) -> object:
        # A task without a metric scores by its default one; a metric of another task is an error.
        if not isinstance(raw, dict) or raw.get("task", "classification") not in TASKS:
            return raw  # not a dict, or an unknown task: the field's own validation says so
        task = TASKS[raw.get("task", "classification")]
        metric = raw.get("metric")
        if metric is None:
            return {**raw, "metric": task.default_metric} if "task" in raw else raw
        other = task_of_metric(metric)
        if other is not None and other != task.name:
            raise ValueError(
                f'metric {metric} is for {other} (task = "{other}"); {task.name} takes {", ".join(task.metrics)}'
            )
        return raw


def load_goals(path: str | Path | None) -> Goals:
    """Goals from a TOML file (None → defaults). Bad files raise ConfigError (one line)."""
    if path is None:
        return Goals()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"goals file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"goals file {path} is not valid TOML: {exc}") from None
    raw = raw.get("goals", raw)
    try:
        return Goals(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "goals"
        raise ConfigError(f"goals file {path}: {where}: {first['msg']}") from None


def goals_to_toml(goals: Goals) -> str:
    """TOML text that ``load_goals`` reads back to the same Goals."""
    lines = ["[goals]"]
    data = goals.model_dump(exclude={"weights"}, exclude_none=True)
    for key, value in data.items():
        lines.append(f"{key} = {_toml_value(value)}")
    lines.append("")
    lines.append("[goals.weights]")
    for key, value in goals.weights.model_dump().items():
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
