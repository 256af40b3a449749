"""The calibration's full runs: each approach run in full on a task in a new process, as a user's
`tune-or-embed run`, scored on the test split; their results as the JSON keeps them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from calibration_tasks import ROOT, Examples, Task, task_split

# A task folder made only for advise's split files, its full runs taken from the saved results.
SAVED_ONLY = "saved-results"


def _latencies(manifest) -> dict[str, float | None]:
    from advisor.decide.compare import latencies

    return dict(zip(("ms_b1", "ms_batch"), latencies(manifest.speed), strict=True))


FRESH_RUN = (
    "import sys; from pathlib import Path; from advisor.run.fullrun import RunSpec, full_run; "
    "full_run(RunSpec.model_validate_json(sys.argv[1]), Path(sys.argv[2]), overwrite=True)"
)


def _run_fresh(code: str, args: list[str], what: str) -> float:
    """``python -c code args`` in a new Python process, from the project root. Returns its wall
    seconds, process start included; a failure raises with the last line it wrote to stderr."""
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {last}")
    return wall


def full_run_fresh(spec, artifact: Path) -> float:
    """Run one approach in full as a user's `tune-or-embed run` does: in a new Python process, so
    that its imports and cold model load count in its time (inside this process they would be
    paid once, by whichever run came first). Returns the wall seconds, process start included."""
    return _run_fresh(FRESH_RUN, [spec.model_dump_json(), str(artifact)], f"full run of {spec.engine}")


def _codes(labels: list[str], classes: list[str]) -> str:
    return bytes(classes.index(y) for y in labels).hex()


def pack_run(a: dict) -> dict:
    """A full run's results as the JSON keeps them: which test rows it got right as hex bits, and
    (for macro-F1) its predictions and the truth as class codes."""
    bits = np.packbits(np.asarray(a["correct"], dtype=bool)).tobytes().hex()
    out = {k: v for k, v in a.items() if k not in ("correct", "y_true", "y_pred")}
    if a.get("y_true") is not None:
        classes = sorted(set(a["y_true"]) | set(a["y_pred"]))
        out.update(
            classes=classes, y_true_codes=_codes(a["y_true"], classes), y_pred_codes=_codes(a["y_pred"], classes)
        )
    return {**out, "rows": len(a["correct"]), "correct_bits": bits}


def unpack_run(saved: dict) -> dict:
    rows = saved["rows"]
    correct = np.unpackbits(np.frombuffer(bytes.fromhex(saved["correct_bits"]), dtype=np.uint8))[:rows]
    out = {
        **{
            k: v
            for k, v in saved.items()
            if k not in ("rows", "correct_bits", "classes", "y_true_codes", "y_pred_codes")
        },
        "correct": [bool(c) for c in correct],
    }
    if "y_true_codes" in saved:
        classes = saved["classes"]
        out["y_true"] = [classes[i] for i in bytes.fromhex(saved["y_true_codes"])]
        out["y_pred"] = [classes[i] for i in bytes.fromhex(saved["y_pred_codes"])]
    return out


def _full_run_spec(task: Task, engine: str, profile: str, seed: int, tdir: Path):
    """What the task's full run of ``engine`` is: `run plan.json` on the demo data (its own split) for
    ``make demo``'s task, else a run on the task's training file scored on its test file."""
    from advisor.run.fullrun import RunSpec

    if task.demo:
        return RunSpec(engine=engine, profile=profile, data=task.data, labelled_size=task.n_train, split_seed=seed)
    return RunSpec(
        engine=engine,
        profile=profile,
        data=str(tdir / "train.csv"),
        train_file=str(tdir / "train.csv"),
        test_file=str(tdir / "test.csv"),
        split_seed=seed,
    )


def write_split(task: Task, seed: int, tdir: Path) -> Examples | None:
    """The task's training and test splits as ``tdir``'s train.csv and test.csv (what advise and the
    full runs read); the test split (None for the demo's path, which reads the demo itself)."""
    from advisor.data.labelled import write_examples

    tdir.mkdir(parents=True, exist_ok=True)
    if task.demo:
        return None
    train, test = task_split(task, seed)
    write_examples(train, tdir / "train.csv")
    write_examples(test, tdir / "test.csv")
    return test


def actual_results(
    task: Task, engines: list[str], profile: str, seed: int, workdir: Path, log, saved: dict | None = None
) -> tuple[dict[str, dict], Path]:
    """Full runs of every approach on the task's training split, scored on its test split
    (reusing artifacts already in ``workdir``).

    ``saved`` (the JSON's ``full_runs``) is read and updated: each run's results, with which
    test rows it got right and what it predicted, keyed by task, profile and seed. When ``workdir``
    has no folder for the task at all (another machine, a new workdir) the saved results stand in
    for the full runs, so rows can be judged again without running them; a folder that lacks one
    artifact runs it (delete one to re-time it)."""
    from engines.artifacts import read_heldout, read_manifest

    tdir = workdir / f"{task.name}-{profile}-seed{seed}"
    key = f"{task.name}/{profile}/seed{seed}"
    known = (saved or {}).get(key, {})
    if (not tdir.exists() or (tdir / SAVED_ONLY).exists()) and known and all(e in known for e in engines):
        log(f"[{task.name}] full runs: saved results (no {tdir})")
        return {e: unpack_run(known[e]) for e in engines}, tdir / "train.csv"
    test = write_split(task, seed, tdir)
    actual: dict[str, dict] = {}
    for engine in engines:
        artifact = tdir / f"artifact-{engine}"
        manifest = read_manifest(artifact) if (artifact / "manifest.json").exists() else None
        if (
            manifest is not None
            and test is not None
            and (manifest.split.n_train, manifest.split.n_test) != (task.n_train, len(test))
        ):
            manifest = None  # another split of the task (its sizes changed): run it again
        if manifest is not None:  # same split, same profile: reuse the full run
            log(f"[{task.name}] full run: {engine} (reusing {artifact})")
            wall = None
        else:
            log(f"[{task.name}] full run: {engine}")
            wall = full_run_fresh(_full_run_spec(task, engine, profile, seed, tdir), artifact)
            manifest = read_manifest(artifact)
        if test is not None:
            y_true, y_pred = _predictions_on(artifact, test)
        else:  # the run's own held-out rows (the same split seed for every engine: the same rows)
            held = read_heldout(artifact)
            y_true, y_pred = list(held.y_true), list(held.y_pred)
        actual[engine] = {
            "accuracy": manifest.metrics.accuracy,
            "macro_f1": manifest.metrics.macro_f1,
            "train_s": manifest.fit.wall_s,
            "wall_s": wall if wall is not None else sum(manifest.timings.values()) or None,
            "correct": [p == y for p, y in zip(y_pred, y_true, strict=True)],
            "y_true": y_true,
            "y_pred": y_pred,
            **_latencies(manifest),
        }
        log(f"[{task.name}]   {engine}: accuracy {manifest.metrics.accuracy:.3f}, fit {manifest.fit.wall_s:.0f} s")
    if saved is not None:
        saved[key] = {**saved.get(key, {}), **{e: pack_run(a) for e, a in actual.items()}}
    return actual, tdir / "train.csv"


def code_version() -> str | None:
    """The commit the rows come from (``+changes`` when the code differs from it; the results
    this script writes do not count)."""
    import subprocess

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+changes" if dirty else "")


def _predictions_on(artifact: Path, test: Examples) -> tuple[list[str], list[str]]:
    """(truth, prediction) per test row: from the predictions the run kept (``heldout.json``) when
    they are for these rows, else by predicting them again."""
    from engines.artifacts import load_artifact, read_heldout, rows_digest
    from engines.errors import ArtifactError

    try:
        held = read_heldout(artifact)
    except ArtifactError:  # a run from before runs kept their predictions
        held = None
    if held is not None and held.rows_digest == rows_digest(test.texts, test.labels):
        return list(held.y_true), list(held.y_pred)
    engine, _ = load_artifact(artifact)
    return list(test.labels), list(engine.predict(test.texts).labels)
