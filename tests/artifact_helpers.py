"""Artifact helpers for tests (test support, imported by test modules): a swap as `run --overwrite` makes it,
and what a write leaves beside its target."""

from __future__ import annotations

from pathlib import Path


def swapped_in(art: Path, new: Path, tmp_path: Path):
    """A function that swaps a copy of ``new`` in at ``art`` (as `run --overwrite` does), once."""
    import shutil

    from engines.atomic import exchange

    staged = tmp_path / ".art.swapin.tmp"
    shutil.copytree(new, staged)
    done = []

    def swap() -> None:
        if not done:
            assert exchange(staged, art)
            shutil.rmtree(staged)
            done.append(True)

    return swap, done


def leftovers(out: Path) -> list[str]:
    """The names beside ``out`` that its writers stage, lock or park (``.<name>.*``), sorted."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))
