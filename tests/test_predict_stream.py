"""``predict --data`` in batches: same file as in one go, nothing half-written on a failure, accuracy from counts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from artifact_helpers import swapped_in
from data_helpers import write_reviews_csv

from advisor.cli import main
from advisor.commands import predict
from advisor.run.fullrun import RunSpec, full_run
from engines.artifacts import load_artifact
from engines.metrics import score, score_counts
from engines.records import Examples, Predictions

ROWS = 150


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    return write_reviews_csv(tmp_path_factory.mktemp("data") / "reviews.csv", ROWS)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, data_csv) -> Path:
    out = tmp_path_factory.mktemp("art") / "tf"
    full_run(RunSpec(engine="tfidf", profile="tiny", data=str(data_csv), test_size=50), out, speed_texts=0)
    return out


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_many_batches_write_the_same_file_as_one(tmp_path, artifact, data_csv, monkeypatch, capsys, suffix):
    one, many = tmp_path / f"one{suffix}", tmp_path / f"many{suffix}"
    assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(one)]) == 0
    err_one = capsys.readouterr().err
    monkeypatch.setattr(predict, "BATCH_ROWS", 7)  # 150 rows: 22 batches, the last one short
    assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(many)]) == 0
    err_many = capsys.readouterr().err
    assert many.read_bytes() == one.read_bytes()
    assert err_many == err_one.replace(str(one), str(many))
    assert f"wrote {ROWS} predictions" in err_many and "accuracy" in err_many
    text = one.read_text(encoding="utf-8")
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        assert set(rows[0]) == {"text", "label", "score", "scores"}
    else:
        sep = "\t" if suffix == ".tsv" else ","
        header, *lines = text.splitlines()
        assert header.split(sep) == ["text", "label", "score", "p_neg", "p_pos"] and len(lines) == ROWS
        rows = [dict(zip(header.split(sep), line.split(sep), strict=True)) for line in lines]
    engine, _ = load_artifact(artifact)
    texts = [r["text"] for r in rows]
    assert [r["label"] for r in rows] == engine.predict(texts).labels
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_other_inputs_stream_the_same(tmp_path, artifact, data_csv, monkeypatch, capsys, fmt):
    import csv

    with data_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    src = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        src.write_text("\n\n".join(r["review"] for r in rows) + "\n", encoding="utf-8")  # blank lines skipped
    assert main(["predict", str(artifact), "--data", str(src), "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(predict, "BATCH_ROWS", 11)
    assert main(["predict", str(artifact), "--data", str(src), "--json"]) == 0
    batched = json.loads(capsys.readouterr().out)
    assert batched == whole and len(batched["predictions"]) == ROWS
    assert ("accuracy" in batched) == (fmt == "jsonl")


def test_json_is_printed_as_the_batches_come(tmp_path, artifact, data_csv, monkeypatch, capsys):
    """--json holds no rows: each batch's predictions are on stdout before the next batch is predicted,
    and the document is the --out JSONL's rows under the artifact, engine, classes and scores."""
    import sys

    out = tmp_path / "p.jsonl"
    assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(out)]) == 0
    capsys.readouterr()
    expected_rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    engine, _ = load_artifact(artifact)
    real, printed = type(engine).predict, []

    def spy(self, texts, *a, **kw):
        printed.append(sys.stdout.getvalue().count("\n"))  # lines on stdout before this batch
        return real(self, texts, *a, **kw)

    monkeypatch.setattr(type(engine), "predict", spy)
    monkeypatch.setattr(predict, "BATCH_ROWS", 40)
    assert main(["predict", str(artifact), "--data", str(data_csv), "--json"]) == 0
    text = capsys.readouterr().out
    assert printed == [0, 40, 80, 120]  # 150 rows: batches of 40, each printed before the next is predicted
    doc = json.loads(text)
    assert doc["predictions"] == expected_rows and doc["engine"] == "tfidf" and doc["artifact"] == str(artifact)
    assert doc["classes"] == list(expected_rows[0]["scores"]) and 0 <= doc["accuracy"] <= 1
    assert text.count("\n") == ROWS + 2


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("fault", [Boom, KeyboardInterrupt])
def test_a_failure_mid_way_leaves_no_partial_file(tmp_path, artifact, data_csv, monkeypatch, capsys, fault):
    engine, _ = load_artifact(artifact)
    cls = type(engine)
    real = cls.predict
    calls = []

    def flaky(self, texts, *a, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise fault("disk on fire")
        return real(self, texts, *a, **kw)

    monkeypatch.setattr(cls, "predict", flaky)
    monkeypatch.setattr(predict, "BATCH_ROWS", 40)
    fresh = tmp_path / "fresh.csv"
    code = main(["predict", str(artifact), "--data", str(data_csv), "--out", str(fresh)])
    err = capsys.readouterr().err
    assert code == (130 if fault is KeyboardInterrupt else 1)
    assert err.count("\n") == 1 and err.startswith("tune-or-embed: error:")
    assert not fresh.exists() and _leftovers(tmp_path) == []

    calls.clear()
    old = tmp_path / "old.jsonl"
    old.write_text("precious\n", encoding="utf-8")
    assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(old)]) != 0
    assert old.read_text(encoding="utf-8") == "precious\n" and _leftovers(tmp_path) == []
    assert len(calls) == 2  # it stopped at the failing batch

    calls.clear()  # --json: the first batch was printed; the document is left unfinished, the exit says so
    capsys.readouterr()
    assert main(["predict", str(artifact), "--data", str(data_csv), "--json"]) == code
    printed, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("tune-or-embed: error:")
    assert printed.count("\n") == 40 and '"predictions": [' in printed
    with pytest.raises(json.JSONDecodeError):
        json.loads(printed)


def test_accuracy_from_counts_equals_score(tmp_path, artifact, data_csv, monkeypatch, capsys):
    import csv

    with data_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts, labels = [r["review"] for r in rows], [r["sentiment"] for r in rows]
    engine, _ = load_artifact(artifact)
    expected = score(Examples(texts=texts, labels=labels), engine.predict(texts))
    monkeypatch.setattr(predict, "BATCH_ROWS", 13)
    assert main(["predict", str(artifact), "--data", str(data_csv), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["accuracy"], got["macro_f1"]) == (expected.accuracy, expected.macro_f1)
    assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(tmp_path / "p.csv")]) == 0
    assert f"accuracy {expected.accuracy:.3f}, macro-F1 {expected.macro_f1:.3f} on {ROWS} labelled rows" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("seed", range(5))
def test_score_counts_matches_score_on_random_labels(seed):
    from collections import Counter

    rng = random.Random(seed)
    truth = [rng.choice("abcd") for _ in range(300)]
    guess = [t if rng.random() < 0.6 else rng.choice("abcde") for t in truth]  # "e" is never true
    pred = Predictions(labels=guess, classes=list("abcde"), scores=[[0.2] * 5 for _ in guess])
    expected = score(Examples(texts=["x"] * len(truth), labels=truth), pred)
    got = score_counts(Counter(zip(truth, guess, strict=True)))
    assert (got.n, got.accuracy, got.macro_f1) == (expected.n, expected.accuracy, expected.macro_f1)
    assert set(got.per_class) == set(expected.per_class)
    for c, report in expected.per_class.items():
        assert got.per_class[c].support == report.support
        for field in ("precision", "recall", "f1"):
            assert getattr(got.per_class[c], field) == pytest.approx(getattr(report, field), abs=1e-12)


def test_a_missing_label_in_a_later_batch_means_no_accuracy(tmp_path, artifact, monkeypatch, capsys):
    src = tmp_path / "in.jsonl"
    lines = [{"text": f"great fun {i}", "label": "pos"} for i in range(30)] + [{"text": "dull"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    monkeypatch.setattr(predict, "BATCH_ROWS", 10)
    assert main(["predict", str(artifact), "--data", str(src), "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "wrote 31 predictions" in err and "accuracy" not in err


def test_a_predict_out_removes_only_dead_writers_staging_files(tmp_path, artifact, data_csv, capsys):
    """A ``predict --out`` killed with ``kill -9`` leaves ``.<out>.<pid>@<host>.XXXXXXXX.tmp``; the next write
    to the same file removes it, but never the file of a writer still running (nor one it cannot judge)."""
    import subprocess
    import sys

    from engines.atomic import HOST

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])  # a "writer" still at work
    try:
        out = tmp_path / "out.csv"
        out.write_text("old\n", encoding="utf-8")
        names = {
            "dead": f".out.csv.{dead.pid}@{HOST}.k1ll3d_9.tmp",
            "live": f".out.csv.{live.pid}@{HOST}.w0rk1ng_.tmp",
            "other-host": f".out.csv.{dead.pid}@{HOST}x-elsewhere.abcdefgh.tmp",  # its pid means nothing here
            "unnamed": ".out.csv.abcdefgh.tmp",  # an older version's: no writer to check
            "other-file": f".other.csv.{dead.pid}@{HOST}.abcdefgh.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_text("half a file", encoding="utf-8")
        assert main(["predict", str(artifact), "--data", str(data_csv), "--out", str(out)]) == 0
        capsys.readouterr()
        assert out.read_text(encoding="utf-8").startswith("text,label,score")
        left = set(_leftovers(tmp_path))
        assert names["dead"] not in left
        assert left == {names[k] for k in ("live", "other-host", "unnamed", "other-file")}
    finally:
        live.kill()
        live.wait()


def test_a_staging_file_older_than_its_pids_process_is_stale(tmp_path):
    """Pid reuse (after a reboot or a container restart): a staging file last written before the process
    that now has its pid started was not written by that process, so it is stale; the same process's
    fresh file is kept."""
    import os
    import subprocess
    import time

    from engines.atomic import HOST, sweep_stale, write_text

    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc: pid reuse cannot be told")
    child = subprocess.Popen(["sleep", "60"])
    try:
        target = tmp_path / "out.csv"
        stale = tmp_path / f".out.csv.{child.pid}@{HOST}.abcdefgh.tmp"
        fresh = tmp_path / f".out.csv.{child.pid}@{HOST}.ijklmnop.tmp"
        for f in (stale, fresh):
            f.write_text("x", encoding="utf-8")
        hour_ago = time.time() - 3600
        os.utime(stale, (hour_ago, hour_ago))
        write_text(target, "new\n")
        assert target.read_text(encoding="utf-8") == "new\n"
        assert not stale.exists() and fresh.exists()
        assert sweep_stale(target) == []
    finally:
        child.kill()
        child.wait()


# ------------------------------------------------------------- a run --overwrite swapping the artifact
@pytest.fixture(scope="module")
def other_artifact(tmp_path_factory) -> Path:
    """A second tfidf artifact, of other data: what a `run --overwrite` swaps in."""
    d = tmp_path_factory.mktemp("other")
    data = write_reviews_csv(d / "other.csv", 90, seed=7)
    out = d / "tf"
    full_run(RunSpec(engine="tfidf", profile="tiny", data=str(data), test_size=30), out, speed_texts=0)
    return out


@pytest.mark.parametrize("window", ["verify-then-swap", "swap-mid-load", "swap-after-load"])
def test_predict_loading_across_a_swap_predicts_wholly_with_one_artifact(
    tmp_path, artifact, other_artifact, data_csv, monkeypatch, capsys, window
):
    """The swap falls inside predict's load: before the checksums are read (they then belong to the
    other artifact), between two of the engine's files (the vocabulary of one, the head of the other),
    or after the engine has loaded. The file written is the new artifact's, byte for byte, never a mix."""
    import shutil

    import engines.artifacts as A
    import engines.linear_head as L

    new_alone = tmp_path / "new.csv"
    assert main(["predict", str(other_artifact), "--data", str(data_csv), "--out", str(new_alone)]) == 0
    art = tmp_path / "art"
    shutil.copytree(artifact, art)
    swap, done = swapped_in(art, other_artifact, tmp_path)
    if window == "verify-then-swap":
        real_verify = A.verify_files
        monkeypatch.setattr(A, "verify_files", lambda *a, **k: (swap(), real_verify(*a, **k))[1])
    elif window == "swap-mid-load":
        real_head = L.load_logreg
        monkeypatch.setattr(L, "load_logreg", lambda *a, **k: (swap(), real_head(*a, **k))[1])
    else:
        real_load = A.load_artifact
        monkeypatch.setattr(A, "load_artifact", lambda *a, **k: (real_load(*a, **k), swap())[0])
    out = tmp_path / "out.csv"
    assert main(["predict", str(art), "--data", str(data_csv), "--out", str(out)]) == 0
    capsys.readouterr()
    assert done and out.read_bytes() == new_alone.read_bytes()


def test_a_predict_whose_artifact_is_replaced_mid_way_says_so_in_one_line(
    tmp_path, artifact, other_artifact, data_csv, monkeypatch, capsys
):
    """A failure while predicting (as a kNN head's store whose files a swap deleted) is reported as the
    artifact replaced, exit 4, and --out is left as it was."""
    import shutil

    art = tmp_path / "art"
    shutil.copytree(artifact, art)
    swap, _ = swapped_in(art, other_artifact, tmp_path)
    engine, _ = load_artifact(artifact)
    cls, calls = type(engine), []

    def store_gone(self, texts, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            swap()
            raise RuntimeError("lance error: Not found: data/abc.lance")
        return Predictions(labels=["pos"] * len(texts), classes=["neg", "pos"], scores=[[0.0, 1.0]] * len(texts))

    monkeypatch.setattr(cls, "predict", store_gone)
    monkeypatch.setattr(predict, "BATCH_ROWS", 40)
    out = tmp_path / "out.csv"
    out.write_text("precious\n", encoding="utf-8")
    code = main(["predict", str(art), "--data", str(data_csv), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.count("\n") == 1 and "was replaced" in err and "predict again" in err
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert [n for n in _leftovers(tmp_path)] == []
