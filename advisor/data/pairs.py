"""Retrieval data: queries, their relevant documents, and the collection searched.

``load_pairs`` reads a pair file (CSV/TSV/JSONL/JSON/Parquet with a query and a document column,
optionally a hard-negative column), a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) or a
``demo:<name>`` made for retrieval, optionally adding an extra corpus to the collection. Rows with
the same query text group into one query with several relevant documents; pair-file documents get
ids by exact text (one id per distinct text). Drops are counted and warned about; everything a user
can get wrong is one DataError line naming the file. The readers live in ``advisor.data.pairs_read``,
``advisor.data.pairs_collection`` and ``advisor.data.pairs_beir``, split and sample in
``advisor.data.sampling`` (re-exported here), the summary in ``advisor.data.pairs_summary``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field

from advisor.data import demo as demos
from advisor.data.pairs_beir import load_beir
from advisor.data.pairs_collection import Collection, add_corpus, load_pair_file
from advisor.data.pairs_read import (
    QUERY_NAMES,
    beir_files,
    classification_shape,
    detect_pair_columns,
    guess_columns,
    open_table,
    score_column,
)
from advisor.data.readers import SourceFile, open_source, preview
from advisor.data.sampling import sample_pairs, split_pairs
from engines.errors import DataError
from engines.records import Pairs, Record

__all__ = ["PairDrops", "PairsDataset", "load_pairs", "looks_like_pairs", "sample_pairs", "split_pairs"]

FULL_HASH_BYTES = 64 * 2**20  # inputs up to this size are fingerprinted by their full sha256


class PairDrops(Record):
    """Rows read and what cleaning dropped."""

    rows_read: int = Field(0, description="Pair rows (or qrels lines) read.")
    empty_texts: int = Field(0, description="Rows, queries or documents dropped for an empty text.")
    duplicate_pairs: int = Field(0, description="Exact duplicate (query, document) pairs dropped; the first is kept.")
    no_relevant: int = Field(0, description="Queries dropped because no relevant document was left.")
    scored_irrelevant: int = Field(
        0, description="Rows a score column marks not relevant (≤ 0): their documents are the query's hard negatives."
    )
    duplicate_docs: int = Field(0, description="Documents of an extra corpus collapsed into one with the same text.")


class PairsDataset(Record):
    """Clean retrieval data and where it came from."""

    pairs: Pairs = Field(description="Queries, their relevant documents' ids, and the whole collection.")
    source: str = Field(description="The data reference as given (path, BEIR folder or demo:<name>).")
    path: str = Field(description="The file or folder read.")
    format: str = Field(description="csv, tsv, jsonl, json, parquet, or beir (a BEIR folder).")
    query_col: str | None = Field(None, description="Column holding the query (pair files).")
    doc_col: str | None = Field(None, description="Column holding the relevant document (pair files).")
    negative_col: str | None = Field(None, description="Column holding hard negatives, if any.")
    score_col: str | None = Field(None, description="Numeric relevance column (score, label …): > 0 relevant.")
    corpus: str | None = Field(None, description="Extra corpus file whose documents joined the collection.")
    encoding: str = Field("utf-8", description="Text encoding used.")
    fingerprint: str = Field(description="Short sha256 of every input file (path names and contents).")
    dropped: PairDrops = Field(default_factory=PairDrops, description="What cleaning dropped.")
    warnings: list[str] = Field(default_factory=list, description="Things the user should know about the data.")


def _fingerprint(files: Iterable[Path]) -> str:
    files = [p for p in files if p.is_file()]
    digest = hashlib.sha256()
    whole = sum(p.stat().st_size for p in files) <= FULL_HASH_BYTES
    for path in files:
        st = path.stat()
        digest.update(f"{path.name}\0{st.st_size}\0".encode())
        with path.open("rb") as fh:
            if whole:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            else:
                digest.update(f"{st.st_mtime_ns}".encode() + fh.read(1 << 20))
                fh.seek(max(0, st.st_size - (1 << 20)))
                digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


def looks_like_pairs(ref: str) -> bool:
    """Whether ``ref`` looks like retrieval data: a retrieval demo, a BEIR folder, or a table with a
    query and a document column and no label-like column (unless it is a numeric relevance score next to
    a column named query, question or anchor). Cheap (a preview of the first rows) and
    never raises: the CLI uses it to pick the task, and to tell a pairs file given for classification."""
    try:
        ref = str(ref)
        if demos.is_demo(ref):
            return demos.demo_spec(ref).task == "retrieval"
        path = Path(ref).expanduser()
        if path.is_dir():
            return beir_files(path) is not None
        src = open_source(path)
        if src.format == "folder":
            return False
        df = preview(src, rows=200)
        query, doc, problem = guess_columns(df, None, None)
        if problem or query is None or doc is None:
            return False
        if classification_shape(df) is None:
            return True
        # a label column: pairs only when it scores relevance next to a clearly named query column
        return query.lower().strip() in QUERY_NAMES[0] and score_column(df, {query, doc}) is not None
    except (DataError, OSError, ValueError, KeyError):
        return False


# ----------------------------------------------------------------------------- loading
def load_pairs(
    path: str,
    *,
    corpus: str | None = None,
    query_col: str | None = None,
    doc_col: str | None = None,
    negative_col: str | None = None,
    encoding: str | None = None,
) -> PairsDataset:
    """Read retrieval data from ``path`` (a pair file, a BEIR folder or ``demo:<name>``), adding the
    documents of ``corpus`` to the collection; clean it (counted drops) and check it can be ranked.

    Raises DataError (one line naming the file) for every bad input.
    """
    ref = str(path)
    drops = dict.fromkeys(PairDrops.model_fields, 0)
    coll = Collection()
    cols: tuple[str | None, ...] = (None, None, None, None)
    folder = Path(ref).expanduser()
    if not demos.is_demo(ref) and folder.is_dir() and beir_files(folder) is not None:
        src = SourceFile(path=folder, display=ref, format="beir", encoding=encoding or "utf-8")
        files = load_beir(coll, folder, ref, encoding, drops)
        if corpus is not None:  # after the BEIR corpus, deduplicated by id
            files += add_corpus(coll, corpus, encoding, drops, beir=True)
    else:
        if demos.is_demo(ref):
            file, spec = demos.demo_path(ref, task="retrieval")
            query_col, doc_col = query_col or spec.text_col, doc_col or spec.label_col
            src, df = open_table(file, ref, encoding)
        else:
            src, df = open_table(folder, ref, encoding)
        cols = detect_pair_columns(df, src.display, query_col, doc_col, negative_col)
        files = [src.path]
        if corpus is not None:  # first, so that pair documents with a corpus text take its id
            files += add_corpus(coll, corpus, encoding, drops, beir=False)
        load_pair_file(coll, src, df, cols, drops)  # type: ignore[arg-type]
    if len(coll.docs) < 2:
        raise DataError(
            f"the collection of {ref} has only {len(coll.docs)} document: nothing to rank; add documents with --corpus"
        )
    dropped = PairDrops(**drops)
    return PairsDataset(
        pairs=coll.pairs(negatives=any(coll.negatives)),
        source=ref,
        path=str(src.path),
        format=src.format,
        query_col=cols[0],
        doc_col=cols[1],
        negative_col=cols[2],
        score_col=cols[3],
        corpus=corpus,
        encoding=src.encoding,
        fingerprint=_fingerprint(files),
        dropped=dropped,
        warnings=_warnings(dropped),
    )


def _warnings(d: PairDrops) -> list[str]:
    out = []
    if d.empty_texts:
        out.append(f"dropped {d.empty_texts:,} row(s), queries or documents with an empty text")
    if d.duplicate_pairs:
        out.append(f"dropped {d.duplicate_pairs:,} exact duplicate (query, document) pair(s) (kept the first)")
    if d.scored_irrelevant:
        out.append(f"{d.scored_irrelevant:,} row(s) scored 0 or less: their documents are hard negatives, not pairs")
    if d.no_relevant:
        out.append(f"dropped {d.no_relevant:,} query(ies) without a relevant document")
    if d.duplicate_docs:
        out.append(f"collapsed {d.duplicate_docs:,} corpus document(s) whose text is already in the collection")
    return out
