"""Several processes on one artifact: ``search`` and ``predict`` take no lock, so check what they do.

(a) four ``search --file`` processes at once on one ``frozen-index`` artifact answer exactly as one alone;
(b) four ``predict --data … --out`` processes at once on one ``tfidf`` artifact write identical files;
(c) ``run --overwrite`` swaps the artifact (``renameat2(RENAME_EXCHANGE)``) while searches loop in other
    processes, and one search is held between loading the old artifact and searching it until the swap is
    done: every search answers with the old or the new artifact's results, or fails with one
    ``tune-or-embed: error:`` line and a non-zero exit; never a traceback, never a mix.

Real ``python -m advisor`` processes on the builtin tiny model, as tests/test_kill.py starts them.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from cli_process import ENV, ROOT, cli, cmd

PROCS = 4
T = TypeVar("T")

# A search process held between loading the artifact and searching it, until the file argv[2] exists
# (test code only; argv[1] is written once the artifact is loaded). The rest is the CLI's command line.
HOLD = r"""
import functools, os, sys, time
import engines.artifacts as A
loaded, go = sys.argv[1], sys.argv[2]
original = A.load_artifact
@functools.wraps(original)
def held(*a, **k):
    out = original(*a, **k)
    open(loaded, "w").close()
    deadline = time.monotonic() + 300
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
    return out
A.load_artifact = held
sys.argv = ["tune-or-embed", *sys.argv[3:]]
from advisor.cli import main
sys.exit(main())
"""

TOPICS = ["river", "mountain", "engine", "garden", "violin", "harbour", "comet", "bakery", "glacier", "lantern"]
FILLER = ["the", "old", "small", "quiet", "bright", "north", "late", "green", "stone", "long"]


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def held_until_loaded(args: list[str], loaded: Path, go: Path, what: str) -> subprocess.Popen:
    """``python -m advisor ARGS`` under ``HOLD``: it loads its artifact, touches ``loaded`` and waits
    for ``go`` before it goes on. Returns once it has loaded."""
    held = start([sys.executable, "-c", HOLD, str(loaded), str(go), *args])
    deadline = time.monotonic() + 120
    while not loaded.exists():
        assert held.poll() is None, held.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"the held {what} never loaded the artifact"
        time.sleep(0.05)
    return held


def during_swap(
    run: subprocess.Popen, held: subprocess.Popen, go: Path, call: Callable[[str, int], T]
) -> tuple[list[T], tuple[int, str, str]]:
    """Two loops of ``call(name, i)`` while ``run`` (a ``run --overwrite``) swaps the artifact, each one
    call more after it ended; then ``held`` released. Returns every call's result and held's (returncode,
    stdout, stderr); ``run`` must succeed."""
    seen: list[T] = []

    def loop(name: str) -> None:
        i = 0
        while True:
            running = run.poll() is None
            seen.append(call(name, i))
            i += 1
            if not running:  # one more call after the run has ended
                return

    threads = [threading.Thread(target=loop, args=(f"loop{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    _, run_err = run.communicate(timeout=300)
    assert run.returncode == 0, run_err[-2000:]
    go.touch()
    held_out, held_err = held.communicate(timeout=300)
    for t in threads:
        t.join(timeout=300)
    return seen, (held.returncode, held_out, held_err)


def at_once(argvs: list[list[str]], timeout: float = 300) -> list[tuple[int, str, str]]:
    """Start every command line before waiting for any; (exit code, stdout, stderr) of each."""
    procs = [start(a) for a in argvs]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        outs.append((p.returncode, out, err))
    return outs


def write_pairs(path: Path, n: int, tag: str, seed: int) -> Path:
    """``n`` (query, document) pairs; ``tag`` makes every document text differ between files."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "document"])
        for i in range(n):
            topic = TOPICS[i % len(TOPICS)]
            words = " ".join(rng.sample(FILLER, 5))
            w.writerow([f"where is the {topic} {i}", f"{tag} note {i}: the {topic} {i} is by {words}"])
    return path


def index_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "run", "--engine", "frozen-index", "--profile", "tiny", "--data", str(data), "--out", str(out),
        "--test-size", "5", *extra,
    ]  # fmt: skip


def one_line_error(err: str) -> bool:
    """stderr is exactly one ``tune-or-embed: error:`` line, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("tune-or-embed: error:") and "Traceback" not in err


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A frozen-index artifact of 40 documents, a queries file, and the search output of one process alone."""
    d = tmp_path_factory.mktemp("concurrent")
    old_csv = write_pairs(d / "old.csv", 40, "old", seed=1)
    new_csv = write_pairs(d / "new.csv", 48, "new", seed=2)
    art = d / "index"
    proc = cli(*index_args(old_csv, art))
    assert proc.returncode == 0, proc.stderr[-2000:]
    queries = d / "queries.txt"
    queries.write_text("\n".join(f"where is the {t}" for t in TOPICS[:8]) + "\n", encoding="utf-8")
    alone = cli("search", str(art), "--file", str(queries), "-k", "5", "--json")
    assert alone.returncode == 0, alone.stderr[-2000:]
    assert len(json.loads(alone.stdout)) == 8
    return d, art, queries, new_csv, alone.stdout


def search_argv(art: Path, queries: Path) -> list[str]:
    return cmd("search", str(art), "--file", str(queries), "-k", "5", "--json")


@pytest.mark.slow
def test_four_searches_at_once_answer_as_one_alone(index):
    _, art, queries, _, alone = index
    results = at_once([search_argv(art, queries)] * PROCS)
    for rc, out, err in results:
        assert rc == 0, err[-2000:]
        assert "Traceback" not in err
        assert out == alone  # byte for byte: same hits, same order, same scores


@pytest.mark.slow
def test_four_predicts_at_once_write_the_same_file(tmp_path):
    rng = random.Random(0)
    words = {"pos": ["good", "great", "lovely", "fun"], "neg": ["bad", "awful", "dull", "boring"]}
    train = tmp_path / "train.csv"
    with train.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(100):
            label = "pos" if i % 2 else "neg"
            w.writerow([" ".join(rng.sample(FILLER, 4) + rng.sample(words[label], 2)) + f" {i}", label])
    art = tmp_path / "tfidf"
    proc = cli("run", "--engine", "tfidf", "--profile", "tiny", "--data", str(train), "--out", str(art))
    assert proc.returncode == 0, proc.stderr[-2000:]
    texts = tmp_path / "texts.csv"
    with texts.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        for i in range(500):
            w.writerow([" ".join(rng.sample(FILLER, 3) + rng.sample(words["pos" if i % 3 else "neg"], 2))])

    def argv(out: Path) -> list[str]:
        return cmd("predict", str(art), "--data", str(texts), "--out", str(out))

    alone = tmp_path / "alone.csv"
    rc, _, err = at_once([argv(alone)])[0]
    assert rc == 0, err[-2000:]
    outs = [tmp_path / f"out_{i}.csv" for i in range(PROCS)]
    for rc, _, err in at_once([argv(o) for o in outs]):
        assert rc == 0, err[-2000:]
        assert "Traceback" not in err
    expected = alone.read_bytes()
    assert expected.count(b"\n") == 501
    assert all(o.read_bytes() == expected for o in outs)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging leftovers


@pytest.mark.slow
def test_searches_while_run_overwrite_swaps_the_artifact_see_old_new_or_one_line(index, tmp_path):
    _, proto, queries, new_csv, old_out = index
    art = tmp_path / "index"
    shutil.copytree(proto, art)
    loaded, go = tmp_path / "loaded", tmp_path / "go"

    # One search loads the old artifact, then waits until the swap is done before it searches.
    held = held_until_loaded(search_argv(art, queries)[3:], loaded, go, "search")

    # Meanwhile: `run --overwrite` replaces it with 48 other documents, and two loops of searches run.
    run = start(cmd(*index_args(new_csv, art, "--overwrite")))

    def search(name: str, i: int) -> tuple[str, int, str, str]:
        proc = subprocess.run(search_argv(art, queries), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
        return name, proc.returncode, proc.stdout, proc.stderr

    seen, (held_rc, held_out, held_err) = during_swap(run, held, go, search)
    seen.append(("held", held_rc, held_out, held_err))

    new_out = cli(*search_argv(art, queries)[3:]).stdout
    assert new_out != old_out and json.loads(new_out)[0]["hits"][0]["text"].startswith("new note")
    outcomes = []
    for name, rc, out, err in seen:
        assert "Traceback" not in err, (name, err[-2000:])
        if rc == 0:
            assert out in (old_out, new_out), (name, out[:2000])  # never a mix of the two
            outcomes.append(f"{name}: {'old' if out == old_out else 'new'}")
        else:
            assert one_line_error(err), (name, rc, err[-2000:])
            # An artifact error (exit 4) that says what happened: replaced while searching, or (a load
            # straddling the swap) a file not matching its checksum.
            assert rc == 4 and ("was replaced" in err or "checksum" in err), (name, rc, err[-2000:])
            outcomes.append(f"{name}: exit {rc}: {err.strip()}")
    print("\n".join(outcomes))  # shown with -rP: which answer each search gave
    assert [o for o in outcomes if o.startswith("loop")][-1].endswith("new")  # the last search sees the new one
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".index.")) == []


def write_reviews(path: Path, n: int, seed: int, flip: bool = False) -> Path:
    """``n`` labelled texts; with ``flip`` the words of each label swap sides (a model of other answers)."""
    rng = random.Random(seed)
    words = {"pos": ["good", "great", "lovely", "fun"], "neg": ["bad", "awful", "dull", "boring"]}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            side = ("neg" if label == "pos" else "pos") if flip else label
            w.writerow([" ".join(rng.sample(FILLER, 4) + rng.sample(words[side], 2)) + f" {i}", label])
    return path


@pytest.mark.slow
def test_predicts_while_run_overwrite_swaps_the_artifact_write_old_new_or_one_line(tmp_path):
    """``predict --data F --out O`` loops in two processes, and one predict is held between loading the old
    tfidf artifact and predicting, while ``run --overwrite`` replaces the artifact with one trained on
    flipped labels: every predict writes exactly the old or the new artifact's file (never a mix), or
    exits 4 with one line; the held one loads again and writes the new one's."""
    old_csv = write_reviews(tmp_path / "old.csv", 100, seed=1)
    new_csv = write_reviews(tmp_path / "new.csv", 100, seed=2, flip=True)
    texts = write_reviews(tmp_path / "texts.csv", 3000, seed=3)

    def run_argv(data: Path, out: Path, *extra: str) -> list[str]:
        return cmd("run", "--engine", "tfidf", "--profile", "tiny", "--data", str(data), "--out", str(out), *extra)

    def predict_argv(art: Path, out: Path) -> list[str]:
        return cmd("predict", str(art), "--data", str(texts), "--out", str(out))

    refs = tmp_path / "refs"
    for name, data in (("old", old_csv), ("new", new_csv)):
        proc = cli(*run_argv(data, refs / name)[3:])
        assert proc.returncode == 0, proc.stderr[-2000:]
        proc = cli(*predict_argv(refs / name, refs / f"{name}.csv")[3:])
        assert proc.returncode == 0, proc.stderr[-2000:]
    old_out, new_out = (refs / "old.csv").read_bytes(), (refs / "new.csv").read_bytes()
    assert old_out != new_out

    work = tmp_path / "work"
    work.mkdir()
    art = work / "art"
    shutil.copytree(refs / "old", art)
    loaded, go = tmp_path / "loaded", tmp_path / "go"
    held_file = work / "held.csv"
    held = held_until_loaded(predict_argv(art, held_file)[3:], loaded, go, "predict")

    run = start(run_argv(new_csv, art, "--overwrite"))

    def predict(name: str, i: int) -> tuple[str, int, Path, str]:
        out = work / f"{name}_{i}.csv"
        proc = subprocess.run(predict_argv(art, out), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
        return name, proc.returncode, out, proc.stderr

    seen, (held_rc, _, held_err) = during_swap(run, held, go, predict)
    seen.append(("held", held_rc, held_file, held_err))

    outcomes = []
    for name, rc, out, err in seen:
        assert "Traceback" not in err, (name, err[-2000:])
        if rc == 0:
            got = out.read_bytes()
            assert got in (old_out, new_out), (name, got[:2000])  # never a mix of the two
            outcomes.append(f"{name}: {'old' if got == old_out else 'new'}")
        else:
            assert one_line_error(err), (name, rc, err[-2000:])
            assert rc == 4 and "was replaced" in err, (name, rc, err[-2000:])
            assert not out.exists()
            outcomes.append(f"{name}: exit {rc}: {err.strip()}")
    print("\n".join(outcomes))  # shown with -rP: which answer each predict gave
    assert outcomes[-1] == "held: new"  # loaded the old one, found it replaced, loaded the new one
    assert [o for o in outcomes if o.startswith("loop")][-1].endswith("new")
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []  # no staging leftovers
