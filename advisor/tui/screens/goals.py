"""Step 1 — Goals: a form over `advisor.decide.goals.Goals`, validated as you type; the profile."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import DescendantFocus
from textual.widgets import Button, Input, Label, Select, Static, Switch

from advisor.common.tasks import TASKS
from advisor.decide.goals import Goals, Weights, goals_to_toml, load_goals
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice

# (field, kind, title); "weights.x" fields live in Goals.weights.
FIELDS: list[tuple[str, str, str]] = [
    ("task", "select", "Task"),
    ("metric", "select", "Metric"),
    ("labelled_size", "int", "Labelled examples"),
    ("min_accuracy", "float", "Minimum quality (0–1)"),
    ("latency_budget_ms", "float", "Latency budget (ms)"),
    ("deadline_minutes", "float", "Training deadline (min)"),
    ("predictions_per_day", "int", "Predictions per day"),
    ("price_per_hour", "float", "Price per machine-hour"),
    ("data_may_leave_machine", "switch", "Data may leave machine"),
    ("weights.accuracy", "float", "Weight: accuracy"),
    ("weights.training_time", "float", "Weight: training time"),
    ("weights.latency", "float", "Weight: latency"),
    ("weights.cost", "float", "Weight: cost"),
]
SELECT_CHOICES = {"task": list(TASKS), "metric": [m for t in TASKS.values() for m in t.metrics]}
PLACEHOLDERS = {
    "labelled_size": "all rows",
    "min_accuracy": "none",
    "latency_budget_ms": "none",
    "deadline_minutes": "none",
    "price_per_hour": "none (machine-hours)",
}


def widget_id(field: str) -> str:
    return "goal-" + field.replace(".", "-").replace("_", "-")


def description(field: str) -> str:
    if field.startswith("weights."):
        return Weights.model_fields[field.split(".", 1)[1]].description or ""
    return Goals.model_fields[field].description or ""


def current_value(goals: Goals, field: str) -> Any:
    if field.startswith("weights."):
        return getattr(goals.weights, field.split(".", 1)[1])
    return getattr(goals, field)


def is_optional(field: str) -> bool:
    return not field.startswith("weights.") and Goals.model_fields[field].default is None


def parse_form(values: dict[str, Any]) -> tuple[Goals | None, dict[str, str]]:
    """Goals from the form's raw values (text for inputs), or the errors per field."""
    errors: dict[str, str] = {}
    top: dict[str, Any] = {}
    weights: dict[str, Any] = {}
    for field, kind, _ in FIELDS:
        value = values[field]
        if kind in ("int", "float"):
            text = str(value).strip().replace("_", "").replace(",", "")
            if not text:
                if is_optional(field):
                    value = None
                else:
                    errors[field] = "required"
                    continue
            else:
                try:
                    value = int(text) if kind == "int" else float(text)
                except ValueError:
                    errors[field] = "a whole number" if kind == "int" else "a number"
                    continue
        if field.startswith("weights."):
            weights[field.split(".", 1)[1]] = value
        else:
            top[field] = value
    if errors:
        return None, errors
    try:
        return Goals(**top, weights=Weights(**weights)), {}
    except ValidationError as exc:
        prefix = "weights" if exc.title == "Weights" else ""
        for err in exc.errors():
            loc = ".".join([prefix] * bool(prefix) + [str(p) for p in err["loc"]]) or "goals"
            errors.setdefault(loc, err["msg"].removeprefix("Value error, "))
        return None, errors


class GoalsScreen(StepScreen):
    STEP = "goals"
    CSS_PATH = "goals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_goals", "Save goals"),
        Binding("ctrl+o", "load_goals", "Load goals"),
    ]

    def compose_body(self) -> ComposeResult:
        goals = self.st.goals
        with VerticalScroll(id="goals-form"):
            yield Static(
                "What matters for this project? Defaults are fine to start; "
                "Tab moves between fields, Esc leaves a box.",
                classes="intro",
            )
            for field, kind, title in FIELDS:
                with Horizontal(classes="row"):
                    yield Label(title, classes="field-label")
                    tooltip = description(field)
                    if kind == "select":
                        widget: Any = Select(
                            [(c, c) for c in SELECT_CHOICES[field]],
                            value=current_value(goals, field),
                            allow_blank=False,
                            id=widget_id(field),
                            compact=True,
                        )
                    elif kind == "switch":
                        widget = Switch(value=bool(current_value(goals, field)), id=widget_id(field))
                    else:
                        value = current_value(goals, field)
                        widget = Input(
                            "" if value is None else str(value),
                            placeholder=PLACEHOLDERS.get(field, ""),
                            type="integer" if kind == "int" else "number",
                            id=widget_id(field),
                            compact=True,
                        )
                    widget.tooltip = tooltip
                    yield widget
                    yield Label("", classes="field-error", id=widget_id(field) + "-error")
            with Horizontal(classes="row"):
                yield Label("Profile", classes="field-label")
                yield Select([], prompt="probing…", id="profile", allow_blank=True, compact=True)
                yield Label("", classes="field-error", id="profile-error")
            with Horizontal(classes="row", id="file-row"):
                yield Label("Goals file", classes="field-label")
                yield Input(self.st.goals_path, id="goals-path", compact=True)
                yield Button("Load", id="load-goals", compact=True)
                yield Button("Save", id="save-goals", variant="primary", compact=True)
        yield Notice(id="goals-notice")
        yield Static("", id="field-help")

    # --- form → state
    def form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field, _kind, _ in FIELDS:
            widget: Any = self.query_one("#" + widget_id(field))  # an Input, Select or Switch: all have .value
            values[field] = widget.value
        return values

    def validate_form(self) -> None:
        goals, errors = parse_form(self.form_values())
        for field, _kind, _ in FIELDS:
            self.query_one("#" + widget_id(field) + "-error", Label).update(errors.get(field, ""))
            self.query_one("#" + widget_id(field)).set_class(field in errors, "-invalid")
        if goals is not None:
            task_changed = goals.task != self.st.goals.task
            self.st.goals, self.st.goals_error = goals, None
            self.query_one("#goals-notice", Notice).show(None)
            if task_changed:
                self.app.task_changed()  # type: ignore[attr-defined]
        else:
            loc, msg = next(iter(errors.items()))
            self.st.goals_error = f"{loc}: {msg}"
            shown = {f for f, _k, _t in FIELDS}
            extra = [f"{k}: {v}" for k, v in errors.items() if k not in shown]
            self.query_one("#goals-notice", Notice).show("; ".join(extra) or None, error=True)

    @on(Input.Changed, "#goals-form Input")
    @on(Select.Changed, "#goals-form Select")
    @on(Switch.Changed)
    def _changed(self, event: Any) -> None:
        control = getattr(event, "control", None)
        if control is not None and control.id in ("goals-path", "profile"):
            return
        if control is not None and control.id == widget_id("task") and self._match_metric(str(event.value)):
            return  # the metric's own change validates the form
        self.validate_form()

    def _match_metric(self, task: str) -> bool:
        """Switch the metric to the task's first when it belongs to the other task; True when it changed."""
        metric = self.query_one("#" + widget_id("metric"), Select)
        allowed = TASKS[task].metrics if task in TASKS else ()
        if not allowed or metric.value in allowed:
            return False
        metric.value = allowed[0]
        return True

    @on(Select.Changed, "#profile")
    def _profile_changed(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK and event.value is not None:
            value = str(event.value)
            self.st.profile = None if value == self.st.suggested_profile else value

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        widget_id_ = getattr(event.widget, "id", "") or ""
        for field, _kind, title in FIELDS:
            if widget_id(field) == widget_id_:
                self.query_one("#field-help", Static).update(f"[b]{title}[/b] — {description(field)}")
                return
        helps = {
            "profile": "Engine settings, sample sizes and budgets; suggested from the probe.",
            "goals-path": "A TOML file: Ctrl+O loads it, Ctrl+S saves the form to it.",
        }
        self.query_one("#field-help", Static).update(helps.get(widget_id_, ""))

    # --- state → form
    def fill(self, goals: Goals) -> None:
        for field, kind, _ in FIELDS:
            widget: Any = self.query_one("#" + widget_id(field))  # an Input, Select or Switch: all have .value
            value = current_value(goals, field)
            if kind == "select":
                widget.value = value
            elif kind == "switch":
                widget.value = bool(value)
            else:
                widget.value = "" if value is None else str(value)

    def sync(self, what: str) -> None:
        if what != "probe":
            return
        st = self.st
        select = self.query_one("#profile", Select)
        if st.profiles:
            options = [
                (f"{name} (suggested)" if name == st.suggested_profile else name, name) for name, _desc in st.profiles
            ]
            select.set_options(options)
            chosen = st.profile_name
            if chosen in {n for n, _ in st.profiles}:
                select.value = chosen
        self.query_one("#profile-error", Label).update(st.profile_error or "")

    # --- load / save
    def _path(self) -> str:
        path = self.query_one("#goals-path", Input).value.strip() or "goals.toml"
        self.st.goals_path = path
        return path

    def action_save_goals(self) -> None:
        from advisor.tui.services import describe_error
        from engines.atomic import write_text

        notice = self.query_one("#goals-notice", Notice)
        self.validate_form()
        if self.st.goals_error:
            notice.show(f"not saved: {self.st.goals_error}", error=True)
            return
        path = self._path()
        try:
            write_text(path, goals_to_toml(self.st.goals))
        except Exception as exc:  # noqa: BLE001 - one line in the UI
            notice.show(describe_error(exc), error=True)
            return
        notice.show(f"saved to {path}")
        self.notify(f"Goals saved to {path}")

    def action_load_goals(self) -> None:
        from advisor.tui.services import describe_error

        notice = self.query_one("#goals-notice", Notice)
        path = self._path()
        try:
            goals = load_goals(path)
        except Exception as exc:  # noqa: BLE001
            notice.show(describe_error(exc), error=True)
            return
        task_changed = goals.task != self.st.goals.task
        self.st.goals = goals
        self.fill(goals)
        notice.show(f"loaded {path}")
        if task_changed:
            self.app.task_changed()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#save-goals")
    def _save_pressed(self) -> None:
        self.action_save_goals()

    @on(Button.Pressed, "#load-goals")
    def _load_pressed(self) -> None:
        self.action_load_goals()
