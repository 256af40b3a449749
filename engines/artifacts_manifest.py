"""What an artifact folder records about its run: the manifest (``Manifest`` and its parts), the
held-out predictions (``HeldOut``), and the helpers that fill them in (versions, time, digests)."""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from pydantic import Field

from engines.base import EvalReport, FitReport, Record, SpeedReport
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
