"""Kill anywhere, lose nothing: ``run --overwrite`` killed with SIGKILL at each phase leaves the old
artifact (or, after the swap, the new one) loadable at --out, and the next run is not blocked.

Each test starts a real ``python -m advisor run`` process. To kill it at a *named* point rather
than after a guessed delay, the process is started through a tiny wrapper (``cli_process.killed_at``,
test code only) that wraps one function of the package so the process SIGKILLs itself just before or
just after that function runs, then calls ``advisor.cli.main`` as ``python -m advisor`` would.
A few runs are also killed after plain delays, without any wrapper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from artifact_helpers import leftovers
from cli_process import CLI, ENV, ROOT, cli, killed_at
from data_helpers import write_pairs
from fault_helpers import base_rows, write_rows
from fault_helpers import run_args as fault_run_args

from engines.artifacts import load_artifact, read_manifest


def write_csv(path: Path, n: int = 100, seed: int = 0) -> Path:
    return write_rows(path, base_rows(n, seed))


def run_args(engine: str, data: Path, out: Path, *extra: str) -> list[str]:
    return fault_run_args(engine, data, out, *extra, test_size=30)


def check_loads_and_predicts(out: Path) -> str:
    """Load the artifact at ``out`` in this process, predict two texts; its created_at + fingerprint."""
    engine, manifest = load_artifact(out)
    preds = engine.predict(["a great lovely film", "a boring awful mess"])
    assert len(preds.labels) == 2 and set(preds.labels) <= {"pos", "neg"}
    return manifest.created_at + manifest.data.fingerprint


@pytest.fixture(scope="module")
def tfidf_setup(tmp_path_factory):
    """Two data files (old and new runs differ by fingerprint) and a good old artifact to copy."""
    d = tmp_path_factory.mktemp("kill")
    old_csv, new_csv = write_csv(d / "old.csv", 100, seed=1), write_csv(d / "new.csv", 100, seed=2)
    proto = d / "proto"
    proc = cli(*run_args("tfidf", old_csv, proto))
    assert proc.returncode == 0, proc.stderr
    return d, old_csv, new_csv, proto


def fresh_out(tmp_path: Path, proto: Path) -> Path:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(proto, out)
    return out


# (wrapped function, before/after, which generation should be at --out after the kill); the two around the
# swap run by default, the rest (~5 s each) with the slow checks.
_slow = pytest.mark.slow
TFIDF_POINTS = [
    pytest.param("advisor.data.labelled:load_dataset", "after", "old", marks=_slow, id="data-read"),
    pytest.param("engines.tfidf:TfidfEngine.fit", "after", "old", marks=_slow, id="trained"),
    pytest.param("engines.tfidf:TfidfEngine.save", "after", "old", marks=_slow, id="engine-files-staged"),
    pytest.param("engines.artifacts:file_entries", "after", "old", marks=_slow, id="checksums-no-manifest"),
    pytest.param("engines.atomic:exchange", "before", "old", id="staged-not-swapped"),
    pytest.param("engines.atomic:exchange", "after", "new", id="swapped-old-not-deleted"),
    pytest.param("engines.artifacts:read_manifest", "after", "new", marks=_slow, id="renamed-lock-held"),
]


@pytest.mark.parametrize("target,when,expect", TFIDF_POINTS)
def test_tfidf_killed_at_a_phase_keeps_a_loadable_artifact(tmp_path, tfidf_setup, target, when, expect):
    _, old_csv, new_csv, proto = tfidf_setup
    out = fresh_out(tmp_path, proto)
    old_id = check_loads_and_predicts(out)
    killed_at(target, when, run_args("tfidf", new_csv, out, "--overwrite"))

    now_id = check_loads_and_predicts(out)  # whatever the phase, --out loads and predicts
    assert (now_id == old_id) == (expect == "old")
    assert (tmp_path / ".out.lock").exists()  # the dead run's lock is still there …
    # … a staging leftover may remain, but never *as* --out; the next run is not blocked and tidies up
    proc = cli(*run_args("tfidf", new_csv, out, "--overwrite"))
    assert proc.returncode == 0, proc.stderr
    assert check_loads_and_predicts(out) != old_id
    assert leftovers(out) == []


def test_killed_between_the_two_renames_of_the_fallback_is_put_back(tmp_path, tfidf_setup):
    """Where the atomic swap is unavailable, replacing is two renames; a kill between them leaves the old
    folder at .out.old: loading says so, and the next run puts it back before anything else."""
    _, _, new_csv, proto = tfidf_setup
    out = fresh_out(tmp_path, proto)
    old_id = check_loads_and_predicts(out)
    script = CLI.replace(
        'sys.argv = ["tune-or-embed"',
        "import engines.atomic as A\nA.exchange = lambda a, b: False\n"
        "real = os.replace\n"
        "def rep(src, dst, *a, **k):\n"
        "    real(src, dst, *a, **k)\n"
        "    if str(dst).endswith('.out.old'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.replace = rep\n"
        'sys.argv = ["tune-or-embed"',
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "os:getcwd", "after", "999", *run_args("tfidf", new_csv, out, "--overwrite")],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not out.exists() and (tmp_path / ".out.old" / "manifest.json").is_file()
    from engines.errors import ArtifactError

    with pytest.raises(ArtifactError, match=r"killed and left the previous one at .*\.out\.old"):
        read_manifest(out)
    # a run that is refused (no --overwrite) still puts the old one back first
    proc = cli(*run_args("tfidf", new_csv, out))
    assert proc.returncode == 4 and "exists" in proc.stderr
    assert check_loads_and_predicts(out) == old_id
    assert leftovers(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_tfidf_killed_after_a_delay(tmp_path, tfidf_setup, delay):
    """No wrapper: the real ``python -m advisor run`` process, SIGKILLed after ``delay`` seconds."""
    _, _, new_csv, proto = tfidf_setup
    out = fresh_out(tmp_path, proto)
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", *run_args("tfidf", new_csv, out, "--overwrite")],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    check_loads_and_predicts(out)
    for name in leftovers(out):  # a leftover staging folder is never mistaken for the artifact
        assert name.endswith((".tmp", ".lock", ".old"))
    done = cli(*run_args("tfidf", new_csv, out, "--overwrite"))
    assert done.returncode == 0, done.stderr
    assert leftovers(out) == []


def test_python_dash_m_advisor_is_the_cli():
    proc = cli("--help", timeout=60)
    assert proc.returncode == 0 and "usage: tune-or-embed" in proc.stdout
    assert (ROOT / "advisor" / "__main__.py").is_file()


@pytest.mark.slow
def test_embedding_killed_while_saving_keeps_the_old_artifact(tmp_path, tfidf_setup):
    d, old_csv, new_csv, _ = tfidf_setup
    out = tmp_path / "emb"
    assert cli(*run_args("embedding", old_csv, out)).returncode == 0
    old_id = check_loads_and_predicts(out)
    killed_at("engines.artifacts:file_entries", "after", run_args("embedding", new_csv, out, "--overwrite"))
    assert check_loads_and_predicts(out) == old_id
    proc = cli(*run_args("embedding", new_csv, out, "--overwrite"))
    assert proc.returncode == 0, proc.stderr
    assert check_loads_and_predicts(out) != old_id and leftovers(out) == []


@pytest.mark.slow
def test_finetune_killed_mid_training_resumes_to_the_same_result(tmp_path, tfidf_setup):
    """SIGKILL right after the first checkpoint (step 10 of 20) is written; ``--resume`` finishes from it,
    and (seeded, on CPU) its held-out predictions equal an uninterrupted run's."""
    _, old_csv, new_csv, _ = tfidf_setup
    ref = tmp_path / "ref"
    proc = cli(*run_args("finetune", new_csv, ref, "--json"))
    assert proc.returncode == 0, proc.stderr
    ref_manifest = json.loads(proc.stdout)

    out = tmp_path / "ft"
    assert cli(*run_args("finetune", old_csv, out)).returncode == 0
    old_id = check_loads_and_predicts(out)
    killed_at("engines.checkpoint:save_checkpoint", "after", run_args("finetune", new_csv, out, "--overwrite"), nth=1)
    assert check_loads_and_predicts(out) == old_id  # the old artifact is untouched
    work = tmp_path / "ft.work"
    assert (work / "checkpoints" / "LATEST").is_file()

    proc = cli(*run_args("finetune", new_csv, out, "--overwrite", "--resume", "--json"))
    assert proc.returncode == 0, proc.stderr
    resumed = json.loads(proc.stdout)
    note = next((n for n in resumed["fit"]["notes"] if "resumed from the checkpoint" in n), None)
    assert note is not None, resumed["fit"]["notes"]
    step, total = (int(x) for x in note.split("at step ")[1].split(" of "))
    assert 0 < step < total, note  # killed mid-training, not after the last step
    check_loads_and_predicts(out)
    assert not work.exists() and leftovers(out) == []
    assert resumed["fit"]["steps"] == ref_manifest["fit"]["steps"]
    assert resumed["metrics"]["accuracy"] == pytest.approx(ref_manifest["metrics"]["accuracy"], abs=1e-9)
    from engines.artifacts import read_heldout

    assert read_heldout(out).y_pred == read_heldout(ref).y_pred


def test_a_lock_whose_pid_was_reused_is_taken_over(tmp_path):
    """After a reboot or container restart the dead run's pid may belong to a live process (even this
    one): a lock older than that process is stale. A fresh lock of a live process still refuses."""
    from engines.artifacts import artifact_lock
    from engines.errors import ArtifactError

    lock = tmp_path / ".art.lock"
    lock.write_text(str(os.getpid()))
    with pytest.raises(ArtifactError, match="in use by another run"):
        with artifact_lock(tmp_path / "art"):
            pass
    hour_ago = time.time() - 3600  # written before this process started: its writer is gone
    os.utime(lock, (hour_ago, hour_ago))
    with artifact_lock(tmp_path / "art"):
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


@pytest.mark.slow
def test_predict_out_killed_mid_write_keeps_the_old_file_and_the_next_predict_sweeps(tmp_path, tfidf_setup):
    """``predict --data F --out OUT`` SIGKILLed after writing 2 of its 3 batches (30,000 rows): OUT is the
    old file, byte for byte, and the staging file left beside it is named after the dead pid; the next
    predict to OUT removes it and leaves nothing else."""
    _, _, new_csv, proto = tfidf_setup
    big = write_csv(tmp_path / "big.csv", 30_000, seed=3)
    out = tmp_path / "pred.csv"
    out.write_text("old predictions\n", encoding="utf-8")
    args = ["predict", str(proto), "--data", str(big), "--out", str(out)]
    proc = killed_at("advisor.commands.predict:_write", "after", args, nth=2)
    assert out.read_text(encoding="utf-8") == "old predictions\n"
    (stale,) = leftovers(out)
    from engines.atomic import HOST

    pid = int(stale.split(".")[3].split("@")[0])
    assert stale.startswith(f".pred.csv.{pid}@{HOST}.") and stale.endswith(".tmp"), stale
    assert (tmp_path / stale).stat().st_size > 0 and pid != os.getpid()  # half a file, the dead one's
    assert "wrote" not in proc.stderr
    done = cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote 30000 predictions" in done.stderr
    assert leftovers(out) == []
    assert out.read_text(encoding="utf-8").count("\n") == 30_001


# A retrieval run (frozen-index: the corpus embedded into a LanceDB store, then staged and swapped in)
# killed while it builds the index, while it stages the artifact, and around the swap.
INDEX_POINTS = [
    pytest.param("engines.store:VectorStore.create", "after", "old", id="index-built-not-staged"),
    pytest.param("engines.dense_artifact:write_json", "before", "old", id="store-staged-no-collection"),
    pytest.param("engines.atomic:exchange", "before", "old", id="staged-not-swapped"),
    pytest.param("engines.atomic:exchange", "after", "new", id="swapped"),
]


@pytest.fixture(scope="module")
def index_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("kill-index")
    old, new = write_pairs(d / "old.csv", "old"), write_pairs(d / "new.csv", "new")
    proto = d / "proto"
    proc = cli("run", "--engine", "frozen-index", "--profile", "tiny", "--data", str(old), "--out", str(proto))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return new, proto


def searched_generation(art: Path) -> str:
    """Which pairs file the index at ``art`` holds ('old' or 'new'), by searching it."""
    proc = cli("search", str(art), "river mountain 0", "-k", "3", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tags = {hit["text"].split()[0] for hit in json.loads(proc.stdout)["hits"]}
    assert len(tags) == 1, tags  # never a mix of the two collections
    return tags.pop()


@pytest.mark.slow
@pytest.mark.parametrize(("target", "when", "expect"), INDEX_POINTS)
def test_a_retrieval_run_killed_while_indexing_keeps_a_searchable_index(tmp_path, index_setup, target, when, expect):
    new_csv, proto = index_setup
    out = fresh_out(tmp_path, proto)
    args = ["run", "--engine", "frozen-index", "--profile", "tiny", "--data", str(new_csv), "--out", str(out)]
    scratch = tmp_path / "tmp"  # the runs' temp folder: where the index is built before it is staged
    scratch.mkdir()
    killed_at(target, when, [*args, "--overwrite"], env={"TMPDIR": str(scratch)})
    assert searched_generation(out) == expect
    assert [p.name for p in scratch.iterdir() if p.name.startswith("toe-frozen-index-")]  # the dead run's
    proc = cli(*args, "--overwrite", env={"TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert searched_generation(out) == "new" and leftovers(out) == []
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("toe-")]  # swept, and its own removed


@pytest.mark.slow
def test_a_contrastive_run_killed_mid_training_resumes_to_the_same_index(tmp_path, index_setup):
    """SIGKILL right after the contrastive fine-tune's first checkpoint (step 10 of 30): the old index
    still answers, and ``--resume`` finishes with an uninterrupted run's held-out scores and answers."""
    new_csv, proto = index_setup
    quick = ["--set", "min_steps=30", "--set", "checkpoint_every_steps=10"]
    base = ["run", "--engine", "contrastive", "--profile", "tiny", "--data", str(new_csv), *quick]
    ref = tmp_path / "ref"
    proc = cli(*base, "--out", str(ref), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    whole = json.loads(proc.stdout)

    out = fresh_out(tmp_path, proto)
    killed_at("engines.checkpoint:save_checkpoint", "after", [*base, "--out", str(out), "--overwrite"])
    assert searched_generation(out) == "old" and (tmp_path / "out.work" / "checkpoints" / "LATEST").is_file()
    proc = cli(*base, "--out", str(out), "--overwrite", "--resume", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    resumed = json.loads(proc.stdout)
    assert any("resumed from the checkpoint at step 10 of 30" in n for n in resumed["fit"]["notes"])
    assert resumed["fit"]["steps"] == whole["fit"]["steps"] == 30
    assert resumed["rank_metrics"]["metrics"] == pytest.approx(whole["rank_metrics"]["metrics"], abs=1e-6)
    answer = cli("search", str(out), "river mountain 0", "-k", "5", "--json").stdout
    assert (
        json.loads(answer)["hits"]
        == json.loads(cli("search", str(ref), "river mountain 0", "-k", "5", "--json").stdout)["hits"]
    )
    assert searched_generation(out) == "new" and leftovers(out) == []
