"""What every step screen shares: the step bar on top, the footer of bindings, and the flow of the
task whose texts it shows (screens never test which task it is)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer

from advisor.tui.widgets import StepBar

if TYPE_CHECKING:
    from advisor.tui.task_flows import TaskFlow


class StepScreen(Screen):
    """One step of the flow. Subclasses compose ``compose_body`` and react in ``sync``."""

    STEP: str = ""
    AUTO_FOCUS = ""  # nothing focused on arrival, so 1–6 and the step's keys work at once

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        with Container(classes="body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        for what in ("probe", "data", "bench", "advice", "run"):
            self.sync(what)

    def sync(self, what: str) -> None:
        """Part of the app's state changed ('probe', 'data', 'bench', 'advice', 'run')."""

    def action_cancel(self) -> None:
        """Escape: cancel what this step runs (if anything)."""

    @property
    def st(self):
        return self.app.state  # type: ignore[attr-defined]

    def flow(self, task: str | None = None) -> TaskFlow:
        """The flow of ``task`` (default: the goals' task), for its texts; an unknown task's are the
        default task's (``Services.shown_for``)."""
        return self.app.services.shown_for(task or self.st.goals.task)  # type: ignore[attr-defined]
