"""Full retrieval runs: read the pairs, hold out queries, train (or not) one retrieval engine, index the
whole collection, score the held-out queries, and write the artifact folder with its manifest."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from engines.base import ProgressEvent, ProgressFn, Record, get_engine, no_progress
from engines.errors import Cancelled, ConfigError

TEST_SHARE = 0.2
TEST_MAX = 1000


class RankRunSpec(Record):
    """One retrieval run: which engine, with which settings, on which pairs."""

    task: str = "retrieval"
    engine: str = Field(description="Retrieval engine name: bm25, frozen-index, contrastive or contrastive-lora.")
    data: str = Field(description="Pairs file, BEIR folder or demo:<name>.")
    corpus: str | None = Field(None, description="More documents for the collection searched.")
    profile: str | None = None
    engine_config: dict[str, Any] = Field(default_factory=dict, description="Overrides of the engine's settings.")
    split_seed: int = 0
    test_queries: int | None = Field(None, ge=1, description="Held-out queries (default: 20 %, at most 1,000).")
    labelled_size: int | None = Field(None, ge=2, description="Train on at most this many queries.")


def spec_from_plan(raw: dict[str, Any]) -> RankRunSpec:
    """A run spec from a retrieval plan (what ``advise`` wrote)."""
    names = ("engine", "data", "corpus", "profile", "split_seed", "test_queries", "labelled_size", "engine_config")
    keep = {k: raw[k] for k in names if k in raw}
    return RankRunSpec(**{k: v for k, v in keep.items() if v is not None})


def build_rank_engine(spec: RankRunSpec) -> tuple[Any, str | None]:
    from advisor.machine.profiles import load_profile, retrieval_config

    cls = get_engine(spec.engine)
    if "retrieval" not in cls.tasks:
        raise ConfigError(f"engine {spec.engine!r} does not do retrieval; try bm25, frozen-index or contrastive")
    profile = load_profile(spec.profile)
    base = retrieval_config(profile, spec.engine).model_dump()
    try:
        config = cls.config_cls(**{**base, **spec.engine_config})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"{spec.engine} setting {where or '?'}: {first.get('msg', 'invalid')}") from None
    return cls(config), getattr(profile, "name", spec.profile)


def rank_full_run(
    spec: RankRunSpec,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
):
    """Run ``spec`` into ``out_dir`` (checked, locked, written atomically); returns the ``Manifest``.
    Engines that resume keep checkpoints in ``<out>.work`` (as classification runs do), and so does an
    index built on Ray workers, block by block: an interrupted run leaves them there and ``resume=True``
    continues."""
    from engines.artifacts import artifact_lock, check_output_dir, clear_leftovers

    check_output_dir(out_dir, overwrite=overwrite)
    with artifact_lock(out_dir):
        clear_leftovers(out_dir)
        check_output_dir(out_dir, overwrite=overwrite)
        return _locked(spec, Path(out_dir), overwrite=overwrite, resume=resume, progress=progress, cancel=cancel)


def _locked(spec: RankRunSpec, out_dir: Path, *, overwrite: bool, resume: bool, progress: ProgressFn, cancel: Any):
    import shutil

    from advisor.data.pairs import load_pairs, split_pairs
    from advisor.run.fullrun import workdir_for
    from engines.artifacts import (
        DataInfo,
        HeldOut,
        Manifest,
        SplitInfo,
        library_versions,
        now_utc,
        read_manifest,
        rows_digest,
        save_artifact,
        tool_version,
    )

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(ProgressEvent(phase="load", done=0, total=None, message="reading pairs"))
    ds = load_pairs(spec.data, corpus=spec.corpus)
    pairs = ds.pairs
    n_test = spec.test_queries or min(TEST_MAX, max(1, int(TEST_SHARE * len(pairs))))
    if n_test >= len(pairs):
        raise ConfigError(f"{n_test} held-out queries leave none to train on ({len(pairs)} queries)")
    train, test = split_pairs(pairs, n_test, spec.split_seed)
    if spec.labelled_size is not None and spec.labelled_size < len(train):
        train = train.subset(list(range(spec.labelled_size)))
    engine, profile_name = build_rank_engine(spec)
    timings["data"] = time.perf_counter() - t0

    index_resumes = engine.index_resumes()
    workdir = workdir_for(out_dir) if engine.supports_resume or index_resumes else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fit = engine.fit(train, progress=progress, cancel=cancel, workdir=workdir, resume=resume)
    timings["fit"] = time.perf_counter() - t0
    if fit.stopped == "cancelled" or (cancel is not None and cancel.is_set()):
        kept = f"; checkpoint kept in {workdir}, continue with --resume" if workdir is not None else ""
        raise Cancelled(f"run cancelled after {fit.examples_seen} training pairs{kept}")
    t0 = time.perf_counter()
    resumable = {"workdir": workdir, "resume": resume} if index_resumes else {}
    engine.index(pairs.doc_ids, pairs.docs, progress=progress, cancel=cancel, **resumable)
    timings["index"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    progress(ProgressEvent(phase="eval", done=0, total=len(test), unit="queries"))
    hits = engine.search_many(test.queries, 10)
    from engines.retrieval import rank_score

    report = rank_score(test, hits)
    progress(ProgressEvent(phase="eval", done=len(test), total=len(test), unit="queries"))
    timings["evaluate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in test.queries[:20]:
        engine.search_many([q], 10)
    timings["query_ms"] = 1000.0 * (time.perf_counter() - t0) / max(1, min(20, len(test)))

    config = engine.config
    manifest = Manifest(
        tool_version=tool_version(),
        engine=engine.name,
        engine_config=config.model_dump(mode="json"),
        model_ref=getattr(config, "model", None),
        model_name=getattr(engine, "model_name", None),
        model_hash=getattr(engine, "model_hash", None),
        profile=profile_name,
        data=DataInfo(
            ref=spec.data,
            fingerprint=str(getattr(ds, "fingerprint", "")),
            text_col="query",
            label_col="document",
            rows=len(pairs),
        ),
        split=SplitInfo(seed=spec.split_seed, test_size=n_test, n_train=len(train), n_test=len(test)),
        rank_metrics=report.model_copy(update={"per_query": {}}),
        fit=fit,
        timings=timings,
        libraries=library_versions(),
        created_at=now_utc(),
    )
    heldout = HeldOut(
        rows_digest=rows_digest(list(test.queries), [" ".join(r) for r in test.relevant]),
        y_true=list(test.query_ids),
        y_pred=[h[0].doc_id if h else "" for h in hits],
        per_query=report.per_query,
    )
    progress(ProgressEvent(phase="save", done=0, total=1, unit="artifact"))
    save_artifact(engine, out_dir, manifest, overwrite=overwrite, heldout=heldout)
    progress(ProgressEvent(phase="save", done=1, total=1, unit="artifact"))
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    return read_manifest(out_dir)


def rank_summary(manifest: Any, out: Path) -> str:
    m, f = manifest.rank_metrics, manifest.fit
    shown = ", ".join(f"{k} {v:.3f}" for k, v in m.metrics.items())
    return "\n".join(
        [
            f"artifact: {out}",
            f"engine: {manifest.engine}" + (f" ({manifest.model_name})" if manifest.model_name else ""),
            f"held-out: {shown} on {m.n} queries (trained on {manifest.split.n_train} queries)",
            f"training: {f.wall_s:.1f} s, stopped: {f.stopped}; indexing {manifest.timings.get('index', 0):.1f} s; "
            f"search {manifest.timings.get('query_ms', 0):.1f} ms/query",
        ]
    )
