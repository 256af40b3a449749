"""``tune-or-embed search``: the documents (retrieval artifacts) or stored examples (embedding) nearest a query.

tune-or-embed search runs/emb "a warm, funny film" -k 5
tune-or-embed search runs/index --file queries.csv -k 10 --json
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, cast

from engines.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    from engines.embedding import EmbeddingEngine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="find the stored examples nearest to a query (embedding artifacts)",
        description=__doc__.splitlines()[0].split(": ", 1)[-1],
    )
    p.add_argument("artifact", metavar="ARTIFACT", help="artifact folder written by `run --engine embedding`")
    p.add_argument("query", metavar="QUERY", nargs="?", help="text to search for")
    p.add_argument(
        "--file",
        metavar="FILE",
        help="retrieval artifacts: answer every query of this file (one per line, or a CSV/JSONL column "
        "named query/question/text), one result list per query in input order",
    )
    p.add_argument("-k", type=int, default=5, help="number of results per query (default 5)")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engines.artifacts import load_settled, read_manifest, same_artifact
    from engines.base import engine_names, get_engine

    if args.k < 1:
        raise ConfigError("-k must be at least 1")
    manifest = read_manifest(args.artifact)
    try:
        supports = get_engine(manifest.engine).supports_search
    except ConfigError:
        raise ArtifactError(f"{args.artifact} was written by unknown engine {manifest.engine!r}") from None
    if not supports:
        able = [n for n in engine_names() if _supports(n)]
        raise ConfigError(
            f"{args.artifact} is a {manifest.engine} artifact; search needs one from "
            f"{', '.join(able) or 'an engine with a vector store'} (run --engine embedding)"
        )
    if (args.query is None) == (args.file is None):
        raise ConfigError("give a QUERY or --file FILE (one of them)")
    # Loaded wholly from one artifact even while another `run --overwrite` replaces it (then the new one).
    engine, loaded = load_settled(args.artifact)
    if "retrieval" in engine.tasks:
        with same_artifact(args.artifact, loaded, doing="search"):
            return _search_documents(engine, args)
    if args.file:
        raise ConfigError("--file is for retrieval artifacts (bm25, frozen-index, contrastive)")
    # A classification engine that supports search keeps a vector store: the embedding engine.
    with same_artifact(args.artifact, loaded, doing="search"):
        hits = cast("EmbeddingEngine", engine).search(args.query, args.k)
    if args.json:
        print(
            json.dumps(
                {"artifact": str(args.artifact), "query": args.query, "hits": [h.model_dump() for h in hits]},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for rank, h in enumerate(hits, 1):
            text = h.text.replace("\n", " ")
            print(f"{rank}\t{h.score:.3f}\t{h.label}\t{text[:120]}")
    return 0


def _supports(name: str) -> bool:
    from engines.base import get_engine

    try:
        return bool(get_engine(name).supports_search)
    except Exception:  # noqa: BLE001 - an engine module that fails to import cannot search either
        return False


def read_queries(path: str) -> list[str]:
    """Queries from a file: a CSV/TSV/JSONL/Parquet column (query, question or text), else one per line."""
    from pathlib import Path

    from engines.errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"no queries file {path}")
    if p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json", ".parquet"):
        from advisor.data.pairs_read import read_table
        from advisor.data.readers import open_source

        # The data readers' sniffing, encodings, compression and one-line errors.
        df = read_table(open_source(p, display=path))
        col = next((c for c in ("query", "question", "text", "q") if c in df.columns), None)
        if col is None:
            raise DataError(
                f"{path} has no query column (query, question or text); columns: {', '.join(map(str, df.columns))}"
            )
        queries = [str(q) for q in df[col].dropna() if q != ""]  # an empty CSV cell reads as ""
    else:
        try:
            queries = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise DataError(f"{path} is not UTF-8 text") from None
    if not queries:
        raise DataError(f"{path} holds no queries")
    return queries


def _search_documents(engine: Any, args: argparse.Namespace) -> int:
    queries = read_queries(args.file) if args.file else [args.query]
    results = engine.search_many(queries, args.k)
    if args.json:
        payload = [{"query": q, "hits": [h.model_dump() for h in hits]} for q, hits in zip(queries, results)]
        body: Any = payload if args.file else {"artifact": str(args.artifact), **payload[0]}
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for q, hits in zip(queries, results):
        if args.file:
            print(f"# {q}")
        for rank, h in enumerate(hits, 1):
            print(f"{rank}\t{h.score:.3f}\t{h.doc_id}\t{h.text.replace(chr(10), ' ')[:120]}")
    return 0
