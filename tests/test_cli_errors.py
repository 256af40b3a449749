"""Every bad data input gives one line on stderr, exit code 2, and no traceback (real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = "text,label\ngreat film,pos\nawful film,neg\nfine film,pos\nbad film,neg\n"


def _write(name: str, content: str | bytes):
    def make(d: Path) -> None:
        path = d / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))

    return make


CASES = [
    # (id, file maker, extra args, data ref, expected stderr message)
    ("missing", None, [], "missing.csv", "data file not found: missing.csv"),
    ("empty", _write("empty.csv", b""), [], "empty.csv", "data file is empty: empty.csv"),
    (
        "header-only",
        _write("header.csv", "text,label\n"),
        [],
        "header.csv",
        "data file is empty: header.csv (no data rows)",
    ),
    (
        "binary",
        _write("blob.csv", b"PK\x03\x04\x00\x00binary\x00stuff" * 10),
        [],
        "blob.csv",
        "blob.csv looks binary, not text (NUL bytes in the first 8 KiB)",
    ),
    (
        "undecodable",
        _write("l1.csv", "text,label\ncafé,a\nthé,b\n".encode("latin-1")),
        [],
        "l1.csv",
        "cannot decode l1.csv as utf-8 (byte 0xe9 at offset 14); pass --encoding, e.g. --encoding latin-1",
    ),
    (
        "unknown-encoding",
        _write("ok.csv", GOOD),
        ["--encoding", "klingon"],
        "ok.csv",
        "unknown encoding 'klingon'; try utf-8, utf-8-sig, latin-1 or cp1252",
    ),
    (
        "no-text-column",
        _write("nums.csv", "a,b\n1,2\n3,4\n5,6\n"),
        [],
        "nums.csv",
        "no text column in nums.csv (columns: a, b); pass --text-col",
    ),
    (
        "no-label-column",
        _write("nolabel.csv", "text,note\n" + "".join(f"t{i},n{i}\n" for i in range(20))),
        [],
        "nolabel.csv",
        "no label column in nolabel.csv (columns: text, note); pass --label-col",
    ),
    (
        "missing-column",
        _write("ok.csv", GOOD),
        ["--text-col", "foo"],
        "ok.csv",
        "column 'foo' not in ok.csv (columns: text, label)",
    ),
    (
        "single-class",
        _write("one.csv", "text,label\na,pos\nb,pos\nc,pos\n"),
        [],
        "one.csv",
        "only one class ('pos') in one.csv: need at least 2",
    ),
    (
        "class-of-one",
        _write("rare.csv", "text,label\na,pos\nb,pos\nc,neg\n"),
        [],
        "rare.csv",
        "class 'neg' in rare.csv has 1 example; each class needs at least 2 for a stratified split",
    ),
    (
        "all-labels-missing",
        _write("nolab.csv", "text,label\na,\nb,\n"),
        [],
        "nolab.csv",
        "no usable rows in nolab.csv: all 2 rows had an empty text or label",
    ),
    (
        "not-parquet",
        _write("fake.parquet", GOOD),
        [],
        "fake.parquet",
        "fake.parquet is not a Parquet file (no PAR1 magic bytes)",
    ),
    ("bad-jsonl", _write("bad.jsonl", '{"text": "a", "label": "x"}\n{not json\n'), [], "bad.jsonl", None),
    (
        "empty-folder",
        lambda d: (d / "folder").mkdir(),
        [],
        "folder",
        "data folder folder has no class sub-folders with text files (expected <folder>/<class>/*.txt)",
    ),
    (
        "unknown-demo",
        None,
        [],
        "demo:nope",
        "unknown demo data 'demo:nope'; try one of: "
        "demo:rotten-tomatoes, demo:bbc-news, demo:presidential-debates, demo:tweets-sentiment, "
        "demo:icd10-chapters, demo:fine-food-reviews, demo:bird-strikes, demo:bbc-headlines, demo:icd10-terms, "
        "demo:chatterbot-qa",
    ),
    ("bad-sample", _write("ok.csv", GOOD), ["--sample", "1"], "ok.csv", "--sample must be at least 2 (got 1)"),
]


@pytest.mark.parametrize(("maker", "extra", "ref", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line(tmp_path, maker, extra, ref, message):
    if maker is not None:
        maker(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("TOE_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "inspect", ref, *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    if message is None:
        assert lines[0].startswith("tune-or-embed: error: cannot parse bad.jsonl as JSON lines: ")
    else:
        assert lines[0] == f"tune-or-embed: error: {message}"
