"""CI's smoke test of benchmarks/calibration.py: the tiny profile on a synthetic task."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_calibration():
    return _load_script("calibration")


def test_calibration_runs_end_to_end_on_the_tiny_profile(tmp_path, capsys):
    cal = _load_calibration()
    out = tmp_path / "calibration"
    rc = cal.main(
        [
            "--profile",
            "tiny",
            "--tasks",
            "synthetic-200",
            "--budgets",
            "20",
            "--engines",
            "tfidf,embedding,finetune",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ]
    )
    assert rc == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    (row,) = doc["rows"]
    assert row["task"] == "synthetic-200" and row["budget"] == "20"
    assert set(row["engines"]) == {"tfidf", "embedding", "finetune"}
    for engine, e in row["engines"].items():
        assert 0.0 <= e["actual"] <= 1.0, engine
        assert e["actual_train_s"] > 0, engine
    # TF-IDF learns the synthetic words: the held-out check is real, not a placeholder.
    assert row["engines"]["tfidf"]["actual"] > 0.8
    forecast = [e for e in row["engines"].values() if "forecast" in e]
    assert forecast, "advise produced no forecast at all"
    for e in forecast:
        assert abs(e["error_points"] - 100 * (e["forecast"] - e["actual"])) < 1e-6
    assert row["decision_default"]["best"] in row["engines"]
    assert row["bench_test_rows"] > 0 and "settle_likely" in row  # what the settle outlook is judged from
    # advise ran in a new process, as a user's does: it wrote its Advice and its benchmark for this one.
    assert row["advise_process"] == "new"
    assert (tmp_path / "work" / row["bench_file"]).with_name("advice-20.json").exists()
    md = out.with_suffix(".md").read_text()
    assert "| synthetic-200 | 20 |" in md and "## Summary per budget" in md
    assert "Held-out data only" not in md  # no held-out task ran
    # A held-out task's rows are summarised again on their own.
    from dataclasses import replace

    cal.TASKS["synthetic-200"] = replace(cal.TASKS["synthetic-200"], held_out=True)
    try:
        held_md = cal.render_markdown(doc)
    finally:
        cal.TASKS["synthetic-200"] = replace(cal.TASKS["synthetic-200"], held_out=False)
    section = held_md.split("Held-out data only (synthetic-200)")[1].split("## ")[0]
    assert section.count("| 20 | 1 |") == 1  # the held-out table: budget 20, one task
    # Resumable: a second call finds the row and does not redo it.
    assert (
        cal.main(
            [
                "--profile",
                "tiny",
                "--tasks",
                "synthetic-200",
                "--budgets",
                "20",
                "--out",
                str(out),
                "--workdir",
                str(tmp_path / "work"),
            ]
        )
        == 0
    )
    assert len(json.loads(out.with_suffix(".json").read_text())["rows"]) == 1
    # --reanalyse re-derives the checks from the saved forecasts, running a full run that is missing.
    import shutil

    (artifact,) = (tmp_path / "work").glob("synthetic-200-*/artifact-tfidf")
    shutil.rmtree(artifact)
    assert cal.main(["--profile", "tiny", "--reanalyse", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    assert (artifact / "manifest.json").exists()
    (again,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert again["engines"]["tfidf"]["actual"] == row["engines"]["tfidf"]["actual"]  # same split, same engine
    assert again["engines"].keys() == row["engines"].keys() and again["forecasts"] == row["forecasts"]
    # --reforecast forecasts and decides again from the benchmark the row saved: the same code gives the
    # same forecasts, and the row says which commit its forecasts now come from.
    assert (tmp_path / "work" / row["bench_file"]).exists()
    assert cal.main(["--profile", "tiny", "--reforecast", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    (re,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert re["forecasts"] == row["forecasts"] and re["choice"] == row["choice"] and "forecast_commit" in re
    assert "forecasts re-made at" in out.with_suffix(".md").read_text()
    # A later session without the workdir reforecasts from the gzip copy kept beside the results.
    moved = (tmp_path / "work" / row["bench_file"]).rename(tmp_path / "gone.json")
    assert row["bench_kept"] and (out.parent / row["bench_kept"]).exists()
    assert cal.main(["--profile", "tiny", "--reforecast", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    (from_kept,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert from_kept["forecasts"] == row["forecasts"] and from_kept["choice"] == row["choice"]
    moved.rename(tmp_path / "work" / row["bench_file"])
    # A damaged saved benchmark: one line, the row left as it was, no traceback.
    (tmp_path / "work" / row["bench_file"]).write_text("{damaged", encoding="utf-8")
    capsys.readouterr()
    assert cal.main(["--profile", "tiny", "--reforecast", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    assert "unreadable (JSONDecodeError); row left as it is" in capsys.readouterr().err
    (kept,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert kept["forecasts"] == re["forecasts"] and kept["forecast_commit"] == re["forecast_commit"]
    # A re-judged row keeps the training times it recorded (a re-run times on another day's machine) …
    doc = json.loads(out.with_suffix(".json").read_text())
    doc["rows"][0]["engines"]["tfidf"]["actual_train_s"] = 123.0
    out.with_suffix(".json").write_text(json.dumps(doc))
    assert cal.main(["--profile", "tiny", "--reanalyse", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    (timed,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    tf = timed["engines"]["tfidf"]
    assert tf["actual_train_s"] == 123.0 and tf["time_ratio"] == pytest.approx(tf["forecast_train_s"] / 123.0)
    # … unless asked to take the full runs' own.
    assert (
        cal.main(
            ["--profile", "tiny", "--reanalyse", "--retime", "--out", str(out), "--workdir", str(tmp_path / "work")]
        )
        == 0
    )
    (kept,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert kept["engines"]["tfidf"]["actual_train_s"] < 60
    # The JSON keeps each full run's results with which test rows it got right, so the rows can be judged
    # again on another machine (a new workdir) without running anything.
    saved = json.loads(out.with_suffix(".json").read_text())["full_runs"]["synthetic-200/tiny/seed0"]
    assert saved["tfidf"]["rows"] == 100 and set(saved) == {"tfidf", "embedding", "finetune"}
    capsys.readouterr()
    assert cal.main(["--profile", "tiny", "--reanalyse", "--out", str(out), "--workdir", str(tmp_path / "new")]) == 0
    assert "full runs: saved results" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())
    (judged,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert judged["decision_default"] == kept["decision_default"] and judged["engines"] == kept["engines"]
    # advise again in a new workdir, the saved full runs standing in: the split's files advise reads are
    # written for it, no full run is, and a second sitting in that folder still takes the saved runs.
    again = [
        *("--profile", "tiny", "--tasks", "synthetic-200", "--budgets", "20"),
        *("--engines", "tfidf,embedding,finetune", "--redo", "--out", str(out), "--workdir", str(tmp_path / "again")),
    ]
    for _ in range(2):
        assert cal.main(again) == 0
        err = capsys.readouterr().err
        assert "full runs: saved results" in err and "full run:" not in err and "FAILED" not in err
    (folder,) = (tmp_path / "again").iterdir()
    assert (folder / "train.csv").exists() and (folder / cal.SAVED_ONLY).exists()
    assert not list(folder.glob("artifact-*"))


def test_a_full_runs_rows_are_kept_as_bits_and_read_back():
    cal = _load_calibration()
    run = {
        "accuracy": 0.5,
        "train_s": 1.0,
        "correct": [True, False, False, True, True, False, True, True, False, True, False, False, True],
    }
    packed = cal.pack_run(run)
    assert packed["rows"] == 13 and "correct" not in packed and len(packed["correct_bits"]) == 4
    assert cal.unpack_run(json.loads(json.dumps(packed))) == run


def test_interval_widths_are_measured_in_half_widths_on_the_actuals_side():
    cal = _load_calibration()
    # Forecast 0.80 [0.70, 0.84]: an actual of 0.82 is half the upper half-width away → z = 0.98;
    # an actual of 0.75 is half the lower half-width away → z = −0.98.
    assert cal._z(0.82, 0.80, 0.70, 0.84) == pytest.approx(0.98)
    assert cal._z(0.75, 0.80, 0.70, 0.84) == pytest.approx(-0.98)
    assert cal._z(0.80, 0.80, 0.80, 0.80) is None  # no width: not counted

    def fc(value, low, high, boot_shift):
        return {
            "value": value,
            "low": low,
            "high": high,
            "curve_low": low,
            "curve_high": high,
            "boot": [value + boot_shift + 0.001 * (i % 7 - 3) for i in range(40)],
        }

    row = {
        "forecasts": {"finetune": fc(0.82, 0.78, 0.86, 0.0), "tfidf": fc(0.78, 0.74, 0.82, 0.0)},
        "engines": {"finetune": {"actual": 0.83}, "tfidf": {"actual": 0.70}},
    }
    single, diffs = cal.interval_sizes(row)
    assert single == pytest.approx([0.49, -3.92])  # 0.70 is twice the lower half-width below 0.78
    ((z, inside),) = diffs  # one pair: finetune − tfidf, forecast lead 4 points, actual 13
    assert z > 1.96 and not inside
    summary = cal.summarise(
        [
            {
                **row,
                "budget": "quick",
                "advise_s": 1.0,
                "decision_default": {"agrees": True},
                "decision_accuracy_only": {"agrees": True},
            }
        ]
    )
    assert summary["quick"]["rms_z"] == pytest.approx((0.49**2 / 2 + 3.92**2 / 2) ** 0.5)
    assert summary["quick"]["differences"] == 1 and summary["quick"]["difference_coverage"] == 0.0


def test_a_missed_call_records_and_shows_both_leads():
    cal = _load_calibration()
    # 200 test rows: fine-tuning right on 180, TF-IDF on 120 of them (every row TF-IDF gets, fine-tuning gets).
    ft = [True] * 180 + [False] * 20
    tf = [True] * 120 + [False] * 80
    lead, lo, hi = cal.paired_lead(ft, tf)
    assert lead == pytest.approx(0.30) and 0.2 < lo < 0.30 < hi < 0.4
    assert cal.paired_lead(tf, tf) == (0.0, 0.0, 0.0)
    assert not cal._paired_not_worse(tf, ft) and cal._paired_not_worse(ft, tf)

    actual = {
        "tfidf": {"accuracy": 0.60, "correct": tf, "train_s": 2.0, "ms_b1": 0.5, "ms_batch": 0.1},
        "finetune": {"accuracy": 0.90, "correct": ft, "train_s": 60.0, "ms_b1": 5.0, "ms_batch": 1.0},
    }

    def fc(value, shift):
        return {
            "value": value,
            "low": value - 0.05,
            "high": value + 0.05,
            "curve_low": value - 0.04,
            "curve_high": value + 0.04,
            "boot": [value + shift + 0.002 * (i % 9 - 4) for i in range(40)],
        }

    forecasts = {"tfidf": fc(0.78, 0.0), "finetune": fc(0.80, 0.0)}
    d = cal._default_decision("tfidf", True, actual, 1000, forecasts)
    assert d["best"] == "finetune" and d["agrees"] is False
    assert d["actual_lead"] == pytest.approx([lead, lo, hi])
    f_lead, f_lo, f_hi = d["forecast_lead"]
    assert f_lead == pytest.approx(0.02) and f_lo < 0.0 < f_hi  # the band the decision saw held 0: a tie
    # A call that agrees records no leads; nor does a miss without forecasts give a forecast lead.
    assert "actual_lead" not in cal._default_decision("finetune", False, actual, 1000, forecasts)
    assert "forecast_lead" not in cal._default_decision("tfidf", True, actual, 1000)
    lines = cal._misses(
        [{"task": "t", "budget": "standard", "choice": "tfidf", "too_close": True, "decision_default": d}]
    )
    (row,) = [line for line in lines if line.startswith("| t |")]
    assert row.startswith("| t | standard | tfidf | finetune | yes | +2.0 [") and "| +30.0 [" in row
    assert cal._misses([{"decision_default": {"best": "tfidf", "agrees": True}}]) == []


def test_a_call_the_full_runs_cannot_tell_from_the_best_is_a_tie_not_a_miss():
    cal = _load_calibration()
    report = _load_script("calibration_report")
    # 2,000 test rows: LoRA right on 1,611, full fine-tuning on 1,614 (0.15 points apart), LoRA a
    # third cheaper to train; TF-IDF far behind. compare keeps LoRA as the cheaper of a tie.
    ft = [True] * 1614 + [False] * 386
    lora = [True] * 1600 + [False] * 14 + [True] * 11 + [False] * 375
    tf = [True] * 1490 + [False] * 510
    runs = {"train_s": 0.0, "ms_b1": 15.0, "ms_batch": 9.0}
    actual = {
        "tfidf": {**runs, "accuracy": 0.745, "correct": tf, "train_s": 4.0, "ms_b1": 2.0, "ms_batch": 0.4},
        "finetune": {**runs, "accuracy": 0.807, "correct": ft, "train_s": 300.0},
        "lora": {**runs, "accuracy": 0.8055, "correct": lora, "train_s": 200.0},
    }
    d = cal._default_decision("finetune", False, actual, 3000)
    assert d["best"] == "lora" and d["agrees"] is False and d["tie"] is True
    # TF-IDF, 6 points behind, is no tie: a miss.
    assert "tie" not in cal._default_decision("tfidf", False, actual, 3000)
    s = {"confident_calls": 3, "confident_calls_right": 1, "confident_calls_tied": 1}
    assert report._confident(s) == "2 of 3 (1 a tie in the full runs)"
    assert report._confident({**s, "confident_calls_tied": 0}) == "1 of 3"
    # A sitting resumed three times is one command, named once.
    assert report._commands(["a --fresh", "a", "a", "a", "a --reforecast"]) == (
        "`a --fresh`; `a` (3 times: resumed); `a --reforecast`"
    )


def test_each_too_close_outlook_is_checked_against_the_next_budgets_row():
    cal = _load_calibration()

    def row(task, budget, too_close, likely=None):
        return {"task": task, "budget": budget, "choice": "tfidf", "too_close": too_close, "settle_likely": likely}

    rows = [
        row("a", "quick", True, False),
        row("a", "standard", True, False),  # stayed too close: right
        row("b", "quick", True, True),
        row("b", "standard", False),  # settled, as said: right
        row("c", "quick", True, False),
        row("c", "standard", False),  # settled against the outlook: wrong
        row("d", "quick", True, True),  # no standard row: not checked
        row("e", "quick", False),
        row("e", "standard", False),
    ]  # a call, not judged
    checks = {o["task"]: o for o in cal.outlook_checks(rows, "quick")}
    assert set(checks) == {"a", "b", "c", "d"}
    assert [checks[t]["right"] for t in "abcd"] == [True, True, False, None]
    assert checks["a"]["next"] == "standard" and checks["d"]["settled"] is None
    assert [o["task"] for o in cal.outlook_checks(rows, "standard")] == ["a"]  # no thorough rows: unchecked
    custom = [row("a", "300", True, True), row("a", "standard", False)]  # seconds: the next named budget
    assert cal.outlook_checks(custom, "300") == [
        {
            "task": "a",
            "budget": "300",
            "choice": "tfidf",
            "likely": True,
            "next": "standard",
            "settled": True,
            "right": True,
        }
    ]
    summary = cal.summarise(
        [
            {
                **r,
                "advise_s": 1.0,
                "engines": {},
                "decision_default": {"agrees": None},
                "decision_accuracy_only": {"agrees": None},
            }
            for r in rows
        ]
    )
    q = summary["quick"]
    assert (q["outlooks"], q["outlooks_likely"], q["outlooks_checked"], q["outlooks_right"]) == (4, 2, 3, 2)
    lines = cal._outlooks({"rows": rows, "summary": summary})
    assert "| quick | 4 | 2 | 3 | 2 of 3 |" in lines
    assert "| c | quick | tfidf | unlikely | standard | yes |" in lines
    assert "| d | quick | tfidf | likely | standard | not run |" in lines


def test_split_gap_scores_each_fit_on_its_held_out_rows_and_on_the_test_split(capsys):
    module = _load_script("split_gap")
    assert module.main(["--task", "synthetic-200", "--holdout", "60", "--seeds", "2", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| 0 |") or line.startswith("| 1 |")]
    assert len(rows) == 2
    for cells in rows:
        trained, held, test, gap = int(cells[2]), float(cells[3]), float(cells[4]), float(cells[5])
        assert trained == 140  # 200 training rows less the 60 held out
        assert 50.0 < held <= 100.0 and 50.0 < test <= 100.0  # TF-IDF learns the synthetic words
        assert gap == pytest.approx(held - test, abs=0.011)
    assert "mean: held-out rows" in out
    # Bad input: one line on stderr and exit 2, no traceback.
    for bad, says in ((["--holdout", "500"], "cannot hold out 500 of 200"), (["--seeds", "0"], "must be at least 1")):
        with pytest.raises(SystemExit) as exit_:
            module.main(["--task", "synthetic-200", "--profile", "tiny", *bad])
        assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_a_split_offset_draws_other_test_rows_from_the_same_data(tmp_path):
    module = _load_calibration()
    data = tmp_path / "data.csv"
    rows = [f"review number {i} is {'good' if i % 2 else 'bad'} {i * 7919 % 1009}" for i in range(300)]
    data.write_text(
        "text,label\n" + "".join(f"{t},{'pos' if i % 2 else 'neg'}\n" for i, t in enumerate(rows)), encoding="utf-8"
    )
    task = module.Task("csv-150", str(data), 150, 100)
    other = module.Task("csv-150-split2", str(data), 150, 100, split_offset=1)
    (train, test), (train2, test2) = module.task_split(task, 0), module.task_split(other, 0)
    assert (len(train2), len(test2)) == (len(train), len(test)) == (150, 100)
    assert set(test2.texts) != set(test.texts)  # other test rows
    assert not set(train2.texts) & set(test2.texts)  # and still none in both parts
    assert set(test2.texts) | set(train2.texts) <= set(rows)
    assert module.task_split(other, 0)[1].texts == test2.texts  # the same draw every time
    # The same as running the whole calibration with the next seed.
    assert set(module.task_split(task, 1)[1].texts) == set(test2.texts)
    assert module.TASKS["rt-6000-split2"].split_offset == 1 and module.TASKS["rt-6000"].split_offset == 0
    # Every real-data task (but the new data's, one draw at two sizes) has a second draw, with the
    # same sizes and the same held-out flag.
    for name, t in module.TASKS.items():
        if t.data not in ("synthetic", *module.NEW_DATA) and t.split_offset == 0 and not t.demo:
            t2 = module.TASKS[f"{name}-split2"]
            assert (t2.data, t2.n_train, t2.n_test, t2.classes, t2.held_out, t2.split_offset) == (
                t.data,
                t.n_train,
                t.n_test,
                t.classes,
                t.held_out,
                1,
            )


def test_crossfit_experiment_scores_every_training_row_out_of_fold(tmp_path):
    """benchmarks/crossfit_decision.py on the tiny profile: two folds of the synthetic task's
    training rows, each approach run in full on one and scored on the other, judged against a
    calibration row's best actual."""
    _load_calibration()
    cf = _load_script("crossfit_decision")
    row = {
        "task": "synthetic-200",
        "budget": "standard",
        "choice": "embedding",
        "too_close": True,
        "advise_s": 10.0,
        "engines": {e: {"actual": 0.9, "forecast_train_s": 1.0} for e in ("tfidf", "embedding")},
        "decision_default": {"best": "tfidf", "agrees": False},
    }
    calib = tmp_path / "calibration.json"
    calib.write_text(json.dumps({"rows": [row]}))
    out = tmp_path / "crossfit"
    rc = cf.main(
        [
            "--tasks",
            "synthetic-200",
            "--profile",
            "tiny",
            "--folds",
            "2",
            "--calibration",
            str(calib),
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    (result,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert result["rows"] == 200  # every training row scored once, out of fold
    assert set(result["accuracy"]) == {"tfidf", "embedding"}
    assert result["accuracy"]["tfidf"] > 0.8  # TF-IDF learns the synthetic words from the other fold
    assert result["best_actual"] == "tfidf" and result["agrees"] == (result["choice"] == "tfidf")
    assert all(s > 0 for s in result["fold_runs_s"].values())
    assert "| synthetic-200 |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):  # a task without a standard row in the calibration JSON
        cf.main(["--tasks", "rt-1000", "--calibration", str(calib), "--out", str(out)])


def test_make_demos_own_path_is_a_budget_of_the_demo_task_only():
    """``--budgets …,demo`` runs `make demo`'s own budget (the Makefile's DEMO_BUDGET, its one home)
    on the demo task, after probe --start-up; the other tasks skip it."""
    import re

    tasks = _load_script("calibration_tasks")
    DEMO, TASKS, demo_budget, task_budgets = tasks.DEMO, tasks.TASKS, tasks.demo_budget, tasks.task_budgets

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"DEMO_BUDGET ?= {demo_budget()}" in makefile
    assert re.search(r"--budget \$\(DEMO_BUDGET\)", makefile)  # the demo uses it, headless and in the TUI
    assert task_budgets(TASKS["demo-rt-1000"], ["quick", "standard", DEMO]) == ["quick", "standard", demo_budget()]
    assert task_budgets(TASKS["rt-1000"], ["quick", "standard", DEMO]) == ["quick", "standard"]
