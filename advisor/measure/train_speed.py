"""How much slower training is than embedding on this machine: what plans the first fine-tune point
before one is measured. Measured by ``probe --data`` (a few optimizer steps) or by an advise,
and remembered beside the start-ups; without one the planner assumes ``plan.TRAIN_VS_INFER_COST``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from advisor.measure import plan
from advisor.measure.probes import bulk_rate, start_up_cache
from advisor.measure.session import Session, bench_engine
from engines.base import Engine, Examples, get_engine

FIELD = "train_vs_infer"  # what the remembered entry holds (in the start-ups' file)
PROBE_STEPS = 12  # optimizer steps that measure the training speed in probe --start-up
MIN_STEPS = 10  # an advise remembers a training speed measured over at least this many steps
BOUNDS = (1.0, 30.0)  # a ratio outside these is a broken measurement, not this machine's


class TrainSpeed(NamedTuple):
    """One measurement: embedding texts/s ÷ training examples/s, both rates, and the file it is
    remembered in (None: the profile remembers none)."""

    ratio: float
    embed_texts_per_s: float
    train_examples_per_s: float
    remembered_in: Path | None


def planning_pair(engines: Sequence[str]) -> tuple[str, str] | None:
    """(trainer, embedder) whose speeds plan the first fine-tune point: the first engine that trains
    (fits that are not cheap) and the first that caches vectors; None without both."""
    kinds = {name: get_engine(name) for name in engines}
    trainer = next((n for n, k in kinds.items() if not k.cheap_fits), None)
    embedder = next((n for n, k in kinds.items() if k.caches_vectors), None)
    return (trainer, embedder) if trainer and embedder else None


def _key(trainer: Engine, embedder: Engine) -> str:
    from advisor.machine.startup import engines_key

    return engines_key(FIELD, trainer, embedder)


def _sane(ratio: float) -> bool:
    return BOUNDS[0] <= ratio <= BOUNDS[1]


def _cache(settings: Any) -> tuple[Path | None, float]:
    """The start-ups' file where the profile remembers them (and times them: ``time_start_up``), else None."""
    return start_up_cache(settings) if plan.setting(settings, "time_start_up") else (None, 0.0)


def recall(s: Session) -> None:
    """Plan with this machine's own ratio where ``probe --data`` or an earlier advise
    remembered one (within the profile's ``start_up_cache_days``)."""
    from advisor.machine import startup

    pair = planning_pair(s.engines)
    cache, days = _cache(s.settings)
    if pair is None or cache is None:
        return
    kept = startup.recall(cache, _key(*(s.engine(n) for n in pair)), days * 86400.0, field=FIELD)
    if kept is not None and _sane(kept[0]):
        s.train_vs_infer, s.train_vs_infer_at = kept


def remember(s: Session) -> bool:
    """Remember the ratio this advise measured (its embedding speed and its first trainer's speed over
    at least ``MIN_STEPS`` steps), for the next advise's plan on this machine; whether it did."""
    from advisor.machine import startup

    pair = planning_pair(s.engines)
    cache, _ = _cache(s.settings)
    if pair is None or cache is None or pair[0] not in s.instances or pair[1] not in s.instances:
        return False
    tally, embed = s.tally[pair[0]], s.embed_rate()
    if not (embed and tally.train_examples_per_s and tally.rate_steps >= MIN_STEPS):
        return False
    ratio = embed / tally.train_examples_per_s
    if not _sane(ratio):
        return False
    startup.remember(cache, _key(*(s.instances[n] for n in pair)), ratio, field=FIELD)
    if s.train_vs_infer_at is None:
        s.notes.append(
            f"this machine's training speed, embedding ÷ {ratio:.1f}, is remembered: the next advise plans its "
            f"first fine-tune point with it (this one assumed ÷ {plan.TRAIN_VS_INFER_COST:g})"
        )
    return True


def measure(engines: Sequence[str], configs: Mapping[str, Any], settings: Any, examples: Examples) -> TrainSpeed | None:
    """Measure the ratio now on ``examples`` (outside any budget): the embedder's bulk rate, then
    ``PROBE_STEPS`` optimizer steps of the trainer, as the benchmark builds both; remembered as an
    advise remembers it. None without a trainer and an embedder, or with fewer than 2 classes."""
    from advisor.machine import startup

    pair = planning_pair(engines)
    if pair is None or len(set(examples.labels)) < 2:
        return None
    trainer_name, embedder_name = pair
    embedder = bench_engine(get_engine(embedder_name), configs.get(embedder_name))
    embedder.warm_up()
    embed = bulk_rate(embedder, examples.texts)
    kind = get_engine(trainer_name)
    config = configs.get(trainer_name)
    trainer = bench_engine(kind, config, max_steps=PROBE_STEPS, valid_fraction=0.0, early_stopping_patience=0)
    trainer.warm_up()
    report = trainer.fit(examples)
    train = report.train_examples_per_s
    if not (embed and train) or not _sane(embed / train):
        return None
    cache, _ = _cache(settings)
    if cache is not None:
        key = _key(bench_engine(kind, config), embedder)
        startup.remember(cache, key, embed / train, field=FIELD)
    return TrainSpeed(embed / train, embed, train, cache)


__all__ = ["TrainSpeed", "measure", "planning_pair", "recall", "remember"]
