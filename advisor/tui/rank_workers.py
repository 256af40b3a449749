"""Thread workers of the retrieval flow: read the pairs, benchmark, run, load the index, search.

The same rules as ``advisor.tui.workers``: each calls one backend function of ``Services`` and
only ``post_message``s to the app; every error becomes one line. The search engine is loaded
here, never on the UI thread: loading a dense index imports torch.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from advisor.tui import messages as m
from advisor.tui.services import Services, describe_error

SEARCH_K = 10


if TYPE_CHECKING:  # mixed into the App: type-check against it (at run time a plain mixin)
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


class RankWorkers(_AppBase):
    """Mixed into the App beside ``BackendWorkers``."""

    services: Services

    @work(thread=True, exclusive=True, group="data", exit_on_error=False, description="read the pairs")
    def pairs_worker(self, ref: str, query_col: str | None, doc_col: str | None, corpus: str | None) -> None:
        try:
            dataset = self.services.load_pairs(ref, corpus=corpus, query_col=query_col, doc_col=doc_col)
            summary = self.services.summarize_pairs(dataset)
        except BaseException as exc:  # noqa: BLE001 - shown as one line
            self.post_message(m.DataFailed(ref, describe_error(exc)))
            return
        self.post_message(m.DataLoaded(ref, dataset, summary, task="retrieval"))

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False, description="retrieval benchmarks")
    def rank_bench_worker(
        self, dataset: Any, goals: Any, profile: str | None, budget: str, resources: Any, cancel: threading.Event
    ) -> None:
        def progress(event: Any) -> None:
            self.post_message(m.BenchProgress(event))

        try:
            advice = self.services.advise_retrieval(
                dataset,
                goals,
                corpus=getattr(dataset, "corpus", None),
                profile=profile,
                budget=budget,
                resources=resources,
                progress=progress,
                cancel=cancel,
            )
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.BenchFailed(describe_error(exc)))
            return
        self.post_message(m.BenchDone(advice))

    @work(thread=True, exclusive=True, group="run", exit_on_error=False, description="retrieval full run")
    def rank_run_worker(
        self,
        engine: str,
        advice: Any,
        dataset: Any,
        profile: str | None,
        out_dir: str,
        resume: bool,
        overwrite: bool,
        cancel: threading.Event,
    ) -> None:
        from engines.errors import Cancelled

        def progress(event: Any) -> None:
            self.post_message(m.RunProgress(event, time.monotonic()))

        try:
            spec = self.services.make_rank_spec(engine=engine, advice=advice, dataset=dataset, profile=profile)
            manifest = self.services.rank_full_run(
                spec, Path(out_dir), resume=resume, overwrite=overwrite, progress=progress, cancel=cancel
            )
        except BaseException as exc:  # noqa: BLE001
            self.post_message(
                m.RunFailed(describe_error(exc), isinstance(exc, (Cancelled, KeyboardInterrupt)) or cancel.is_set())
            )
            return
        self.post_message(m.RunDone(manifest, out_dir, None, task="retrieval"))

    @work(thread=True, exclusive=True, group="search-load", exit_on_error=False, description="load the index")
    def search_load_worker(self, out_dir: str) -> None:
        try:
            engine = self.services.load_search_engine(Path(out_dir))
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.SearchReady(out_dir, None, describe_error(exc)))
            return
        self.post_message(m.SearchReady(out_dir, engine, None))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False, description="search the index")
    def search_worker(self, engine: Any, query: str, k: int = SEARCH_K) -> None:
        try:
            hits = list(engine.search_many([query], k)[0])
        except BaseException as exc:  # noqa: BLE001
            self.post_message(m.SearchHits(query, [], describe_error(exc)))
            return
        self.post_message(m.SearchHits(query, hits, None))
