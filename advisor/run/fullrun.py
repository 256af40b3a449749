"""Full runs: read the data, split it, train one engine, score it on the held-out part,
measure its speed, and write an artifact folder with its manifest.

``RunSpec`` is what a plan (``advisor/run/plan.py``) or ``tune-or-embed run`` asks for;
``full_run`` does it. Heavy libraries load inside the engines, never here at import.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from engines.base import (
    Engine,
    Examples,
    ProgressEvent,
    ProgressFn,
    Record,
    get_engine,
    no_progress,
)
from engines.errors import Cancelled, ConfigError, DataError

MAX_TEST_ROWS = 2000


class RunSpec(Record):
    """One full run: which engine, with which settings, on which data."""

    engine: str = Field(description="Engine name: tfidf, embedding, finetune or lora.")
    profile: str | None = Field(None, description="Profile name or TOML path the engine settings start from.")
    engine_config: dict[str, Any] = Field(
        default_factory=dict, description="Overrides applied on top of the profile's section for the engine."
    )
    data: str | None = Field(None, description="Data reference: a file/folder path or demo:<name>.")
    text_col: str | None = Field(None, description="Text column (detected when None).")
    label_col: str | None = Field(None, description="Label column (detected when None).")
    encoding: str | None = Field(None, description="Text encoding of the data file (detected when None).")
    sample: int | None = Field(
        None, ge=2, description="Read a seeded stratified sample of this many rows instead of all of them."
    )
    split_seed: int = Field(0, description="Seed of the stratified train/held-out split.")
    test_size: float | int = Field(
        0.2, description="Held-out share (float < 1, capped at 2,000 rows) or exact row count (int)."
    )
    labelled_size: int | None = Field(
        None, ge=2, description="Train on at most this many rows (stratified subsample of the training part)."
    )
    train_file: str | None = Field(None, description="Explicit training file (bypasses the split; with test_file).")
    test_file: str | None = Field(None, description="Explicit held-out file (bypasses the split; with train_file).")

    @model_validator(mode="after")
    def _data_given(self) -> RunSpec:
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("give both train_file and test_file, or neither")
        if self.train_file is None and not self.data:
            raise ValueError("no data: give data (or train_file and test_file)")
        if isinstance(self.test_size, float) and not 0 < self.test_size < 1:
            raise ValueError("test_size as a share must be between 0 and 1")
        if isinstance(self.test_size, int) and self.test_size < 1:
            raise ValueError("test_size as a row count must be at least 1")
        return self


# ------------------------------------------------------------------------ helpers
def load_spec(obj: dict[str, Any]) -> RunSpec:
    """A RunSpec from a dict (a plan's "run" entry); invalid → ConfigError (one line)."""
    try:
        return RunSpec.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"invalid run spec{f' at {where}' if where else ''}: {first.get('msg', 'invalid')}") from None


def held_out_rows(n: int, n_classes: int, test_size: float) -> int:
    """Rows to hold out: a share (capped at 2,000) or a count, at least one per class."""
    if isinstance(test_size, float):
        rows = min(round(test_size * n), MAX_TEST_ROWS)
    else:
        rows = int(test_size)
    return max(rows, n_classes)


def build_engine(spec: RunSpec) -> tuple[Engine, str | None]:
    """The engine for ``spec``: the profile's section plus ``engine_config`` overrides."""
    cls = get_engine(spec.engine)
    base: dict[str, Any] = {}
    profile_name: str | None = spec.profile
    try:
        from advisor.machine import profiles
    except ModuleNotFoundError as exc:  # profiles not installed yet: engine defaults
        if exc.name != "advisor.machine.profiles":
            raise
    else:
        profile = profiles.load_profile(spec.profile)
        profile_name = getattr(profile, "name", spec.profile)
        section = profiles.engine_config(profile, spec.engine)
        base = section.model_dump() if hasattr(section, "model_dump") else dict(section or {})
    merged = {**base, **spec.engine_config}
    try:
        config = cls.config_cls(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"{spec.engine} setting {where or '?'}: {first.get('msg', 'invalid')}") from None
    return cls(config), profile_name


def _load(ref: str, spec: RunSpec, **extra: Any):
    from advisor.data.labelled import load_dataset

    return load_dataset(
        ref, text_col=spec.text_col, label_col=spec.label_col, encoding=spec.encoding, seed=spec.split_seed, **extra
    )


def _split(spec: RunSpec) -> tuple[Examples, Examples, Any]:
    """(train, test, DataInfo, SplitInfo) from the spec's data."""
    from advisor.data.sampling import stratified_split, stratified_subsample
    from engines.artifacts import DataInfo, SplitInfo

    if spec.train_file is not None:
        assert spec.test_file is not None, "RunSpec's validator: train_file and test_file come together"
        train_ds = _load(spec.train_file, spec)
        test_ds = _load(spec.test_file, spec)
        train, test = train_ds.examples, test_ds.examples
        unseen = sorted(set(test.labels) - set(train.labels))
        if unseen:
            raise DataError(f"test file {spec.test_file} has label(s) the training file lacks: {unseen[:3]}")
        data = DataInfo(
            ref=spec.train_file,
            fingerprint=f"{train_ds.fingerprint}+{test_ds.fingerprint}",
            text_col=train_ds.text_col,
            label_col=train_ds.label_col,
            rows=len(train) + len(test),
        )
        explicit = True
    else:
        assert spec.data is not None, "RunSpec's validator: data when there is no train_file"
        ds = _load(spec.data, spec, sample=spec.sample)
        examples = ds.examples
        n_test = held_out_rows(len(examples), len(examples.classes), spec.test_size)
        train, test = stratified_split(examples, test_size=n_test, seed=spec.split_seed)
        data = DataInfo(
            ref=spec.data, fingerprint=ds.fingerprint, text_col=ds.text_col, label_col=ds.label_col, rows=len(examples)
        )
        explicit = False
    if spec.labelled_size is not None and spec.labelled_size < len(train):
        train = stratified_subsample(train, spec.labelled_size, seed=spec.split_seed)
    from advisor.data.summary import overlap

    split = SplitInfo(
        seed=spec.split_seed,
        test_size=spec.test_size,
        n_train=len(train),
        n_test=len(test),
        explicit_files=explicit,
        test_overlap=overlap(train, test)[0],
    )
    return train, test, (data, split)


def workdir_for(out_dir: Path) -> Path:
    """Where a resumable engine keeps checkpoints for ``out_dir``: a sibling ``<out>.work`` folder."""
    return out_dir.with_name(out_dir.name + ".work")


# ----------------------------------------------------------------------- full run
def full_run(
    spec: RunSpec,
    out_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    speed_texts: int = 256,
):
    """Run ``spec`` and write its artifact into ``out_dir``; returns the ``Manifest``.

    The output folder is checked before any work (exists without ``overwrite`` or not
    writable → ArtifactError) and locked for the whole run (a second run to the same
    folder → ArtifactError). Engines that resume keep checkpoints in ``<out>.work``;
    an interrupted run (Ctrl-C or ``cancel``) leaves them there and ``resume=True``
    continues. Metrics come from the held-out part only.
    """
    from engines.artifacts import artifact_lock, check_output_dir, clear_leftovers

    check_output_dir(out_dir, overwrite=overwrite)
    with artifact_lock(out_dir):
        clear_leftovers(out_dir)  # from a run killed before it could clean up (we hold the lock)
        check_output_dir(out_dir, overwrite=overwrite)  # again: a run that just finished may have written it
        return _locked_run(
            spec,
            Path(out_dir),
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
            speed_texts=speed_texts,
        )


def _locked_run(
    spec: RunSpec,
    out_dir: Path,
    *,
    resume: bool,
    overwrite: bool,
    progress: ProgressFn,
    cancel: threading.Event | None,
    speed_texts: int,
):
    from engines.artifacts import (
        HeldOut,
        Manifest,
        library_versions,
        now_utc,
        read_manifest,
        rows_digest,
        save_artifact,
        summary_metrics,
        tool_version,
    )

    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    progress(ProgressEvent(phase="load", done=0, total=None, message="reading data"))
    train, test, (data_info, split_info) = _split(spec)
    engine, profile_name = build_engine(spec)
    timings["data"] = time.perf_counter() - t0

    workdir = workdir_for(out_dir) if engine.supports_resume else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fit = engine.fit(train, budget_s=None, progress=progress, cancel=cancel, workdir=workdir, resume=resume)
    timings["fit"] = time.perf_counter() - t0
    if fit.stopped == "cancelled" or (cancel is not None and cancel.is_set()):
        kept = f"; checkpoint kept in {workdir}, continue with --resume" if workdir is not None else ""
        raise Cancelled(f"run cancelled after {fit.examples_seen} examples{kept}")

    t0 = time.perf_counter()
    progress(ProgressEvent(phase="eval", done=0, total=len(test), unit="texts"))
    metrics = engine.evaluate(test)
    progress(ProgressEvent(phase="eval", done=len(test), total=len(test), unit="texts"))
    timings["evaluate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    speed = engine.measure_speed(test.texts, max_texts=speed_texts) if speed_texts else None
    timings["speed"] = time.perf_counter() - t0

    config = engine.config
    model_ref = getattr(config, "model", None)  # transformer engines' configs name their model
    model_name, model_hash = getattr(engine, "model_name", None), getattr(engine, "model_hash", None)
    if engine.uses_transformer and model_ref and not (model_name and model_hash):
        from engines.models import model_fingerprint, resolve_model

        resolved = resolve_model(model_ref)
        model_name, model_hash = model_name or resolved.name, model_hash or model_fingerprint(resolved)
    manifest = Manifest(
        tool_version=tool_version(),
        engine=engine.name,
        engine_config=config.model_dump(mode="json"),
        model_ref=model_ref,
        model_name=model_name,
        model_hash=model_hash,
        profile=profile_name,
        data=data_info,
        split=split_info,
        metrics=summary_metrics(metrics),
        fit=fit,
        speed=speed,
        timings=timings,
        libraries=library_versions(),
        created_at=now_utc(),
    )
    progress(ProgressEvent(phase="save", done=0, total=1, unit="artifact"))
    t0 = time.perf_counter()
    heldout = None
    if len(metrics.y_pred) == len(test):  # classification: what each held-out row got, for `compare`
        heldout = HeldOut(
            rows_digest=rows_digest(test.texts, test.labels), y_true=list(test.labels), y_pred=list(metrics.y_pred)
        )
    save_artifact(engine, out_dir, manifest, overwrite=overwrite, heldout=heldout)
    manifest = read_manifest(out_dir)  # as written: with each file's size and checksum
    progress(ProgressEvent(phase="save", done=1, total=1, unit="artifact"))
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    return manifest
