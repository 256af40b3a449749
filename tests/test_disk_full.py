"""Failing disks: a write that meets a full disk (ENOSPC) stops ``run`` and ``predict --out`` with one line
and exit 5, and never damages what was there before: the previous artifact, the previous predictions file.
The disk is made full by patching the write that fails (``fsync``, a file's ``write``, the checkpoint writer)."""

from __future__ import annotations

import builtins
import errno
import os

import pytest
from artifact_helpers import leftovers
from fault_helpers import ROWS, cli, one_line_error, run_args, write_rows

from engines.artifacts import load_artifact


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullFile:
    """A real file whose writes fail as on a full disk."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, _data):
        _enospc()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


@pytest.fixture
def old_artifact(tmp_path, capsys):
    data = write_rows(tmp_path / "d.csv", ROWS)
    code, _, err = cli(capsys, *run_args("tfidf", data, tmp_path / "out"))
    assert code == 0, err
    _, manifest = load_artifact(tmp_path / "out")
    return data, tmp_path / "out", manifest


@pytest.mark.parametrize("where", ["fsync", "file-write"])
def test_disk_full_while_saving_keeps_the_old_artifact(old_artifact, capsys, monkeypatch, where):
    data, out, before = old_artifact
    if where == "fsync":  # the atomic writer's fsync (manifest, engine.json …) reports ENOSPC
        monkeypatch.setattr(os, "fsync", _enospc)
    else:  # any file opened for writing inside a staging folder fails on write (np.savez, safetensors …)
        real_open = builtins.open

        def full_open(file, mode="r", *a, **k):
            fh = real_open(file, mode, *a, **k)
            return _FullFile(fh) if any(m in mode for m in "wax") and f".{out.name}." in str(file) else fh

        monkeypatch.setattr(builtins, "open", full_open)
    code, _, err = cli(capsys, *run_args("tfidf", data, out, "--overwrite", "--set", "C=2.0"))
    monkeypatch.undo()
    line = one_line_error(err)
    assert code == 5 and "no space left on device" in line and f"{out} is unchanged" in line
    _, after = load_artifact(out)
    assert after == before and leftovers(out) == []  # no staging folder, no lock left behind


def test_disk_full_on_a_fresh_folder_leaves_nothing(tmp_path, capsys, monkeypatch):
    data = write_rows(tmp_path / "d.csv", ROWS)
    monkeypatch.setattr(os, "fsync", _enospc)
    code, _, err = cli(capsys, *run_args("tfidf", data, tmp_path / "new"))
    monkeypatch.undo()
    assert code == 5 and "no space left on device" in one_line_error(err)
    assert not (tmp_path / "new").exists() and leftovers(tmp_path / "new") == []


def test_disk_full_writing_the_lock_is_one_line(tmp_path, capsys, monkeypatch):
    data = write_rows(tmp_path / "d.csv", ROWS)
    real_write = os.write

    def write(fd, b):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".out.lock"):
            _enospc()
        return real_write(fd, b)

    monkeypatch.setattr(os, "write", write)
    code, _, err = cli(capsys, *run_args("tfidf", data, tmp_path / "out"))
    monkeypatch.undo()
    assert code == 5 and "no space left on device" in one_line_error(err)
    assert leftovers(tmp_path / "out") == []


def test_disk_full_writing_a_checkpoint_is_one_line_and_keeps_the_old_artifact(old_artifact, capsys, monkeypatch):
    import safetensors.torch

    data, out, before = old_artifact
    real_save = safetensors.torch.save_file

    def save_file(tensors, filename, *a, **k):
        if "checkpoints" in str(filename):  # the fine-tune's checkpoint folder fills the disk
            _enospc()
        return real_save(tensors, filename, *a, **k)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    code, _, err = cli(capsys, *run_args("finetune", data, out, "--overwrite"))
    monkeypatch.undo()
    line = one_line_error(err)
    assert code == 5 and "cannot write a checkpoint in" in line and "No space left on device" in line, line
    _, after = load_artifact(out)
    assert after == before and leftovers(out) == []


def test_disk_full_while_predict_writes_its_file_keeps_the_old_one(old_artifact, tmp_path, capsys, monkeypatch):
    data, out, _ = old_artifact
    preds = tmp_path / "preds.csv"
    preds.write_text("the previous predictions\n", encoding="utf-8")
    monkeypatch.setattr(os, "fsync", _enospc)  # the staged file's fsync, before it replaces preds.csv
    code, _, err = cli(capsys, "predict", str(out), "--data", str(data), "--out", str(preds))
    monkeypatch.undo()
    line = one_line_error(err)
    assert code == 5 and "no space left on device" in line, line
    assert preds.read_text(encoding="utf-8") == "the previous predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".preds.csv.")) == []
