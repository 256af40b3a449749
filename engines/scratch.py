"""Scratch folders in the system's temp folder, named after the process that made them
(``toe-<kind>-<pid>@<host>.XXXXXXXX``): a process killed before it could remove its own is swept by the next."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from engines.atomic import HOST, owner_gone


def scratch_dir(kind: str, owner: Any = None) -> Path:
    """A new scratch folder for ``kind`` (removed with ``owner`` when it is collected, if given), after
    sweeping those of the same kind whose process is gone."""
    root = Path(tempfile.gettempdir())
    sweep_scratch(kind, root)
    path = Path(tempfile.mkdtemp(prefix=f"toe-{kind}-{os.getpid()}@{HOST}.", dir=root))
    if owner is not None:
        weakref.finalize(owner, shutil.rmtree, path, True)
    return path


def sweep_scratch(kind: str, root: Path | None = None) -> list[Path]:
    """Remove ``kind``'s scratch folders under ``root`` made on this host by a pid that no longer runs
    (or was reused by a process started after the folder last changed). Returns them; never raises."""
    root = Path(tempfile.gettempdir()) if root is None else root
    pattern = re.compile(rf"toe-{re.escape(kind)}-(\d+)@([A-Za-z0-9-]+)\.[A-Za-z0-9_]+")
    removed: list[Path] = []
    try:
        candidates = list(root.glob(f"toe-{kind}-*@*"))
    except OSError:
        return removed
    for path in candidates:
        m = pattern.fullmatch(path.name)
        if m is None:
            continue
        try:
            st = path.lstat()
            if not S_ISDIR(st.st_mode) or not owner_gone(int(m.group(1)), m.group(2), st.st_mtime):
                continue
        except (OSError, ValueError):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
