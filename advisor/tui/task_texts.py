"""What the screens show for one task (`TaskTexts`, a part of every `TaskFlow`): the Data step's form
and panels, the benchmark's points and curves, the advice's forecasts, the finished run. No Textual here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Row = tuple[str, ...]
Curves = dict[str, list[tuple[int, float]]]  # (size, metric) per approach


@dataclass(frozen=True)
class DataForm:
    """The Data step's form for a task: its boxes, the one optional extra file it asks for, the titles
    of the side panels and the preview's columns."""

    placeholders: tuple[str, str, str]  # the data path box, the first and the second column box
    extra_file: Literal["test-file", "corpus"]  # the optional file box shown (the other is hidden)
    extra_label: str  # that box's label
    sections: tuple[str, str, str]  # the titles of the columns, balance and lengths panels
    preview: Row  # the preview table's columns


@dataclass(frozen=True)
class DataPanels:
    """The loaded data as the Data step shows it: the preview's rows and the side panels (Rich markup)."""

    rows: list[Row]
    columns: str
    balance: str
    lengths: str
    dropped: str
    hint: str  # what to do next


class TaskTexts(Protocol):
    """Each screen asks the flow of its task for these, and never tests which task it is."""

    # ------------------------------------------------------------------------- data
    @property
    def demos(self) -> Sequence[str]:
        """The demo names the data path box completes."""
        ...

    @property
    def data_form(self) -> DataForm: ...

    def data_ref(self, dataset: Any) -> str:
        """What the user typed for the loaded data."""
        ...

    def data_panels(self, dataset: Any, summary: Any, *, test_rows: int | None, limit: int) -> DataPanels:
        """The preview's first ``limit`` rows and the side panels (``test_rows``: a held-out file's)."""
        ...

    def data_phrase(self, dataset: Any) -> str:
        """The data as the benchmark's "Ready: press s to benchmark …" line names it."""
        ...

    # -------------------------------------------------------------------- benchmark
    @property
    def point_columns(self) -> Row:
        """The columns of the benchmark's points table."""
        ...

    @property
    def points_in_events(self) -> bool:
        """The benchmark's progress events carry its points (else they are the advice's, at the end)."""
        ...

    def point_row(self, point: Any) -> Row:
        """A point a progress event carried, as a points-table row."""
        ...

    def advice_point_rows(self, advice: Any) -> list[Row]:
        """The points an advice measured, as points-table rows."""
        ...

    def curve_title(self, goals: Any) -> str: ...

    def curves(self, advice: Any, points: list[Any]) -> Curves:
        """The learning curves measured so far: from the events' ``points`` or the ``advice`` (or None)."""
        ...

    # ----------------------------------------------------------------------- advice
    @property
    def forecast_columns(self) -> Row: ...

    def forecast_rows(self, advice: Any) -> list[Row]: ...

    def advice_notes(self, advice: Any) -> list[str]:
        """Lines shown above the flagged forecasts (what the benchmark measured on, say)."""
        ...

    # -------------------------------------------------------------------------- run
    def artifact_text(self, manifest: Any, run_dir: str | None) -> str:
        """A finished run: where, its held-out scores, how to use it (plain text)."""
        ...
