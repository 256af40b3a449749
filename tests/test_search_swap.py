"""`search` loading an artifact that another `run --overwrite` swaps mid-load answers wholly from one.

Real bm25 artifacts (no torch): the swap falls before the checksums are read, or after the load;
the answer is the new artifact's, byte for byte, never a mix or an error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from artifact_helpers import swapped_in
from data_helpers import write_pairs

import engines.artifacts as A
from advisor.cli import main


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("swap")
    out = []
    for tag in ("old", "new"):
        art = d / tag
        data = write_pairs(d / f"{tag}.csv", tag)
        assert main(["run", "--engine", "bm25", "--profile", "tiny", "--data", str(data), "--out", str(art)]) == 0
        out.append(art)
    queries = d / "queries.txt"
    queries.write_text("river mountain 0\ncomet bakery 7\n", encoding="utf-8")
    return out[0], out[1], queries


def _search(art: Path, queries: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["search", str(art), "--file", str(queries), "-k", "3", "--json"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("window", ["verify-then-swap", "swap-after-load"])
def test_search_loading_across_a_swap_answers_wholly_from_one_artifact(
    tmp_path, artifacts, monkeypatch, capsys, window
):
    old, new, queries = artifacts
    new_alone = _search(new, queries, capsys)
    assert new_alone != _search(old, queries, capsys)
    art = tmp_path / "art"
    shutil.copytree(old, art)
    swap, done = swapped_in(art, new, tmp_path)
    if window == "verify-then-swap":
        real_verify = A.verify_files
        monkeypatch.setattr(A, "verify_files", lambda *a, **k: (swap(), real_verify(*a, **k))[1])
    else:
        real_load = A.load_artifact
        monkeypatch.setattr(A, "load_artifact", lambda *a, **k: (real_load(*a, **k), swap())[0])
    got = _search(art, queries, capsys)
    assert done and got == new_alone
    assert json.loads(got)[0]["hits"][0]["text"].startswith("new note")
