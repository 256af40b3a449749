"""What the app knows so far. Touched only on the UI thread (workers post messages)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from advisor.decide.goals import Goals


@dataclass
class AppState:
    goals: Goals = field(default_factory=Goals)
    goals_error: str | None = None
    goals_path: str = "goals.toml"
    profile: str | None = None  # chosen by the user; None = the suggested one
    suggested_profile: str | None = None
    profiles: list[tuple[str, str]] = field(default_factory=list)
    profile_error: str | None = None

    resources: Any = None
    resources_error: str | None = None
    probing: bool = False

    data_ref: str | None = None
    text_col: str | None = None
    label_col: str | None = None
    encoding: str | None = None
    test_file: str | None = None  # a held-out file the full run is scored on (all data rows train)
    test_rows: int | None = None
    corpus: str | None = None  # retrieval: more documents for the collection searched
    data_task: str | None = None  # the task the loaded data was read for
    dataset: Any = None  # a Dataset, or (retrieval) a PairsDataset
    summary: Any = None  # a DataSummary, or (retrieval) a PairsSummary
    data_error: str | None = None
    data_loading: bool = False

    budget: str = "quick"
    bench_running: bool = False
    bench_cancel: threading.Event | None = None
    bench_events: list[Any] = field(default_factory=list)
    bench_points: list[Any] = field(default_factory=list)
    bench_error: str | None = None
    advice: Any = None

    run_running: bool = False
    run_cancel: threading.Event | None = None
    run_engine: str | None = None
    run_dir: str | None = None
    run_started_at: float | None = None
    run_error: str | None = None
    manifest: Any = None
    run_task: str | None = None  # the task of the finished run (its manifest)
    artifact_engine: Any = None
    runs_done: list[str] = field(default_factory=list)  # artifact folders finished in this session, oldest first

    search_dir: str | None = None  # the retrieval artifact the search screen searches
    search_engine: Any = None  # its engine, loaded in a worker
    search_loading: bool = False
    search_error: str | None = None
    search_query: str | None = None
    search_hits: list[Any] = field(default_factory=list)  # engines.records.SearchHit, best first

    comparing: bool = False
    comparison: Any = None  # advisor.decide.compare.Comparison of the runs it names
    compare_error: str | None = None

    @property
    def profile_name(self) -> str | None:
        """The profile the advisor will use: the user's pick, else the suggestion."""
        return self.profile or self.suggested_profile
