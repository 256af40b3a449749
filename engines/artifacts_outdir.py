"""The output folder around a run: checked before any work (``check_output_dir``), locked while
the run writes it (``artifact_lock``), and cleared of what a killed run left (``clear_leftovers``)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engines.atomic import old_sibling, pid_alive, recover, started_after
from engines.errors import ArtifactError


def check_output_dir(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Fail early (before any training) if ``out_dir`` exists or its parent is not writable."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ArtifactError(f"{out_dir} exists; pass --overwrite or choose another --out")
    if out_dir.exists() and not out_dir.is_dir():
        raise ArtifactError(f"{out_dir} exists and is not a folder")
    parent = out_dir.parent
    probe_dir = parent
    while not probe_dir.exists():  # the nearest existing ancestor must be writable
        probe_dir = probe_dir.parent
    try:
        if probe_dir == parent:
            Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.probe.", dir=parent)).rmdir()
        elif not os.access(probe_dir, os.W_OK | os.X_OK):
            raise PermissionError
    except PermissionError:
        raise ArtifactError(f"cannot write the artifact: {probe_dir} is not writable") from None
    except OSError as exc:
        raise ArtifactError(f"cannot write the artifact in {probe_dir}: {exc.strerror or exc}") from None
    return out_dir


# ------------------------------------------------------------------------- lock
@contextmanager
def artifact_lock(out_dir: str | Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``out_dir`` for a whole run: a second run writing the same folder at
    the same time gets ArtifactError ("in use") instead of interleaving with the first. A lock whose pid
    is gone, or now belongs to a process that started after the lock was written (pid reuse), is stale
    and taken over."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = out_dir.with_name(f".{out_dir.name}.lock")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
                written = lock.stat().st_mtime
            except (OSError, ValueError):
                pid, written = 0, 0.0
            if pid and pid_alive(pid) and not started_after(pid, written):
                raise ArtifactError(
                    f"{out_dir} is in use by another run (pid {pid}); wait for it or choose another --out"
                ) from None
            lock.unlink(missing_ok=True)  # left by a run that died: take it over
    else:
        raise ArtifactError(f"{out_dir} is in use by another run ({lock} exists)")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def clear_leftovers(out_dir: str | Path) -> list[Path]:
    """Tidy what a run killed with ``kill -9`` may leave beside ``out_dir``: put back a folder parked at
    ``.<name>.old`` mid-replacement, and remove stale staging folders ``.<name>.XXXXXXXX.tmp`` (half
    written, or a complete artifact that never got renamed into place). Call it only while holding
    ``artifact_lock``: then no live run owns them. Returns what it removed."""
    out_dir = Path(out_dir)
    recover(out_dir)
    removed: list[Path] = []
    pattern = re.compile(rf"\.{re.escape(out_dir.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    old = old_sibling(out_dir)
    if not out_dir.parent.is_dir():
        return removed
    for path in out_dir.parent.iterdir():
        if (pattern.fullmatch(path.name) or path == old) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
