"""Start-up stays fast: --help, probe, inspect, profiles and compare's help never import torch, transformers or textual."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from import_probe import SCRIPT


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["probe"],
        ["probe", "--json"],
        ["profiles"],
        ["inspect", "{csv}"],
        ["inspect", "{csv}", "--json"],
        ["compare", "--help"],
        ["run", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_no_heavy_imports(argv, tiny_csv):
    argv = [a.replace("{csv}", str(tiny_csv)) for a in argv]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, env=env, timeout=60)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), proc.stderr
    assert result["heavy"] == [], f"{' '.join(argv)} imported {result['heavy']}"


def test_inspect_with_model_counts_tokens(tiny_csv, tiny_model_dir, capsys):
    from advisor.cli import main

    assert main(["inspect", str(tiny_csv), "--model", str(tiny_model_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lengths"]["tokens"]["max"] > 0 and data["tokenizer"] == tiny_model_dir.name
    assert data["n_classes"] == 2 and data["rows"] == 40


def test_inspect_demo_shows_real_balance(capsys):
    from advisor.cli import main

    assert main(["inspect", "demo:rotten-tomatoes"]) == 0
    out = capsys.readouterr().out
    assert "fresh" in out and "rotten" in out and "imbalance" in out


def test_start_up_copies_of_the_demo_names_match_the_registry():
    """The help text and the TUI's path suggester name the demos without importing their registry
    (pydantic and engines.base, ~75 ms of start-up): they must still name every demo, in order."""
    from advisor.commands._data_args import DEMO_NAMES
    from advisor.data import demo
    from advisor.tui.screens.data import DEMOS, RANK_DEMOS

    names = [demo.PREFIX + name for name in demo.DEMOS]
    assert DEMO_NAMES == " / ".join(names)
    # The TUI's data step suggests the demos of the goals' task.
    assert DEMOS == [demo.PREFIX + name for name, spec in demo.DEMOS.items() if spec.task == "classification"]
    assert RANK_DEMOS == [demo.PREFIX + name for name, spec in demo.DEMOS.items() if spec.task == "retrieval"]
