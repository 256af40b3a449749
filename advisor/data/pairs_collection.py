"""The collection retrieval data is gathered into (``Collection``: documents by id and by text,
queries with their relevant and negative documents), filled from pair files and extra corpora.
Counts of what is dropped go into a ``drops`` dict keyed like ``advisor.data.pairs.PairDrops``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.data.pairs_read import (
    DOC_NAMES,
    ID_NAMES,
    beir_files,
    cell_text,
    cell_texts,
    columns_by_lower_name,
    columns_named,
    open_table,
)
from advisor.data.readers import SourceFile
from engines.errors import DataError
from engines.records import Pairs

if TYPE_CHECKING:
    import pandas as pd


def _new_id(prefix: str, taken: set[str], start: int) -> tuple[str, int]:
    n = start
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}", n + 1


class Collection:
    """Documents by id and by text, and queries with their relevant and negative documents."""

    def __init__(self) -> None:
        self.doc_ids: list[str] = []
        self.docs: list[str] = []
        self.by_text: dict[str, str] = {}
        self.taken: set[str] = set()
        self.next_doc = 0
        self.query_ids: list[str] = []
        self.queries: list[str] = []
        self.relevant: list[list[str]] = []
        self.negatives: list[list[str]] = []

    def add_doc(self, text: str, doc_id: str | None = None, *, by_text: bool = True) -> str:
        """The id of ``text`` (an existing one when the text is known and ``by_text``)."""
        if by_text and text in self.by_text:
            return self.by_text[text]
        if doc_id is None:
            doc_id, self.next_doc = _new_id("d", self.taken, self.next_doc)
        self.taken.add(doc_id)
        self.doc_ids.append(doc_id)
        self.docs.append(text)
        self.by_text.setdefault(text, doc_id)
        return doc_id

    def pairs(self, negatives: bool) -> Pairs:
        return Pairs(
            query_ids=self.query_ids,
            queries=self.queries,
            relevant=self.relevant,
            negatives=self.negatives if negatives else [],
            doc_ids=self.doc_ids,
            docs=self.docs,
        )


def check_unique_ids(ids: list[str], display: str, what: str) -> None:
    """A DataError naming the first ``what`` id that appears more than once in ``ids``."""
    dup = [i for i, n in Counter(ids).items() if n > 1]
    if dup:
        raise DataError(f"duplicate {what} id {dup[0]!r} in {display} ({len(dup):,} id(s) appear more than once)")


def corpus_ids_texts(df: pd.DataFrame, display: str) -> tuple[list[str | None], list[str]]:
    """(ids or None per row, texts) of a corpus table: an optional id column, a text column (a title
    column is joined in front of it)."""
    columns = [str(c) for c in df.columns]
    lower = columns_by_lower_name(columns)
    id_col = next((lower[n] for n in ID_NAMES if n in lower), None)
    text_cols = columns_named(columns, ((*DOC_NAMES[1], *DOC_NAMES[0]),), set() if id_col is None else {id_col})
    if not text_cols:
        raise DataError(f"no text column in {display} (columns: {', '.join(columns)}); expected text or document")
    text_col = text_cols[0]
    title_col = lower.get("title") if lower.get("title") != text_col else None
    ids: list[str | None] = [cell_text(v) or None for v in df[id_col]] if id_col else [None] * len(df)
    titles = df[title_col].tolist() if title_col else [None] * len(df)
    texts = [" ".join(cell_texts(t) + cell_texts(x)) for t, x in zip(titles, df[text_col].tolist())]
    return ids, texts


def add_corpus(coll: Collection, ref: str, encoding: str | None, drops: dict[str, int], *, beir: bool) -> list[Path]:
    """Add an extra corpus's documents; the files read. Pair files dedupe by text, BEIR by id."""
    path = Path(ref).expanduser()
    if path.is_dir():
        found = beir_files(path)
        if found is None:
            raise DataError(f"corpus folder {ref} has no corpus.jsonl")
        path, ref = found[0], f"{ref}/{found[0].name}"
    _, df = open_table(path, ref, encoding)
    ids, texts = corpus_ids_texts(df, ref)
    check_unique_ids([i for i in ids if i is not None], ref, "document")
    known = dict(zip(coll.doc_ids, coll.docs))
    for doc_id, text in zip(ids, texts):
        if not text:
            drops["empty_texts"] += 1
        elif doc_id is not None and doc_id in known:
            if known[doc_id] != text:
                raise DataError(f"document id {doc_id!r} of {ref} is already in the collection with another text")
        elif text in coll.by_text:
            drops["duplicate_docs"] += 1
        else:
            coll.add_doc(text, doc_id, by_text=not beir)
    return [path]


# ------------------------------------------------------------------------- pair files
def load_pair_file(
    coll: Collection,
    src: SourceFile,
    df: pd.DataFrame,
    cols: tuple[str, str, str | None, str | None],
    drops: dict[str, int],
) -> None:
    """Rows → queries (grouped by exact text) and documents (one id per text). With a score column,
    a row scored ≤ 0 makes its document a hard negative of the query instead."""
    query_col, doc_col, negative_col, score_col = cols
    index: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    negs = df[negative_col].tolist() if negative_col else [None] * len(df)
    scores = [float(cell_text(v) or 0) for v in df[score_col]] if score_col else [1.0] * len(df)
    for q_raw, d_raw, n_raw, score in zip(df[query_col].tolist(), df[doc_col].tolist(), negs, scores):
        drops["rows_read"] += 1
        query, docs = cell_text(q_raw), cell_texts(d_raw)
        if not query or not docs:
            drops["empty_texts"] += 1
            continue
        if query not in index:
            index[query] = len(coll.queries)
            coll.query_ids.append(f"q{len(coll.queries)}")
            coll.queries.append(query)
            coll.relevant.append([])
            coll.negatives.append([])
        i = index[query]
        fresh = [d for d in docs if (query, d) not in seen]
        drops["duplicate_pairs"] += len(fresh) == 0
        drops["scored_irrelevant"] += score <= 0
        for doc in fresh:
            seen.add((query, doc))
            doc_id = coll.add_doc(doc)
            target = coll.relevant[i] if score > 0 else coll.negatives[i]
            if doc_id not in target:
                target.append(doc_id)
        for neg in cell_texts(n_raw):
            neg_id = coll.add_doc(neg)
            if neg_id not in coll.negatives[i]:
                coll.negatives[i].append(neg_id)
    if drops["rows_read"] == 0:
        raise DataError(f"no pairs in {src.display} (no data rows)")
    if not coll.queries:
        raise DataError(
            f"no usable pairs in {src.display}: all {drops['rows_read']:,} rows had an empty query or document"
        )
    keep = [i for i, rel in enumerate(coll.relevant) if rel]
    drops["no_relevant"] += len(coll.queries) - len(keep)
    if not keep:
        raise DataError(f"no query in {src.display} has a relevant document (every {score_col} is 0 or less)")
    for name in ("query_ids", "queries", "relevant", "negatives"):
        setattr(coll, name, [getattr(coll, name)[i] for i in keep])
    for i, rel in enumerate(coll.relevant):  # a negative that is also relevant is not a negative
        coll.negatives[i] = [n for n in coll.negatives[i] if n not in rel]
