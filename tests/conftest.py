"""Shared fixtures: tiny labelled files and the builtin tiny model.

Nothing here downloads: HF_HUB_OFFLINE is set before anything imports transformers.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from data_helpers import tiny_rows

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows to a CSV in tmp_path: ``write_csv(rows=None, name="data.csv", header=("text","label"))``."""
    import csv

    def write(
        rows: list[tuple] | None = None,
        name: str = "data.csv",
        header: tuple[str, ...] = ("text", "label"),
        sep: str = ",",
    ) -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=sep)
            writer.writerow(header)
            writer.writerows(rows if rows is not None else tiny_rows())
        return path

    return write


@pytest.fixture
def tiny_csv(write_csv: Callable[..., Path]) -> Path:
    """A 40-row, 2-class CSV with columns text,label."""
    return write_csv(tiny_rows(20))


@pytest.fixture(scope="session")
def tiny_model():
    """The builtin random tiny BERT (ResolvedModel), built once into the tune-or-embed cache."""
    from engines.models import resolve_model

    return resolve_model("tiny-bert")


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model) -> Path:
    """Folder of the builtin tiny BERT (config.json, model.safetensors, MiniLM tokenizer)."""
    return tiny_model.path


@pytest.fixture
def fakes(monkeypatch):
    """Register the fake engines (tests/fake_engines.py) under the real names (restored afterwards),
    reset their records, and return ``setup(examples)``, which teaches them the true labels."""
    from fake_engines import FakeEmbedding, FakeEngine, FakeFinetune, FakeTfidf

    from engines import base

    for cls in (FakeTfidf, FakeEmbedding, FakeFinetune):
        monkeypatch.setitem(base._REGISTRY, cls.name, f"{cls.__module__}:{cls.__qualname__}")
        monkeypatch.setattr(cls, "seen", set())
        monkeypatch.setattr(cls, "fits", [])
    monkeypatch.setattr(FakeEmbedding, "prepared", [])
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0)
    monkeypatch.setattr(FakeFinetune, "MIN_EXAMPLES", 0)

    def setup(ex):
        FakeEngine.TRUTH.clear()
        FakeEngine.TRUTH.update(dict(zip(ex.texts, ex.labels, strict=True)))
        FakeEngine.CLASSES[:] = ex.classes
        return ex

    return setup


@pytest.fixture
def rank_fakes(monkeypatch):
    """Register the fake retrieval engines (tests/fake_rank_engines.py); their names double as bm25 /
    contrastive stand-ins."""
    from fake_rank_engines import FakeLexical, FakeTuned

    from engines import base

    for cls in (FakeLexical, FakeTuned):
        monkeypatch.setitem(base._REGISTRY, cls.name, f"{cls.__module__}:{cls.__qualname__}")
    monkeypatch.setattr(FakeTuned, "fits", [])
    monkeypatch.setattr(FakeTuned, "SECONDS_PER_STEP", 0.0)
    monkeypatch.setattr(FakeTuned, "REPORTS_STEPS", True)
    return ["fake-lexical", "fake-tuned"]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for the requesting test module (what CI has); skips without Ray."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'tune-or-embed[ray]')")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
