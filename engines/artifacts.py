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
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from engines.atomic import old_sibling, recover, staged_dir, write_json
from engines.base import Engine, EvalReport, FitReport, Record, SpeedReport, get_engine
from engines.errors import ArtifactError, ResourceError, UserError
from engines.records import RankReport

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HELDOUT = "heldout.json"
_LIBRARIES = (
    "torch",
    "transformers",
    "scikit-learn",
    "lancedb",
    "numpy",
    "pyarrow",
    "peft",
    "safetensors",
    "tokenizers",
    "pydantic",
)


class DataInfo(Record):
    """Which data the run used."""

    ref: str = Field(description="The data reference as given (file path or demo:NAME).")
    fingerprint: str = Field(description="Content hash of the data as read.")
    text_col: str = Field(description="Column holding the text.")
    label_col: str = Field(description="Column holding the label.")
    rows: int = Field(description="Rows read (after dropping unusable ones).")


class SplitInfo(Record):
    """How the data was split into training and held-out parts."""

    seed: int = Field(description="Seed of the stratified split.")
    test_size: float | int = Field(description="Held-out share (float) or row count (int) as asked.")
    n_train: int = Field(description="Rows the engine trained on.")
    n_test: int = Field(description="Held-out rows the metrics come from.")
    explicit_files: bool = Field(False, description="True when train/test came from separate files.")
    test_overlap: int | None = Field(
        None,
        description=(
            "Held-out rows whose text (ignoring case and whitespace) is also in the training part: their "
            "scores are inflated. None in artifacts written before it was counted."
        ),
    )


class FileEntry(Record):
    """One file of an artifact, as it was written."""

    size: int = Field(description="Size in bytes.")
    sha256: str = Field(description="sha256 of the content (hex).")


class Manifest(Record):
    """Everything needed to reuse, audit or compare an artifact."""

    format_version: int = Field(FORMAT_VERSION, description="Artifact layout version.")
    tool_version: str = Field(description="tune-or-embed version that wrote it.")
    engine: str = Field(description="Engine name (registry key).")
    engine_config: dict[str, Any] = Field(description="The engine's full configuration.")
    model_ref: str | None = Field(None, description="Model reference as configured (transformer engines).")
    model_name: str | None = Field(None, description="Model display name.")
    model_hash: str | None = Field(None, description="sha256 prefix of the model weights used.")
    profile: str | None = Field(None, description="Profile the configuration came from.")
    data: DataInfo | None = Field(None, description="The data used.")
    split: SplitInfo | None = Field(None, description="The train/held-out split.")
    metrics: EvalReport | None = Field(None, description="Held-out metrics (per-example lists dropped).")
    rank_metrics: RankReport | None = Field(
        None, description="Retrieval artifacts: held-out ranking metrics (per-query lists dropped)."
    )
    fit: FitReport | None = Field(None, description="What training did and measured.")
    speed: SpeedReport | None = Field(None, description="Inference speed measured after training.")
    timings: dict[str, float] = Field(
        default_factory=dict, description="Wall seconds per run phase (data, fit, evaluate, speed)."
    )
    libraries: dict[str, str] = Field(default_factory=dict, description="Python and library versions.")
    created_at: str = Field(description="UTC time the artifact was written (ISO 8601).")
    files: dict[str, FileEntry] = Field(
        default_factory=dict,
        description=(
            "Every other file of the artifact (relative POSIX path) with its size and sha256; verified on "
            "load. Empty in artifacts written before checksums were recorded."
        ),
    )


class HeldOut(Record):
    """What a run predicted on each held-out row, in the split's order."""

    rows_digest: str = Field(
        description="sha256 of the held-out rows (text and label, in order): two runs "
        "with the same digest were scored on the same rows."
    )
    y_true: list[str] = Field(description="Per held-out row, its label.")
    y_pred: list[str] = Field(description="Per held-out row, the run's predicted label.")
    per_query: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Retrieval runs: per ranking metric, its value on each held-out query (y_true holds the "
        "query ids, y_pred the document each query found first).",
    )


def rows_digest(texts: list[str], labels: list[str]) -> str:
    """A content hash of held-out rows in order (texts and labels)."""
    h = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        for part in (text, label):
            raw = part.encode("utf-8")
            h.update(len(raw).to_bytes(8, "little"))
            h.update(raw)
    return h.hexdigest()[:32]


# ---------------------------------------------------------------------- helpers
def tool_version() -> str:
    try:
        return metadata.version("tune-or-embed")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def library_versions() -> dict[str, str]:
    """Python, platform and installed library versions (read from metadata, no imports)."""
    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def summary_metrics(report: EvalReport) -> EvalReport:
    """``report`` without the per-example lists (kept out of the manifest)."""
    return report.model_copy(update={"correct": [], "y_pred": []})


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
            if pid and _alive(pid) and not _started_after(pid, written):
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


def _started_after(pid: int, written: float, slack_s: float = 2.0) -> bool:
    """True when process ``pid`` started after the lock was written: the pid was reused (after a
    reboot or a container restart, say) and that process is not the run that wrote the lock.
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
