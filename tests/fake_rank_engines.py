"""Fake retrieval engines for the retrieval advisor's tests: no models, deterministic quality. They
declare the capability flags of the real engines they stand in for (bm25: learns nothing; contrastive:
trains), and ``rank_pairs`` makes data whose query ``qN`` has the relevant document ``dN``."""

from __future__ import annotations

import json
import random
import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from engines.base import no_progress
from engines.records import FitReport, Pairs, ProgressEvent, SearchHit
from engines.retrieval import RetrievalEngine

WORDS = [f"w{i}" for i in range(400)]


class FakeRankConfig(BaseModel):
    model_config = ConfigDict(extra="allow")


def rank_pairs(n: int, extra_docs: int = 0, seed: int = 0) -> Pairs:
    """``n`` queries; query i shares two words with its document d<i> and one with another document."""
    rng = random.Random(seed)
    docs = {f"d{i}": " ".join(rng.sample(WORDS, 8)) for i in range(n + extra_docs)}
    queries, relevant = [], []
    for i in range(n):
        own = docs[f"d{i}"].split()[:2]
        other = docs[f"d{rng.randrange(n + extra_docs)}"].split()[:2]
        queries.append(f"q{i} " + " ".join([*own, *other]))
        relevant.append([f"d{i}"])
    return Pairs(
        query_ids=[f"q{i}" for i in range(n)],
        queries=queries,
        relevant=relevant,
        doc_ids=list(docs),
        docs=list(docs.values()),
    )


class FakeLexical(RetrievalEngine):
    """Word overlap between query and document; learns nothing from pairs."""

    name: ClassVar[str] = "fake-lexical"
    description: ClassVar[str] = "fake lexical"
    config_cls: ClassVar[type[BaseModel]] = FakeRankConfig
    cheap_fits: ClassVar[bool] = True

    def fit(self, train: Pairs, **kwargs: Any) -> FitReport:  # type: ignore[override]
        return FitReport(engine=self.name, n_train=len(train), examples_seen=0, epochs=0.0, wall_s=0.0)

    def index(self, doc_ids, docs, *, progress=None, cancel=None) -> None:
        self.indexed_ids = list(doc_ids)
        self._docs = [set(d.split()) for d in docs]

    def _skill_hit(self, query: str) -> str | None:
        return None

    def search_many(self, queries, k: int = 10) -> list[list[SearchHit]]:
        out = []
        for q in queries:
            words = set(q.split())
            scores = [len(words & d) for d in self._docs]
            order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
            hits = [SearchHit(doc_id=self.indexed_ids[i], score=float(scores[i])) for i in order]
            known = self._skill_hit(q)
            if known is not None and known in self.indexed_ids:
                hits = [SearchHit(doc_id=known, score=99.0), *[h for h in hits if h.doc_id != known]][:k]
            out.append(hits)
        return out

    def save(self, directory: Path) -> None:
        state = {"ids": self.indexed_ids, "docs": [sorted(d) for d in self._docs], "skill": getattr(self, "skill", 0)}
        (Path(directory) / "fake.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, directory: Path) -> FakeLexical:
        state = json.loads((Path(directory) / "fake.json").read_text())
        engine = cls()
        engine.indexed_ids, engine._docs, engine.skill = state["ids"], [set(d) for d in state["docs"]], state["skill"]
        return engine


class FakeTuned(FakeLexical):
    """Overlap, plus a skill that grows with the training pairs: with probability c − a·n^(−b) (by the
    query's hash) it puts the relevant document first. Each of the fine-tune recipe's steps costs SECONDS_PER_STEP."""

    name: ClassVar[str] = "fake-tuned"
    trains_backbone: ClassVar[bool] = True
    uses_transformer: ClassVar[bool] = True
    cheap_fits: ClassVar[bool] = False
    memory_model: ClassVar[str] = "full"  # type: ignore[assignment]
    CURVE: ClassVar[tuple[float, float, float]] = (0.95, 2.0, 0.5)
    SECONDS_PER_STEP: ClassVar[float] = 0.0
    REPORTS_STEPS: ClassVar[bool] = True
    fits: ClassVar[list[int]] = []

    def fit(self, train: Pairs, *, budget_s=None, cancel=None, progress=no_progress, **kwargs: Any) -> FitReport:  # type: ignore[override]
        from engines.finetune import recipe

        type(self).fits.append(len(train))
        t0 = time.perf_counter()
        planned, stopped = recipe(self.config, len(train))[0], "completed"
        steps = planned
        if self.SECONDS_PER_STEP:
            afford = int((budget_s or 1e9) / self.SECONDS_PER_STEP)
            if afford < planned:
                steps, stopped = afford, "budget"
            if self.REPORTS_STEPS:  # step by step, with progress events and cancel between steps
                for done in range(1, steps + 1):
                    if cancel is not None and cancel.is_set():
                        steps, stopped = done - 1, "cancelled"
                        break
                    time.sleep(self.SECONDS_PER_STEP)
                    progress(ProgressEvent(phase="train", done=done, total=planned, unit="steps"))
            else:
                time.sleep(steps * self.SECONDS_PER_STEP)
        c, a, b = self.CURVE
        self.skill = max(0.0, c - a * len(train) ** (-b))
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=len(train),
            epochs=1.0,
            steps=steps,
            stopped=stopped,
            wall_s=time.perf_counter() - t0,
        )

    def _skill_hit(self, query: str) -> str | None:
        if zlib.crc32(query.encode()) % 1000 / 1000 >= self.skill:
            return None
        return "d" + query.split()[0][1:]
