"""Messages thread workers post to the app (the only way a worker reaches the UI)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ProbeDone(Message):
    """The probe finished (``resources`` None and ``error`` set when it failed)."""

    def __init__(
        self,
        resources: Any,
        error: str | None,
        profiles: list[tuple[str, str]],
        suggested: str | None,
        profile_error: str | None,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.error = error
        self.profiles = profiles
        self.suggested = suggested
        self.profile_error = profile_error


class DataLoaded(Message):
    """The data (and the separate test file's row count, when one was given) loaded, read for ``task``:
    a ``Dataset`` and its ``DataSummary``, or (retrieval) a ``PairsDataset`` and its ``PairsSummary``."""

    def __init__(
        self, ref: str, dataset: Any, summary: Any, test_rows: int | None = None, task: str = "classification"
    ) -> None:
        super().__init__()
        self.ref = ref
        self.dataset = dataset
        self.summary = summary
        self.test_rows = test_rows
        self.task = task


class DataFailed(Message):
    def __init__(self, ref: str, error: str) -> None:
        super().__init__()
        self.ref = ref
        self.error = error


class BenchProgress(Message):
    """One `advisor.measure.BenchEvent`."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class BenchDone(Message):
    def __init__(self, advice: Any) -> None:
        super().__init__()
        self.advice = advice


class BenchFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RunProgress(Message):
    """One `engines.base.ProgressEvent` of the full run, with the time it arrived."""

    def __init__(self, event: Any, at: float) -> None:
        super().__init__()
        self.event = event
        self.at = at


class RunDone(Message):
    """A full run finished; ``engine`` is the loaded artifact (None for retrieval: the search screen
    loads it in its own worker, since that imports torch)."""

    def __init__(self, manifest: Any, out_dir: str, engine: Any, task: str = "classification") -> None:
        super().__init__()
        self.manifest = manifest
        self.out_dir = out_dir
        self.engine = engine
        self.task = task


class RunFailed(Message):
    def __init__(self, error: str, cancelled: bool) -> None:
        super().__init__()
        self.error = error
        self.cancelled = cancelled


class Compared(Message):
    """Runs compared on their shared held-out rows (``result`` a ``Comparison``), or why not."""

    def __init__(self, result: Any, error: str | None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class Answer(Message):
    """A prediction or search result for the try-it box (``error`` set when it failed)."""

    def __init__(self, kind: str, query: str, result: Any, error: str | None) -> None:
        super().__init__()
        self.kind = kind
        self.query = query
        self.result = result
        self.error = error


class Exported(Message):
    def __init__(self, what: str, path: str | None, error: str | None) -> None:
        super().__init__()
        self.what = what
        self.path = path
        self.error = error


class SearchReady(Message):
    """A retrieval artifact's engine loaded for the search screen (``error`` set when it failed)."""

    def __init__(self, out_dir: str, engine: Any, error: str | None) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.engine = engine
        self.error = error


class SearchHits(Message):
    """The top hits (``engines.records.SearchHit``) of one query on the search screen."""

    def __init__(self, query: str, hits: list[Any], error: str | None) -> None:
        super().__init__()
        self.query = query
        self.hits = hits
        self.error = error
