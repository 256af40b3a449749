"""The cheap approaches' stages (engines with ``cheap_fits``): caching the vectors of the test
part and the pool once (engines with ``caches_vectors``), then many sizes × seeds within a share
of the budget."""

from __future__ import annotations

import time

from advisor.measure import fits, plan
from advisor.measure.session import Session, nested
from engines.base import Examples


def prepare_vectors(s: Session, name: str, share: float, reserve_s: float = 0.0) -> int | None:
    """Cache ``name``'s vectors of the test part, then of the pool, within ``share`` of what is left
    after ``reserve_s``. Returns the pool rows embedded when the budget cut it short (fits on the
    rest would re-embed), else None."""
    eng = s.engine(name)
    t = s.tally[name]
    allowance = max(0.0, s.clock.left - reserve_s) * share
    start = s.clock.elapsed
    test = s.split_test
    texts = list(test.texts) + list(s.split_pool.texts)
    chunk = 256
    done = fresh = 0
    for i in range(0, len(texts), chunk):
        s.check()
        if i >= len(test) and s.clock.elapsed - start > allowance:
            # Keep the pool to what was embedded; fits on the rest would re-embed.
            embedded = i - len(test)
            t.notes.append(f"pool cut to {embedded} embedded rows to stay within the budget")
            t.pool_cut = max(embedded, 2 * len(s.classes))
            break
        part = texts[i : i + chunk]
        eng.prepare(part, progress=s.relay(name), cancel=s.cancel)
        done += len(part)
        fresh += sum(text not in s.probed for text in part)
        s.emit(name, "prepare", f"embedded {done}/{len(texts)} texts", done, len(texts))
    took = s.clock.elapsed - start
    if fresh >= 64 and took > 0:  # too few new texts: keep the probe's rate
        t.prepare_texts_per_s = fresh / took
    return t.pool_cut


def cheap_curve(
    s: Session, name: str, pool: Examples, share: float, reserve_s: float = 0.0, floor_s: float = 0.0
) -> None:
    """Many sizes × seeds from ``pool`` for an approach whose fits are cheap, within ``share`` of
    what is left after ``reserve_s`` (kept for later steps).

    Seed 0 climbs the sizes (doubling from the profile's up to the pool) while the next
    point's cost, guessed from the last one (∝ n^1.3), fits; when the pool itself does
    not, one point at the largest size that fits is run instead: the point nearest the
    forecast target is worth most. Further seeds repeat the sizes that ran, smallest
    first, while the budget lasts. One point always runs; ``floor_s`` is the least the
    curve may spend (taken from later steps' share, never from ``reserve_s``)."""
    start = s.clock.elapsed
    free = max(0.0, s.clock.left - reserve_s)
    allowance = min(free, max(free * share, floor_s))
    sizes = plan.ladder(plan.profile_sizes(s.settings, "train_sizes", len(pool), len(s.classes)))
    seeds = plan.seeds(s.settings, "cheap_seeds", s.seed)
    if not s.kind(name).caches_vectors and plan.setting(s.settings, "crossfit"):
        # Its cross-validation on every labelled row gives the value; the curve only the gain
        # to the labelled size: one seed of its (second-long) fits is enough.
        seeds = seeds[:1]
    cost: dict[int, float] = {}

    def affordable(n: int) -> bool:
        spent = s.clock.elapsed - start
        guess = plan.guess_cheap_s(cost, n)
        return spent + guess <= allowance and guess <= s.clock.left - reserve_s

    def run(n: int, seed: int) -> None:
        s.check()
        sub = nested(pool, [n], seed)[0]
        t0 = time.perf_counter()
        fits.fit_point(s, name, sub, seed, budget_s=max(s.clock.left - reserve_s, 1.0))
        cost[n] = time.perf_counter() - t0

    ran: list[int] = []
    for n in sizes:
        if ran and not affordable(n):
            break
        run(n, seeds[0])
        ran.append(n)
    if ran and ran[-1] < sizes[-1]:
        left = allowance - (s.clock.elapsed - start)
        top = ran[-1]
        while top < sizes[-1] and plan.guess_cheap_s(cost, min(sizes[-1], int(top * 1.25))) <= left:
            top = min(sizes[-1], int(top * 1.25))
        if top >= 1.3 * ran[-1]:
            run(top, seeds[0])
            ran.append(top)
    stopped = False
    for seed in seeds[1:]:
        for n in ran:
            if not affordable(n):
                stopped = True
                break
            run(n, seed)
        if stopped:
            break
    if stopped or len(ran) < len(sizes):
        s.tally[name].notes.append(
            f"stopped after {len(s.points[name])} points (largest n={max(ran)}): its share of the budget was spent"
        )
    s.tally[name].spent_s = s.clock.elapsed - start
