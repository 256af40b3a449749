"""Reading retrieval data for ``advisor.data.pairs``: tables read whole, query/document/negative/score
column detection, the BEIR folder layout, extra corpora, and the collection they are gathered into.

Counts of what is dropped go into a ``drops`` dict keyed like ``advisor.data.pairs.PairDrops``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.data.readers import (
    LABEL_NAMES,
    TEXT_NAMES,
    SourceFile,
    _csv_kwargs,
    _read_json_array,
    _wrap_errors,
    open_source,
)
from engines.errors import DataError
from engines.records import Pairs

if TYPE_CHECKING:
    import pandas as pd

# Column names by role, strongest first; two matches in the same tier are ambiguous.
QUERY_NAMES = (("query", "queries", "question", "anchor", "q"), ("title", "headline"))
DOC_NAMES = (
    ("document", "doc", "positive", "pos", "passage", "answer", "context"),
    ("text", "body", "content", "response"),
)
NEGATIVE_NAMES = ("negative", "negatives", "hard_negative", "hard_negatives", "neg")
SCORE_NAMES = ("score", "relevance", "relevant", "is_relevant", "label")  # numbers only: > 0 is relevant
ID_NAMES = ("_id", "id", "doc_id", "docid", "corpus_id", "corpus-id")


# ---------------------------------------------------------------------------- helpers
def cell_texts(value: Any) -> list[str]:
    """A cell as texts: a string, a list of them (JSON, Parquet), or none for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in cell_texts(v)]
    text = str(value).replace("\x00", "").strip()
    return [text] if text else []


def cell_text(value: Any) -> str:
    return " ".join(cell_texts(value))


def _new_id(prefix: str, taken: set[str], start: int) -> tuple[str, int]:
    n = start
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}", n + 1


def read_table(src: SourceFile) -> pd.DataFrame:
    """The whole file: CSV cells as strings ("NA" is a text, an empty cell ""), JSON values as they are."""
    import pandas as pd

    try:
        if src.format in ("csv", "tsv"):
            return pd.read_csv(src.path, keep_default_na=False, **_csv_kwargs(src))
        if src.format == "jsonl":
            return pd.read_json(
                src.path, lines=True, dtype=False, encoding=src.encoding, compression=src.compression or "infer"
            )
        if src.format == "json":
            return _read_json_array(src)
        if src.format == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(src.path).to_pandas()
    except Exception as exc:  # noqa: BLE001 - parser errors of every library become one line
        raise _wrap_errors(src, exc) from None
    raise DataError(f"unsupported format {src.format!r} for retrieval pairs: {src.display}")


def open_table(path: Path, display: str, encoding: str | None) -> tuple[SourceFile, pd.DataFrame]:
    beir_like = any((path / n).exists() for n in ("corpus.jsonl", "corpus.jsonl.gz", "queries.jsonl", "qrels"))
    if path.is_dir() and beir_like:
        missing = [
            n for n in ("corpus.jsonl", "queries.jsonl") if not (path / n).exists() and not (path / f"{n}.gz").exists()
        ]
        raise DataError(f"{display} is no complete BEIR folder: {' and '.join(missing)} missing")
    src = open_source(path, encoding=encoding, display=display)
    if src.format == "folder":
        raise DataError(
            f"{display} looks like classification data (a folder per class): run it without --task retrieval, "
            "or give a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)"
        )
    df = read_table(src)
    if not len(df.columns):
        raise DataError(f"no pairs in {display} (no columns)")
    return src, df


# ------------------------------------------------------------------- column detection
def _lower(columns: list[str]) -> dict[str, str]:
    return {c.lower().strip(): c for c in columns}


def _by_name(columns: list[str], tiers: tuple[tuple[str, ...], ...], taken: set[str]) -> list[str]:
    """The columns matching the first tier of names that matches any (more than one: ambiguous)."""
    lower = _lower(columns)
    for tier in tiers:
        found = [lower[n] for n in tier if n in lower and lower[n] not in taken]
        if found:
            return found
    return []


def classification_shape(df: pd.DataFrame) -> str | None:
    """'text,label' when the table has a label-like column with few distinct values, else None."""
    columns = [str(c) for c in df.columns]
    label = next((c for n in LABEL_NAMES for c in columns if c.lower().strip() == n), None)
    if label is None:
        return None
    values = df[label].dropna().astype(str).str.strip()
    k, n = values[values != ""].nunique(), len(values)
    if not 1 <= k <= max(2, min(1000, int(0.2 * n))):
        return None
    lower = _lower([c for c in columns if c != label])
    text = next((lower[n] for n in TEXT_NAMES if n in lower), next((c for c in columns if c != label), "?"))
    return f"{text},{label}"


def guess_columns(df: pd.DataFrame, query_col: str | None, doc_col: str | None) -> tuple[str | None, str | None, str]:
    """(query column, document column, the problem when one is missing or ambiguous, or '')."""
    columns = [str(c) for c in df.columns]
    taken = {c for c in (query_col, doc_col) if c}
    found = {"query": query_col, "document": doc_col}
    for role, tiers in (("query", QUERY_NAMES), ("document", DOC_NAMES)):
        if found[role] is None:
            names = _by_name(columns, tiers, taken)
            if len(names) > 1:
                return (
                    found["query"],
                    found["document"],
                    f"columns {names[0]!r} and {names[1]!r} could both be the {role}",
                )
            if names:
                found[role] = names[0]
                taken.add(names[0])
    missing = next((role for role, col in found.items() if col is None), None)
    return found["query"], found["document"], f"no {missing} column" if missing else ""


def score_column(df: pd.DataFrame, taken: set[str]) -> str | None:
    """A relevance column (score, label …) holding only numbers: rows with a score ≤ 0 are no pairs."""
    import pandas as pd

    for col in _by_name([str(c) for c in df.columns], (SCORE_NAMES,), taken):
        values = df[col].map(cell_text)
        values = values[values != ""]
        if len(values) and pd.to_numeric(values, errors="coerce").notna().all():
            return col
    return None


def detect_pair_columns(
    df: pd.DataFrame, display: str, query_col: str | None, doc_col: str | None, negative_col: str | None
) -> tuple[str, str, str | None, str | None]:
    """(query, document, negative or None, relevance score or None) columns, or a one-line DataError."""
    columns = [str(c) for c in df.columns]
    listing = ", ".join(columns)
    for given in (query_col, doc_col, negative_col):
        if given is not None and given not in columns:
            raise DataError(f"column {given!r} not in {display} (columns: {listing})")
    query, doc, problem = guess_columns(df, query_col, doc_col)
    if problem:
        shape = classification_shape(df) if query is None or doc is None else None
        if shape:
            raise DataError(f"{display} looks like classification data ({shape}): run it without --task retrieval")
        flag = "--query-col" if problem.endswith("the query") or problem == "no query column" else "--doc-col"
        raise DataError(f"{problem} in {display} (columns: {listing}); pass {flag}")
    assert query is not None and doc is not None, "guess_columns names a problem whenever a column is missing"
    if query == doc:
        raise DataError(f"the query and the document column of {display} are both {query!r}; they must differ")
    if negative_col is None:
        negative_col = next(iter(_by_name(columns, (NEGATIVE_NAMES,), {query, doc})), None)
    if negative_col in (query, doc):
        raise DataError(f"the negative column of {display} is also the query or document column ({negative_col!r})")
    taken = {query, doc} if negative_col is None else {query, doc, negative_col}
    return query, doc, negative_col, score_column(df, taken)


# ----------------------------------------------------------------------------- builder
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


def _check_ids(ids: list[str], display: str, what: str) -> None:
    dup = [i for i, n in Counter(ids).items() if n > 1]
    if dup:
        raise DataError(f"duplicate {what} id {dup[0]!r} in {display} ({len(dup):,} id(s) appear more than once)")


def _id_text(df: pd.DataFrame, display: str) -> tuple[list[str | None], list[str]]:
    """(ids or None per row, texts) of a corpus table: an optional id column, a text column (a title
    column is joined in front of it)."""
    columns = [str(c) for c in df.columns]
    lower = _lower(columns)
    id_col = next((lower[n] for n in ID_NAMES if n in lower), None)
    text_cols = _by_name(columns, ((*DOC_NAMES[1], *DOC_NAMES[0]),), set() if id_col is None else {id_col})
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
    ids, texts = _id_text(df, ref)
    _check_ids([i for i in ids if i is not None], ref, "document")
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


# ------------------------------------------------------------------------------- BEIR
def beir_files(folder: Path) -> tuple[Path, Path] | None:
    """(corpus, queries) files of a BEIR folder, or None."""

    def find(stem: str) -> Path | None:
        return next(
            (folder / f"{stem}{ext}" for ext in (".jsonl", ".jsonl.gz") if (folder / f"{stem}{ext}").is_file()), None
        )

    corpus, queries = find("corpus"), find("queries")
    return (corpus, queries) if corpus and queries else None


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
    ids, texts = _id_text(corpus, corpus_shown)
    _check_ids([str(i) for i in ids], corpus_shown, "document")
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
    _check_ids(q_ids, queries_shown, "query")
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
