"""Artifact folders: manifest round trip, refusal to overwrite, and one-line errors for
missing, corrupt, newer-format or unknown-engine artifacts and unwritable outputs."""

from __future__ import annotations

import json
import os
import random

import pytest

from engines.artifacts import (
    FORMAT_VERSION,
    HELDOUT,
    MANIFEST,
    HeldOut,
    Manifest,
    artifact_lock,
    check_output_dir,
    library_versions,
    load_artifact,
    now_utc,
    read_heldout,
    read_manifest,
    save_artifact,
    summary_metrics,
    tool_version,
)
from engines.base import Examples
from engines.errors import ArtifactError, DataError
from engines.tfidf import TfidfEngine

WORDS = {"pos": ["good", "great", "fun", "lovely"], "neg": ["bad", "dull", "awful", "boring"]}


def _examples(n: int, seed: int = 0) -> Examples:
    rng = random.Random(seed)
    labels = ["pos" if i % 2 else "neg" for i in range(n)]
    return Examples(
        texts=[" ".join(rng.choices(WORDS[lab], k=3)) + f" film {i}" for i, lab in enumerate(labels)], labels=labels
    )


@pytest.fixture(scope="module")
def engine_and_manifest():
    engine = TfidfEngine({"C": 1.0})
    fit = engine.fit(_examples(40))
    metrics = engine.evaluate(_examples(20, seed=1))
    manifest = Manifest(
        tool_version=tool_version(),
        engine="tfidf",
        engine_config=engine.config.model_dump(mode="json"),
        metrics=summary_metrics(metrics),
        fit=fit,
        libraries=library_versions(),
        created_at=now_utc(),
    )
    return engine, manifest


def test_round_trip(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    assert (out / MANIFEST).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging leftovers
    loaded, again = load_artifact(out)
    assert again.model_copy(update={"files": {}}) == manifest and again.format_version == FORMAT_VERSION
    assert set(again.files) == {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    assert again.metrics.correct == [] and again.metrics.n == 20
    assert "python" in again.libraries and "scikit-learn" in again.libraries
    texts = ["great fun", "dull and awful"]
    assert loaded.predict(texts) == engine.predict(texts)


def test_existing_folder_is_never_silently_overwritten(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    out = tmp_path / "art"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="exists; pass --overwrite"):
        save_artifact(engine, out, manifest)
    with pytest.raises(ArtifactError, match="exists; pass --overwrite"):
        check_output_dir(out)
    assert (out / "keep.txt").read_text() == "mine"
    save_artifact(engine, out, manifest, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / MANIFEST).is_file()


def test_missing_and_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="no artifact at"):
        load_artifact(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        load_artifact(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="not an artifact folder"):
        load_artifact(tmp_path / "file")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: "{not json", "not valid JSON"),
        (lambda m: json.dumps([1, 2]), "expected a JSON object"),
        (lambda m: json.dumps({**m, "format_version": FORMAT_VERSION + 1}), "newer than this tune-or-embed"),
        (lambda m: json.dumps({**m, "format_version": "1"}), "no integer format_version"),
        (lambda m: json.dumps({**m, "engine": "quantum"}), "unknown engine 'quantum'"),
        (lambda m: json.dumps({k: v for k, v in m.items() if k != "engine"}), "engine"),
    ],
)
def test_bad_manifests(tmp_path, engine_and_manifest, edit, message):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    raw = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(edit(raw))
    with pytest.raises(ArtifactError, match=message) as info:
        load_artifact(out)
    assert "\n" not in str(info.value)


def test_missing_engine_file(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    (out / "head.npz").unlink()
    with pytest.raises(ArtifactError, match="head.npz is missing"):
        load_artifact(out)


def test_failed_save_leaves_nothing(tmp_path, engine_and_manifest):
    _, manifest = engine_and_manifest
    broken = TfidfEngine()  # never fitted: save fails half-way
    with pytest.raises(DataError, match="fit first"):
        save_artifact(broken, tmp_path / "art", manifest)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent_is_refused_before_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ArtifactError, match="not writable"):
            check_output_dir(ro / "art")
    finally:
        ro.chmod(0o755)


def test_unwritable_output_is_one_line(tmp_path, engine_and_manifest, monkeypatch):
    """Simulates EACCES (the tests may run as root, which ignores permissions)."""
    import tempfile

    engine, manifest = engine_and_manifest

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    with pytest.raises(ArtifactError, match="not writable"):
        check_output_dir(tmp_path / "art")
    with pytest.raises(ArtifactError, match="not writable"):
        save_artifact(engine, tmp_path / "art", manifest)


def test_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ArtifactError):
        check_output_dir(tmp_path / "afile" / "art")


def test_read_manifest_validates_fields(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    raw = json.loads((out / MANIFEST).read_text())
    raw["split"] = {"seed": "zero"}
    (out / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="corrupt .*split"):
        read_manifest(out)


# ------------------------------------------------------- files verified on load
def _flip_last_byte(path):
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip_last_byte, "head.npz does not match its checksum"),
        (lambda p: p.write_bytes(p.read_bytes()[:-7]), "head.npz has .* bytes, manifest.json says"),
        (lambda p: p.unlink(), "head.npz is missing"),
    ],
    ids=["edited", "truncated", "deleted"],
)
def test_a_damaged_file_is_refused_with_its_name(tmp_path, engine_and_manifest, damage, message):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    damage(out / "head.npz")
    with pytest.raises(ArtifactError, match=message) as info:
        load_artifact(out)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("rel", ["../outside.npz", "/etc/passwd", "sub/../../x"])
def test_manifest_paths_never_leave_the_folder(tmp_path, engine_and_manifest, rel):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    raw = json.loads((out / MANIFEST).read_text())
    raw["files"][rel] = {"size": 1, "sha256": "0" * 64}
    (out / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="leaves the artifact folder"):
        load_artifact(out)


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    out = save_artifact(engine, tmp_path / "art", manifest)
    outside = tmp_path / "elsewhere.npz"
    outside.write_bytes((out / "head.npz").read_bytes())
    (out / "head.npz").unlink()
    (out / "head.npz").symlink_to(outside)
    with pytest.raises(ArtifactError, match="points outside the artifact folder"):
        load_artifact(out)


def test_heldout_predictions_are_verified_too(tmp_path, engine_and_manifest):
    engine, manifest = engine_and_manifest
    held = HeldOut(rows_digest="d" * 32, y_true=["pos", "neg"], y_pred=["pos", "pos"])
    out = save_artifact(engine, tmp_path / "art", manifest, heldout=held)
    assert read_heldout(out) == held
    (out / HELDOUT).write_text((out / HELDOUT).read_text().replace('"neg"', '"pos"'))
    with pytest.raises(ArtifactError, match="heldout.json"):
        read_heldout(out)


# ------------------------------------------------------------ one writer a folder
def test_a_second_writer_is_told_the_folder_is_in_use(tmp_path):
    out = tmp_path / "art"
    with artifact_lock(out):
        assert (tmp_path / ".art.lock").read_text() == str(os.getpid())
        with pytest.raises(ArtifactError, match="in use by another run"):
            with artifact_lock(out):
                pass
    assert not (tmp_path / ".art.lock").exists()
    with artifact_lock(out):  # free again
        pass


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (tmp_path / ".art.lock").write_text(dead)
    with artifact_lock(tmp_path / "art"):
        assert (tmp_path / ".art.lock").read_text() == str(os.getpid())
