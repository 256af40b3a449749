"""The trainers' stages (engines without ``cheap_fits``: fine-tuning, LoRA): what a point costs,
the sizes they can afford, a throughput probe when none fits, top-up seeds with budget left
over, and whether an alternative trainer (``alternative_to``, LoRA) is worth benchmarking."""

from __future__ import annotations

import math
from collections.abc import Sequence

from advisor.measure import fits, plan
from advisor.measure.results import partial_result
from advisor.measure.session import Session, nested
from engines.base import Examples


def partner(s: Session, name: str) -> str | None:
    """The trainer ``name`` is an alternative to, or the one that is an alternative to it (LoRA ↔
    full fine-tuning): its throughput stands in before ``name``'s own is measured."""
    other = s.kind(name).alternative_to
    if other is not None:
        return other
    return next((e for e in s.engines if s.kind(e).alternative_to == name), None)


def finetune_cost(s: Session, name: str, n: int, score_rows: int | None = None) -> float | None:
    """Seconds one fine-tune point at ``n`` is expected to take (None: no throughput known):
    the recipe's examples, its validation passes and the final scoring on the test part
    (or on ``score_rows`` rows)."""
    t = s.tally[name]
    rate = t.train_examples_per_s
    emb_rate = s.embed_rate()
    if rate is None:
        other_name = partner(s, name)
        other = s.tally.get(other_name) if other_name is not None else None
        rate = (other.train_examples_per_s if other else None) or (emb_rate / s.train_vs_infer if emb_rate else None)
    if not rate:
        return None
    infer = emb_rate or rate * s.train_vs_infer
    scored = len(s.split_test) if score_rows is None else score_rows
    return plan.finetune_fit_s(s.configs.get(name), n, rate=rate, infer_rate=infer, scored_rows=scored, load_s=t.load_s)


def scoring_s(s: Session, name: str) -> float:
    """Seconds scoring a fit on the test part takes (at the measured inference speed): a fit's
    budget leaves them, so that a point planned to fit the budget is scored inside it too."""
    rate = s.embed_rate()
    if not rate:
        train = s.tally[name].train_examples_per_s
        rate = train * s.train_vs_infer if train else None
    return len(s.test) / rate if rate and s.test is not None else 0.0


def plan_trainers(s: Session, embed_rate: float | None) -> float:
    """Seconds kept for the trainers (``plan.trainer_reserve``), the start-ups paid."""
    trainers = s.trainers()
    if not trainers:
        return 0.0
    test_rows = min(plan.wanted_test_rows(s.settings, s.clock.budget_s), plan.TEST_SHARE * len(s.sample))
    first = trainers[0]
    return plan.trainer_reserve(
        s.clock.left,
        len(trainers),
        embed_rate=embed_rate,
        test_rows=test_rows,
        first_examples=plan.finetune_examples(s.configs.get(first), 0),
        alternative_probe=any(s.kind(t).alternative_to for t in trainers[1:]),
        train_vs_infer=s.train_vs_infer,
    )


def finetune_curve(s: Session, name: str, pool: Examples, share: float, reserve_s: float) -> None:
    """The sizes fine-tuning can afford from ``pool``, most informative first
    (``plan.finetune_order``); a throughput probe when none fits.

    A bigger size runs only while it leaves room for two cheap points (a curve needs three sizes)
    and, past the largest, for the cross-fit."""
    from advisor.measure import crossfits

    start = s.clock.elapsed
    allowance = max(0.0, (s.clock.left - reserve_s) * share)
    cheap, above = plan.finetune_sizes(s.configs.get(name), s.settings, len(pool), len(s.classes))
    sizes = sorted({*cheap, *above})
    seeds = plan.seeds(s.settings, "finetune_seeds", s.seed)
    rest = sorted(cheap, reverse=True)[1:]
    subsets: dict[int, dict[int, Examples]] = {}
    ran_usable = above_ran = 0
    for n, seed in plan.finetune_order(cheap, above, seeds):
        s.check()
        left = allowance - (s.clock.elapsed - start)
        cost = finetune_cost(s, name, n)
        # Before this engine's own throughput is known the cost is a guess from the
        # embedding speed: try the point whenever it plausibly fits. ``budget_s`` bounds
        # it, and a point the budget cuts short still measures throughput.
        known = bool(s.tally[name].train_examples_per_s)
        slack = 1.1 if known else 0.6
        if n in above and seed == seeds[0]:
            if not known:
                continue
            # Keep room for the cheap sizes still to run (two at most), and past the largest
            # size for the cross-fit, which scores every sample row (an intermediate size
            # scores the test part, and only shapes the curve between two measured sizes).
            keep = (finetune_cost(s, name, max(cheap)) or 0.0) * min(2, len(rest))
            reserve = crossfits.crossfit_reserve(s) if above_ran else 0.0
            if cost is None or cost * slack + keep * slack + reserve > left:
                continue
        elif cost is not None and cost * slack > left:
            continue
        if cost is None and left <= 0:
            break
        if seed not in subsets:
            subsets[seed] = dict(zip(sizes, nested(pool, sizes, seed), strict=True))
        point, _ = fits.fit_point(s, name, subsets[seed][n], seed, budget_s=max(left - scoring_s(s, name), 1.0))
        ran_usable += point.usable
        above_ran += n in above
        if not point.usable:
            break
        if s.settled is not None and ran_usable >= 1 and s.settled(partial_result(s)):
            s.notes.append(f"stopped {name} points early: the decision was already clear")
            break
    t = s.tally[name]
    if ran_usable == 0 and not s.points[name]:
        # Nothing affordable: a short probe for throughput and memory (not a curve point).
        probe_s = plan.trainer_probe_s(s.clock.left, reserve_s)
        if s.clock.left > 5.0:
            sub = nested(pool, [max(cheap)], s.seed)[0]
            guess = finetune_cost(s, name, max(cheap)) or 0.0
            probe, _ = fits.fit_point(s, name, sub, s.seed, budget_s=probe_s, usable_if=("completed",))
            one = finetune_cost(s, name, max(cheap)) or guess  # at the pace the probe measured
            guessed = f", planned as ~{guess:.0f}s" if guess and abs(one - guess) > 0.15 * guess else ""
            t.unmeasured = (
                f"no fine-tune point fits this budget (one costs ~{one:.0f}s{guessed}); a {probe_s:.0f}s throughput "
                f"probe ran {probe.steps} of its {plan.finetune_steps(s.configs.get(name), len(sub))[0]} steps "
                "instead (not a curve point)"
            )
        else:
            t.unmeasured = "no budget was left for it"
    elif not any(p.usable for p in s.points[name]) and s.points[name]:
        cut = s.points[name][-1]
        planned = plan.finetune_steps(s.configs.get(name), cut.n_train)[0]
        t.unmeasured = (
            f"the budget stopped its n={cut.n_train} fit after {cut.steps} of {planned} steps "
            f"(under {100 * plan.PARTIAL_MIN:.0f} %: not scored)"
        )
    t.spent_s = s.clock.elapsed - start


def top_up(s: Session, names: Sequence[str], pool: Examples, reserve_s: float) -> None:
    """Budget left over after every planned point, and the decision still open: more seeds
    of the trainers at their two largest measured sizes (the points the forecast leans on;
    seed-to-seed spread there is what the planned single seed cannot show), largest first,
    while a point fits and until the decision is clear. Cheap approaches already ran their
    seeds, and at the pool size more seeds of them are the same fit."""
    if s.settled is None:
        return
    for name in names:
        usable = [p for p in s.points[name] if p.usable]
        if not usable:
            continue
        if s.settled(partial_result(s)):
            return
        sizes = sorted({p.n_train for p in usable}, reverse=True)[:2]
        first = max(p.seed for p in s.points[name]) + 1
        added, done = 0, False
        for seed in range(first, first + int(plan.setting(s.settings, "top_up_seeds"))):
            ran = 0
            for n in sizes:
                s.check()
                cost = finetune_cost(s, name, n)
                if cost is None or cost * 1.1 > s.clock.left - reserve_s:
                    continue
                sub = nested(pool, [n], seed)[0]
                point, _ = fits.fit_point(
                    s, name, sub, seed, budget_s=max(s.clock.left - reserve_s - scoring_s(s, name), 1.0)
                )
                ran += 1
                added += point.usable
                done = not point.usable or s.settled(partial_result(s))
                if done:
                    break
            if done or not ran:  # settled, a failed fit, or nothing fits any more
                break
        if added:
            s.notes.append(
                f"{name}: {added} more seed(s) at n={', '.join(map(str, sizes))} with the budget "
                "left over, as the decision was still open"
            )


def alternative_left_out(s: Session, name: str, pool: Examples) -> bool:
    """Whether ``name`` (an ``alternative_to`` trainer: LoRA) is left out: the trainer it is an
    alternative to was measured here (so it fits in memory), and a short probe shows that
    ``name``'s full run, though faster, would not be worth ``LORA_DEFICIT`` of the goals' metric
    under their weights (``time_worth``). Then it cannot win where it trails by that much, and
    benchmarking it would only spend the budget and leave the call open. The reason, with both
    forecast times, goes to the advice."""
    full_name = s.kind(name).alternative_to
    full_tally = s.tally.get(full_name) if full_name is not None else None
    full = full_tally.train_examples_per_s if full_tally else None
    if full_name not in s.engines or not full or not any(p.usable for p in s.points[full_name]):
        return False
    if s.clock.left < plan.LORA_PROBE_S + 5.0:
        s.left_out[name] = (
            "LoRA left out: no budget was left to measure it after full fine-tuning, which fits in memory here"
        )
        return True
    cheap, _ = plan.finetune_sizes(s.configs.get(name), s.settings, len(pool), len(s.classes))
    sub = nested(pool, [max(cheap)], s.seed)[0]
    s.emit(name, "plan", f"a {plan.LORA_PROBE_S:.0f}s probe: can LoRA's speed pay for its accuracy here?")
    start = s.clock.elapsed
    report = fits.fit(s, name, sub, s.seed, budget_s=plan.LORA_PROBE_S, what="speed probe: ")
    s.tally[name].spent_s = s.clock.elapsed - start
    rate = report.train_examples_per_s
    if rate is None:
        return False
    n = s.labelled_size or len(s.sample)
    t_lora = plan.finetune_examples(s.configs.get(name), n) / rate
    t_full = plan.finetune_examples(s.configs.get(full_name), n) / full
    worth = s.time_worth(t_lora, t_full) if s.time_worth else math.inf
    if worth >= plan.LORA_DEFICIT:
        fits.record_fit(s, name, report)  # its throughput plans the LoRA points
        return False
    s.left_out[name] = (
        f"LoRA left out: full fine-tuning fits in memory here, and LoRA's full run (~{t_lora:.0f}s of training "
        f"at {rate:.1f} examples/s, measured) against full fine-tuning's (~{t_full:.0f}s at {full:.1f}) is worth "
        f"{100 * worth:.2f} points of your metric under your goals' weights: less than the "
        f"{100 * plan.LORA_DEFICIT:.0f} point LoRA is taken to trail full fine-tuning by, so it is not benchmarked "
        "(in the LoRA grid's full runs it trailed by 1.1 points at the median of 12 tasks and led on 3 by up "
        "to 2.5: docs/RECIPES.md)"
    )
    return True
