"""The Engine protocol and the name→class registry; re-exports the records (`engines.records`).

An engine executes one approach — on a sample (the advisor's micro-benchmark) or
on all the data (a full run) — with the same code. Nothing here knows about goals,
recommendations or the TUI, and nothing in ``engines`` imports Textual.

Heavy libraries (torch, transformers, peft, lancedb) are imported lazily inside
engine methods, never at module import: importing ``engines`` must stay cheap.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from engines.errors import ConfigError

# The records (data, progress, reports) live in engines.records; imported here so that
# ``from engines.base import Examples, FitReport, …`` keeps working.
from engines.records import (
    ClassReport,
    EvalReport,
    Examples,
    FitReport,
    Predictions,
    ProgressEvent,
    Record,
    SpeedReport,
    StopReason,
    Task,
    TaskData,
)

__all__ = [
    "ClassReport",
    "Engine",
    "EvalReport",
    "Examples",
    "FitReport",
    "MemoryModel",
    "Predictions",
    "ProgressEvent",
    "ProgressFn",
    "Record",
    "SpeedReport",
    "StopReason",
    "Task",
    "TaskData",
    "engine_label",
    "engine_names",
    "get_engine",
    "no_progress",
    "register_engine",
    "unregister_engine",
]

ProgressFn = Callable[[ProgressEvent], None]

# What training memory an engine's ``memory_model`` says to model (see ``Engine.memory_model``).
MemoryModel = Literal["none", "frozen", "full", "adapters"]


def no_progress(event: ProgressEvent) -> None:
    """A progress callback that ignores everything."""


# ------------------------------------------------------------------------- engine
class Engine(ABC):
    """One approach behind one small protocol.

    Capability flags say what an engine can do, so callers (advisor, CLI, TUI)
    never test for concrete classes.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    config_cls: ClassVar[type[BaseModel]]
    tasks: ClassVar[frozenset[str]] = frozenset({"classification"})
    uses_transformer: ClassVar[bool] = False
    trains_backbone: ClassVar[bool] = False
    supports_search: ClassVar[bool] = False
    supports_resume: ClassVar[bool] = False
    supports_gpu: ClassVar[bool] = False
    scales_out: ClassVar[bool] = False  # a full run spreads over Ray workers (config ``workers`` > 1)
    # What the advisor asks instead of testing names (scikit-learn's tags, in spirit):
    label: ClassVar[str] = ""  # what a user reads ("Fine-tune (full)"); the name when empty
    cheap_fits: ClassVar[bool] = False  # a fit costs seconds: many sizes × seeds, full-size CV
    caches_vectors: ClassVar[bool] = False  # `prepare` caches per-text vectors that later fits reuse
    memory_model: ClassVar[MemoryModel] = "none"
    # training memory: nothing to model / forward passes of a frozen model / full weights'
    # grads + AdamW / adapters' grads + AdamW over frozen fp32 weights
    alternative_to: ClassVar[str | None] = None  # another way to the same approach (LoRA → finetune)

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        if config is None:
            config = self.config_cls()
        elif isinstance(config, dict):
            config = self.config_cls(**config)
        self.config = config

    def prepare(
        self, texts: Sequence[str], *, progress: ProgressFn = no_progress, cancel: threading.Event | None = None
    ) -> None:
        """Optional warm-up on texts the engine will see (load the model, cache vectors).

        The micro-benchmark calls it once on the whole sample, then ``fit`` on nested
        subsets; engines that cache (embeddings) make those fits cheap.
        """

    def warm_up(self) -> None:
        """Import the libraries and load the model that the first ``fit`` would, with no data.

        The advisor times this in a new process: it is the start-up a full run pays on top of
        training (``tune-or-embed run`` starts cold), which a benchmark inside one long-lived
        process would otherwise never see. The default has nothing to load.
        """

    @abstractmethod
    def fit(
        self,
        train: TaskData,
        *,
        valid: TaskData | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        """Train on ``train``. Stop cleanly at ``budget_s`` (≤ 20 % over) or on ``cancel``,
        keeping what was learned. ``workdir`` holds checkpoints for engines that resume."""

    @abstractmethod
    def predict(self, texts: Sequence[str]) -> Predictions:
        """Labels and scores for ``texts``."""

    def evaluate(self, test: TaskData) -> EvalReport:
        """Held-out accuracy, macro-F1 and a per-class report."""
        from engines.metrics import score

        return score(test, self.predict(test.texts))

    def measure_speed(self, texts: Sequence[str], *, max_texts: int = 256) -> SpeedReport:
        """Throughput and per-text latency at batch 1 and the engine's batch size."""
        from engines.metrics import measure_speed

        return measure_speed(self, texts, max_texts=max_texts)

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything ``load`` needs into ``directory`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Engine:
        """Rebuild a fitted engine from ``save``'s folder, offline."""


# ----------------------------------------------------------------------- registry
# name → "module:Class"; modules are imported only when asked for.
_REGISTRY: dict[str, str] = {
    "tfidf": "engines.tfidf:TfidfEngine",
    "embedding": "engines.embedding:EmbeddingEngine",
    "finetune": "engines.finetune:FinetuneEngine",
    "lora": "engines.finetune:LoraEngine",
    "embedding-int8": "engines.embedding:EmbeddingInt8Engine",  # opt-in: not in the default engines
    # retrieval (tasks = {"retrieval"}): fit on Pairs, index a collection, search it
    "bm25": "engines.bm25:Bm25Engine",
    "frozen-index": "engines.dense:FrozenIndexEngine",
    "contrastive": "engines.contrastive:ContrastiveEngine",
    "contrastive-lora": "engines.contrastive:ContrastiveLoraEngine",
}


def engine_names() -> list[str]:
    """Registered engine names."""
    return list(_REGISTRY)


def register_engine(name: str, target: str | type[Engine]) -> None:
    """Add an engine ("module:Class" or a class). Tests use it for fakes."""
    if isinstance(target, type):
        target = f"{target.__module__}:{target.__qualname__}"
    _REGISTRY[name] = target


def unregister_engine(name: str) -> None:
    _REGISTRY.pop(name, None)


def engine_label(name: str) -> str:
    """What a user reads for engine ``name``."""
    return get_engine(name).label or name


def get_engine(name: str) -> type[Engine]:
    """The engine class called ``name``; unknown names get "try one of …"."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}; try one of: {', '.join(_REGISTRY)}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
