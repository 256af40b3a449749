"""Shared by the fault tests: a small two-class CSV and the CLI run in this process, its error line checked."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from advisor.cli import main

WORDS = {"pos": ["good", "great", "lovely", "superb", "fun"], "neg": ["bad", "awful", "boring", "dull", "mess"]}
FILLER = ["the", "film", "plot", "actors", "story", "was", "a", "very"]


def base_rows(n: int = 100, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.sample(FILLER, 4) + rng.sample(WORDS[label], 2)
        rng.shuffle(words)
        rows.append((" ".join(words) + f" {i}", label))
    return rows


def write_rows(path: Path, rows, header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


ROWS = base_rows()


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_args(engine: str, data: str | Path, out: str | Path, *extra: str, test_size: int = 20) -> list[str]:
    """``run`` of ``engine`` on ``data`` into ``out`` with the tiny profile and ``test_size`` held-out rows."""
    return [
        "run",
        "--engine",
        engine,
        "--profile",
        "tiny",
        "--data",
        str(data),
        "--out",
        str(out),
        "--test-size",
        str(test_size),
        *extra,
    ]


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("tune-or-embed: error: ") and "Traceback" not in err and "unexpected" not in err
    return lines[0]
