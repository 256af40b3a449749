"""Fake engines for the benchmark tests: deterministic learning curves, no models. They declare
the same capability flags as the real engines they stand in for (engines/tfidf.py, embedding.py,
finetune.py), so the benchmark asks them what it asks the real ones. The ``fakes`` fixture in
conftest.py registers them under the real names."""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from engines import base
from engines.base import Engine, Examples, FitReport, Predictions


class FakeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")


class FakeEngine(Engine):
    """Deterministic accuracy curve acc(n) = c − a·n^(−b): a text is right when its hash falls below acc."""

    name: ClassVar[str] = "fake"
    description: ClassVar[str] = "fake"
    config_cls: ClassVar[type[BaseModel]] = FakeConfig
    CURVE: ClassVar[tuple[float, float, float]] = (0.80, 1.2, 0.5)
    SECONDS_PER_EXAMPLE: ClassVar[float] = 0.0
    MIN_EXAMPLES: ClassVar[int] = 0  # like min_steps × batch
    TRUTH: ClassVar[dict[str, str]] = {}
    CLASSES: ClassVar[list[str]] = []
    seen: ClassVar[set[str]] = set()
    fits: ClassVar[list[int]] = []

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.n = 0

    def fit(
        self,
        train: Examples,
        *,
        valid=None,
        budget_s=None,
        progress=base.no_progress,
        cancel=None,
        workdir=None,
        resume=False,
    ) -> FitReport:
        type(self).seen.update(train.texts)
        type(self).fits.append(len(train))
        examples = max(self.MIN_EXAMPLES, len(train))
        cost = examples * self.SECONDS_PER_EXAMPLE
        stopped = "completed"
        t0 = time.perf_counter()
        if cost:
            wait = min(cost, budget_s) if budget_s else cost
            if cancel is not None and cancel.wait(wait):
                stopped = "cancelled"
            elif budget_s is not None and cost > budget_s:
                stopped = "budget"
        self.n = len(train) if stopped == "completed" else max(2, len(train) // 10)
        wall = time.perf_counter() - t0
        # A fit cut short took that share of its steps (for a trainer: of its recipe's steps).
        done = 1.0 if stopped == "completed" else min(1.0, wall / cost)
        if self.trains_backbone:
            from advisor.measure import finetune_steps

            steps = int(done * finetune_steps(self.config, len(train))[0])
        else:
            steps = int(done * examples // 8)
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=examples,
            epochs=1.0,
            steps=steps,
            tokens_seen=examples * 20,
            stopped=stopped,
            wall_s=wall,
            train_examples_per_s=(1 / self.SECONDS_PER_EXAMPLE) if self.SECONDS_PER_EXAMPLE else None,
            train_tokens_per_s=(20 / self.SECONDS_PER_EXAMPLE) if self.SECONDS_PER_EXAMPLE else None,
            peak_rss_bytes=100_000_000,
        )

    def accuracy(self) -> float:
        c, a, b = self.CURVE
        return max(0.0, c - a * max(self.n, 1) ** (-b))

    def predict(self, texts) -> Predictions:
        acc = self.accuracy()
        out = []
        for t in texts:
            truth = self.TRUTH.get(t, self.CLASSES[0])
            h = (zlib.crc32(t.encode()) % 10_000) / 10_000
            out.append(truth if h < acc else next(c for c in self.CLASSES if c != truth))
        return Predictions(labels=out, classes=self.CLASSES, scores=[[0.5] * len(self.CLASSES) for _ in out])

    def save(self, directory: Path) -> None:  # pragma: no cover
        pass

    @classmethod
    def load(cls, directory: Path) -> Engine:  # pragma: no cover
        return cls()


class FakeTfidf(FakeEngine):
    name = "tfidf"
    CURVE = (0.74, 0.9, 0.4)
    label = "TF-IDF baseline"
    cheap_fits = True


class FakeEmbedding(FakeEngine):
    name = "embedding"
    CURVE = (0.76, 0.6, 0.5)
    uses_transformer = True
    label = "Frozen embeddings + head"
    cheap_fits = True
    caches_vectors = True
    memory_model = "frozen"
    prepared: ClassVar[list[str]] = []

    def prepare(self, texts, *, progress=base.no_progress, cancel=None) -> None:
        type(self).prepared.extend(texts)


class FakeFinetune(FakeEngine):
    name = "finetune"
    CURVE = (0.90, 2.0, 0.5)
    uses_transformer = True
    trains_backbone = True
    label = "Fine-tune (full)"
    memory_model = "full"


class FakeLora(FakeFinetune):
    name = "lora"
    label = "Fine-tune (LoRA)"
    memory_model = "adapters"
    alternative_to = "finetune"


def make_examples(n: int = 600, classes: tuple[str, ...] = ("neg", "pos"), seed: int = 0) -> Examples:
    texts = [f"text number {i} seed {seed}" for i in range(n)]
    labels = [classes[(i * 7 + i // 3) % len(classes)] for i in range(n)]
    return Examples(texts=texts, labels=labels)
