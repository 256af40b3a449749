"""The TUI end to end on the real backend (tiny profile, small CSV): data → benchmark →
advice → run → predict, plus a real bad file. Marked slow (about 30 s on 2 cores)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from tui_helpers import until as wait_until

pytest.importorskip("textual")


def _write_csv(path: Path, n: int = 240) -> None:
    rng = random.Random(0)
    pos, neg = ["good", "great", "fun", "lovely", "superb"], ["bad", "dull", "boring", "awful", "weak"]
    rows = ["text,label"]
    for i in range(n):
        words = [rng.choice(pos if i % 2 else neg) for _ in range(3)] + [rng.choice(["film", "plot", "cast"])]
        rows.append(f"{' '.join(words)} {i},{'pos' if i % 2 else 'neg'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_real_backend_flow_end_to_end(tmp_path: Path, monkeypatch) -> None:
    from textual.widgets import Input, Select

    from advisor.tui.app import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "reviews.csv"
    _write_csv(data)
    empty = tmp_path / "empty.csv"
    empty.write_text("")

    async def scenario() -> None:
        app = create_app(data=str(empty), profile="tiny", start="data")
        async with app.run_test(size=(100, 30)) as pilot:

            async def until(condition, timeout: float = 120) -> None:
                await wait_until(pilot, condition, timeout)

            await until(lambda: not app.state.data_loading and app.state.resources is not None)
            assert app.state.data_error and "empty" in app.state.data_error  # the real DataError, one line
            assert app.state.resources.logical_cores >= 1  # the real probe

            box = app.screen.query_one("#data-path", Input)
            box.value = str(data)
            box.focus()
            await pilot.press("enter")
            await until(lambda: app.state.dataset is not None)
            assert app.state.summary.rows == 240 and app.state.dataset.label_col == "label"

            await pilot.press("escape", "4", "s")
            await until(lambda: app.state.advice is not None or app.state.bench_error is not None)
            assert app.state.bench_error is None
            advice = app.state.advice
            # The screen composes its placeholder first and fills it in on mount: wait for that.
            await until(
                lambda: (
                    app.current_mode == "advice"
                    and bool(app.screen.query("#choice"))
                    and "No advice yet" not in str(app.screen.query_one("#choice").render())
                )
            )
            assert advice.recommendation.label in str(app.screen.query_one("#choice").render())
            assert app.state.bench_points, "points land while the benchmark runs"

            await pilot.press("6")
            await until(lambda: app.current_mode == "run" and bool(app.screen.query("#engine")))
            app.screen.query_one("#engine", Select).value = "tfidf"
            # The screen fills in the output folder when it handles the change: wait for it.
            await until(lambda: app.screen.query_one("#out-dir", Input).value == "runs/tfidf")
            await pilot.press("r")
            await until(lambda: app.state.manifest is not None or app.state.run_error is not None)
            assert app.state.run_error is None
            assert (tmp_path / "runs" / "tfidf" / "manifest.json").exists()
            assert app.state.manifest.metrics.accuracy > 0.6  # held-out, far above chance on this data
            await pilot.press(*"great fun superb", "enter")
            await until(lambda: "→" in str(app.screen.query_one("#answer").render()), 30)
            assert "→ pos" in str(app.screen.query_one("#answer").render())

    asyncio.run(scenario())
