"""How good is the retrieval advice? Its forecasts and its call against real full runs.

For each dataset and number of training queries N:
  1. split once (seed 0): held-out test queries that nothing sees, and N training queries;
     the collection searched is the whole dataset's documents;
  2. run the retrieval ``advise`` on the N training queries only (``separate_test``: the full
     runs train on all N);
  3. train every approach in full on the N queries, index the whole collection, and score the
     test queries (nDCG@10, recall@10, MRR@10);
  4. compare: forecast vs actual (points; inside the interval?) and whether the chosen approach
     is within 1 nDCG@10 point of the best full run.

Each case is appended to ``<out>.json`` as it finishes (an interrupted sitting resumes) and the
table is rendered to ``<out>.md``. The JSON keeps each benchmark's per-query scores: ``--reanalyse``
re-makes the forecasts and calls from them after a change to the forecast or decision code.

    python benchmarks/rank_calibration.py --datasets bbc-headlines,chatterbot-qa --pairs 300,1000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.machine.probe import cpu_model  # noqa: E402

TEST_QUERIES = 300
WITHIN = 0.01  # "right" = the chosen approach is within 1 point of the best full run
SAMPLES = {
    "random": "a seeded random sample of the queries not held out",
    "first": "the first N queries not held out, in the file's order (the benchmark then measures other "
    "queries than the full runs are scored on, where the file is sorted by topic)",
}


def full_runs(train, test, engines, configs) -> dict[str, dict]:
    from engines.base import get_engine
    from engines.retrieval import rank_score

    out = {}
    for name in engines:
        engine = get_engine(name)(configs[name])
        t0 = time.perf_counter()
        fit = engine.fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.index(test.doc_ids, test.docs)
        index_s = time.perf_counter() - t0
        report = rank_score(test, engine.search_many(test.queries, 10))
        out[name] = {
            "metrics": report.metrics,
            "per_query": report.per_query["ndcg@10"],
            "fit_s": fit_s,
            "index_s": index_s,
            "steps": fit.steps,
            "stopped": fit.stopped,
        }
        print(f"    full {name}: ndcg@10 {report.metrics['ndcg@10']:.3f} in {fit_s + index_s:.0f}s", flush=True)
    return out


def one_case(dataset: str, n: int, budget: str, seed: int, train_sample: str = "random") -> dict:
    from types import SimpleNamespace

    from advisor.data.pairs import load_pairs, sample_pairs, split_pairs
    from advisor.decide.goals import Goals
    from advisor.machine.profiles import load_profile, retrieval_config
    from advisor.measure.ranking import DEFAULT_ENGINES
    from advisor.retrieval import advise_retrieval

    pairs = load_pairs(f"demo:{dataset}").pairs
    n_test = min(TEST_QUERIES, len(pairs) // 3)
    rest, test = split_pairs(pairs, n_test, seed)
    if n > len(rest):
        raise SystemExit(f"{dataset} has {len(rest)} training queries, fewer than {n}")
    # "random": a seeded sample of the other queries, from the same population as the test queries;
    # "first": the first N in the file's order (how the first sittings chose them: in a file sorted by
    # topic, the benchmark then measured other queries than the full runs were scored on).
    train = sample_pairs(rest, n, seed) if train_sample == "random" else rest.subset(list(range(n)))
    profile = load_profile(None)
    t0 = time.perf_counter()
    advice = advise_retrieval(
        SimpleNamespace(pairs=train, source=f"demo:{dataset}[:{n}]", fingerprint=""),
        Goals(task="retrieval", labelled_size=n),
        profile=profile,
        budget=budget,
        seed=seed,
        separate_test=True,
        eval_queries=len(test),
    )
    advise_s = time.perf_counter() - t0
    configs = {name: retrieval_config(profile, name) for name in DEFAULT_ENGINES}
    actual = full_runs(train, test, DEFAULT_ENGINES, configs)
    return {
        "dataset": dataset,
        "n_train": n,
        "n_test": len(test),
        "documents": len(pairs.doc_ids),
        "budget": budget,
        "train_sample": train_sample,
        "cpu": f"{cpu_model()} ({platform.machine()})",
        "advise_s": advise_s,
        "n_target": advice.n_target,
        **judge(advice.recommendation, advice.forecasts, actual),
        "actual": {k: {kk: vv for kk, vv in v.items() if kk != "per_query"} for k, v in actual.items()},
        "bench": saved_bench(advice.bench),
    }


def judge(rec, forecasts, actual) -> dict:
    """The call and the forecasts against the full runs' scores."""
    best = max(actual, key=lambda k: actual[k]["metrics"]["ndcg@10"])
    best_v = actual[best]["metrics"]["ndcg@10"]
    chosen_v = actual[rec.choice]["metrics"]["ndcg@10"] if rec.choice in actual else None
    return {
        "choice": rec.choice,
        "confidence": rec.confidence,
        "too_close": rec.too_close,
        "best_actual": best,
        "right": chosen_v is not None and best_v - chosen_v <= WITHIN,
        "forecasts": {
            k: {"value": f.value, "low": f.low, "high": f.high, "method": f.method, "train_time_s": f.train_time_s}
            for k, f in forecasts.items()
        },
    }


def saved_bench(bench) -> dict:
    """The benchmark as measured, per-query scores included, so that ``--reanalyse`` can re-make the
    forecasts and the call from it after a change to the forecast or decision code."""
    doc = bench.model_dump(mode="json")
    for name, m in bench.measurements.items():
        for i, p in enumerate(m.points):
            doc["measurements"][name]["points"][i]["per_query"] = [round(v, 6) for v in p.per_query]
            doc["measurements"][name]["points"][i]["per_query_half"] = [round(v, 6) for v in p.per_query_half]
    return doc


def reanalyse(case: dict) -> dict:
    """``case`` with its forecasts and call re-made from its saved benchmark by the current code."""
    from advisor.decide.goals import Goals
    from advisor.decide.recommend import recommend
    from advisor.forecast.ranking import forecast
    from advisor.machine.profiles import load_profile, retrieval_config
    from advisor.measure.rank_records import RankBench

    bench = RankBench.model_validate(case["bench"])
    profile = load_profile(None)
    configs = {name: retrieval_config(profile, name) for name in bench.measurements}
    goals = Goals(task="retrieval", labelled_size=case["n_train"])
    forecasts = forecast(
        bench,
        case["n_target"],
        docs_target=case["documents"],
        metric=goals.metric,
        configs=configs,
        eval_queries=case["n_test"],
    )
    rec = recommend(goals, None, {}, forecasts, budget=case["budget"])
    return {**case, **judge(rec, forecasts, case["actual"])}


def render(cases: list[dict]) -> str:
    lines = [
        "# Retrieval calibration",
        "",
        f"Machine: {' / '.join(sorted({c.get('cpu', 'CPU not recorded') for c in cases}))}, "
        f"{os.cpu_count()} CPU cores. Metric nDCG@10 on held-out queries "
        f"(at most {TEST_QUERIES} per dataset), the whole collection indexed. 'right' = the chosen approach "
        "is within 1 point of the best full run.",
        "",
        "Training queries (N): " + "; ".join(sorted({SAMPLES[c.get("train_sample", "first")] for c in cases})) + ".",
        "",
        "| dataset | N | budget | advise took | call (confidence) | best full run | right | forecast → actual (nDCG@10, points) |",
        "|---|---:|---|---:|---|---|---|---|",
    ]
    for c in cases:
        pairs = []
        for name, a in c["actual"].items():
            f = c["forecasts"].get(name, {})
            v = f.get("value")
            shown = "–" if v is None else f"{100 * v:.1f} [{100 * f['low']:.1f}–{100 * f['high']:.1f}]"
            pairs.append(f"{name} {shown} → {100 * a['metrics']['ndcg@10']:.1f}")
        call = f"{c['choice']} ({c['confidence']}{', too close' if c['too_close'] else ''})"
        lines.append(
            f"| {c['dataset']} | {c['n_train']:,} | {c['budget']} | {c['advise_s']:.0f} s | {call} | {c['best_actual']} | "
            f"{'yes' if c['right'] else 'NO'} | {'; '.join(pairs)} |"
        )
    right = sum(c["right"] for c in cases)
    inside = [
        f["low"] <= c["actual"][k]["metrics"]["ndcg@10"] <= f["high"]
        for c in cases
        for k, f in c["forecasts"].items()
        if f.get("value") is not None and k in c["actual"]
    ]
    errors = [
        abs(f["value"] - c["actual"][k]["metrics"]["ndcg@10"])
        for c in cases
        for k, f in c["forecasts"].items()
        if f.get("value") is not None and k in c["actual"]
    ]
    mae = f"{100 * sum(errors) / len(errors):.1f}" if errors else "–"
    lines += [
        "",
        f"Calls right: {right}/{len(cases)}. Actuals inside the forecast interval: {sum(inside)}/{len(inside)}. "
        f"Mean absolute forecast error: {mae} points.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="bbc-headlines,chatterbot-qa")
    ap.add_argument("--pairs", default="300,1000", help="training queries per case")
    ap.add_argument("--budget", default="standard")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--train-sample",
        choices=("random", "first"),
        default="random",
        help="the N training queries: a seeded random sample (default) or the first N in file order",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "retrieval" / "calibration"))
    ap.add_argument(
        "--reanalyse",
        action="store_true",
        help="re-make every saved case's forecasts and call from its saved benchmark (no measuring)",
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    store = out.with_suffix(".json")
    cases = json.loads(store.read_text()) if store.exists() else []
    if args.reanalyse:
        cases = [reanalyse(c) for c in cases if "bench" in c]
        store.write_text(json.dumps(cases, indent=1))
        out.with_suffix(".md").write_text(render(cases))
        print(render(cases))
        return 0
    done = {(c["dataset"], c["n_train"], c["budget"]) for c in cases}
    for dataset in args.datasets.split(","):
        for n in (int(x) for x in args.pairs.split(",")):
            if (dataset, n, args.budget) in done:
                continue
            print(f"{dataset} N={n} budget={args.budget}", flush=True)
            try:
                case = one_case(dataset, n, args.budget, args.seed, args.train_sample)
            except SystemExit as exc:
                print(f"  skipped: {exc}", flush=True)
                continue
            cases.append(case)
            store.write_text(json.dumps(cases, indent=1))
            out.with_suffix(".md").write_text(render(cases))
            print(f"  call {case['choice']} ({case['confidence']}); best {case['best_actual']}", flush=True)
    out.with_suffix(".md").write_text(render(cases))
    print(render(cases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
