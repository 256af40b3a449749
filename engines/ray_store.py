"""The Ray embedding's LanceDB folder: what its vectors were made from (checked on resume), the
rows it already holds, and compaction once every block is in."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engines.config import EmbeddingConfig
from engines.errors import ConfigError

TABLE = "examples"  # engines.store.TABLE: the finished folder is an ordinary VectorStore
META_FILE = "ray-embed.json"  # what the vectors in the folder were made from (checked on resume)


def fingerprint(config: EmbeddingConfig, model_hash: str | None, texts: Sequence[str], labels: Sequence[str]) -> str:
    """What the vectors depend on: model, tokenizing and pooling settings, and the rows."""
    h = hashlib.sha256()
    h.update(json.dumps([model_hash, config.model, config.max_length, config.backend], sort_keys=True).encode())
    for t, lbl in zip(texts, labels, strict=True):
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
        h.update(str(lbl).encode("utf-8", "surrogatepass"))
        h.update(b"\x01")
    return h.hexdigest()


def open_table(directory: Path) -> Any:
    import lancedb

    db = lancedb.connect(str(directory))
    try:
        return db.open_table(TABLE)
    except (ValueError, FileNotFoundError):
        return None


def stored_rows(directory: Path) -> set[int]:
    """The ``row`` ids already in the table in ``directory`` (empty when there is none)."""
    if not (Path(directory) / f"{TABLE}.lance").exists():
        return set()
    table = open_table(Path(directory))
    if table is None:
        return set()
    n = table.count_rows()
    if n == 0:
        return set()
    got = table.search().select(["row"]).limit(n).to_arrow()
    return set(got.column("row").to_pylist())


def compact(directory: Path, *, drop_history: bool = False) -> None:
    """One commit per block leaves many small files: merge them (best effort; search works either way).
    ``drop_history`` also deletes the older versions' files (only for a folder no other process reads:
    a retrieval index before it is copied into the artifact)."""
    import warnings
    from datetime import timedelta

    table = open_table(directory)
    if table is None:
        return
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lancedb warns that cleanup_older_than=0 drops every old version
        if drop_history:
            table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
        else:
            table.optimize()


def made_from(directory: Path, fp: str) -> bool:
    """Whether the vectors in ``directory`` were made as ``fp`` describes (False: none, or others)."""
    try:
        return json.loads((directory / META_FILE).read_text(encoding="utf-8")).get("fingerprint") == fp
    except (OSError, ValueError):
        return False


def prepare(directory: Path, fp: str, n_rows: int, *, resume: bool, restart_other: bool = False) -> set[int]:
    """Ready ``directory`` for vectors made as ``fp`` describes; returns the rows it already holds.
    With ``resume`` a folder made from the same rows and settings is kept; one made from others is a
    ConfigError, or with ``restart_other`` (a folder the tool keeps for itself) starts again. Without
    ``resume`` the folder starts empty."""
    meta_path = directory / META_FILE
    keep = resume and meta_path.is_file()
    if keep and not made_from(directory, fp):
        if not restart_other:
            raise ConfigError(
                f"the vectors in {directory} were made from other rows or settings; run again without --resume"
            )
        keep = False
    if not keep and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not meta_path.is_file():
        meta_path.write_text(json.dumps({"fingerprint": fp, "rows": n_rows}), encoding="utf-8")
    return stored_rows(directory)
