"""Reading a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) into a ``Collection``.
Counts of what is dropped go into a ``drops`` dict keyed like ``advisor.data.pairs.PairDrops``."""

from __future__ import annotations

import math
from pathlib import Path

from advisor.data.pairs_collection import Collection, check_unique_ids, corpus_ids_texts
from advisor.data.pairs_read import beir_files, cell_text, open_table
from engines.errors import DataError


def _qrels(folder: Path, display: str) -> tuple[list[Path], list[tuple[str, str, float]]]:
    """The qrels files read (test.tsv, else every *.tsv in qrels/) and their (query, doc, score) lines."""
    import pandas as pd

    qdir = folder / "qrels"
    files = (
        [qdir / "test.tsv"] if (qdir / "test.tsv").is_file() else sorted(qdir.glob("*.tsv")) if qdir.is_dir() else []
    )
    if not files:
        raise DataError(f"BEIR folder {display} has no qrels/test.tsv (nor any qrels/*.tsv)")
    lines: list[tuple[str, str, float]] = []
    for file in files:
        shown = f"{display}/qrels/{file.name}"
        if file.stat().st_size == 0:
            continue
        try:
            df = pd.read_csv(file, sep="\t", header=None, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"cannot parse {shown} as TSV: {str(exc).strip().splitlines()[0]}") from None
        if df.shape[1] not in (3, 4):
            raise DataError(f"{shown} has {df.shape[1]} columns; expected query-id, corpus-id, score")
        q, d, s = (0, 1, 2) if df.shape[1] == 3 else (0, 2, 3)  # TREC: qid, iteration, docid, score
        scores = pd.to_numeric(df[s], errors="coerce")
        if len(df) and math.isnan(scores.iloc[0]):  # a header line
            df, scores = df.iloc[1:], scores.iloc[1:]
        if scores.isna().any():
            raise DataError(f"{shown} has a score that is not a number: {df[s][scores.isna()].iloc[0]!r}")
        lines += zip(df[q].str.strip(), df[d].str.strip(), scores.astype(float))
    return files, lines


def load_beir(coll: Collection, folder: Path, display: str, encoding: str | None, drops: dict[str, int]) -> list[Path]:
    corpus_file, queries_file = beir_files(folder)  # type: ignore[misc]
    corpus_shown, queries_shown = f"{display}/{corpus_file.name}", f"{display}/{queries_file.name}"
    _, corpus = open_table(corpus_file, corpus_shown, encoding)
    if "_id" not in corpus.columns:
        raise DataError(f"no _id column in {corpus_shown} (columns: {', '.join(map(str, corpus.columns))})")
    ids, texts = corpus_ids_texts(corpus, corpus_shown)
    check_unique_ids([str(i) for i in ids], corpus_shown, "document")
    all_docs = set()
    for doc_id, text in zip(ids, texts):
        all_docs.add(doc_id)
        if text:
            coll.add_doc(text, doc_id, by_text=False)
        else:
            drops["empty_texts"] += 1
    _, queries = open_table(queries_file, queries_shown, encoding)
    for col in ("_id", "text"):
        if col not in queries.columns:
            raise DataError(f"no {col} column in {queries_shown} (columns: {', '.join(map(str, queries.columns))})")
    q_ids = [str(v).strip() for v in queries["_id"]]
    check_unique_ids(q_ids, queries_shown, "query")
    qrel_files, lines = _qrels(folder, display)
    qrels_shown = f"{display}/qrels/{qrel_files[0].name}" if len(qrel_files) == 1 else f"{display}/qrels"
    if not lines:
        raise DataError(f"no pairs in {qrels_shown} (no qrels lines)")
    drops["rows_read"] = len(lines)
    for what, known, pos, where in (("document", all_docs, 1, corpus_shown), ("query", set(q_ids), 0, queries_shown)):
        unknown = [line[pos] for line in lines if line[pos] not in known]
        if unknown:
            raise DataError(f"{qrels_shown} names {len(unknown):,} {what} id(s) not in {where} (first: {unknown[0]!r})")
    kept = set(coll.doc_ids)
    relevant: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for q, d, score in lines:
        if (q, d) in seen:
            drops["duplicate_pairs"] += 1
        elif score > 0 and d in kept:
            seen.add((q, d))
            relevant.setdefault(q, []).append(d)
    for q_id, raw in zip(q_ids, queries["text"].tolist()):
        text = cell_text(raw)
        if not text:
            drops["empty_texts"] += q_id in relevant
        elif q_id not in relevant:
            drops["no_relevant"] += 1
        else:
            coll.query_ids.append(q_id)
            coll.queries.append(text)
            coll.relevant.append(relevant[q_id])
    if not coll.queries:
        raise DataError(f"no query in {display} has a relevant document ({qrels_shown}: score > 0, non-empty texts)")
    return [corpus_file, queries_file, *qrel_files]
