"""Concurrent ``search`` processes on one frozen-index artifact: throughput and failures at P = 1, 2, 4.

Builds a real ``frozen-index`` artifact with ``run`` (profile ``cpu-small``: the packaged
all-MiniLM-L6-v2, offline) over ``demo:chatterbot-qa``'s 876 answers, unless ``--workdir`` already
holds it. Then, for each P, starts P ``python -m advisor search ART --file queries.txt -k 10 --json``
processes at once (each answers the same Q questions of the demo) and times each from its start to its
exit. A process counts as a failure when it exits non-zero or prints other results than one process
alone. ``search --file`` answers its queries in one batch, so there is no per-query latency to time from
outside: the table gives each process's wall time (p50 over the P processes) and, as an estimate of the
time per query, (that p50 − the load floor) / Q, where the load floor is the p50 wall time of a
one-query search (start-up, artifact load and check, model load) timed alone first.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/search_concurrency.py --queries 200 --procs 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "advisor", *args]


def timed(argvs: list[list[str]]) -> list[tuple[float, int, str, str]]:
    """Start every command at once; (wall seconds, exit code, stdout, stderr) of each."""
    results: list[tuple[float, int, str, str]] = [(0.0, 0, "", "")] * len(argvs)

    def one(i: int, argv: list[str]) -> None:
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
        results[i] = (time.perf_counter() - t0, proc.returncode, proc.stdout, proc.stderr)

    threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(argvs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=200, help="queries per search process (Q)")
    ap.add_argument("--procs", default="1,2,4", help="process counts (P), comma-separated")
    ap.add_argument("--data", default="demo:chatterbot-qa", help="retrieval data the index is built from")
    ap.add_argument("--profile", default="cpu-small", help="profile of the run (its embedding model)")
    ap.add_argument("--workdir", default="/tmp/toe-search-concurrency", help="where the artifact is kept")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/retrieval/concurrency.md"))
    args = ap.parse_args()

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    art = work / "index"
    built = "reused"
    if not (art / "manifest.json").is_file():
        t0 = time.perf_counter()
        proc = subprocess.run(
            cli("run", "--engine", "frozen-index", "--profile", args.profile, "--data", args.data, "--out", str(art)),
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.exit(f"building the index failed:\n{proc.stderr[-2000:]}")
        built = f"built in {time.perf_counter() - t0:.1f} s"
    manifest = json.loads((art / "manifest.json").read_text(encoding="utf-8"))
    n_docs = json.loads((art / "dense.json").read_text(encoding="utf-8"))["n_docs"]

    from advisor.data.pairs import load_pairs

    queries = list(dict.fromkeys(load_pairs(args.data).pairs.queries))[: args.queries]
    qfile, one = work / "queries.txt", work / "one.txt"
    qfile.write_text("\n".join(q.replace("\n", " ") for q in queries) + "\n", encoding="utf-8")
    one.write_text(queries[0].replace("\n", " ") + "\n", encoding="utf-8")
    search = cli("search", str(art), "--file", str(qfile), "-k", "10", "--json")

    floor = [timed([cli("search", str(art), "--file", str(one), "-k", "10", "--json")])[0][0] for _ in range(2)]
    floor_s = statistics.median(floor)
    reference: str | None = None
    rows = []
    for p in [int(x) for x in args.procs.split(",")]:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        results = timed([search] * p)
        wall = time.perf_counter() - t0
        if reference is None:
            reference = next((out for _, rc, out, _ in results if rc == 0), None)
        failures = sum(1 for _, rc, out, _ in results if rc != 0 or out != reference)
        errors = {err.strip().splitlines()[-1] for _, rc, _, err in results if rc != 0 and err.strip()}
        p50 = statistics.median(w for w, *_ in results)
        rows.append(
            f"| {p} | {p * len(queries) / wall:.1f} | {p50:.2f} | {max(0.0, p50 - floor_s) / len(queries) * 1000:.1f} "
            f"| {failures} of {p}{' (' + '; '.join(sorted(errors)) + ')' if errors else ''} | {load:.1f} |"
        )

    lines = [
        f"# Concurrent `search --file` processes on one frozen-index artifact ({n_docs} documents)",
        "",
        f"`python benchmarks/search_concurrency.py --queries {args.queries} --procs {args.procs}`: "
        f"{args.data}, profile {args.profile} ({manifest.get('model_name') or manifest.get('model_ref')}), "
        f"index {built}; Q = {len(queries)} queries per process, top 10; load floor (a one-query search "
        f"alone, p50 of 2) {floor_s:.2f} s.",
        "",
        "| processes | queries/s in all | process wall p50 (s) | ≈ ms per query beyond the floor | failures "
        "| load avg before |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
