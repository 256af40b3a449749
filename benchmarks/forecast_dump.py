"""Forecast and decide again from the calibration's saved benchmarks, with the code of the tree it runs in.

    python benchmarks/forecast_dump.py --workdir /tmp/toe-cal > new.json   # in this tree
    python /path/to/this/forecast_dump.py --workdir /tmp/toe-cal > old.json  # run from an older checkout
    python benchmarks/forecast_dump.py --compare old.json new.json

Each saved ``bench-*.json`` is forecast under the default goals at its labelled size; ``--compare`` lists
every forecast field and call that differs (fields one side lacks are named, not counted as differences).
Written to check that a refactor left the forecasts and calls unchanged (docs/CALIBRATION.md).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from typing import Any


def dump(workdir: str) -> dict[str, Any]:
    sys.path.insert(0, os.getcwd())  # the tree it runs in, not the installed one
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:  # the layout since advisor/ was grouped by stage
        from advisor.decide.goals import Goals
        from advisor.machine.probe import probe
        from advisor.machine.profiles import engine_config, load_profile
        from advisor.measure import BenchResult
    except ImportError:  # the flat layout before it
        from advisor.bench import BenchResult  # type: ignore[no-redef]
        from advisor.goals import Goals  # type: ignore[no-redef]
        from advisor.probe import probe  # type: ignore[no-redef]
        from advisor.profiles import engine_config, load_profile  # type: ignore[no-redef]
    from advisor.advise import forecast_and_decide

    resources = probe()
    out: dict[str, Any] = {}
    for path in sorted(glob.glob(os.path.join(workdir, "*", "bench-*.json"))):
        with open(path, encoding="utf-8") as fh:
            saved = json.load(fh)
        bench = BenchResult.model_validate(saved["bench"])
        profile = load_profile(saved.get("profile", "cpu-small"), resources=resources)
        fcs, rec = forecast_and_decide(
            bench,
            Goals(labelled_size=saved["n_target"]),
            resources,
            configs={e: engine_config(profile, e) for e in saved["engines"]},
            n_target=saved["n_target"],
            eval_rows=saved["eval_rows"],
            budget=(saved["budget"], saved["budget_s"]),
            settings=profile.bench,
        )
        out[os.path.relpath(path, workdir)] = {
            "forecasts": {k: f.model_dump(mode="json") for k, f in sorted(fcs.items())},
            "call": {"choice": rec.choice, "confidence": rec.confidence},
        }
    return out


def compare(old: dict[str, Any], new: dict[str, Any]) -> int:
    differences = 0
    for bench in sorted(set(old) | set(new)):
        if bench not in old or bench not in new:
            print(f"{bench}: only in {'new' if bench in new else 'old'}")
            differences += 1
            continue
        o, n = old[bench], new[bench]
        for key in ("choice", "confidence"):
            if o["call"][key] != n["call"][key]:
                print(f"{bench}: {key} {o['call'][key]} → {n['call'][key]}")
                differences += 1
        for approach in sorted(set(o["forecasts"]) | set(n["forecasts"])):
            fo, fn = o["forecasts"].get(approach, {}), n["forecasts"].get(approach, {})
            for field in sorted(set(fo) & set(fn)):
                if fo[field] != fn[field]:
                    print(f"{bench} {approach}.{field}: {fo[field]} → {fn[field]}")
                    differences += 1
            for field in sorted(set(fo) ^ set(fn)):
                print(f"{bench} {approach}.{field}: only in {'new' if field in fn else 'old'} (not compared)")
    print(f"{len(set(old) & set(new))} benchmarks compared, {differences} differences")
    return 1 if differences else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="the calibration's --workdir (its saved bench-*.json files)")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="two dumps to compare")
    args = p.parse_args()
    if args.compare:
        with open(args.compare[0], encoding="utf-8") as a, open(args.compare[1], encoding="utf-8") as b:
            return compare(json.load(a), json.load(b))
    if not args.workdir:
        p.error("give --workdir or --compare")
    print(json.dumps(dump(args.workdir), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
