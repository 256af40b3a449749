"""Reading retrieval data for ``advisor.data.pairs``: cells as texts, tables read whole, the BEIR
folder layout, and query/document/negative/score column detection (with the classification-data
check). The collection they are gathered into is in ``advisor.data.pairs_collection``, BEIR folders
are read in ``advisor.data.pairs_beir``.
"""

from __future__ import annotations

import math
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


# ------------------------------------------------------------------------------- BEIR
def beir_files(folder: Path) -> tuple[Path, Path] | None:
    """(corpus, queries) files of a BEIR folder, or None."""

    def find(stem: str) -> Path | None:
        return next(
            (folder / f"{stem}{ext}" for ext in (".jsonl", ".jsonl.gz") if (folder / f"{stem}{ext}").is_file()), None
        )

    corpus, queries = find("corpus"), find("queries")
    return (corpus, queries) if corpus and queries else None


# ------------------------------------------------------------------- column detection
def columns_by_lower_name(columns: list[str]) -> dict[str, str]:
    """Each column by its name lower-cased and stripped."""
    return {c.lower().strip(): c for c in columns}


def columns_named(columns: list[str], tiers: tuple[tuple[str, ...], ...], taken: set[str]) -> list[str]:
    """The columns matching the first tier of names that matches any (more than one: ambiguous)."""
    lower = columns_by_lower_name(columns)
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
    lower = columns_by_lower_name([c for c in columns if c != label])
    text = next((lower[n] for n in TEXT_NAMES if n in lower), next((c for c in columns if c != label), "?"))
    return f"{text},{label}"


def guess_columns(df: pd.DataFrame, query_col: str | None, doc_col: str | None) -> tuple[str | None, str | None, str]:
    """(query column, document column, the problem when one is missing or ambiguous, or '')."""
    columns = [str(c) for c in df.columns]
    taken = {c for c in (query_col, doc_col) if c}
    found = {"query": query_col, "document": doc_col}
    for role, tiers in (("query", QUERY_NAMES), ("document", DOC_NAMES)):
        if found[role] is None:
            names = columns_named(columns, tiers, taken)
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

    for col in columns_named([str(c) for c in df.columns], (SCORE_NAMES,), taken):
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
        negative_col = next(iter(columns_named(columns, (NEGATIVE_NAMES,), {query, doc})), None)
    if negative_col in (query, doc):
        raise DataError(f"the negative column of {display} is also the query or document column ({negative_col!r})")
    taken = {query, doc} if negative_col is None else {query, doc, negative_col}
    return query, doc, negative_col, score_column(df, taken)
