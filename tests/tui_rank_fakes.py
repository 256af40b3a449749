"""The TUI's retrieval flow on a fast backend (test support; not shipped in the wheel).

The pairs are read, benchmarked, advised on, run and searched by the real ``advisor`` code; only
the engines are fakes: ``fake_rank_engines``' lexical and "tuned" engines (milliseconds, no model),
here with their documents' texts in the hits, as the real engines return them. Everything else
(probe, profiles, the classification side) comes from ``tui_fakes.FakeBackend``. No Textual here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from fake_rank_engines import FakeLexical, FakeTuned, rank_pairs
from retrieval_helpers import write_pairs_file

from advisor.tui.services import Services

ENGINES = ["fake-lexical", "fake-tuned"]


class _Texts:
    """Keeps the collection's texts: hits carry them, the artifact stores them."""

    def index(self, doc_ids, docs, *, progress=None, cancel=None) -> None:
        super().index(doc_ids, docs, progress=progress, cancel=cancel)  # type: ignore[misc]
        self.texts = dict(zip(doc_ids, docs))

    def search_many(self, queries, k: int = 10):
        hits = super().search_many(queries, k)  # type: ignore[misc]
        return [[h.model_copy(update={"text": self.texts[h.doc_id]}) for h in row] for row in hits]

    def save(self, directory: Path) -> None:
        super().save(directory)  # type: ignore[misc]
        (Path(directory) / "texts.json").write_text(json.dumps(self.texts))

    @classmethod
    def load(cls, directory: Path):
        engine = super().load(directory)  # type: ignore[misc]
        engine.texts = json.loads((Path(directory) / "texts.json").read_text())
        return engine


class TextLexical(_Texts, FakeLexical):
    pass


class TextTuned(_Texts, FakeTuned):
    pass


def register(monkeypatch) -> list[str]:
    """Register the two engines (under the fakes' names) for this test; their names are returned."""
    from engines import base

    for name, cls in zip(ENGINES, (TextLexical, TextTuned), strict=True):
        monkeypatch.setitem(base._REGISTRY, name, f"{cls.__module__}:{cls.__qualname__}")
    monkeypatch.setattr(FakeTuned, "fits", [])
    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 0.0)
    return list(ENGINES)


def write_pairs(path: Path, n: int = 200) -> Path:
    """A pairs CSV whose query ``qN …`` has the relevant document ``dN`` (the id ``load_pairs`` gives it)."""
    write_pairs_file(path, rank_pairs(n, 0))
    return path


def rank_services(base: Services, *, calls: list[str] | None = None) -> Services:
    """``base`` (a ``FakeBackend``'s services) with the real retrieval backend on the fake engines: the
    advice measures only them, on the tiny profile and the machine as probed (the fakes' probe is not a
    real ``Resources``)."""
    from advisor.retrieval import advise_retrieval
    from advisor.tui.task_flows import RetrievalFlow
    from engines.base import get_engine

    log = calls if calls is not None else []

    def advise(data: Any, goals: Any, **kwargs: Any) -> Any:
        log.append(f"advise_retrieval:{kwargs.get('budget')}")
        kwargs.update(profile="tiny", resources=None, engines=ENGINES)
        return advise_retrieval(data, goals, **kwargs)

    def run(spec: Any, out_dir: Any, **kwargs: Any) -> Any:
        log.append(f"rank_full_run:{spec.engine}:resume={kwargs.get('resume')}")
        return RetrievalFlow().rank_full_run(spec, out_dir, **kwargs)

    def engine_class(name: str) -> Any:
        return get_engine(name) if name in ENGINES else base.engine_class(name)

    flow = dataclasses.replace(base.for_task("retrieval"), advise_retrieval=advise, rank_full_run=run)
    return dataclasses.replace(
        base, engine_names=lambda: [*base.engine_names(), *ENGINES], engine_class=engine_class
    ).with_task(flow)
