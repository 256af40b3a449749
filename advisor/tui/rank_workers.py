"""Thread workers of the search screen (only retrieval has one): load a finished run's index, search it.
The rules of ``advisor.tui.workers``; the index loads here, never on the UI thread (it imports torch)."""

from __future__ import annotations

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
    """Mixed into the App beside ``BackendWorkers``: ``self.services`` is the app's."""

    services: Services

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
