"""Pathological text: ``inspect`` and ``run --engine tfidf`` either work or stop with one clear line and a
distinct exit code, never a traceback (failing disks: ``test_disk_full.py``).

Most cases run the CLI in this process (``advisor.cli.main``) so the heavy imports happen once; an
unexpected exception there would print "unexpected …" with exit 1, which every case rules out. A few
run as real ``python -m advisor`` processes to show the same from the outside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fault_helpers import ROWS, base_rows, cli, one_line_error, run_args, write_rows

from advisor.run.fullrun import RunSpec, full_run
from engines.artifacts import load_artifact

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def write_raw(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _jsonl(rows) -> str:
    return "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)


# id -> (file name, content maker, inspect exit code, a line expected on stdout (0) or stderr (2))
CASES = {
    "empty-strings": ("a.csv", lambda: ROWS + [("", "pos")] * 5, 0, "dropped 5 row(s) with empty text"),
    "whitespace-only": (
        "a.csv",
        lambda: ROWS + [("   \t ", "pos"), ("\n\n", "neg"), ("\u3000", "pos")],
        0,
        "dropped 3 row(s) with empty text",
    ),
    "all-whitespace": (
        "a.csv",
        lambda: [(" ", "pos"), ("\t", "neg")] * 10,
        2,
        "no usable rows in a.csv: all 20 rows had an empty text or label",
    ),
    "100k-char-line": ("a.csv", lambda: ROWS + [("x" * 100_000, "pos"), ("word " * 20_000, "neg")], 0, "102 valid"),
    "nul-inside-text": (
        "a.csv",
        lambda: ROWS + [("great\x00film", "pos"), ("bad\x00\x00", "neg")],
        0,
        "removed NUL bytes from 2 text(s)",
    ),
    "nul-only-text": ("a.csv", lambda: ROWS + [("\x00", "pos")], 0, "dropped 1 row(s) with empty text"),
    "mixed-scripts-emoji": (
        "a.csv",
        lambda: (
            ROWS
            + [
                ("Отличный фильм 👍 素晴らしい", "pos"),
                ("سيء جدا 😡 最悪", "neg"),
                ("🎬🍿", "pos"),
                ("e\u0301 \u202ertl\u202c \u200b", "neg"),
            ]
        ),
        0,
        "104 valid",
    ),
    "zero-width-only": ("a.csv", lambda: ROWS + [("\u200b\u200b", "pos")] * 2, 0, "101 valid"),
    "emoji-labels": ("a.csv", lambda: [(t, "👍" if lab == "pos" else "👎") for t, lab in ROWS], 0, "👍"),
    "labels-numbers-and-words": (
        "a.csv",
        lambda: [(t, {"pos": "1", "neg": "0"}[lab] if i % 3 else lab) for i, (t, lab) in enumerate(ROWS)],
        0,
        "label column 'label' mixes numbers (0, 1; 66 rows) and words (neg, pos)",
    ),
    "labels-1-and-1.0": (
        "a.csv",
        lambda: [(t, {"pos": "1", "neg": "0"}[lab] + (".0" if i % 2 else "")) for i, (t, lab) in enumerate(ROWS)],
        0,
        "classes      2",
    ),
    "labels-padded": ("a.csv", lambda: [(t, f" {lab}  ") for t, lab in ROWS], 0, "classes      2"),
    "nan-labels": (
        "a.csv",
        lambda: ROWS + [("t1", ""), ("t2", "NaN"), ("t3", "nan"), ("t4", "null"), ("t5", " ")],
        0,
        "dropped 5 row(s) with a missing or empty label",
    ),
    "all-labels-missing": ("a.csv", lambda: [(t, "") for t, _ in ROWS], 2, "no usable rows in a.csv"),
    "jsonl-non-string-values": (
        "a.jsonl",
        lambda: _jsonl(
            ROWS + [(123, "pos"), (None, "neg"), (["a", "b"], "pos"), ("ok text", 1), ("ok", 1), ("nul \u0000", "neg")]
        ),
        0,
        "dropped 1 row(s) with empty text",
    ),
    "jsonl-object-label": (
        "a.jsonl",
        lambda: _jsonl(ROWS + [("x", {"a": 1})]),
        2,
        "has 1 example; each class needs at least 2",
    ),
    "unclosed-quote": (
        "a.csv",
        lambda: "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS) + '"never closed,pos\nmore,neg\n',
        2,
        "cannot parse a.csv as CSV",
    ),
    "ragged-row": (
        "a.csv",
        lambda: "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS) + "a,b,c,d\n",
        2,
        "cannot parse a.csv as CSV",
    ),
    "cr-line-endings": (
        "a.csv",
        lambda: ("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS)).replace("\n", "\r"),
        0,
        "100 valid",
    ),
    "only-blank-lines": ("a.csv", lambda: "\n\n\n\n", 2, "data file is empty: a.csv"),
}


def make_case(directory: Path, case: str) -> Path:
    name, maker, _, _ = CASES[case]
    content = maker()
    if isinstance(content, list):
        return write_rows(directory / name, content)
    return write_raw(directory / name, content)


@pytest.mark.parametrize("case", list(CASES))
def test_pathological_input_inspect_and_run(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    data = make_case(tmp_path, case)
    _, _, want_code, want_text = CASES[case]
    code, out, err = cli(capsys, "inspect", data.name)
    assert code == want_code, (out, err)
    if code == 0:
        assert want_text in out, out
        assert "Traceback" not in err
        code, out, err = cli(capsys, "inspect", data.name, "--json")  # the JSON report is valid JSON too
        assert code == 0 and json.loads(out)["total_rows"] > 0
    else:
        assert want_text in one_line_error(err)

    code, out, err = cli(capsys, *run_args("tfidf", data.name, "art"))
    assert code == want_code, (out, err)
    if code == 0:
        engine, manifest = load_artifact(tmp_path / "art")
        assert manifest.split.n_test == 20
        assert len(engine.predict(["", "x" * 100_000, "a\x00b", "👍"]).labels) == 4  # odd texts predict too
    else:
        assert want_text in one_line_error(err)
        assert not (tmp_path / "art").exists()


@pytest.mark.parametrize("case", ["nul-inside-text", "all-whitespace", "unclosed-quote"])
def test_pathological_input_in_a_real_process(tmp_path, case):
    data = make_case(tmp_path, case)
    _, _, want_code, want_text = CASES[case]
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "inspect", data.name],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == want_code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert want_text in (proc.stdout if want_code == 0 else one_line_error(proc.stderr))


def test_binary_looking_file_is_still_refused(tmp_path, capsys):
    """Tolerating a stray NUL does not let a binary file through (many NULs in the first 8 KiB)."""
    data = write_raw(tmp_path / "blob.csv", b"text,label\n" + b"\x00\x01\x02\x03" * 500)
    code, _, err = cli(capsys, "inspect", str(data))
    assert code == 2 and "looks binary, not text" in one_line_error(err)


# ------------------------------------------------------------------- train/test overlap
def test_inspect_reports_rows_shared_with_the_test_file(tmp_path, capsys):
    train = write_rows(tmp_path / "train.csv", ROWS[:80])
    shared = ROWS[60:80]
    test_rows = (
        [(t.upper() + "  ", lab) for t, lab in shared[:5]]
        + shared[5:]  # case/space do not hide it
        + [(shared[0][0], "pos" if shared[0][1] == "neg" else "neg")]  # same text, other label
        + base_rows(30, seed=9)
    )
    test = write_rows(tmp_path / "test.csv", test_rows)
    code, out, err = cli(capsys, "inspect", str(train), "--test-file", str(test))
    assert code == 0, err
    assert "held-out file: " in out and "51 rows, 21 also in the data (same text), 1 with another label" in out
    assert "held-out scores on them are inflated" in out
    code, out, _ = cli(capsys, "inspect", str(train), "--test-file", str(test), "--json")
    summary = json.loads(out)
    assert (summary["test_rows"], summary["test_overlap"], summary["test_overlap_conflicts"]) == (51, 21, 1)

    clean = write_rows(tmp_path / "clean.csv", base_rows(30, seed=9))
    code, out, _ = cli(capsys, "inspect", str(train), "--test-file", str(clean))
    assert code == 0 and "30 rows, 0 also in the data" in out and "inflated" not in out
    code, _, err = cli(capsys, "inspect", str(train), "--test-file", str(tmp_path / "nope.csv"))
    assert code == 2 and "data file not found" in one_line_error(err)


def test_run_with_overlapping_files_records_and_warns(tmp_path, capsys):
    train = write_rows(tmp_path / "train.csv", ROWS[:80])
    test = write_rows(tmp_path / "test.csv", ROWS[70:])
    spec = RunSpec(engine="tfidf", profile="tiny", train_file=str(train), test_file=str(test))
    manifest = full_run(spec, tmp_path / "art", speed_texts=0)
    assert manifest.split.test_overlap == 10
    from advisor.commands.run import run_summary

    assert "warning: 10 held-out row(s) also appear in the training data" in run_summary(manifest, tmp_path / "art")
    assert (
        full_run(
            RunSpec(engine="tfidf", profile="tiny", data=str(train)), tmp_path / "b", speed_texts=0
        ).split.test_overlap
        == 0
    )


@pytest.mark.parametrize("engine", ["embedding", "finetune"])
def test_a_one_megabyte_text_is_cut_to_the_token_limit_with_a_note(tmp_path, capsys, engine):
    """Texts of 1 MB train and predict: each is cut to the model's limit (64 tokens in the tiny profile),
    and the run's notes and predict's stderr say how many were."""
    long = ("a great lovely film " * 60_000)[:1_000_000]
    data = write_rows(tmp_path / "d.csv", ROWS + [(long + f" {i}", "pos") for i in range(3)])
    out = tmp_path / engine
    code, stdout, err = cli(capsys, *run_args(engine, data, out, "--json"))
    assert code == 0, err
    notes = json.loads(stdout)["fit"]["notes"]
    said = [n for n in notes if "training texts reached the 64-token limit" in n]
    assert len(said) == 1 and said[0].split(" of ")[0] in {"1", "2", "3"}, notes
    many = write_rows(tmp_path / "q.csv", [(long, "pos"), ("a dull boring mess", "neg")])
    code, _, err = cli(capsys, "predict", str(out), "--data", str(many), "--out", str(tmp_path / "p.csv"))
    assert code == 0 and "warning: 1 of 2 texts reached the 64-token limit" in err, err
    code, _, err = cli(capsys, "predict", str(out), "--text", "a dull boring mess")
    assert code == 0 and "warning" not in err, err
