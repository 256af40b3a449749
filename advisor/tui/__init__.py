"""The Textual app: `tune-or-embed` with no arguments, or `tune-or-embed tui`.

Only this package imports Textual. It reaches the advisor and the engines through
`advisor.tui.services.Services` (public functions, called in thread workers).
"""

from __future__ import annotations

from typing import Any


def create_app(**kwargs: Any):
    """Build the app (see `advisor.tui.app.create_app`); Textual is imported here, not before."""
    from advisor.tui.app import create_app as _create_app

    return _create_app(**kwargs)
