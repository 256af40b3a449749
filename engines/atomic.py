"""Atomic file writes: write to a temporary sibling, fsync, then rename.

A reader (or a resumed run after ``kill -9``) sees either the old file or the
complete new one, never half of one.

A file's temporary sibling is named ``.<name>.<pid>@<host>.XXXXXXXX.tmp`` after the process writing it.
A writer killed with ``kill -9`` cannot remove its sibling, so every write first removes the siblings of
the same file whose writer is gone (``sweep_stale``): written on this host by a pid that no longer runs,
or that now belongs to a process started after the file was last written (pid reuse). A live writer's
sibling, or one from another host, is never touched.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from stat import S_ISREG as stat_is_file
from typing import IO, Any, TextIO, cast


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _host() -> str:
    """This machine's name as it appears in a staging file's name: letters, digits and dashes only."""
    try:
        name = socket.gethostname()
    except OSError:
        name = ""
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:40] or "localhost"


HOST = _host()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def started_after(pid: int, written: float, slack_s: float = 2.0) -> bool:
    """True when process ``pid`` started after ``written`` (a file's mtime): the pid was reused (after a
    reboot or a container restart, say) and that process is not the one that wrote the file.
    False when it cannot tell (no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time, clock ticks after boot
        boot = next(
            int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
        )
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return started > written + slack_s


def owner_gone(pid: int, host: str, mtime: float) -> bool:
    """Whether the process that named a file or folder after itself (``pid`` on ``host``, the thing last
    changed at ``mtime``) is gone: a pid of this host that no longer runs, or was reused by a process
    started later. This process, a live one and another host's are never gone."""
    if host != HOST or pid == os.getpid():
        return False
    return not pid_alive(pid) or started_after(pid, mtime)


def _staging_pattern(final: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(final.name)}\.(\d+)@([A-Za-z0-9-]+)\.[A-Za-z0-9_]+\.tmp")


def owned_by_the_dead(folder: Path, glob: str, pattern: re.Pattern[str], is_kind: Callable[[int], bool]) -> list[Path]:
    """The entries of ``folder`` matching ``glob`` whose name fully matches ``pattern`` (group 1 a pid,
    group 2 a host), whose mode ``is_kind`` accepts, and whose owner is gone (``owner_gone``). Never raises."""
    try:
        candidates = list(folder.glob(glob))
    except OSError:
        return []
    dead: list[Path] = []
    for path in candidates:
        m = pattern.fullmatch(path.name)
        if m is None:
            continue
        try:
            st = path.lstat()
            if is_kind(st.st_mode) and owner_gone(int(m.group(1)), m.group(2), st.st_mtime):
                dead.append(path)
        except (OSError, ValueError):
            continue
    return dead


def sweep_stale(final: str | Path) -> list[Path]:
    """Remove the temporary siblings of ``final`` that writers killed mid-write left behind: those named
    for a pid on this host that no longer runs (or was reused by a later process). This process's own,
    a live writer's and another host's are kept. Returns what it removed; never raises."""
    final = Path(final)
    removed: list[Path] = []
    glob = f".{glob_escape(final.name)}.*.tmp"
    for path in owned_by_the_dead(final.parent, glob, _staging_pattern(final), stat_is_file):
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _mkstemp(final: Path) -> tuple[int, str]:
    """Create ``final``'s temporary sibling (named after this process), after sweeping stale ones."""
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(final)
    return tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}@{HOST}.", suffix=".tmp", dir=final.parent)


@contextmanager
def _staged(final: Path, mode: str, **open_kw: Any) -> Iterator[IO[Any]]:
    """An open temporary sibling of ``final``, fsynced and renamed over it when the block succeeds; on
    any error (or Ctrl-C) removed, and an existing ``final`` untouched."""
    fd, tmp = _mkstemp(final)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with _staged(Path(path), "wb") as fh:
        fh.write(data)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (pydantic models via model_dump)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_with(path: str | Path, writer: Callable[[Path], object]) -> None:
    """Let ``writer`` write a temporary file (e.g. safetensors' save_file), then rename it into place."""
    path = Path(path)
    fd, tmp = _mkstemp(path)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    try:
        _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # old glibc or another libc
        _renameat2 = None


def exchange(a: str | Path, b: str | Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    False when the system or file system cannot do it (the caller falls back on two renames)."""
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def old_sibling(final: str | Path) -> Path:
    """Where the two-rename fallback parks the folder being replaced: ``.<name>.old``."""
    final = Path(final)
    return final.with_name(f".{final.name}.old")


def recover(final: str | Path) -> bool:
    """Undo a replacement that was killed between its two renames: ``final`` is gone but
    ``.<name>.old`` holds the previous folder → put it back. True when it did."""
    final, old = Path(final), old_sibling(final)
    if not final.exists() and old.is_dir():
        try:
            os.replace(old, final)
        except OSError:
            return False
        _fsync_dir(final.parent)
        return True
    return False


@contextmanager
def staged_dir(final: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it to ``final`` when the block succeeds.

    On any error (or Ctrl-C) the temporary folder is removed and ``final`` is untouched.
    With ``overwrite`` an existing ``final`` is replaced; otherwise it raises FileExistsError.
    The replacement is one atomic swap where the system has ``renameat2(RENAME_EXCHANGE)``
    (a ``kill -9`` at any moment leaves ``final`` old or new, never missing); elsewhere it is
    two renames, and a kill between them leaves the old folder at ``.<name>.old``, which
    ``recover`` (called here first) puts back.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final)
    if final.exists() and not overwrite:
        raise FileExistsError(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        if final.exists() and exchange(tmp, final):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        elif final.exists():
            old = old_sibling(final)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        recover(final)  # failed between the two renames: the old folder goes back
        raise


@contextmanager
def staged_file(final: str | Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write a text file bit by bit under a temporary sibling name, renamed to ``final`` when the block succeeds.

    On any error (or Ctrl-C) the temporary file is removed and an existing ``final`` is untouched.
    Lines are written as given (``newline=""``: no translation)."""
    with _staged(Path(final), "w", encoding=encoding, newline="") as fh:
        yield cast(TextIO, fh)
