"""``advisor.decide.compare`` and ``tune-or-embed compare``: full runs judged on their shared held-out rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import main
from advisor.decide.compare import RunResult, compare, replicates
from advisor.decide.goals import Goals, Weights
from advisor.run.fullrun import RunSpec, full_run
from engines.artifacts import HELDOUT, read_heldout, rows_digest
from engines.errors import ConfigError

ACC_ONLY = Goals(weights=Weights(accuracy=1.0, training_time=0.0, latency=0.0, cost=0.0))
ROWS = 1000


def run(
    name: str, wrong: set[int], *, train_s: float = 10.0, engine: str = "tfidf", digest: str = "d", n: int = ROWS
) -> RunResult:
    """A run on ``n`` two-class rows that gets exactly the rows in ``wrong`` wrong."""
    y_true = ["pos" if i % 2 else "neg" for i in range(n)]
    flip = {"pos": "neg", "neg": "pos"}
    y_pred = [flip[y] if i in wrong else y for i, y in enumerate(y_true)]
    return RunResult(
        name=name,
        engine=engine,
        n_train=4000,
        rows_digest=digest,
        y_true=y_true,
        y_pred=y_pred,
        train_s=train_s,
        ms_b1=1.0,
        ms_batch=0.5,
    )


def test_pairing_separates_a_lead_the_two_intervals_side_by_side_do_not():
    # b errs on 150 rows; a on the same rows but 15 of them. Side by side the two 95 % intervals
    # (±2.2 points each) overlap by more than the 1.5-point lead: by the unpaired rule, a tie. On
    # the same rows a is never worse: the paired interval of its lead is well clear of zero, a call.
    b_wrong = set(range(0, 300, 2))
    a = run("a", set(sorted(b_wrong)[15:]), train_s=200.0, engine="finetune")
    b = run("b", b_wrong, train_s=5.0)
    c = compare([a, b], ACC_ONLY)
    sa, sb = (next(s for s in c.runs if s.name == n) for n in "ab")
    assert sa.value == pytest.approx(0.865) and sb.value == pytest.approx(0.85)
    assert sb.high - sa.low > 0.015  # the intervals overlap by more than the lead
    (lead,) = c.leads
    assert lead.other == "b" and lead.lead == pytest.approx(0.015)
    assert 0.005 < lead.low < lead.lead < lead.high < 0.025
    rec = c.recommendation
    assert (rec.choice, rec.too_close, rec.settle) == ("a", False, None)
    assert rec.label.startswith("a (") and "measured accuracy" in rec.reasons[0].text


def test_a_tie_goes_to_the_cheaper_run_with_what_would_settle_it():
    a = run("a", set(range(0, 200, 2)) - {0, 2}, train_s=300.0, engine="finetune")  # 2 rows better of 1000
    b = run("b", set(range(0, 200, 2)), train_s=3.0)
    c = compare([a, b], Goals())
    assert c.best == "a"
    rec = c.recommendation
    assert rec.too_close and rec.choice == "b"
    assert "1,000 held-out rows" in rec.settle and "budget" not in rec.settle
    # Accuracy only: cost cannot break the tie, the higher score stays the choice.
    assert compare([a, b], ACC_ONLY).recommendation.choice == "a"


def test_macro_f1_is_paired_too():
    a, b = run("a", set(range(0, 100))), run("b", set(range(0, 160)))
    values, boots = replicates([a, b], "macro_f1", n_boot=200)
    assert values["a"] > values["b"]
    assert (boots["a"] >= boots["b"]).all()  # a's errors are a subset of b's on every resample
    c = compare([a, b], ACC_ONLY.model_copy(update={"metric": "macro_f1"}))
    assert c.metric == "macro_f1" and c.recommendation.choice == "a"


@pytest.mark.parametrize(
    "runs, message",
    [
        ([run("a", set())], "at least two runs"),
        ([run("a", set()), run("a", set())], "share the name"),
        ([run("a", set()), run("b", set(), digest="other")], "different held-out rows"),
        ([run("a", set()), run("b", set(), n=999)], "different held-out rows"),
    ],
)
def test_runs_that_cannot_be_compared_are_config_errors(runs, message):
    with pytest.raises(ConfigError, match=message):
        compare(runs, Goals())


def test_rows_digest_sees_order_texts_and_labels():
    base = rows_digest(["a b", "c"], ["x", "y"])
    assert base == rows_digest(["a b", "c"], ["x", "y"])
    assert (
        len(
            {
                base,
                rows_digest(["c", "a b"], ["y", "x"]),
                rows_digest(["a b", "c"], ["y", "x"]),
                rows_digest(["a", "b c"], ["x", "y"]),
            }
        )
        == 4
    )


# ------------------------------------------------------------------ from artifacts
@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from data_helpers import write_reviews_csv as write_csv

    root = tmp_path_factory.mktemp("cmp")
    data = write_csv(root / "reviews.csv", 300)
    good = full_run(
        RunSpec(engine="tfidf", profile="tiny", data=str(data), test_size=100), root / "good", speed_texts=0
    )
    weak = full_run(
        RunSpec(
            engine="tfidf", profile="tiny", data=str(data), test_size=100, engine_config={"C": 1e-4, "max_features": 2}
        ),
        root / "weak",
        speed_texts=0,
    )
    other = full_run(
        RunSpec(engine="tfidf", profile="tiny", data=str(data), test_size=100, split_seed=5),
        root / "other-split",
        speed_texts=0,
    )
    return root, good, weak, other


def test_a_full_run_keeps_what_each_held_out_row_got(artifacts):
    root, good, *_ = artifacts
    held = read_heldout(root / "good")
    assert len(held.y_true) == good.split.n_test == 100
    assert sum(t == p for t, p in zip(held.y_true, held.y_pred)) / 100 == pytest.approx(good.metrics.accuracy)


def test_compare_command_keeps_the_better_run(artifacts, capsys):
    root, good, weak, _ = artifacts
    assert good.metrics.accuracy > weak.metrics.accuracy + 0.2
    assert main(["compare", str(root / "good"), str(root / "weak"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"] == "good" and out["recommendation"]["choice"] == "good"
    assert out["rows"] == 100 and {r["name"] for r in out["runs"]} == {"good", "weak"}
    assert main(["compare", str(root / "good"), str(root / "weak")]) == 0
    text = capsys.readouterr().out
    assert "keep: good (TF-IDF baseline)" in text and "good leads weak by" in text


def test_compare_errors_are_one_line(artifacts, tmp_path, capsys):
    import shutil

    root, *_ = artifacts
    assert main(["compare", str(root / "good"), str(root / "other-split")]) == 2
    assert "different held-out rows" in capsys.readouterr().err
    old = tmp_path / "old"
    shutil.copytree(root / "good", old)
    (old / HELDOUT).unlink()
    assert main(["compare", str(root / "good"), str(old)]) == 4
    err = capsys.readouterr().err.strip()
    assert "heldout.json is missing" in err and len(err.splitlines()) == 1
    raw = json.loads((old / "manifest.json").read_text())  # as written before runs kept their predictions
    del raw["files"][HELDOUT]
    (old / "manifest.json").write_text(json.dumps(raw))
    assert main(["compare", str(root / "good"), str(old)]) == 4
    err = capsys.readouterr().err.strip()
    assert "has no heldout.json" in err and len(err.splitlines()) == 1
    (old / HELDOUT).write_text("{not json", encoding="utf-8")
    assert main(["compare", str(root / "good"), str(old)]) == 4
    assert "corrupt" in capsys.readouterr().err


def test_compare_imports_no_model_library(artifacts):
    from import_probe import SCRIPT

    root, *_ = artifacts
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "compare", str(root / "good"), str(root / "weak")],
        capture_output=True,
        text=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, proc.stderr
