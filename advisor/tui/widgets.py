"""Small widgets the screens share."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from advisor.tui.screens import STEPS


class StepBar(Static):
    """The steps as a clickable bar, the current one highlighted; keys 1–6 too."""

    DEFAULT_CSS = """
    StepBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(self._markup(current))

    @staticmethod
    def _markup(current: str) -> str:
        parts = []
        for i, (name, title, _) in enumerate(STEPS, 1):
            label = f" {i} {title} "
            if name == current:
                parts.append(f"[b reverse]{label}[/]")
            else:
                parts.append(f"[@click=app.goto('{name}')]{label}[/]")
        return "[b]tune-or-embed[/]  " + "".join(parts) + "   [@click=app.help]?[/]"


class Notice(Static):
    """A one-line message: errors in red, notes dimmed; hidden when empty."""

    DEFAULT_CSS = """
    Notice { height: auto; display: none; padding: 0 1; }
    Notice.-shown { display: block; }
    Notice.-error { color: $text-error; background: $error-muted; }
    Notice.-note { color: $text-muted; }
    """

    def show(self, text: str | None, *, error: bool = False) -> None:
        self.set_class(bool(text), "-shown")
        self.set_class(error, "-error")
        self.set_class(not error, "-note")
        self.update(Content(text or ""))  # plain text: brackets in messages are not markup
