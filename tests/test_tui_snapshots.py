"""SVG snapshots of every step (pytest-textual-snapshot) on the fixed fake backend.

Update after a deliberate UI change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from tui_fakes import FakeBackend
from tui_helpers import until
from tui_rank_fakes import rank_services, register, write_pairs

from advisor.decide.goals import Goals
from advisor.tui.app import LIGHT, create_app


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``, then one more refresh so the screenshot is settled."""
    await until(pilot, condition, timeout)
    await pilot.pause()


def _app(**kwargs):
    backend = FakeBackend(gpus=kwargs.pop("gpus", 0))
    return create_app(services=backend.services(), **kwargs)


async def _loaded(pilot) -> None:
    st = pilot.app.state
    await _until(pilot, lambda: st.resources is not None and (st.data_ref is None or not st.data_loading))


async def _benchmarked(pilot) -> None:
    await _loaded(pilot)
    await pilot.press("4", "s")
    await _until(pilot, lambda: pilot.app.state.advice is not None and pilot.app.current_mode == "advice")
    pilot.app.clear_notifications()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_goals(snap_compare) -> None:
    assert snap_compare(_app(), run_before=_loaded)


def test_resources_with_two_gpus(snap_compare) -> None:
    assert snap_compare(_app(gpus=2, start="resources"), run_before=_loaded)


def test_data(snap_compare) -> None:
    assert snap_compare(_app(data="demo:fake"), run_before=_loaded)


def test_data_bad_file(snap_compare) -> None:
    assert snap_compare(_app(data="no/such/file.csv"), run_before=_loaded)


def test_bench_results(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _benchmarked(pilot)
        await pilot.press("4")
        await _until(pilot, lambda: pilot.app.current_mode == "bench")

    assert snap_compare(_app(data="demo:fake"), run_before=run_before)


def test_advice(snap_compare) -> None:
    assert snap_compare(_app(data="demo:fake"), run_before=_benchmarked)


def test_run_done(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _benchmarked(pilot)
        await pilot.press("6", "r")
        await _until(pilot, lambda: pilot.app.state.manifest is not None)
        pilot.app.clear_notifications()
        # The box has focus now; a blinking cursor would make the picture depend on the machine's speed.
        pilot.app.screen.query_one("#predict-input").cursor_blink = False
        await pilot.press(*"great fun", "enter")
        await _until(pilot, lambda: "→" in str(pilot.app.screen.query_one("#answer").render()))

    assert snap_compare(_app(data="demo:fake"), run_before=run_before)


def test_runs_compared(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _benchmarked(pilot)
        await pilot.press("6")
        for engine in ("tfidf", "finetune"):
            pilot.app.screen.query_one("#engine").value = engine
            await _until(pilot, lambda e=engine: pilot.app.screen.query_one("#out-dir").value == f"runs/{e}")
            await pilot.press("r")
            await _until(pilot, lambda: pilot.app.state.manifest is not None and not pilot.app.state.run_running)
            pilot.app.screen.set_focus(None)
        pilot.app.clear_notifications()
        await pilot.press("c")
        await _until(pilot, lambda: pilot.app.state.comparison is not None, timeout=30)
        # The table sizes itself on a later refresh: wait until it is laid out with its header and two rows.
        await _until(pilot, lambda: pilot.app.screen.query_one("#compare-table").size.height >= 3, timeout=30)

    assert snap_compare(_app(data="demo:fake"), run_before=run_before, terminal_size=(110, 50))


def test_help(snap_compare) -> None:
    assert snap_compare(_app(), press=["question_mark"], run_before=_loaded)


def test_bench_large_terminal(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _benchmarked(pilot)
        await pilot.press("4")
        await _until(pilot, lambda: pilot.app.current_mode == "bench")

    assert snap_compare(_app(data="demo:fake"), run_before=run_before, terminal_size=(200, 50))


def test_advice_light_large(snap_compare) -> None:
    assert snap_compare(_app(data="demo:fake", theme=LIGHT), run_before=_benchmarked, terminal_size=(200, 50))


def test_search_after_a_retrieval_run(snap_compare, tmp_path, monkeypatch) -> None:
    """The search screen a retrieval run opens: the run's held-out scores and a query's top 10."""
    register(monkeypatch)
    pairs = write_pairs(tmp_path / "pairs.csv", 60)
    services = rank_services(FakeBackend().services())
    app = create_app(services=services, data=str(pairs), goals=Goals(task="retrieval"), start="run")

    async def run_before(pilot) -> None:
        await _loaded(pilot)
        pilot.app.screen.query_one("#engine").value = "fake-tuned"
        await _until(pilot, lambda: pilot.app.screen.query_one("#out-dir").value == "runs/fake-tuned")
        await pilot.press("r")
        await _until(pilot, lambda: type(pilot.app.screen).__name__ == "SearchScreen", timeout=30)
        await _until(pilot, lambda: pilot.app.state.search_engine is not None, timeout=30)
        pilot.app.screen.query_one("#query").cursor_blink = False
        await pilot.press(*"q7 w1", "enter")
        await _until(pilot, lambda: pilot.app.screen.query_one("#search-hits").row_count == 10)
        pilot.app.clear_notifications()

    assert snap_compare(app, run_before=run_before, terminal_size=(110, 30))
