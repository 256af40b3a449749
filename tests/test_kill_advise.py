"""Kill anywhere, lose nothing, beyond ``run``: ``advise --plan-out/--report`` and the TUI's run screen
SIGKILLed at named points (``cli_process.killed_at``) leave the previous plan, report and artifact whole
and loadable, or the new ones; a staging file left by the dead process is removed by the next write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from artifact_helpers import leftovers
from cli_process import WRAP, cli, killed_at
from data_helpers import write_reviews_csv

from advisor.run.plan import load_plan
from engines.artifacts import load_artifact

pytestmark = pytest.mark.slow


def advise_args(data: Path, plan: Path, report: Path) -> list[str]:
    return [
        "advise",
        str(data),
        "--profile",
        "tiny",
        "--budget",
        "10",
        "--engines",
        "tfidf",
        "--quiet",
        "--plan-out",
        str(plan),
        "--report",
        str(report),
    ]


@pytest.fixture(scope="module")
def first_advice(tmp_path_factory):
    """A data file, and the plan and report a complete ``advise`` on it wrote."""
    d = tmp_path_factory.mktemp("advise-kill")
    data = write_reviews_csv(d / "reviews.csv", 200, seed=1)
    proc = cli(*advise_args(data, d / "plan.json", d / "report.md"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return data, d / "plan.json", d / "report.md"


def copies(tmp_path: Path, first_advice) -> tuple[Path, Path, Path, str, str]:
    """The first advice's plan and report copied into ``tmp_path`` (with the report's pictures)."""
    data, plan0, report0 = first_advice
    for f in plan0.parent.iterdir():
        if f.suffix in {".json", ".md", ".png"}:
            shutil.copy(f, tmp_path / f.name)
    plan, report = tmp_path / plan0.name, tmp_path / report0.name
    return data, plan, report, plan.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")


# (wrapped function, before/after, which of the plan and the report should be new after the kill)
ADVISE_POINTS = [
    pytest.param("advisor.run.plan:write_plan", "before", (False, False), id="before-the-plan"),
    pytest.param("os:replace", "before", (False, False), id="plan-staged-not-renamed"),
    pytest.param("advisor.report:write_report", "before", (True, False), id="plan-written-not-the-report"),
    pytest.param("advisor.report:write_text", "before", (True, False), id="pictures-written-not-the-report"),
]


@pytest.mark.parametrize(("target", "when", "new"), ADVISE_POINTS)
def test_advise_killed_while_writing_keeps_whole_files(tmp_path, first_advice, target, when, new):
    data, plan, report, old_plan, old_report = copies(tmp_path, first_advice)
    killed_at(target, when, advise_args(data, plan, report))
    assert (plan.read_text(encoding="utf-8") != old_plan) is new[0]
    assert (report.read_text(encoding="utf-8") != old_report) is new[1]
    load_plan(plan)  # whole and valid, old or new
    assert report.read_text(encoding="utf-8").rstrip().endswith("```")  # the report's last block, whole
    if target == "os:replace":  # the kill fell between the plan's staging and its rename
        (left,) = leftovers(plan)
        assert left.endswith(".tmp") and (tmp_path / left).stat().st_size > 0
    # The next advise writes both and removes what the dead one left.
    proc = cli(*advise_args(data, plan, report))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_plan(plan).created_at != load_plan(first_advice[1]).created_at
    assert leftovers(plan) == [] and leftovers(report) == []


# The TUI, headless: load the data, open the run screen, run TF-IDF into argv[2] over the artifact there.
TUI_RUN = (
    WRAP
    + r"""
import asyncio
from textual.widgets import Input, Select, Switch
from advisor.tui.app import create_app
data, out = sys.argv[1], sys.argv[2]

async def drive():
    app = create_app(data=data, profile="tiny", start="run")
    async with app.run_test(size=(100, 30)) as pilot:
        while app.state.dataset is None or app.current_mode != "run" or not app.screen.query("#engine"):
            await pilot.pause(0.05)
        app.screen.query_one("#engine", Select).value = "tfidf"
        await pilot.pause(0.1)
        app.screen.query_one("#out-dir", Input).value = out
        app.screen.query_one("#overwrite", Switch).value = True
        await pilot.pause(0.1)
        await pilot.press("r")
        while app.state.run_running or app.state.manifest is None:
            if app.state.run_error:
                sys.exit("run failed: " + app.state.run_error)
            await pilot.pause(0.05)
    sys.exit("the run ended without being killed")

asyncio.run(drive())
"""
)


@pytest.mark.parametrize(("when", "new"), [("before", False), ("after", True)], ids=["before-swap", "after-swap"])
def test_the_tui_run_screen_killed_at_the_swap_leaves_a_loadable_artifact(tmp_path, first_advice, when, new):
    data = first_advice[0]
    out = tmp_path / "art"
    proc = cli("run", "--engine", "tfidf", "--profile", "tiny", "--data", str(data), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, before = load_artifact(out)
    other = write_reviews_csv(tmp_path / "other.csv", 200, seed=7)
    killed_at("engines.atomic:exchange", when, [str(other), str(out)], program=TUI_RUN)
    engine, after = load_artifact(out)  # whole, old or new
    assert (after.data.fingerprint != before.data.fingerprint) is new
    assert len(engine.predict(["a great lovely film"]).labels) == 1
