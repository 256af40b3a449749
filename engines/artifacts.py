"""Artifact folders: what a full run leaves behind, and how ``predict``/``search`` reopen it.

An artifact is a folder holding the engine's own files (written by ``Engine.save``,
never pickle) and ``manifest.json``: engine, config, model and its hash, profile,
data fingerprint, split, held-out metrics, fit and speed reports, library versions;
and ``heldout.json``: each held-out row's true and predicted label, so that runs scored
on the same rows can be compared row by row (``tune-or-embed compare``).
It is written under a temporary name and renamed into place, so a crash never leaves
half an artifact, and an existing folder is never overwritten unless asked. The manifest
lists every other file with its size and sha256; loading verifies them.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from engines.artifacts_manifest import (
    FORMAT_VERSION,
    HELDOUT,
    MANIFEST,
    DataInfo,
    FileEntry,
    HeldOut,
    Manifest,
    SplitInfo,
    library_versions,
    now_utc,
    rows_digest,
    summary_metrics,
    tool_version,
)
from engines.artifacts_outdir import artifact_lock, check_output_dir, clear_leftovers
from engines.atomic import old_sibling, staged_dir, write_json
from engines.base import Engine, get_engine
from engines.errors import ArtifactError, ResourceError, UserError

# The records and the output-folder guards live in ``artifacts_manifest`` and ``artifacts_outdir``;
# they are re-exported here so that ``engines.artifacts`` stays the one place callers import from.
__all__ = [
    "FORMAT_VERSION",
    "HELDOUT",
    "MANIFEST",
    "DataInfo",
    "FileEntry",
    "HeldOut",
    "Manifest",
    "SplitInfo",
    "artifact_lock",
    "check_output_dir",
    "clear_leftovers",
    "file_entries",
    "inside",
    "library_versions",
    "load_artifact",
    "load_settled",
    "now_utc",
    "read_heldout",
    "read_manifest",
    "rows_digest",
    "same_artifact",
    "save_artifact",
    "summary_metrics",
    "tool_version",
    "verify_files",
]


# ----------------------------------------------------------------- file checks
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entries(directory: Path) -> dict[str, FileEntry]:
    """Size and sha256 of every file under ``directory`` except the manifest (relative POSIX paths)."""
    entries = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != MANIFEST:
            rel = path.relative_to(directory).as_posix()
            entries[rel] = FileEntry(size=path.stat().st_size, sha256=_sha256(path))
    return entries


def inside(directory: Path, rel: str) -> Path:
    """``directory / rel`` if it stays inside ``directory`` (no absolute path, no ``..``, no symlink
    out of it); anything else → ArtifactError."""
    root = directory.resolve()
    if not rel or rel.startswith(("/", "\\")) or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ArtifactError(f"corrupt {directory / MANIFEST}: file path {rel!r} leaves the artifact folder")
    target = (directory / rel).resolve()
    if not target.is_relative_to(root):
        raise ArtifactError(f"{directory}: {rel} points outside the artifact folder; refusing to read it")
    return target


def verify_files(directory: str | Path, manifest: Manifest, only: set[str] | None = None) -> None:
    """Check each file the manifest lists (or those in ``only``): present, same size, same sha256.

    A missing, truncated, edited or escaping file → ArtifactError naming it."""
    directory = Path(directory)
    for rel, entry in manifest.files.items():
        if only is not None and rel not in only:
            continue
        path = inside(directory, rel)
        if not path.is_file():
            raise ArtifactError(f"{directory}: {rel} is missing (listed in {MANIFEST}); the artifact is incomplete")
        size = path.stat().st_size
        if size != entry.size:
            raise ArtifactError(
                f"{directory}: {rel} has {size} bytes, {MANIFEST} says {entry.size}; "
                "the artifact is truncated or was edited"
            )
        if _sha256(path) != entry.sha256:
            raise ArtifactError(
                f"{directory}: {rel} does not match its checksum in {MANIFEST}; the artifact is corrupt or was edited"
            )


# ------------------------------------------------------------------------- save
def save_artifact(
    engine: Engine, out_dir: str | Path, manifest: Manifest, *, overwrite: bool = False, heldout: HeldOut | None = None
) -> Path:
    """Write ``engine``, ``manifest`` (and the held-out predictions) into ``out_dir`` atomically
    (staged, then renamed)."""
    out_dir = Path(out_dir)
    try:
        with staged_dir(out_dir, overwrite=overwrite) as tmp:
            engine.save(tmp)
            if heldout is not None:
                write_json(tmp / HELDOUT, heldout)
            write_json(tmp / MANIFEST, manifest.model_copy(update={"files": file_entries(tmp)}))
    except FileExistsError:
        raise ArtifactError(f"{out_dir} exists; pass --overwrite or choose another --out") from None
    except PermissionError as exc:
        where = exc.filename or out_dir.parent
        raise ArtifactError(f"cannot write the artifact: {where} is not writable") from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        kept = f"; {out_dir} is unchanged" if out_dir.exists() else ""
        raise ResourceError(
            f"no space left on device writing the artifact in {out_dir.parent}{kept}; free some space and run again"
        ) from None
    return out_dir


# ------------------------------------------------------------------------- load
def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of the artifact in ``directory``; anything wrong → ArtifactError (one line)."""
    directory = Path(directory)
    if not directory.exists():
        if (old_sibling(directory) / MANIFEST).is_file():
            raise ArtifactError(
                f"no artifact at {directory}; a run replacing it was killed and left the "
                f"previous one at {old_sibling(directory)} (the next run to it puts it back)"
            )
        raise ArtifactError(f"no artifact at {directory}")
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not an artifact folder")
    path = directory / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"{directory} has no {MANIFEST}; not a tune-or-embed artifact (or an unfinished one)"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"corrupt {path}: not valid JSON ({type(exc).__name__})") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(raw, dict):
        raise ArtifactError(f"corrupt {path}: expected a JSON object")
    version = raw.get("format_version")
    if not isinstance(version, int):
        raise ArtifactError(f"corrupt {path}: no integer format_version")
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"{directory} uses artifact format v{version}, newer than this tune-or-embed "
            f"({tool_version()}) reads (v{FORMAT_VERSION}); upgrade tune-or-embed"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "manifest"
        raise ArtifactError(f"corrupt {path}: {where}: {first.get('msg', 'invalid')}") from None


def read_heldout(directory: str | Path) -> HeldOut:
    """The held-out predictions of the artifact in ``directory``; missing or damaged → ArtifactError."""
    directory = Path(directory)
    manifest = read_manifest(directory)  # the folder is an artifact this version reads
    verify_files(directory, manifest, only={HELDOUT})
    path = directory / HELDOUT
    try:
        held = HeldOut.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactError(
            f"{directory} has no {HELDOUT} (written before runs kept their held-out "
            "predictions); run it again to compare it"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"corrupt {path}: {type(exc).__name__}") from None
    if len(held.y_true) != len(held.y_pred):
        raise ArtifactError(f"corrupt {path}: {len(held.y_true)} labels but {len(held.y_pred)} predictions")
    return held


def load_artifact(directory: str | Path) -> tuple[Engine, Manifest]:
    """Reopen an artifact: (fitted engine, manifest). Works offline from the folder alone."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    verify_files(directory, manifest)
    try:
        engine_cls = get_engine(manifest.engine)
    except UserError:
        raise ArtifactError(f"{directory} was written by unknown engine {manifest.engine!r}") from None
    try:
        engine = engine_cls.load(directory)
    except ArtifactError:
        raise
    except UserError as exc:
        raise ArtifactError(f"cannot load {directory}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"corrupt artifact {directory}: {type(exc).__name__}: {str(exc)[:160]}") from None
    return engine, manifest


# --------------------------------------------------------- loading while a run replaces it
LOAD_TRIES = 3


def _manifest_now(directory: Path) -> Manifest | None:
    try:
        return read_manifest(directory)
    except Exception:  # noqa: BLE001 - missing or half-written: not the one loaded, all the same
        return None


def load_settled(directory: str | Path, *, tries: int = LOAD_TRIES) -> tuple[Engine, Manifest]:
    """``load_artifact`` and ``warm_up`` (the parts an engine reads lazily from the folder, such as an
    encoder, are read now), checked against a concurrent ``run --overwrite``: when the manifest on disk is
    no longer the one loaded, the load may have read files of both artifacts, so it starts again; an error
    raised while the artifact was being replaced (a file not matching its checksum, say) starts again too.
    What it returns was read wholly from one artifact. Still replaced after ``tries`` loads → ArtifactError."""
    directory = Path(directory)
    for _ in range(tries):
        before = read_manifest(directory)
        try:
            engine, manifest = load_artifact(directory)
            engine.warm_up()
        except Exception:
            if _manifest_now(directory) == before:
                raise  # a fault of the artifact itself, not a swap
            continue
        if manifest == before and _manifest_now(directory) == manifest:
            return engine, manifest
    raise ArtifactError(
        f"{directory} was replaced {tries} times (by other `run --overwrite`s?) while it was being loaded; try again"
    )


@contextmanager
def same_artifact(directory: str | Path, loaded: Manifest, *, doing: str) -> Iterator[None]:
    """Around work on an artifact loaded earlier (``loaded`` its manifest): an error raised because
    another ``run --overwrite`` replaced it meanwhile (a vector store's files gone) becomes one line
    saying so, ArtifactError, instead of the store's own error. Other errors go through unchanged."""
    try:
        yield
    except Exception:
        if _manifest_now(Path(directory)) != loaded:
            raise ArtifactError(
                f"{directory} was replaced (by another `run --overwrite`?) while this {doing} was reading it; "
                f"{doing} again"
            ) from None
        raise
