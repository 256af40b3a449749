"""Scratch folders named after their process: the next one of the same kind sweeps those whose process is
gone (a run killed with SIGKILL cannot remove its own), and never a live process's or another host's."""

from __future__ import annotations

import os
import subprocess
import sys

from engines.atomic import HOST
from engines.scratch import scratch_dir, sweep_scratch


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_new_scratch_folder_sweeps_only_the_dead_processes_of_its_kind(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead, live = dead_pid(), os.getppid()
    names = {
        "dead": f"toe-frozen-index-{dead}@{HOST}.abc123",
        "live": f"toe-frozen-index-{live}@{HOST}.def456",
        "other-host": f"toe-frozen-index-{dead}@elsewhere.ghi789",
        "other-kind": f"toe-store-{dead}@{HOST}.jkl012",
        "unnamed": "toe-frozen-index-mno345",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "vectors.lance").write_text("x")
    mine = scratch_dir("frozen-index")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left
    assert {names[k] for k in ("live", "other-host", "other-kind", "unnamed")} <= left
    assert mine.name.startswith(f"toe-frozen-index-{os.getpid()}@{HOST}.") and mine.is_dir()
    assert sweep_scratch("store", tmp_path) == [tmp_path / names["other-kind"]]
    assert sweep_scratch("frozen-index", tmp_path) == []  # its own folder stays while this process runs
