"""Start-up: the first frame comes fast and nothing heavy is imported before it;
Textual stays out of `engines` and the advisor's core; the `tui` command is wired."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "lancedb", "matplotlib", "sklearn", "pandas")

FIRST_FRAME = textwrap.dedent("""
    import json, sys, time
    HEAVY = HEAVY_NAMES
    t0 = time.perf_counter()
    from advisor.tui.app import create_app
    imported = time.perf_counter() - t0
    out = {}

    def ready(app):
        out["first_frame_s"] = time.perf_counter() - t0
        out["import_s"] = imported
        out["loaded"] = sorted(m for m in HEAVY if m in sys.modules)
        app.exit()

    create_app(on_ready=ready, data=sys.argv[1] if len(sys.argv) > 1 else None).run(headless=True, size=(80, 24))
    print(json.dumps(out))
""").replace("HEAVY_NAMES", repr(HEAVY))


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )


@pytest.mark.parametrize("data", [None, "demo:rotten-tomatoes"])
def test_first_frame_without_torch_or_transformers(data: str | None) -> None:
    proc = _run(FIRST_FRAME, *([data] if data else []))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "torch" not in out["loaded"] and "transformers" not in out["loaded"], out
    # The goal is ≤ 0.5 s on an idle machine; the bound here leaves room for a busy CI box.
    assert out["first_frame_s"] < 3.0, out
    print(f"first frame {out['first_frame_s']:.3f} s (imports {out['import_s']:.3f} s); loaded: {out['loaded']}")


def test_no_textual_outside_the_tui() -> None:
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import advisor, engines
        for pkg in (advisor, engines):
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                if info.name.startswith("advisor.tui") or info.name.endswith("__main__"):
                    continue
                importlib.import_module(info.name)
        print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
    """)
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_tui_command_is_registered_and_bad_goals_fail_in_one_line(tmp_path: Path) -> None:
    from advisor.cli import build_parser, main

    args = build_parser().parse_args(["tui", "--data", "demo:rotten-tomatoes", "--profile", "tiny"])
    assert (
        args.data == "demo:rotten-tomatoes"
        and args.profile == "tiny"
        and args.func.__module__ == "advisor.commands.tui"
    )
    bad = tmp_path / "g.toml"
    bad.write_text("[goals]\nmetric = 1\n")
    assert main(["tui", "--goals", str(bad)]) == 2
