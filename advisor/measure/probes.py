"""Measurements around the fits: each engine's start-up (timed in a new process, then warmed up
here so no fit pays for it), the vector-caching engine's bulk rate, and inference speed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.measure import plan
from advisor.measure.session import Session, bench_engine
from engines.base import get_engine

if TYPE_CHECKING:
    from advisor.machine.startup import StartUp


def start_up_cache(settings: Any) -> tuple[Path | None, float]:
    """The file start-up timings are remembered in, and for how many days: (None, 0) where the
    profile remembers none (``start_up_cache_days = 0``: every advise times them)."""
    from advisor.machine.startup import CACHE_NAME

    days = float(plan.setting(settings, "start_up_cache_days"))
    if days <= 0:
        return None, 0.0
    from engines.models import cache_root

    return cache_root() / CACHE_NAME, days


def time_start_ups(
    engines: Sequence[str],
    configs: Mapping[str, Any],
    settings: Any,
    *,
    before: Callable[[str], None] | None = None,
) -> dict[str, StartUp]:
    """Each of ``engines``' start-up timed now in a new process, outside any budget, and remembered
    as a benchmark remembers it (``start_up_cache``): the next advise on this machine then spends
    all of its budget on the benchmark. ``before(name)`` is called as each timing starts. An engine
    timed in the last ``start_up_cache_days`` is not timed again (its remembered timing comes back)."""
    from advisor.machine.startup import time_start_up

    cache, days = start_up_cache(settings)
    timed = {}
    for name in engines:
        if before is not None:
            before(name)
        eng = bench_engine(get_engine(name), configs.get(name))
        timed[name] = time_start_up(type(eng), eng.config, cache=cache, max_age_s=days * 86400.0)
    return timed


def start_up(s: Session, name: str) -> None:
    """Time ``name``'s warm-up in a new process (the imports and model load a full run pays
    before training), then warm it up here, so that no benchmark fit pays for them."""
    from advisor.machine.startup import time_start_up, timed_on

    s.check()
    eng = s.engine(name)
    t = s.tally[name]
    said = "not measured"  # switched off in the profile: the forecasts use the load seen here
    if plan.setting(s.settings, "time_start_up"):
        s.emit(name, "load", "timing a new process's start-up")
        cache, days = start_up_cache(s.settings)
        timed = time_start_up(
            type(eng),
            eng.config,
            timeout_s=max(15.0, min(120.0, s.clock.left)),
            cancel=s.cancel,
            cache=cache,
            max_age_s=days * 86400.0,
        )
        s.check()
        if timed.seconds is None:
            t.notes.append(f"a new process's start-up was not measured: {timed.error}")
        else:
            t.start_s = timed.seconds
            said = f"{timed.seconds:.1f}s in a new process"
            if timed.timed_at is not None:
                said += f" (timed {timed_on(timed.timed_at)}, remembered in {cache})"
                s.remembered[name] = (timed.seconds, timed.timed_at, str(cache))
    t0 = time.perf_counter()
    eng.warm_up()
    t.load_s = time.perf_counter() - t0
    s.emit(name, "load", f"start-up {said}; loaded here in {t.load_s:.1f}s")


def note_remembered(s: Session) -> None:
    """One note for every start-up taken from the disk instead of timed (not one per approach), and
    for this machine's training ÷ embedding speed where the plan uses a remembered one."""
    from advisor.machine.startup import timed_on

    parts = []
    if s.remembered:
        ats = [at for _, at, _ in s.remembered.values()]
        first, last = timed_on(min(ats)), timed_on(max(ats))
        each = ", ".join(f"{name} {seconds:.1f}s" for name, (seconds, _, _) in s.remembered.items())
        cache = next(iter(s.remembered.values()))[2]
        parts.append(
            f"start-ups in a new process remembered from {first if first == last else f'{first} to {last}'} "
            f"in {cache} ({each}): not timed again, so the budget went to the benchmark"
        )
    if s.train_vs_infer_at is not None:
        parts.append(
            f"the first fine-tune point was planned with this machine's training speed, embedding ÷ "
            f"{s.train_vs_infer:.1f} (measured {timed_on(s.train_vs_infer_at)}), not the assumed "
            f"÷ {plan.TRAIN_VS_INFER_COST:g}"
        )
    if parts:
        s.notes.append("; ".join(parts))


def bulk_rate(eng: Any, texts: Sequence[str], **kw: Any) -> float | None:
    """Texts/s a vector-caching engine (loaded) embeds ``texts`` at: 8 first (a warm-up), then one call
    of up to ``PROBE_TEXTS`` (the engine sorts them by length as the bulk embedding does, so this is the
    rate a pool is embedded at). ``kw`` goes to ``prepare`` (progress, cancel)."""
    eng.prepare(texts[:8], **kw)
    probe = texts[8 : 8 + plan.PROBE_TEXTS]
    t0 = time.perf_counter()
    eng.prepare(probe, **kw)
    return len(probe) / max(time.perf_counter() - t0, 1e-6) if probe else None


def probe_embedding(s: Session) -> float | None:
    """Measure the vector-caching engine's texts/s on a few texts (the model is loaded)."""
    name = s.embedder
    if name is None:
        return None
    texts = s.sample.texts
    t0 = time.perf_counter()
    rate = bulk_rate(s.engine(name), texts, progress=s.relay(name), cancel=s.cancel)
    s.probed = set(texts[: 8 + plan.PROBE_TEXTS])  # cached now: prepare_embeddings' rate must not count them
    s.tally[name].prepare_texts_per_s = rate
    s.tally[name].prepare_s = time.perf_counter() - t0
    s.emit(name, "load", f"{rate or 0:.0f} texts/s")
    return rate


def speed(s: Session, name: str) -> None:
    """Inference throughput and latency at batch 1 and the engine's batch, on the test texts."""
    if not s.points[name] or name not in s.instances:
        return
    s.check()
    s.emit(name, "speed", "measuring inference speed")
    texts = list(s.split_test.texts)
    from engines.metrics import measure_speed

    few = s.clock.budget_s < 150  # quick budgets: fewer texts (the batch size still fills)
    rep = measure_speed(
        s.instances[name],
        texts,
        batch1_texts=8 if few else 32,
        max_texts=32 if few else int(plan.setting(s.settings, "speed_texts")),
    )
    b1, bn = rep.batch_sizes
    t = s.tally[name]
    t.infer_texts_per_s = rep.texts_per_s
    latency = {
        "p50_b1": rep.latency_ms_p50.get(b1),
        "p95_b1": rep.latency_ms_p95.get(b1),
        f"p50_b{bn}": rep.latency_ms_p50.get(bn),
        f"p95_b{bn}": rep.latency_ms_p95.get(bn),
    }
    t.latency_ms = {k: float(v) for k, v in latency.items() if v is not None}
    if rep.peak_rss_bytes:
        t.peak_rss_bytes = max(t.peak_rss_bytes or 0, rep.peak_rss_bytes)
