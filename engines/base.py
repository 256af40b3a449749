"""The Engine protocol, the name→class registry, and the records engines report.

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

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engines.errors import ConfigError

Task = Literal["classification", "retrieval"]


class Record(BaseModel):
    """Base for data that crosses a boundary: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- data
class Examples(Record):
    """Labelled texts for the classification task (one label per text)."""

    texts: list[str] = Field(description="The input texts.")
    labels: list[str] = Field(description="One label per text, as strings.")

    @model_validator(mode="after")
    def _same_length(self) -> Examples:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        return self

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> Examples:
        """The examples at ``indices``, in that order."""
        return Examples(texts=[self.texts[i] for i in indices], labels=[self.labels[i] for i in indices])

    @property
    def classes(self) -> list[str]:
        """Sorted distinct labels."""
        return sorted(set(self.labels))


# Retrieval (query/document pairs scored by recall@k and MRR) will add its own
# record here and be accepted by engines whose ``tasks`` include "retrieval".
TaskData = Examples


# ----------------------------------------------------------------------- progress
class ProgressEvent(Record):
    """One progress report from long work."""

    phase: str = Field(description="What is running: 'load', 'embed', 'train', 'eval', 'head', 'index', 'save'.")
    done: int = Field(description="Units done so far in this phase.")
    total: int | None = Field(None, description="Units in this phase, if known.")
    unit: str = Field("examples", description="What is counted: 'examples', 'steps', 'texts'.")
    message: str = Field("", description="A short human note, e.g. 'loss 0.41'.")


ProgressFn = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """A progress callback that ignores everything."""


# ------------------------------------------------------------------------ reports
StopReason = Literal["completed", "budget", "cancelled", "early_stopping"]


class FitReport(Record):
    """What one ``fit`` did and measured."""

    engine: str
    n_train: int = Field(description="Training examples given.")
    examples_seen: int = Field(description="Training examples processed (counting repeats over epochs).")
    epochs: float = Field(description="Epochs completed (fractional when stopped early).")
    steps: int = Field(0, description="Optimizer steps (0 for engines without steps).")
    tokens_seen: int = Field(0, description="Non-padding tokens processed in training (transformers).")
    stopped: StopReason = Field("completed", description="Why training ended.")
    best_step: int | None = Field(None, description="Step of the best validation score (early stopping), if validated.")
    phase_s: dict[str, float] = Field(default_factory=dict, description="Wall seconds per phase (load, embed, train, head …).")
    wall_s: float = Field(description="Wall seconds of the whole fit.")
    train_examples_per_s: float | None = Field(None, description="Training throughput (examples/s) in the main phase.")
    train_tokens_per_s: float | None = Field(None, description="Training throughput in non-padding tokens/s.")
    peak_rss_bytes: int | None = Field(None, description="Peak resident memory of the process during fit.")
    peak_gpu_bytes: int | None = Field(None, description="torch.cuda.max_memory_allocated during fit, on GPU.")
    device: str = Field("cpu", description="Where it ran.")
    notes: list[str] = Field(default_factory=list, description="Things the user should know (OOM retries, resume …).")


class Predictions(Record):
    """Labels and class probabilities for a list of texts."""

    labels: list[str]
    classes: list[str] = Field(description="Column order of ``scores``.")
    scores: list[list[float]] = Field(description="Per text, a probability (or score) per class.")


class ClassReport(Record):
    precision: float
    recall: float
    f1: float
    support: int


class EvalReport(Record):
    """Held-out quality. ``correct`` lets callers bootstrap confidence intervals."""

    task: Task = "classification"
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassReport] = Field(default_factory=dict)
    correct: list[bool] = Field(default_factory=list, description="Per test example, was it right.")
    y_pred: list[str] = Field(default_factory=list, description="Per test example, the predicted label.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Other metrics (recall@k, MRR for retrieval).")


class SpeedReport(Record):
    """Inference speed, measured after a warm-up."""

    texts_per_s: float = Field(description="Throughput at the large batch size.")
    batch_sizes: tuple[int, int] = (1, 32)
    latency_ms_p50: dict[int, float] = Field(description="Per batch size, median milliseconds per text.")
    latency_ms_p95: dict[int, float] = Field(description="Per batch size, 95th-percentile milliseconds per text.")
    peak_rss_bytes: int | None = None
    device: str = "cpu"


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
    # What the advisor asks instead of testing names (scikit-learn's tags, in spirit):
    label: ClassVar[str] = ""  # what a user reads ("Fine-tune (full)"); the name when empty
    cheap_fits: ClassVar[bool] = False  # a fit costs seconds: many sizes × seeds, full-size CV
    caches_vectors: ClassVar[bool] = False  # `prepare` caches per-text vectors that later fits reuse
    memory_model: ClassVar[Literal["none", "frozen", "full", "adapters"]] = "none"
    # training memory: nothing to model / forward passes of a frozen model / full weights'
    # grads + AdamW / adapters' grads + AdamW over frozen fp32 weights
    alternative_to: ClassVar[str | None] = None  # another way to the same approach (LoRA → finetune)

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        if config is None:
            config = self.config_cls()
        elif isinstance(config, dict):
            config = self.config_cls(**config)
        self.config = config

    def prepare(self, texts: Sequence[str], *, progress: ProgressFn = no_progress,
                cancel: threading.Event | None = None) -> None:
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
    def fit(self, train: TaskData, *, valid: TaskData | None = None, budget_s: float | None = None,
            progress: ProgressFn = no_progress, cancel: threading.Event | None = None,
            workdir: Path | None = None, resume: bool = False) -> FitReport:
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
