"""``inspect`` read a batch of rows at a time (``advisor.data.summary_stream``): the same report as the
file loaded whole (``summarize(load_dataset(...))``), from running counts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advisor.cli import main
from advisor.data import summary_stream
from advisor.data.labelled import load_dataset
from advisor.data.summary import compare_test, length_stats, summarize
from advisor.data.summary_stream import DistinctRows, LengthCounts, percentiles_from_counts, summarize_file
from engines.errors import DataError

WORDS = "the film story actor scene plot music camera light dark funny slow great poor warm cold".split()


def messy_rows(n: int = 120, seed: int = 0) -> list[tuple[object, object]]:
    """Rows with what cleaning drops or changes: duplicates, missing labels, empty texts, NUL bytes,
    labels with spaces, numbers next to words, odd lengths."""
    rng = random.Random(seed)
    rows: list[tuple[object, object]] = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
        rows.append((text, rng.choice(["pos", "neg", " pos ", "3"])))
        if i % 9 == 0:
            rows.append(rows[rng.randrange(len(rows))])  # an exact duplicate, somewhere later
        if i % 17 == 0:
            rows.append((text, None))
        if i % 19 == 0:
            rows.append(("  ", "neg"))
        if i % 23 == 0:
            rows.append((f"nul\x00{i} 👍 ünï", "pos"))
    rows.append(("x" * 5000, "neg"))
    return rows


def write(path: Path, rows) -> Path:
    df = pd.DataFrame(rows, columns=["text", "label"])
    if path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


def whole(path: Path, **kw) -> dict:
    """The report of the file loaded whole, as ``inspect`` made it before streaming."""
    return summarize(load_dataset(str(path)), **kw).model_dump()


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("batch_rows", [1, 7, 10_000])
def test_batches_give_the_report_of_the_whole_file(tmp_path, suffix, batch_rows):
    data = write(tmp_path / f"messy{suffix}", messy_rows())
    streamed = summarize_file(str(data), batch_rows=batch_rows).model_dump()
    assert streamed == whole(data)
    assert streamed["dropped"]["duplicates"] > 0 and streamed["dropped"]["nan_labels"] > 0
    assert any("NUL" in w for w in streamed["warnings"]) and any("mixes numbers" in w for w in streamed["warnings"])


def test_cli_output_is_the_same_in_small_batches(tmp_path, monkeypatch, capsys):
    data = write(tmp_path / "messy.csv", messy_rows(300, seed=3))
    outputs = {}
    for batch_rows in (10**9, 5):
        monkeypatch.setattr(summary_stream, "BATCH_ROWS", batch_rows)  # 5 rows: ~70 batches, the last one short
        assert main(["inspect", str(data)]) == 0
        text = capsys.readouterr().out
        assert main(["inspect", str(data), "--json"]) == 0
        outputs[batch_rows] = (text, json.loads(capsys.readouterr().out))
    assert outputs[5] == outputs[10**9]
    assert outputs[5][1] == whole(data)
    assert "approximate" not in outputs[5][0]


def test_tokens_and_held_out_overlap_match_the_whole_file(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    data = write(tmp_path / "train.csv", messy_rows(150, seed=1))
    rows = messy_rows(150, seed=1)
    test_rows = [(str(t).upper() + "  ", lab) for t, lab in rows[10:20]] + [(rows[30][0], "other")] + messy_rows(20, 5)
    test = write(tmp_path / "test.csv", test_rows)
    streamed = summarize_file(
        str(data), tokenizer=tok, tokenizer_name="tiny", test_file=str(test), batch_rows=4
    ).model_dump()
    ds = load_dataset(str(data))
    want = compare_test(
        summarize(ds, tokenizer=tok, tokenizer_name="tiny"), load_dataset(str(test), validate=False), ds
    )
    assert streamed == want.model_dump()
    assert streamed["tokens_measured_on"] == streamed["total_rows"] and streamed["test_overlap"] > 0


def test_a_token_sample_of_a_bigger_file_is_stratified_and_of_the_same_size(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    data = write(tmp_path / "train.csv", messy_rows(400, seed=2))
    s = summarize_file(str(data), tokenizer=tok, tokenizer_name="tiny", max_token_texts=50, batch_rows=9)
    assert s.tokens_measured_on == 50 and set(s.lengths) == {"chars", "words", "tokens"}
    assert s.model_dump(exclude={"lengths", "share_over_tokens"}) == summarize(
        load_dataset(str(data)), tokenizer=tok, tokenizer_name="tiny", max_token_texts=50
    ).model_dump(exclude={"lengths", "share_over_tokens"})


def test_errors_are_those_of_loading_the_whole_file(tmp_path):
    cases = {
        "one-class.csv": [("a", "x"), ("b", "x"), ("c", "x")],
        "no-usable.csv": [("  ", "x"), ("b", None)],
        "tiny-class.csv": [("a", "x"), ("b", "x"), ("c", "y")],
    }
    for name, rows in cases.items():
        path = write(tmp_path / name, rows)
        with pytest.raises(DataError) as want:
            load_dataset(str(path))
        with pytest.raises(DataError) as got:
            summarize_file(str(path), batch_rows=1)
        assert str(got.value) == str(want.value)


def test_length_histogram_gives_numpys_percentiles():
    rng = np.random.default_rng(0)
    for _ in range(500):
        arr = rng.integers(0, int(rng.integers(1, 3000)), int(rng.integers(1, 400)))
        values, counts = np.unique(arr, return_counts=True)
        assert percentiles_from_counts(values, counts) == np.percentile(arr, [10, 50, 90, 95, 99]).tolist()
        merged = LengthCounts()
        for part in np.array_split(arr, 3):
            merged.add(part)
        assert merged.stats("chars") == length_stats(arr.tolist(), "chars")


def test_past_the_exact_limit_duplicates_go_through_a_bloom_filter_and_the_report_says_so(tmp_path, monkeypatch):
    data = write(tmp_path / "messy.csv", messy_rows(300, seed=4))
    monkeypatch.setattr(summary_stream, "EXACT_DISTINCT", 50)
    streamed = summarize_file(str(data), batch_rows=11).model_dump()
    want = whole(data)
    assert streamed["warnings"][:-1] == want["warnings"]
    assert "approximate counts" in streamed["warnings"][-1] and "Bloom filter" in streamed["warnings"][-1]
    # 32 MiB of bits for ~300 rows: no false positive here, so the counts are still the exact ones
    assert {k: v for k, v in streamed.items() if k != "warnings"} == {k: v for k, v in want.items() if k != "warnings"}


def test_distinct_rows_exact_and_bloom_agree_on_new_rows():
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, 20_000, dtype=np.int64).astype(np.uint64)
    hashes = np.concatenate([hashes, hashes[::7], hashes[:10]])
    exact, bloom = DistinctRows(), DistinctRows(exact_limit=1_000, bloom_bits=2**22)
    for part in np.array_split(hashes, 31):
        assert (exact.new(part) == bloom.new(part)).all()
    assert exact.distinct == bloom.distinct == 20_000
    assert not exact.approximate and bloom.approximate and 0 < bloom.false_positive_rate() < 1e-3
