"""The benchmark's planner: pure budget arithmetic (split, curve and fine-tune sizes, costs, the
trainers' reserve, cross-fit folds). No models, no torch: measured rates and seconds left come in
as arguments, and the fine-tune recipe is asked of ``engines.finetune``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# Defaults for settings a profile's BenchSettings may not have (see setting).
DEFAULTS: dict[str, Any] = {
    "test_size": 1000,  # held-out rows where the data and budget allow
    "cheap_seeds": 3,  # seeds for tfidf / embedding curves
    "finetune_seeds": 2,
    "top_up_seeds": 3,  # most extra fine-tune seeds bought with budget left over (decision still open)
    "crossfit": False,  # budget left over and the decision open: cross-fit every approach on the sample first
    "max_sizes": 5,  # training sizes per curve (halving down from the pool)
    "min_size": 32,  # smallest training size (n = 64 is mostly noise; 32 only on tiny data)
    "speed_texts": 64,  # texts for measure_speed
    "time_start_up": True,  # time each engine's start-up in a new process (a full run pays it)
    "start_up_cache_days": 0.0,  # days a start-up timing is remembered on disk (profiles: 7; 0: every advise)
}
MIN_TEST = 100
TEST_SHARE = 0.4  # most of the sample the held-out test part may take
# Share of the budget each stage may use (of what is left when it starts).
SHARE_CHEAP = 0.25  # a cheap approach that caches nothing (TF-IDF), when others follow
SHARE_PREPARE = 0.7  # caching the vectors of the test part and the pool (embeddings), trainers following
SHARE_TRAINER = 0.75  # a trainer's curve, when another trainer follows
# Training one example costs several inference passes (forward + backward + optimizer, at a smaller batch):
# used only to plan the first fine-tune point before it is measured, where this machine's own ratio is not
# remembered (``train_speed``: probe --start-up --data, or an earlier advise). Measured on the 2-core development
# machine (MiniLM-L6, Rotten Tomatoes, 2026-12-04): 252 texts/s embedded vs 42 examples/s trained at batch 16.
TRAIN_VS_INFER_COST = 5.5
CURVE_STOPS = ("completed", "early_stopping")
BENCH_CHECKPOINT_EVERY = 10**6  # benchmark fits write only their final checkpoint
PROBE_TEXTS = 256  # texts the load probe embeds to measure the bulk rate
MIN_SIZE_RATIO = 1.5  # consecutive learning-curve sizes at least this far apart
CROSSFIT_SLACK = 1.1  # the cross-fit runs only if its estimated cost × this fits (a fold cut short is wasted)
# LoRA updates a small share of the weights; where full fine-tuning fits in memory it can win only by
# being faster. It is benchmarked only when, under the goals' weights, its forecast full-run time is worth
# more than this many points of the goals' metric against full fine-tuning's: about what it trailed full
# fine-tuning by at the median of the LoRA grid's 12 tasks (1.1 points; docs/RECIPES.md#loras-recipe-2026-12-07).
LORA_DEFICIT = 0.01
CV_FOLDS = 5  # folds of the cheap approaches' cross-validation (each fit on ~80 % of the labelled rows)
CV_SHARE = 0.3  # the most of what is left (after the trainers' reserve) a cheap cross-validation may cost
LORA_PROBE_S = 12.0  # seconds of LoRA training that measure its speed
# A fine-tune fit the budget stops after this share of its recipe's steps is still scored and kept as a
# curve point (its forecast's upper end then allows for the steps it missed): a point 145 steps into 150
# is a measurement, not a loss, and a call must not flip on whether the last few steps fitted the budget.
PARTIAL_MIN = 0.8
COST_EXPONENT = 1.3  # a cheap fit's seconds grow ∝ n^1.3 (guessing the next size from the last)


# ------------------------------------------------------------------ settings
def config_get(config: Any, key: str, default: Any) -> Any:
    """One setting of an engine config (a pydantic model, a dict, or None: the default)."""
    if isinstance(config, dict):
        return config.get(key, default)
    return getattr(config, key, default) if config is not None else default


def setting(settings: Any, name: str) -> Any:
    """A BenchSettings field, or its ``DEFAULTS`` value when missing or None."""
    value = getattr(settings, name, None) if settings is not None else None
    return DEFAULTS[name] if value is None else value


def seeds(settings: Any, name: str, base: int) -> list[int]:
    """The seeds a setting asks for (a count or a list), from ``base`` up; at least one."""
    value = setting(settings, name)
    count = len(value) if isinstance(value, list | tuple) else int(value)
    return [base + i for i in range(max(1, count))]


# --------------------------------------------------------------- fine-tune recipe
def finetune_steps(config: Any, n: int) -> tuple[int, int]:
    """(optimizer steps, batch) the full run's recipe takes on ``n`` labelled examples: the
    engine's own arithmetic (``engines.finetune.recipe``)."""
    from engines.finetune import recipe

    return recipe(config, n)


def valid_share(config: Any) -> float:
    """Share of the labelled rows a fine-tune fit holds out for early stopping (0 when it is off)."""
    from engines.finetune import held_out_share

    return held_out_share(config)


def finetune_examples(config: Any, n: int) -> int:
    """Training examples (steps × batch) the recipe processes on ``n`` labelled rows."""
    steps, batch = finetune_steps(config, n)
    return steps * batch


def finetune_fit_s(
    config: Any, n: int, *, rate: float, infer_rate: float, scored_rows: int, load_s: float | None
) -> float:
    """Seconds one fine-tune fit on ``n`` rows costs: the recipe's examples at ``rate``, its
    validation passes and scoring ``scored_rows`` at ``infer_rate``, and the model load."""
    from engines.finetune import recipe_config

    steps, batch = finetune_steps(config, n)
    every = int(recipe_config(config).eval_every_steps)
    valid_s = steps // every * valid_share(config) * n / infer_rate
    return steps * batch / rate + valid_s + scored_rows / infer_rate + (load_s or 3.0)


# --------------------------------------------------------------------- split
def wanted_test_rows(settings: Any, budget_s: float) -> int:
    """Held-out rows wanted: the profile's ``test_sizes`` entry for the largest named budget
    ``budget_s`` covers (bigger budgets buy tighter intervals), else ``test_size``."""
    named = getattr(settings, "budgets_s", None) or {}
    sizes = getattr(settings, "test_sizes", None) or {}
    covered = [(s, name) for name, s in named.items() if s <= budget_s + 1e-9 and name in sizes]
    if covered:
        return int(sizes[max(covered)[1]])
    return int(setting(settings, "test_size"))


def min_test_rows(test_n: int, total: int, n_classes: int) -> int:
    """The fewest held-out rows a split keeps: ``MIN_TEST`` (a third of small samples), 2 a class."""
    return max(test_n, min(MIN_TEST, total // 3), 2 * n_classes)


def planned_test_rows(settings: Any, budget_s: float, sample_n: int, n_classes: int) -> int:
    """Held-out rows a benchmark of ``budget_s`` plans on a sample of ``sample_n`` rows: what
    ``split_rows`` gives before it measures the embedding speed (which can only lower it)."""
    return min_test_rows(min(wanted_test_rows(settings, budget_s), int(sample_n * TEST_SHARE)), sample_n, n_classes)


def split_rows(
    total: int,
    n_classes: int,
    *,
    wanted_test: int,
    labelled_size: int | None,
    left_s: float,
    trainer_reserve_s: float,
    embed_rate: float | None,
) -> tuple[int, int]:
    """(test rows, pool rows) of a sample of ``total`` rows: the wanted test part (at most
    ``TEST_SHARE``), the pool at most the labelled size, and both within what embedding them at
    ``embed_rate`` in ``SHARE_PREPARE`` of the time left after the trainers' reserve allows."""
    test_n = min(wanted_test, int(total * TEST_SHARE))
    affordable = None
    if embed_rate:
        affordable = embed_rate * max(0.0, left_s - trainer_reserve_s) * SHARE_PREPARE
        test_n = min(test_n, int(affordable * TEST_SHARE))
    test_n = min_test_rows(test_n, total, n_classes)
    pool_n = total - test_n
    if labelled_size:
        pool_n = min(pool_n, labelled_size)
    if affordable is not None:
        pool_n = min(pool_n, max(int(affordable - test_n), 4 * n_classes, 64))
    pool_n = max(min(pool_n, total - test_n), n_classes)
    return test_n, pool_n


# --------------------------------------------------------------------- sizes
def curve_sizes(pool_n: int, n_classes: int, *, max_sizes: int, min_size: int) -> list[int]:
    """Halving sizes from the pool down to ``min_size`` (≥ 2 per class), ascending."""
    floor = max(min_size, 2 * n_classes)
    sizes: list[int] = []
    n = pool_n
    while n >= floor and len(sizes) < max_sizes:
        sizes.append(n)
        n //= 2
    if not sizes:
        sizes = [pool_n]
    return sorted(sizes)


def spaced(sizes: set[int], top: int) -> list[int]:
    """``top`` and the sizes below it, largest first, each kept only if it is at most
    1/``MIN_SIZE_RATIO`` of the last one kept (ascending). Two sizes close together add a point
    that says little and make the fits' held-back step (the last two sizes) so short that the
    interval's extrapolation term, scaled by reach / step, blows up."""
    kept = [top]
    for n in sorted((s for s in sizes if s < top), reverse=True):
        if n * MIN_SIZE_RATIO <= kept[-1]:
            kept.append(n)
    return sorted(kept)


def ladder(sizes: list[int]) -> list[int]:
    """``sizes`` with doublings filled in between the largest listed size and the top."""
    out = sorted(set(sizes))
    if len(out) >= 2:
        top, n = out[-1], out[-2] * 2
        while n < top * 0.75:
            out.append(n)
            n *= 2
    return sorted(set(out))


def profile_sizes(settings: Any, key: str, pool_n: int, n_classes: int, extra: int | None = None) -> list[int]:
    """The profile's sizes (``settings.<key>``) that fit the pool, plus the pool itself (or
    ``extra``) on top, spaced at least ``MIN_SIZE_RATIO`` apart; halving sizes from the top when
    the profile has none or fewer than three fit (a small pool)."""
    listed = getattr(settings, key, None) if settings is not None else None
    floor = 2 * n_classes
    if not listed:
        return curve_sizes(
            pool_n,
            n_classes,
            max_sizes=int(setting(settings, "max_sizes")),
            min_size=int(setting(settings, "min_size")),
        )
    top = extra if extra is not None else pool_n
    if top < floor:  # fewer rows than two per class: no size but the pool
        return [pool_n]
    sizes = {int(s) for s in listed if floor <= s <= top}
    kept = spaced(sizes, top)
    if len(kept) < 3:  # a small pool: halve down from it for a curve (a fit needs three sizes)
        halves = curve_sizes(top, n_classes, max_sizes=3, min_size=min(int(setting(settings, "min_size")), top))
        kept = spaced(sizes | set(halves), top)
    return kept


def guess_cheap_s(cost: dict[int, float], n: int) -> float:
    """Seconds a cheap fit on ``n`` rows is guessed to take from the largest measured one
    (∝ n^``COST_EXPONENT``); 0 before any was measured."""
    if n in cost:
        return cost[n]
    if not cost:
        return 0.0
    m = max(cost)
    return cost[m] * (n / m) ** COST_EXPONENT


def finetune_sizes(config: Any, settings: Any, pool_n: int, n_classes: int) -> tuple[list[int], list[int]]:
    """(sizes that all cost the recipe's minimum steps, larger sizes up to the pool).

    Below the size where epochs·n/batch reaches min_steps (``engines.finetune.min_steps_rows``)
    every point costs the same, so the largest such size (within the pool) tops the cheap sizes.
    Above it each point costs more, and is worth more: it is nearer the labelled size, trained on
    the full run's recipe. Those sizes double up to the pool (the pool itself last)."""
    from engines.finetune import min_steps_rows

    same_cost = min_steps_rows(config)
    cheap = profile_sizes(settings, "finetune_sizes", pool_n, n_classes, extra=min(pool_n, same_cost))
    above = [n for n in ladder([max(cheap), pool_n]) if n > max(cheap)] if pool_n > max(cheap) else []
    return cheap, above


def finetune_order(cheap: list[int], above: list[int], seed_list: Sequence[int]) -> list[tuple[int, int]]:
    """(size, seed) of the fine-tune points, most informative first: the largest cheap size; the
    bigger sizes, largest first; the other cheap sizes; then the two largest sizes per further seed."""
    sizes = sorted({*cheap, *above})
    rest = sorted(cheap, reverse=True)[1:]
    first = seed_list[0]
    order = [(max(cheap), first), *[(n, first) for n in sorted(above, reverse=True)], *[(n, first) for n in rest]]
    return order + [(n, s) for s in seed_list[1:] for n in sorted(sizes, reverse=True)[:2]]


# ------------------------------------------------------------------- budgets
def trainer_reserve(
    left_s: float,
    n_trainers: int,
    *,
    embed_rate: float | None,
    first_examples: int,
    test_rows: float,
    alternative_probe: bool,
    train_vs_infer: float = TRAIN_VS_INFER_COST,
) -> float:
    """Seconds kept for the trainers: their first point (and an alternative's speed probe, e.g.
    LoRA's) when that is affordable, with a margin, its cost estimated from the embedding speed;
    else a short throughput probe each (``train_vs_infer``: embedding ÷ training speed, this machine's
    own where remembered). The first fine-tune point is what a call between
    fine-tuning and the rest turns on: the cheap approaches get what is left around it."""
    if not n_trainers:
        return 0.0
    probe = min(20.0, 0.2 * left_s) * n_trainers
    if not embed_rate:
        return min(0.5 * left_s, max(probe, 0.3 * left_s))
    rate = embed_rate / train_vs_infer
    one = first_examples / rate + test_rows / embed_rate
    if alternative_probe:
        one += LORA_PROBE_S
    if 1.15 * one <= 0.8 * left_s:
        return min(0.8 * left_s, max(1.15 * one, min(0.65 * left_s, 2.5 * one)))
    return probe


def trainer_probe_s(left_s: float, reserve_s: float) -> float:
    """Seconds of a throughput probe for a trainer none of whose points fits: long enough for
    several optimizer steps after the model load."""
    return min(max(12.0, (left_s - reserve_s) * 0.5), 30.0)


# ----------------------------------------------------------------- cross-fits
def crossfit_folds(cheap: bool, rarest_class_rows: int) -> int:
    """Folds of a cross-fit: ``CV_FOLDS`` for a cheap approach (each fit then trains on most of the
    rows, near the labelled size), two for a trainer (each fit costs minutes); never more than the
    rarest class has rows."""
    return int(max(2, min(CV_FOLDS if cheap else 2, rarest_class_rows)))


def crossfit_train_rows(rows: int, folds: int, labelled_size: int | None) -> int:
    """Rows each cross-fit fit trains on: the rows outside its fold, at most the labelled size
    (more would train on more rows than the full run will)."""
    n = rows - math.ceil(rows / folds)
    return min(n, labelled_size) if labelled_size else n


def cheap_crossfit_s(folds: int, top_fit_s: float, top_n: int, n: int) -> float:
    """Seconds of a cheap approach's cross-fit: ``folds`` fits on ``n`` rows, each guessed from its
    largest curve point (``top_fit_s`` on ``top_n`` rows)."""
    return folds * top_fit_s * max(1.0, n / top_n) ** COST_EXPONENT
