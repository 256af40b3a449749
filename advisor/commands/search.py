"""``tune-or-embed search``: nearest stored examples to a query, from an artifact's vector store.

tune-or-embed search runs/emb "a warm, funny film" -k 5
"""

from __future__ import annotations

import argparse
import json

from engines.errors import ArtifactError, ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="find the stored examples nearest to a query (embedding artifacts)",
        description=__doc__.splitlines()[0].split(": ", 1)[-1],
    )
    p.add_argument("artifact", metavar="ARTIFACT", help="artifact folder written by `run --engine embedding`")
    p.add_argument("query", metavar="QUERY", help="text to search for")
    p.add_argument("-k", type=int, default=5, help="number of neighbours (default 5)")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engines.artifacts import load_artifact, read_manifest
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
    engine, _ = load_artifact(args.artifact)
    hits = engine.search(args.query, args.k)
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
