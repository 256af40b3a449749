"""Full runs and the ``run`` / ``predict`` / ``search`` commands (tiny profile; predict and
search are checked in a NEW process, from the artifact alone)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from data_helpers import write_reviews_csv as write_csv

from advisor.cli import main
from advisor.run.fullrun import RunSpec, full_run, held_out_rows
from advisor.run.plan import load_plan
from engines.artifacts import load_artifact
from engines.errors import ArtifactError, ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "reviews.csv", 150)


def test_held_out_rows_is_capped_and_covers_every_class():
    assert held_out_rows(1000, 2, 0.2) == 200
    assert held_out_rows(100_000, 2, 0.2) == 2000
    assert held_out_rows(20, 5, 0.1) == 5
    assert held_out_rows(1000, 2, 300) == 300


def test_full_run_tfidf_writes_a_complete_manifest(tmp_path, data_csv):
    spec = RunSpec(engine="tfidf", profile="tiny", data=str(data_csv), test_size=50)
    events = []
    manifest = full_run(spec, tmp_path / "t", progress=events.append)
    assert manifest.split.n_test == 50 and manifest.split.n_train == 100
    assert manifest.data.text_col == "review" and manifest.data.label_col == "sentiment"
    assert manifest.data.fingerprint and manifest.profile == "tiny"
    assert manifest.metrics.n == 50 and manifest.metrics.accuracy > 0.7
    assert manifest.fit.n_train == 100 and manifest.speed is not None
    assert {"data", "fit", "evaluate", "speed"} <= set(manifest.timings)
    assert {e.phase for e in events} >= {"load", "train", "eval", "save"}
    _, again = load_artifact(tmp_path / "t")
    assert again == manifest
    with pytest.raises(ArtifactError, match="exists"):
        full_run(spec, tmp_path / "t")


def test_labelled_size_and_explicit_files(tmp_path, data_csv):
    spec = RunSpec(engine="tfidf", profile="tiny", data=str(data_csv), labelled_size=30, test_size=0.2)
    assert full_run(spec, tmp_path / "l", speed_texts=0).split.n_train == 30
    train = write_csv(tmp_path / "train.csv", 60, seed=1)
    test = write_csv(tmp_path / "test.csv", 40, seed=2)
    spec = RunSpec(engine="tfidf", profile="tiny", train_file=str(train), test_file=str(test))
    m = full_run(spec, tmp_path / "e", speed_texts=0)
    assert (m.split.n_train, m.split.n_test, m.split.explicit_files) == (60, 40, True)


def test_bad_specs_are_config_errors(tmp_path, data_csv):
    with pytest.raises(ValueError):
        RunSpec(engine="tfidf", train_file="a.csv")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"nope": {}}))
    with pytest.raises(ConfigError, match='no "run" object'):
        load_plan(plan)
    plan.write_text(json.dumps({"run": {"engine": "tfidf", "data": str(data_csv), "test_size": 2.5}}))
    with pytest.raises(ConfigError, match="test_size"):
        load_plan(plan)
    spec = RunSpec(engine="tfidf", profile="tiny", data=str(data_csv), engine_config={"max_features": "lots"})
    with pytest.raises(ConfigError, match="max_features"):
        full_run(spec, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_run_embedding_then_predict_and_search_in_a_new_process(tmp_path, data_csv, capsys):
    out = tmp_path / "emb"
    code = main(
        [
            "run",
            "--engine",
            "embedding",
            "--data",
            str(data_csv),
            "--profile",
            "tiny",
            "--set",
            "C=1.0",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["engine"] == "embedding" and manifest["model_hash"]
    assert manifest["metrics"]["n"] == 30  # 20 % of 150

    engine, _ = load_artifact(out)
    texts = ["a great and lovely film", "boring awful mess"]
    expected = engine.predict(texts)

    # one fresh interpreter runs both commands from the artifact alone
    script = (
        "import sys\n"
        "from advisor.cli import main\n"
        "out, t0, t1 = sys.argv[1:4]\n"
        "assert main(['predict', out, '--text', t0, '--text', t1, '--json']) == 0\n"
        "print('@@')\n"
        "assert main(['search', out, 'lovely great film', '-k', '3', '--json']) == 0\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out), *texts],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    predicted, searched = proc.stdout.split("@@")
    got = json.loads(predicted)
    assert [p["label"] for p in got["predictions"]] == expected.labels
    for row, scores in zip(got["predictions"], expected.scores, strict=True):
        assert [row["scores"][c] for c in expected.classes] == pytest.approx(scores, abs=1e-6)
    hits = json.loads(searched)["hits"]
    assert len(hits) == 3 and hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_cli_plan_run_predict_file_and_errors(tmp_path, data_csv, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"run": {"engine": "tfidf", "profile": "tiny", "data": str(data_csv)}}))
    out = tmp_path / "tf"
    assert main(["run", str(plan), "--out", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out

    # an existing output folder: one line, exit 4, nothing touched
    assert main(["run", str(plan), "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; pass --overwrite" in err

    # predict a labelled file: every row in order, accuracy reported, CSV written
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out), "--data", str(data_csv), "--out", str(preds)]) == 0
    err = capsys.readouterr().err
    assert "accuracy" in err
    with preds.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 150 and set(rows[0]) >= {"text", "label", "score", "p_pos", "p_neg"}

    # search on a tfidf artifact says which engine supports it
    assert main(["search", str(out), "great"]) == 2
    assert "search needs one from embedding" in capsys.readouterr().err

    # missing and corrupt artifacts: one line each
    assert main(["predict", str(tmp_path / "nope"), "--text", "x"]) == 4
    assert capsys.readouterr().err.count("\n") == 1
    head = out / "head.npz"
    head.write_bytes(head.read_bytes()[:-1] + bytes([head.read_bytes()[-1] ^ 1]))  # one bit flipped
    assert main(["predict", str(out), "--text", "x"]) == 4
    err = capsys.readouterr().err
    assert "head.npz does not match its checksum" in err and err.count("\n") == 1
    (out / "manifest.json").write_text("{")
    assert main(["predict", str(out), "--text", "x"]) == 4
    err = capsys.readouterr().err
    assert "not valid JSON" in err and err.count("\n") == 1


def test_a_second_run_to_the_same_folder_is_refused_while_the_first_holds_it(tmp_path, data_csv, capsys):
    from engines.artifacts import artifact_lock

    out = tmp_path / "busy"
    with artifact_lock(out):  # as a first `run` holds it for its whole length
        assert main(["run", "--engine", "tfidf", "--profile", "tiny", "--data", str(data_csv), "--out", str(out)]) == 4
        err = capsys.readouterr().err
        assert "is in use by another run" in err and err.count("\n") == 1
        assert not out.exists()
    assert main(["run", "--engine", "tfidf", "--profile", "tiny", "--data", str(data_csv), "--out", str(out)]) == 0


def test_cli_run_without_data_or_engine(capsys):
    assert main(["run", "--engine", "tfidf"]) == 2
    assert "no data" in capsys.readouterr().err
    assert main(["run", "--data", "x.csv"]) == 2
    assert "--engine" in capsys.readouterr().err


def test_bad_set_value_is_one_line(tmp_path, data_csv, capsys):
    code = main(
        [
            "run",
            "--engine",
            "embedding",
            "--data",
            str(data_csv),
            "--profile",
            "tiny",
            "--set",
            "head=forest",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "head" in err and err.count("\n") == 1


def test_interrupted_run_keeps_checkpoint_and_resume_continues(tmp_path, data_csv, monkeypatch):
    """A resumable engine (a stand-in) gets ``<out>.work``; a cancelled fit writes no artifact and
    keeps the checkpoint; ``resume=True`` continues from it and the folder is cleaned up."""
    from advisor.run import fullrun
    from engines.errors import Cancelled
    from engines.tfidf import TfidfEngine

    calls = []

    class Resumable(TfidfEngine):
        supports_resume = True

        def fit(self, train, *, workdir=None, resume=False, **kwargs):
            calls.append((workdir, resume))
            marker = workdir / "checkpoint.json"
            if not resume:
                marker.write_text('{"step": 5}')
                return super().fit(train).model_copy(update={"stopped": "cancelled"})
            assert json.loads(marker.read_text()) == {"step": 5}
            return super().fit(train)

    monkeypatch.setattr(fullrun, "build_engine", lambda spec: (Resumable({"C": 1.0}), "tiny"))
    spec = RunSpec(engine="tfidf", data=str(data_csv))
    out = tmp_path / "ft"
    with pytest.raises(Cancelled, match="--resume"):
        full_run(spec, out, speed_texts=0)
    assert not out.exists() and (tmp_path / "ft.work" / "checkpoint.json").is_file()
    manifest = full_run(spec, out, resume=True, speed_texts=0)
    assert calls == [(tmp_path / "ft.work", False), (tmp_path / "ft.work", True)]
    assert manifest.fit.stopped == "completed" and (out / "manifest.json").is_file()
    assert not (tmp_path / "ft.work").exists()


def test_cancelled_embedding_run_writes_nothing(tmp_path, data_csv):
    import threading

    cancel = threading.Event()

    def progress(event):
        if event.phase == "embed" and event.done > 0:
            cancel.set()

    spec = RunSpec(engine="embedding", profile="tiny", data=str(data_csv), engine_config={"batch_size": 8, "C": 1.0})
    from engines.errors import Cancelled

    with pytest.raises(Cancelled):
        full_run(spec, tmp_path / "e", progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []
