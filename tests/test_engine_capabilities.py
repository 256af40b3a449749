"""Engines declare what they can do; the advisor asks them (no torch imported to ask)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engines.base import engine_label, engine_names, get_engine


def test_each_engine_declares_its_capabilities() -> None:
    table = {name: get_engine(name) for name in ("tfidf", "embedding", "finetune", "lora")}
    assert [n for n, c in table.items() if c.cheap_fits] == ["tfidf", "embedding"]
    assert [n for n, c in table.items() if c.uses_transformer] == ["embedding", "finetune", "lora"]
    assert [n for n, c in table.items() if c.trains_backbone] == ["finetune", "lora"]
    assert [n for n, c in table.items() if c.caches_vectors] == ["embedding"]
    assert {n: c.memory_model for n, c in table.items()} == {
        "tfidf": "none",
        "embedding": "frozen",
        "finetune": "full",
        "lora": "adapters",
    }
    assert table["lora"].alternative_to == "finetune" and table["finetune"].alternative_to is None


def test_every_registered_engine_has_a_label() -> None:
    for name in engine_names():
        assert engine_label(name) and engine_label(name) != name


def test_asking_for_capabilities_does_not_import_torch() -> None:
    code = (
        "import sys; from engines.base import get_engine; "
        "[get_engine(n).cheap_fits for n in ('tfidf', 'embedding', 'finetune', 'lora')]; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(Exception, match="try one of: tfidf, embedding"):
        get_engine("bert")
