"""Data ingestion: formats, column detection, cleaning counts, sampling (in memory and streamed),
splits, nested subsets, summaries, and the packaged demo data."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from data_helpers import tiny_rows

from advisor.data.labelled import (
    load_dataset,
    nested_subsets,
    stratified_split,
    stratified_subsample,
    write_examples,
)
from advisor.data.sampling import allocate
from advisor.data.summary import summarize
from engines.base import Examples
from engines.errors import DataError


def _examples(counts: dict[str, int]) -> Examples:
    texts, labels = [], []
    for label, n in counts.items():
        texts += [f"{label} text {i}" for i in range(n)]
        labels += [label] * n
    return Examples(texts=texts, labels=labels)


# ------------------------------------------------------------------------ formats
def test_csv(tiny_csv):
    ds = load_dataset(str(tiny_csv))
    assert (ds.format, ds.text_col, ds.label_col, ds.encoding) == ("csv", "text", "label", "utf-8")
    assert len(ds.examples) == ds.total_rows == 40 and not ds.sampled
    assert ds.class_counts == {"neg": 20, "pos": 20}
    assert ds.dropped.total_rows_read == 40 and ds.warnings == []
    assert len(ds.fingerprint) == 16 and ds.fingerprint_kind == "sha256"


def test_tsv_jsonl_parquet_json_gz_give_the_same_rows(tmp_path, tiny_csv):
    import pandas as pd

    df = pd.read_csv(tiny_csv)
    df.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    df.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    df.to_json(tmp_path / "d.json", orient="records")
    df.to_parquet(tmp_path / "d.parquet")
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as fh:
        df.to_csv(fh, index=False)
    df.to_csv(tmp_path / "semicolon.csv", sep=";", index=False)
    expected = load_dataset(str(tiny_csv)).examples
    for name, fmt in [
        ("d.tsv", "tsv"),
        ("d.jsonl", "jsonl"),
        ("d.json", "json"),
        ("d.parquet", "parquet"),
        ("d.csv.gz", "csv"),
        ("semicolon.csv", "csv"),
    ]:
        ds = load_dataset(str(tmp_path / name))
        assert ds.format == fmt, name
        assert ds.examples == expected, name


def test_folder_per_class(tmp_path):
    for label, texts in {"sport": ["goal!", "a match", "the cup"], "tech": ["a chip", "new phone"]}.items():
        (tmp_path / "data" / label).mkdir(parents=True)
        for i, t in enumerate(texts):
            (tmp_path / "data" / label / f"{i}.txt").write_text(t, encoding="utf-8")
    ds = load_dataset(str(tmp_path / "data"))
    assert ds.format == "folder" and ds.class_counts == {"sport": 3, "tech": 2}
    assert sorted(ds.examples.texts) == sorted(["goal!", "a match", "the cup", "a chip", "new phone"])


def test_bom_and_latin1(tmp_path):
    (tmp_path / "bom.csv").write_bytes("text,label\ncafé ok,a\nthé bon,b\nx y,a\nz w,b\n".encode("utf-8-sig"))
    ds = load_dataset(str(tmp_path / "bom.csv"))
    assert ds.encoding == "utf-8-sig" and ds.text_col == "text" and "café ok" in ds.examples.texts
    (tmp_path / "l1.csv").write_bytes("text,label\ncafé ok,a\nthé bon,b\nx y,a\nz w,b\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"cannot decode .*l1.csv as utf-8 \(byte 0xe9 at offset 14\)"):
        load_dataset(str(tmp_path / "l1.csv"))
    assert "café ok" in load_dataset(str(tmp_path / "l1.csv"), encoding="latin-1").examples.texts


def test_decode_error_deep_in_a_file_reports_its_offset(tmp_path):
    head = "text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(2000))
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + b"bad \xff row,a\n")
    with pytest.raises(DataError, match=rf"byte 0xff at offset {len(head.encode()) + 4}\)"):
        load_dataset(str(path))


# --------------------------------------------------------------------- columns
def test_detects_columns_by_name_and_by_content(write_csv):
    rows = [(i, t, lab, "x") for i, (t, lab) in enumerate(tiny_rows())]
    ds = load_dataset(str(write_csv(rows, header=("id", "Review", "Sentiment", "const"))))
    assert (ds.text_col, ds.label_col) == ("Review", "Sentiment")
    ds = load_dataset(str(write_csv(rows, name="b.csv", header=("id", "words", "kind", "const"))))
    assert (ds.text_col, ds.label_col) == ("words", "kind")  # longest strings; 2-valued column


def test_column_overrides(write_csv):
    rows = [(t, lab, t.upper()) for t, lab in tiny_rows()]
    ds = load_dataset(str(write_csv(rows, header=("text", "label", "shout"))), text_col="shout")
    assert ds.text_col == "shout" and ds.examples.texts[0].isupper()
    with pytest.raises(DataError, match=r"column 'nope' not in .*\(columns: text, label, shout\)"):
        load_dataset(str(write_csv(rows, header=("text", "label", "shout"))), label_col="nope")


def test_numeric_labels_become_strings(write_csv):
    ds = load_dataset(str(write_csv([(t, 1 if lab == "pos" else 0) for t, lab in tiny_rows()])))
    assert set(ds.examples.labels) == {"0", "1"}


# ---------------------------------------------------------------------- cleaning
def test_drops_are_counted_and_warned(write_csv):
    rows = tiny_rows(5) + [("no label", ""), ("", "pos"), ("   ", "neg")] + tiny_rows(2)
    ds = load_dataset(str(write_csv(rows)))
    d = ds.dropped
    assert (d.total_rows_read, d.nan_labels, d.empty_texts, d.duplicates) == (17, 1, 2, 4)
    assert ds.total_rows == 10
    assert any("missing or empty label" in w for w in ds.warnings)
    assert any("4 exact duplicate" in w for w in ds.warnings)


# ---------------------------------------------------------------------- sampling
def test_allocate_proportional_with_minimum():
    assert allocate({"a": 900, "b": 100}, 100) == {"a": 90, "b": 10}
    assert allocate({"a": 990, "b": 10}, 20) == {"a": 18, "b": 2}  # every class keeps 2
    assert sum(allocate({"a": 7, "b": 5, "c": 3}, 10).values()) == 10
    assert allocate({"a": 3, "b": 2}, 10) == {"a": 3, "b": 2}


def test_stratified_subsample_and_split_are_seeded_and_stratified():
    ex = _examples({"a": 600, "b": 300, "c": 100})
    s1, s2 = stratified_subsample(ex, 100, seed=1), stratified_subsample(ex, 100, seed=1)
    assert s1 == s2 and Counter(s1.labels) == {"a": 60, "b": 30, "c": 10}
    assert stratified_subsample(ex, 100, seed=2) != s1
    train, test = stratified_split(ex, test_size=200, seed=0)
    assert len(test) == 200 and Counter(test.labels) == {"a": 120, "b": 60, "c": 20}
    assert not set(train.texts) & set(test.texts)
    with pytest.raises(DataError, match="class 'x'.* has 1 example"):
        stratified_split(_examples({"a": 10, "x": 1}), test_size=3, seed=0)


def test_nested_subsets_are_nested_and_stratified():
    ex = _examples({"a": 500, "b": 250, "c": 50})
    subsets = nested_subsets(ex, [50, 100, 400, 10_000], seed=3)
    assert [len(s) for s in subsets] == [50, 100, 400, 800]
    for small, big in zip(subsets, subsets[1:]):
        assert set(small.texts) <= set(big.texts)
    assert Counter(subsets[2].labels) == {"a": 250, "b": 125, "c": 25}
    assert nested_subsets(ex, [50, 100, 400, 10_000], seed=3) == subsets  # seeded


def test_streamed_sample_matches_in_memory_counts(write_csv):
    rows = [(f"text {i} " + "x" * (i % 17), ["a", "b", "c"][i % 10 % 3]) for i in range(3000)] + tiny_rows(3)
    rows += rows[:50]  # duplicates
    path = str(write_csv(rows))
    full = load_dataset(path)
    streamed = load_dataset(path, sample=300, seed=7, stream_threshold=0)
    in_mem = load_dataset(path, sample=300, seed=7)
    for ds in (streamed, in_mem):
        assert ds.sampled and len(ds.examples) == 300
        assert ds.class_counts == full.class_counts and ds.total_rows == full.total_rows
        assert ds.dropped.duplicates == full.dropped.duplicates == 50
        assert len(set(ds.examples.texts)) == 300
        assert set(ds.examples.texts) <= set(full.examples.texts)
        shares = Counter(ds.examples.labels)
        for label, n in full.class_counts.items():
            assert abs(shares[label] - 300 * n / full.total_rows) <= 2  # tiny classes get at least 2
    assert load_dataset(path, sample=300, seed=7, stream_threshold=0).examples == streamed.examples
    assert load_dataset(path, sample=300, seed=8, stream_threshold=0).examples != streamed.examples


def test_streamed_sample_past_the_exact_limit_is_bounded_and_says_so(write_csv, monkeypatch):
    """Past EXACT_DISTINCT distinct rows the streamed sample finds duplicates with a fixed Bloom filter
    (memory bounded whatever the file's size): here one too small to err, so counts and sample are the
    exact ones, and the warning says the counts are approximate."""
    import advisor.data.distinct as distinct

    rows = [(f"text {i} " + "x" * (i % 17), ["a", "b", "c"][i % 10 % 3]) for i in range(3000)] + tiny_rows(3)
    rows += rows[:50]
    path = str(write_csv(rows))
    exact = load_dataset(path, sample=300, seed=7, stream_threshold=0)
    monkeypatch.setattr(distinct, "EXACT_DISTINCT", 100)
    monkeypatch.setattr(distinct, "BLOOM_BITS", 2**22)
    bounded = load_dataset(path, sample=300, seed=7, stream_threshold=0)
    assert bounded.examples == exact.examples and bounded.class_counts == exact.class_counts
    assert bounded.dropped.duplicates == exact.dropped.duplicates == 50
    assert not any(w.startswith("approximate counts") for w in exact.warnings)
    assert [w for w in bounded.warnings if w.startswith("approximate counts: past 100 distinct rows")]


def test_sample_bigger_than_data_returns_everything(tiny_csv):
    ds = load_dataset(str(tiny_csv), sample=1000)
    assert not ds.sampled and len(ds.examples) == 40


# ----------------------------------------------------------------------- summary
def test_summarize_counts_lengths_and_tokens(tiny_csv, tiny_model_dir):
    from transformers import AutoTokenizer

    ds = load_dataset(str(tiny_csv))
    s = summarize(ds)
    assert s.n_classes == 2 and s.imbalance_ratio == 1.0 and [c.share for c in s.classes] == [0.5, 0.5]
    assert "tokens" not in s.lengths
    assert s.lengths["chars"].max == max(len(t) for t in ds.examples.texts)
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    s = summarize(ds, tokenizer=tok, tokenizer_name="tiny-bert")
    n_tokens = [len(tok(t)["input_ids"]) for t in ds.examples.texts]
    assert s.lengths["tokens"].max == max(n_tokens) and s.tokens_measured_on == 40
    assert s.share_over_tokens[512] == 0.0
    assert json.loads(s.model_dump_json())["tokenizer"] == "tiny-bert"


def test_write_examples_round_trip(tmp_path):
    ex = Examples(texts=['with "quotes", commas', "line\nbreak", "plain"], labels=["a", "b", "a"])
    write_examples(ex, tmp_path / "out.csv")
    ds = load_dataset(str(tmp_path / "out.csv"), validate=False)
    assert ds.examples == ex


# -------------------------------------------------------------------------- demos
def test_demo_rotten_tomatoes_real_balance():
    ds = load_dataset("demo:rotten-tomatoes")
    assert set(ds.class_counts) == {"fresh", "rotten"}
    assert ds.class_counts["fresh"] > ds.class_counts["rotten"] > 5000
    assert ds.dropped.other_labels > 1000  # "plot" rows are not reviews
    sample = load_dataset("demo:rotten-tomatoes", sample=200, seed=0)
    assert len(sample.examples) == 200 and set(sample.examples.labels) == {"fresh", "rotten"}


def test_demo_bbc_news_folder():
    ds = load_dataset("demo:bbc-news")
    assert ds.format == "folder" and len(ds.class_counts) == 5 and ds.total_rows > 2000


def test_demo_presidential_debates_gzip_csv():
    ds = load_dataset("demo:presidential-debates")
    assert set(ds.class_counts) == {"Republican", "Democratic", "Moderator"}
    assert ds.dropped.duplicates > 0  # "Thank you." and the like, said more than once by one party
    assert ds.class_counts["Republican"] > ds.class_counts["Democratic"] > ds.class_counts["Moderator"] > 200


def test_unknown_demo():
    with pytest.raises(DataError, match="unknown demo data 'demo:nope'; try one of: demo:rotten-tomatoes"):
        load_dataset("demo:nope")
