"""``tune-or-embed run``: train one engine on all the data and write an artifact folder.

    tune-or-embed run --engine embedding --data reviews.csv --out runs/emb
    tune-or-embed run plan.json                 # the "run" entry a plan (advise) wrote
    tune-or-embed run --engine finetune --data reviews.csv --out runs/ft --resume

A progress bar with ETA goes to stderr; the summary (or ``--json``: the manifest) to
stdout. The first Ctrl-C asks the engine to stop at its next safe point (a fine-tune
keeps its checkpoint for ``--resume``); a second one interrupts at once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from advisor.common.capabilities import flag
from engines.base import ProgressEvent, engine_names
from engines.errors import ConfigError


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values parse as JSON when they can (numbers, null, lists), else strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="train one approach on all the data and save an artifact",
        description=__doc__.splitlines()[0].split(": ", 1)[-1],
    )
    p.add_argument("plan", nargs="?", metavar="PLAN.json", help='a plan file from `advise` (its "run" entry)')
    p.add_argument("--engine", choices=engine_names(), help="approach to run")
    _add_data_args(p)  # like _data_args.add_data_args, but --data is optional (a plan may carry it)
    p.add_argument("--corpus", metavar="FILE", help="retrieval: more documents for the collection searched")
    p.add_argument("--profile", help="profile name or TOML file for the engine settings")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="KEY=VALUE",
        help="override one engine setting (repeatable), e.g. --set head=knn --set epochs=3",
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=None,
        help="held-out share (< 1) or row count (>= 1); default 0.2, at most 2,000 rows",
    )
    p.add_argument("--split-seed", type=int, default=None, help="seed of the train/held-out split (default 0)")
    p.add_argument("--labelled-size", type=int, default=None, help="train on at most this many rows")
    p.add_argument("--out", help="artifact folder to create (default runs/<engine>-<time>)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="embedding: embed on N Ray workers; finetune/lora: train data-parallel on N Ray Train workers; "
        "frozen-index/contrastive: embed the collection into the index on N Ray workers "
        "(needs the 'ray' extra; docs/SCALE.md)",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --workers: the Ray cluster to use (default $RAY_ADDRESS, else a local one)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing artifact folder")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from advisor.commands._data_args import DATA_HELP

    p.add_argument("--data", metavar="DATA", help=DATA_HELP)
    p.add_argument("--text-col", metavar="C", help="text column (default: detected)")
    p.add_argument("--label-col", metavar="C", help="label column (default: detected)")
    p.add_argument("--encoding", metavar="E", help="text encoding (default: utf-8, or utf-8-sig with a BOM)")
    p.add_argument("--sample", metavar="N", type=int, help="use a seeded stratified sample of N rows")


def spec_from_args(args: argparse.Namespace):
    """The RunSpec from a plan file and/or the command-line options (options win)."""
    from advisor.run.fullrun import RunSpec, load_spec
    from advisor.run.plan import load_plan

    base: dict[str, Any] = {}
    if args.plan:
        base = load_plan(args.plan).run.model_dump(exclude_unset=True)
    elif not args.engine:
        raise ConfigError("give --engine NAME (and --data FILE), or a plan file")
    overrides = {
        "engine": args.engine,
        "data": getattr(args, "data", None),
        "text_col": getattr(args, "text_col", None),
        "label_col": getattr(args, "label_col", None),
        "encoding": getattr(args, "encoding", None),
        "profile": args.profile,
        "split_seed": args.split_seed,
        "sample": getattr(args, "sample", None),
        "labelled_size": args.labelled_size,
    }
    if args.test_size is not None:
        overrides["test_size"] = int(args.test_size) if args.test_size >= 1 else float(args.test_size)
    base.update({k: v for k, v in overrides.items() if v is not None})
    sets = {**parse_sets(args.sets), **scale_sets(args, base.get("engine"))}
    if sets:
        base["engine_config"] = {**base.get("engine_config", {}), **sets}
    if not base.get("data") and not base.get("train_file"):
        raise ConfigError("no data: pass --data FILE (or demo:rotten-tomatoes)")
    spec = load_spec(base)
    assert isinstance(spec, RunSpec)
    return spec


def scale_sets(args: argparse.Namespace, engine: str | None) -> dict[str, Any]:
    """``--workers``/``--ray-address`` as engine settings; checked before any data is read."""
    workers = getattr(args, "workers", None)
    address = getattr(args, "ray_address", None)
    if workers is None:
        if address:
            raise ConfigError("--ray-address goes with --workers N")
        return {}
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if not _spreads(engine or ""):
        can = ", ".join(n for n in engine_names() if _spreads(n))
        raise ConfigError(
            f"--workers spreads a full run over Ray workers; engine {engine!r} runs in one process (try {can})"
        )
    if workers > 1:
        from engines.ray_cluster import require_ray

        require_ray()
    return {"workers": workers, **({"ray_address": address} if address else {})}


def _spreads(engine: str) -> bool:
    """Its full run (``scales_out``) or its index (``index_scales_out``: contrastive) goes on Ray workers."""
    return bool(flag(engine, "scales_out") or flag(engine, "index_scales_out"))


class ProgressBar:
    """One tqdm bar per phase on stderr, with rate and ETA."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._phase: str | None = None

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm import tqdm

        if event.phase != self._phase or self._bar is None or (event.total != self._bar.total and event.done == 0):
            self.close()
            self._phase = event.phase
            self._bar = tqdm(
                total=event.total,
                desc=event.phase,
                unit=event.unit.rstrip("s") or "it",
                file=sys.stderr,
                disable=not self._enabled(),
                ncols=shutil.get_terminal_size((100, 24)).columns,
                leave=False,
            )
        self._bar.n = event.done
        if event.message:
            self._bar.set_postfix_str(event.message, refresh=False)
        self._bar.refresh()

    def _enabled(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        try:  # a bar on a terminal; none in logs and pipes
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def default_out(engine: str) -> Path:
    return Path("runs") / f"{engine}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_summary(manifest: Any, out: Path) -> str:
    m, f, s = manifest.metrics, manifest.fit, manifest.speed
    lines = [
        f"artifact: {out}",
        f"engine: {manifest.engine}" + (f" ({manifest.model_name})" if manifest.model_name else ""),
        (
            f"held-out: accuracy {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f} on {m.n} rows "
            f"(trained on {manifest.split.n_train})"
        ),
        f"training: {f.wall_s:.1f} s"
        + (f", {f.train_examples_per_s:.1f} examples/s" if f.train_examples_per_s else "")
        + f", stopped: {f.stopped}",
    ]
    if manifest.split.test_overlap:
        lines.append(
            f"warning: {manifest.split.test_overlap:,} held-out row(s) also appear in the training data "
            "(same text); the held-out scores are inflated"
        )
    if s is not None:
        b1, bn = s.batch_sizes
        lines.append(
            f"inference: {s.texts_per_s:.1f} texts/s at batch {bn}; latency p50 "
            f"{s.latency_ms_p50.get(b1, float('nan')):.1f} ms/text at batch 1"
        )
    return "\n".join(lines)


def interruptible(work: Any) -> Any:
    """``work(bar, cancel)`` with a progress bar; the first Ctrl-C sets ``cancel`` (stop at a safe point),
    a second one interrupts at once."""
    cancel = threading.Event()
    bar = ProgressBar()

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping at the next safe point (Ctrl-C again to abort now)…", file=sys.stderr)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return work(bar, cancel)
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    from advisor.commands.task_handlers import handlers, task_of_run

    task = handlers(task_of_run(args))
    return int(task.run(args, task.run_spec(args)))


def run_labelled(args: argparse.Namespace, spec: Any) -> int:
    """A classification run of ``spec`` into --out (a new folder by default), with a progress bar."""
    from advisor.run.fullrun import full_run

    if args.resume and not args.out:
        raise ConfigError("--resume needs the --out folder of the interrupted run")
    out = Path(args.out) if args.out else default_out(spec.engine)
    manifest = interruptible(
        lambda bar, cancel: full_run(
            spec, out, resume=args.resume, overwrite=args.overwrite, progress=bar, cancel=cancel
        )
    )
    if args.json:
        print(manifest.model_dump_json(indent=2))
    else:
        print(run_summary(manifest, out))
    return 0
