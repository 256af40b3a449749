"""The plan file: what ``tune-or-embed run plan.json`` executes (the one-click path).

A JSON object whose ``run`` key is an ``advisor.run.fullrun.RunSpec`` (same split seed,
profile, engine and settings as the advice), plus context: the recommendation in
short, the forecast it rests on, the data fingerprint, when and by which version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from advisor.run.fullrun import RunSpec
from engines.atomic import write_json
from engines.base import Record
from engines.errors import ConfigError


class PlanForecast(Record):
    """What the advice expects the full run to give (to compare afterwards)."""

    metric: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    method: str = ""
    train_time_s: float | None = None
    peak_memory_bytes: int | None = None


class Plan(Record):
    run: RunSpec = Field(description="What `tune-or-embed run` executes.")
    choice_label: str = Field("", description="Human name of the chosen approach.")
    confidence: str = ""
    too_close: bool = False
    expected: PlanForecast | None = Field(None, description="The forecast for this run.")
    data_fingerprint: str = Field("", description="Fingerprint of the data the advice measured.")
    created_at: str = ""
    tool_version: str = ""


def make_plan(
    rec: Any,
    data: Any,
    *,
    profile_name: str,
    engine_overrides: dict[str, Any],
    split_seed: int,
    test_size: int,
    labelled_size: int | None,
    forecast: Any = None,
    created_at: str = "",
    tool_version: str = "",
    test_file: str | None = None,
) -> Plan:
    """The plan for ``rec.choice`` on ``data`` (an advise.DataInfo); with ``test_file`` the run
    trains on all of ``data`` and is scored on that file."""
    spec = RunSpec(
        engine=rec.choice,
        profile=profile_name,
        engine_config=dict(engine_overrides),
        data=data.ref,
        text_col=data.text_col or None,
        label_col=data.label_col or None,
        encoding=data.encoding,
        split_seed=split_seed,
        test_size=max(1, int(test_size)),
        labelled_size=labelled_size,
        train_file=data.ref if test_file is not None else None,
        test_file=test_file,
    )
    expected = None
    if forecast is not None:
        expected = PlanForecast(
            metric=forecast.metric,
            value=forecast.value,
            low=forecast.low,
            high=forecast.high,
            method=forecast.method,
            train_time_s=forecast.train_time_s,
            peak_memory_bytes=forecast.peak_memory_bytes,
        )
    return Plan(
        run=spec,
        choice_label=rec.label,
        confidence=rec.confidence,
        too_close=rec.too_close,
        expected=expected,
        data_fingerprint=data.fingerprint,
        created_at=created_at,
        tool_version=tool_version,
    )


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` as JSON, atomically."""
    path = Path(path)
    write_json(path, plan)
    return path


def load_plan(path: str | Path) -> Plan:
    """Read a plan file; anything wrong → ConfigError (one line)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"plan file not found: {path}") from None
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"plan file {path} is not valid JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("run"), dict):
        raise ConfigError(f'plan file {path} has no "run" object (write one with `tune-or-embed advise`)')
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"plan file {path}: {where or 'plan'}: {first.get('msg', 'invalid')}") from None
