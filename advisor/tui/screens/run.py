"""Step 6 — Run: train the recommended approach (or another) on all the data, with a
progress bar, ETA, cancel and resume; then the artifact, its held-out metrics and a
box to try predictions (and search, for engines that support it). Two or more runs
finished here can be compared on their shared held-out rows (what a too-close call
asks for): each one's metric, the paired leads, and which to keep under the goals.
The engines offered are the goals' task's; a finished run of a task whose flow opens search
(retrieval) opens the search screen over its index (`/` opens it again)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static, Switch

from advisor.tui.run_format import PhaseClock, plan_text
from advisor.tui.screens.base import StepScreen
from advisor.tui.screens.run_sections import ArtifactSection, CompareSection
from advisor.tui.task_flows import DEFAULT_TASK, advice_task
from advisor.tui.widgets import Notice


class RunScreen(StepScreen):
    STEP = "run"
    CSS_PATH = "run.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "start", "Run"),
        Binding("c", "compare", "Compare"),
        Binding("slash", "search", "Search", key_display="/", show=False),  # the button says so
        Binding("escape", "app.escape", "Cancel"),  # leaves a text box first, else cancels
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="run-body"):
            with Horizontal(classes="row"):
                yield Label("Engine", classes="run-label")
                yield Select([], prompt="engine", allow_blank=True, id="engine", compact=True)
                yield Label("Output", classes="run-label short")
                yield Input("", id="out-dir", placeholder="folder for the artifact", compact=True)
            with Horizontal(classes="row"):
                yield Label("Resume", classes="run-label")
                yield Switch(False, id="resume")
                yield Label("Overwrite", classes="run-label short")
                yield Switch(False, id="overwrite")
                yield Button("Run (r)", id="start-run", variant="primary", compact=True)
            yield Static("", id="run-plan", classes="dim")
            yield ProgressBar(id="run-progress", show_eta=False)
            yield Static("", id="run-status")
            yield Label("Artifact", classes="section")
            yield Static("–", id="artifact")
            yield Button("Search the index (/)", id="open-search", compact=True)
            yield Label("Compare runs", classes="section")
            with Horizontal(classes="row"):
                yield Static("", id="runs-done", classes="dim")
                yield Button("Compare (c)", id="compare", compact=True, disabled=True)
            yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
            yield Static("", id="compare-verdict")
            yield Label("Try it", classes="section", id="try-label")
            with Horizontal(classes="row", id="try-row"):
                yield Input("", placeholder="type a text and press Enter to predict", id="predict-input", compact=True)
                yield Input("", placeholder="search the stored texts", id="search-input", compact=True)
            yield Static("", id="answer")
            yield DataTable(id="hits", cursor_type="row")
        yield Notice(id="run-notice")

    def on_mount(self) -> None:
        self._clock = PhaseClock()
        self._auto_out = True
        self._artifact = ArtifactSection(self)
        self._compare = CompareSection(self)
        self._artifact.mount()
        self._compare.mount()
        self._by_task = engines_by_task(self.app.services)  # type: ignore[attr-defined]
        self._engines: list[str] = []
        self._set_engines()
        super().on_mount()

    def _set_engines(self) -> None:
        """The engines of the goals' task in the engine box."""
        engines = self._by_task.get(self.st.goals.task, [])
        if engines != self._engines:
            self._engines = engines
            self.query_one("#engine", Select).set_options([(n, n) for n in engines])

    def _recommendation(self) -> Any:
        advice = self.st.advice
        if advice is None or advice_task(advice) != self.st.goals.task:  # the other task's advice
            return None
        return getattr(advice, "recommendation", None)

    def _recommended(self) -> str | None:
        return getattr(self._recommendation(), "choice", None)

    @on(Select.Changed, "#engine")
    def _engine_changed(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK and self._auto_out:
            self.query_one("#out-dir", Input).value = f"runs/{event.value}"
            self._auto_out = True
        self._describe()

    @on(Input.Changed, "#out-dir")
    def _out_changed(self, event: Input.Changed) -> None:
        engine = self.query_one("#engine", Select).value
        self._auto_out = event.value == f"runs/{engine}"

    def _describe(self) -> None:
        engine = self.query_one("#engine", Select).value
        text = plan_text(None if engine is Select.BLANK else str(engine), self._recommendation())
        self.query_one("#run-plan", Static).update(Content(text))

    @on(Button.Pressed, "#start-run")
    def action_start(self) -> None:
        engine = self.query_one("#engine", Select).value
        notice = self.query_one("#run-notice", Notice)
        if engine is Select.BLANK:
            notice.show("pick an engine first", error=True)
            return
        problem = self.app.start_run(  # type: ignore[attr-defined]
            str(engine),
            self.query_one("#out-dir", Input).value,
            resume=self.query_one("#resume", Switch).value,
            overwrite=self.query_one("#overwrite", Switch).value,
        )
        if problem:
            notice.show(problem, error=True)

    def action_cancel(self) -> None:
        self.app.cancel_run()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#open-search")
    def action_search(self) -> None:
        st = self.st
        if st.manifest is None or not self.flow(st.run_task).opens_search or not st.run_dir:
            self.query_one("#run-notice", Notice).show("search needs a finished retrieval run", error=True)
            return
        self.app.open_search(st.run_dir)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#compare")
    def action_compare(self) -> None:
        problem = self.app.compare_runs()  # type: ignore[attr-defined]
        if problem:
            self.query_one("#run-notice", Notice).show(problem, error=True)

    def on_run_event(self, event: Any, at: float) -> None:
        """A progress event of the run (the app's ``RunProgress``, received at ``at``)."""
        status = self._clock.status(event, at)
        self.query_one("#run-progress", ProgressBar).update(total=event.total, progress=event.done)
        self.query_one("#run-status", Static).update(Content(status))

    @on(Input.Submitted, "#predict-input")
    def _predict(self, event: Input.Submitted) -> None:
        self.app.ask("predict", event.value)  # type: ignore[attr-defined]

    @on(Input.Submitted, "#search-input")
    def _search(self, event: Input.Submitted) -> None:
        self.app.ask("search", event.value)  # type: ignore[attr-defined]

    def show_answer(self, msg: Any) -> None:
        """The worker's answer to a prediction or search typed in "Try it" (``messages.Answer``)."""
        self._artifact.show_answer(msg)

    def sync(self, what: str) -> None:
        if what in ("run", "compare"):
            self._compare.sync(self.st)
        if what not in ("run", "advice", "bench", "task"):
            return
        st = self.st
        self._set_engines()
        select = self.query_one("#engine", Select)
        rec = self._recommended()
        if what in ("advice", "bench") and rec in self._engines and not st.run_running:
            select.value = rec
        self._describe()
        button = self.query_one("#start-run", Button)
        button.disabled = st.run_running
        notice = self.query_one("#run-notice", Notice)
        if what != "run":
            return
        if st.run_running:
            self._clock.reset()
            self.query_one("#run-progress", ProgressBar).update(total=None, progress=0)
            self.query_one("#run-status", Static).update(Content(f"starting {st.run_engine}…"))
            notice.show("Training… Esc cancels; fine-tuning keeps a checkpoint (Resume on, then r, continues it).")
        elif st.run_error:
            notice.show(st.run_error, error=True)
        else:
            notice.show(None)
        self._artifact.sync(st)


def engines_by_task(services: Any) -> dict[str, list[str]]:
    """The registered engines by the tasks they do (an engine that cannot say does classification)."""
    out: dict[str, list[str]] = {}
    for name in services.engine_names():
        try:
            tasks = getattr(services.engine_class(name), "tasks", None) or {DEFAULT_TASK}
        except Exception:  # noqa: BLE001 - an engine that fails to import is not offered
            continue
        for task in tasks:
            out.setdefault(task, []).append(name)
    return out
