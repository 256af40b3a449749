"""Scratch folders in the system's temp folder, named after the process that made them
(``toe-<kind>-<pid>@<host>.XXXXXXXX``): a process killed before it could remove its own is swept by the next."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from glob import escape as glob_escape
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from engines.atomic import HOST, owned_by_the_dead


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
    dead = owned_by_the_dead(root, f"toe-{glob_escape(kind)}-*@*", pattern, S_ISDIR)
    for path in dead:
        shutil.rmtree(path, ignore_errors=True)
    return dead
