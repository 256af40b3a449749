"""Step 6 — Run: train the recommended approach (or another) on all the data, with a
progress bar, ETA, cancel and resume; then the artifact, its held-out metrics and a
box to try predictions (and search, for engines that support it). Two or more runs
finished here can be compared on their shared held-out rows (what a too-close call
asks for): each one's metric, the paired leads, and which to keep under the goals.
For the retrieval task the engines are the retrieval ones, and a finished run opens the
search screen over its index (`/` opens it again)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static, Switch

from advisor.tui import rank_format
from advisor.tui.format import fmt_interval, fmt_pct, fmt_seconds, shorten
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice


def eta_seconds(done: int, total: int | None, started_at: float, done_at_start: int, now: float) -> float | None:
    """Seconds left in a phase at the rate seen since it started (None when unknown)."""
    if not total or done <= done_at_start or now <= started_at:
        return None
    rate = (done - done_at_start) / (now - started_at)
    return max(0.0, (total - done) / rate)


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
        self._phase: tuple[str, float, int] | None = None
        self._auto_out = True
        self.query_one("#hits", DataTable).add_columns("score", "label", "text")
        self.query_one("#hits").display = False
        self.query_one("#compare-table").display = False
        self.query_one("#search-input").display = False
        self.query_one("#open-search").display = False
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
        if advice is None or rank_format.is_rank_advice(advice) != self.st.retrieval:
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
        rec = self._recommended()
        if engine is Select.BLANK:
            text = "Pick an engine."
        elif rec is None:
            text = f"No advice yet: {engine} will train with the profile's settings (or benchmark first, step 4)."
        elif engine == rec:
            text = f"{engine} is the recommended approach; the run uses the advice's plan (same split and settings)."
        else:
            text = f"{engine} was not recommended ({rec} was); the run uses the same data and split."
        recommendation = self._recommendation()
        runner_up = getattr(recommendation, "runner_up", None)
        if getattr(recommendation, "too_close", False) and runner_up:
            text += (
                f"\nThe advice is too close to call between {rec} and {runner_up}: run both, "
                "then compare them here (c)."
            )
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
        if getattr(st.manifest, "rank_metrics", None) is None or not st.run_dir:
            self.query_one("#run-notice", Notice).show("search needs a finished retrieval run", error=True)
            return
        self.app.open_search(st.run_dir)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#compare")
    def action_compare(self) -> None:
        problem = self.app.compare_runs()  # type: ignore[attr-defined]
        if problem:
            self.query_one("#run-notice", Notice).show(problem, error=True)

    def on_run_event(self, event: Any, at: float) -> None:
        if self._phase is None or self._phase[0] != event.phase:
            self._phase = (event.phase, at, event.done)
        bar = self.query_one("#run-progress", ProgressBar)
        bar.update(total=event.total, progress=event.done)
        _, started, done0 = self._phase
        eta = eta_seconds(event.done, event.total, started, done0, at)
        count = f"{event.done:,}/{event.total:,}" if event.total else f"{event.done:,}"
        parts = [
            f"{event.phase} {count} {event.unit}",
            f"{fmt_seconds(eta)} left" if eta is not None else "",
            event.message,
        ]
        self.query_one("#run-status", Static).update(Content(" · ".join(p for p in parts if p)))

    @on(Input.Submitted, "#predict-input")
    def _predict(self, event: Input.Submitted) -> None:
        self.app.ask("predict", event.value)  # type: ignore[attr-defined]

    @on(Input.Submitted, "#search-input")
    def _search(self, event: Input.Submitted) -> None:
        self.app.ask("search", event.value)  # type: ignore[attr-defined]

    def show_answer(self, msg: Any) -> None:
        answer = self.query_one("#answer", Static)
        hits = self.query_one("#hits", DataTable)
        self.call_after_refresh(self._show, hits if msg.kind == "search" and not msg.error else answer)
        if msg.error:
            answer.update(Content(f"error: {msg.error}"))
            return
        if msg.kind == "search":
            hits.clear()
            for hit in msg.result:
                hits.add_row(f"{hit.score:.3f}", shorten(hit.label, 14), shorten(hit.text, 200))
            hits.display = True
            answer.update(Content(f"{len(msg.result)} nearest stored texts to “{shorten(msg.query, 40)}”"))
            return
        pred = msg.result
        scores = dict(zip(pred.classes, pred.scores[0])) if pred.scores else {}
        top = sorted(scores.items(), key=lambda kv: -kv[1])[:5]
        detail = "  ".join(f"{k} {v:.2f}" for k, v in top)
        answer.update(Content(f"“{shorten(msg.query, 50)}” → {pred.labels[0]}    {detail}"))

    def _show(self, widget: Any) -> None:
        self.query_one("#run-body").scroll_to_widget(widget, animate=False)

    def sync(self, what: str) -> None:
        if what in ("run", "compare"):
            self._sync_compare()
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
            self._phase = None
            self.query_one("#run-progress", ProgressBar).update(total=None, progress=0)
            self.query_one("#run-status", Static).update(Content(f"starting {st.run_engine}…"))
            notice.show("Training… Esc cancels; fine-tuning keeps a checkpoint (Resume on, then r, continues it).")
        elif st.run_error:
            notice.show(st.run_error, error=True)
        else:
            notice.show(None)
        manifest = st.manifest
        rank = getattr(manifest, "rank_metrics", None) is not None
        self.query_one("#open-search").display = rank
        for selector in ("#try-label", "#try-row", "#answer"):
            self.query_one(selector).display = not rank
        if rank:
            self.query_one("#hits").display = False
            self.query_one("#artifact", Static).update(Content(rank_format.manifest_text(manifest, st.run_dir or "")))
            self.query_one("#run-progress", ProgressBar).update(total=1, progress=1)
            self.query_one("#run-status", Static).update(Content("done"))
        elif manifest is not None:
            metrics = manifest.metrics
            n = getattr(metrics, "n", None)
            held_out = f"on {n:,} held-out rows" if n else "held-out"
            wall = getattr(getattr(manifest, "fit", None), "wall_s", None)
            self.query_one("#artifact", Static).update(
                Content(
                    f"{st.run_dir}\n{manifest.engine}: accuracy {fmt_pct(metrics.accuracy)}, "
                    f"macro-F1 {fmt_pct(metrics.macro_f1)} {held_out}; trained in {fmt_seconds(wall)}\n"
                    f'Use it elsewhere: tune-or-embed predict {st.run_dir} --text "…"'
                )
            )
            self.query_one("#run-progress", ProgressBar).update(total=1, progress=1)
            self.query_one("#run-status", Static).update(Content("done"))
            can_search = bool(getattr(st.artifact_engine, "supports_search", False))
            self.query_one("#search-input").display = can_search
            box = self.query_one("#predict-input", Input)
            box.focus(scroll_visible=False)
            self.query_one("#run-body").scroll_to_widget(box, animate=False)
        elif not st.run_running:
            self.query_one("#artifact", Static).update("–")

    def _sync_compare(self) -> None:
        st = self.st
        done = st.runs_done
        if not done:
            listed = "No runs finished yet. After two or more (same data), compare them here."
        else:
            listed = "Finished here: " + ", ".join(done)
            if len(done) < 2:
                listed += " (run another engine to compare)"
        self.query_one("#runs-done", Static).update(Content(listed))
        self.query_one("#compare", Button).disabled = len(done) < 2 or st.comparing or st.run_running
        verdict = self.query_one("#compare-verdict", Static)
        table = self.query_one("#compare-table", DataTable)
        if st.comparing:
            verdict.update(Content("comparing…"))
            return
        if st.compare_error:
            verdict.update(Content(f"error: {st.compare_error}"))
            return
        c = st.comparison
        if c is None:
            verdict.update("")
            return
        from advisor.common.capabilities import label
        from advisor.decide.compare import verdict_lines

        table.clear(columns=True)
        table.add_columns("run", "approach", c.metric, "training", "latency (batch 1)")
        for r in c.runs:
            table.add_row(
                shorten(r.name, 30),
                label(r.engine),
                fmt_interval(r.value, r.low, r.high),
                fmt_seconds(r.train_s),
                "–" if r.ms_b1 is None else f"{r.ms_b1:.2f} ms",
            )
        # Header plus one line per run, set here: an auto height waits for the table's idle-time
        # resize, which a busy machine can hold back for a long time.
        table.styles.height = len(c.runs) + 1
        table.display = True
        head = f"{c.metric} on the same {c.rows:,} held-out rows (95 % intervals over those rows)"
        verdict.update(Content("\n".join([head, *verdict_lines(c)])))
        self.call_after_refresh(self._show, verdict)


def engines_by_task(services: Any) -> dict[str, list[str]]:
    """The registered engines by the tasks they do (an engine that cannot say does classification)."""
    out: dict[str, list[str]] = {"classification": [], "retrieval": []}
    for name in services.engine_names():
        try:
            tasks = getattr(services.engine_class(name), "tasks", None) or {"classification"}
        except Exception:  # noqa: BLE001 - an engine that fails to import is not offered
            continue
        for task in tasks:
            out.setdefault(task, []).append(name)
    return out
