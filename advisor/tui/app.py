"""The app: six steps from goals to a trained artifact, one screen (and .tcss) each.

`create_app(...)` is the factory the CLI and the tests share. The app holds the
state, runs the goals' task's steps (`Services.for_task`) in thread workers and tells the screens
what changed; screens never call the backend themselves. A retrieval run ends on the search screen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from advisor.decide.goals import Goals
from advisor.tui.app_commands import AppCommands
from advisor.tui.app_handlers import WorkerHandlers
from advisor.tui.rank_app import RankCommands
from advisor.tui.screens import STEPS, load_screen
from advisor.tui.screens.base import StepScreen
from advisor.tui.services import Services
from advisor.tui.state import AppState

DARK, LIGHT = "textual-dark", "textual-light"


class TuneOrEmbedApp(RankCommands, AppCommands, WorkerHandlers, App[int]):
    """Fine-tune or embed? Measure, forecast, decide, then train.

    The screens' commands are ``AppCommands`` (``RankCommands`` for retrieval), the workers'
    messages are handled by ``WorkerHandlers``; this class holds the state, modes and keys.
    """

    TITLE = "tune-or-embed"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(str(i), f"goto('{name}')", title, show=False) for i, (name, title, _) in enumerate(STEPS, 1)],
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("escape", "escape", "Cancel", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        *,
        services: Services | None = None,
        data: str | None = None,
        text_col: str | None = None,
        label_col: str | None = None,
        encoding: str | None = None,
        test_file: str | None = None,
        corpus: str | None = None,
        goals: Goals | None = None,
        goals_path: str | None = None,
        profile: str | None = None,
        budget: str = "quick",
        start: str | None = None,
        theme: str | None = None,
        on_ready: Callable[[App], None] | None = None,
    ) -> None:
        super().__init__()
        self.services = services or Services()
        self.state = AppState(
            goals=goals or Goals(),
            profile=profile,
            data_ref=data,
            text_col=text_col,
            label_col=label_col,
            encoding=encoding,
            test_file=test_file or None,
            corpus=corpus or None,
            budget=budget,
        )
        if goals_path:
            self.state.goals_path = goals_path
        self.views: dict[str, StepScreen] = {}
        for name, _title, target in STEPS:
            self.add_mode(name, partial(self._make_view, name, target))
        self._start = start or ("data" if data else "goals")
        self._on_ready = on_ready
        if theme:
            self.theme = theme

    # ----------------------------------------------------------------- lifecycle
    def _make_view(self, name: str, target: str) -> StepScreen:
        view = load_screen(target)()  # each screen's module is imported on first visit
        self.views[name] = view
        return view

    def on_mount(self) -> None:
        self.switch_mode(self._start)

    def on_ready(self) -> None:
        """After the first frame: start the probe (and the data load) in workers."""
        if self._on_ready is not None:
            self._on_ready(self)
        self.refresh_probe()
        if self.state.data_ref:
            st = self.state
            self.load_data(st.data_ref, st.text_col, st.label_col, st.encoding, st.test_file, st.corpus)

    def sync(self, what: str) -> None:
        """Tell every screen built so far that part of the state changed."""
        for view in list(self.views.values()):
            if view.is_mounted:
                view.sync(what)

    # ------------------------------------------------------------------- actions
    def action_goto(self, name: str) -> None:
        if self.current_mode != name:
            self.switch_mode(name)

    def action_help(self) -> None:
        from advisor.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    def action_escape(self) -> None:
        from textual.widgets import Input

        if isinstance(self.focused, Input):
            self.screen.set_focus(None)  # leave the box so 1–6 and the other keys work
            return
        view = self.screen
        if isinstance(view, StepScreen):
            view.action_cancel()

    async def action_quit(self) -> None:
        for event in (self.state.bench_cancel, self.state.run_cancel):
            if event is not None:
                event.set()
        self.exit(0)


def create_app(
    *,
    services: Services | None = None,
    data: str | None = None,
    goals: Goals | None = None,
    goals_path: str | None = None,
    profile: str | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str | None = None,
    test_file: str | None = None,
    corpus: str | None = None,
    budget: str = "quick",
    start: str | None = None,
    theme: str | None = None,
    on_ready: Callable[[App], None] | None = None,
) -> TuneOrEmbedApp:
    """The app, with the real backend unless ``services`` is given (tests pass fakes)."""
    return TuneOrEmbedApp(
        services=services,
        data=data,
        goals=goals,
        goals_path=goals_path,
        profile=profile,
        text_col=text_col,
        label_col=label_col,
        encoding=encoding,
        test_file=test_file,
        corpus=corpus,
        budget=budget,
        start=start,
        theme=theme,
        on_ready=on_ready,
    )
