"""Micro-benchmarks with fake engines: nested sizes, held-out never trained on, budget, cancel."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import pytest
from fake_engines import FakeEmbedding, FakeFinetune, FakeLora, FakeTfidf, make_examples
from pydantic import BaseModel

from advisor.measure import BenchEvent, run_benchmarks
from engines import base
from engines.base import Examples, FitReport, Predictions


class Settings(BaseModel):
    test_size: int = 200
    train_sizes: list[int] = [50, 100, 200]
    cheap_seeds: int = 2
    finetune_sizes: list[int] = [100, 200]
    finetune_seeds: int = 1
    time_start_up: bool = False  # the fakes load nothing; tests/test_startup.py times real start-ups


def test_nested_points_and_held_out_never_trained(fakes):
    ex = fakes(make_examples(600))
    events: list[BenchEvent] = []
    res = run_benchmarks(
        ex, engines=("tfidf", "embedding", "finetune"), settings=Settings(), budget_s=60, progress=events.append
    )
    assert not res.cancelled
    assert res.test_size == 200 and res.pool_size == 400
    # Held-out test texts never reached any fit.
    test_texts = set(ex.texts) - set().union(FakeTfidf.seen, FakeEmbedding.seen, FakeFinetune.seen)
    assert len(test_texts) == res.test_size  # the pool (400) is used whole at the largest size
    for m in res.measurements.values():
        assert m.points, m.approach
    tf = res.measurements["tfidf"]
    assert sorted({p.n_train for p in tf.points}) == [50, 100, 200, 400]
    assert len({p.seed for p in tf.points}) == 2
    # The fake's curve rises with n, and the measured points show it.
    by_n = {p.n_train: p.accuracy for p in tf.points if p.seed == 0}
    assert by_n[400] > by_n[50]
    assert tf.ci_low is not None and tf.ci_low <= tf.accuracy <= tf.ci_high
    # Embedding prepared every test and pool text once, before its fits.
    assert test_texts <= set(FakeEmbedding.prepared)
    assert FakeEmbedding.seen <= set(FakeEmbedding.prepared)
    # Progress events carried the points live.
    assert sum(1 for e in events if e.point is not None) == sum(len(m.points) for m in res.measurements.values())
    assert res.test_labels is not None and len(res.test_labels) == res.test_size
    # Per-example predictions are kept for bootstraps but not in JSON.
    assert "y_pred" not in res.model_dump_json()


def test_finetune_point_too_costly_becomes_throughput_probe(fakes, monkeypatch):
    ex = fakes(make_examples(600))
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.01)  # 400 examples = 4 s
    monkeypatch.setattr(FakeFinetune, "MIN_EXAMPLES", 2000)  # every point costs 20 s
    t0 = time.perf_counter()
    res = run_benchmarks(ex, engines=("tfidf", "finetune"), settings=Settings(), budget_s=12)
    took = time.perf_counter() - t0
    assert took < 12 * 1.2 + 1
    ft = res.measurements["finetune"]
    assert ft.points and not any(p.usable for p in ft.points)
    assert ft.accuracy is None
    assert ft.train_examples_per_s == pytest.approx(100)
    # Why, with the steps it got: a throughput probe, or the point itself cut short by the budget.
    assert ft.unmeasured is not None
    assert "throughput probe ran" in ft.unmeasured or ft.unmeasured.startswith("the budget stopped its n=")
    assert ft.points[-1].steps and f" {ft.points[-1].steps} of " in ft.unmeasured


def test_budget_respected_with_slow_cheap_engine(fakes, monkeypatch):
    ex = fakes(make_examples(600))
    monkeypatch.setattr(FakeTfidf, "SECONDS_PER_EXAMPLE", 0.004)  # 400 rows = 1.6 s a fit
    t0 = time.perf_counter()
    res = run_benchmarks(ex, engines=("tfidf",), settings=Settings(), budget_s=4)
    took = time.perf_counter() - t0
    assert took < 4 * 1.2 + 0.5
    assert res.measurements["tfidf"].points  # the first seed's curve ran


def test_cancel_returns_partial_results(fakes, monkeypatch):
    ex = fakes(make_examples(600))
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.05)
    cancel = threading.Event()

    def progress(ev: BenchEvent) -> None:
        if ev.approach == "finetune" and ev.phase == "fit" and ev.point is None:
            cancel.set()

    res = run_benchmarks(
        ex, engines=("tfidf", "finetune"), settings=Settings(), budget_s=60, progress=progress, cancel=cancel
    )
    assert res.cancelled
    assert res.measurements["tfidf"].points  # what was measured before is kept
    assert not any(p.usable for p in res.measurements["finetune"].points)
    assert res.spent_s < 10


def test_labelled_size_caps_the_pool(fakes):
    ex = fakes(make_examples(600))
    res = run_benchmarks(ex, engines=("tfidf",), settings=Settings(), budget_s=30, labelled_size=150)
    assert res.pool_size == 150
    assert max(p.n_train for p in res.measurements["tfidf"].points) == 150


def test_tfidf_curve_reaches_beyond_the_listed_sizes_to_what_it_can_afford(fakes, monkeypatch):
    ex = fakes(make_examples(3000))
    # 1 ms a row: the ladder 50…1600 fits, the whole pool (2800 rows ≈ 2.8 s a fit) does not.
    monkeypatch.setattr(FakeTfidf, "SECONDS_PER_EXAMPLE", 0.001)
    res = run_benchmarks(ex, engines=("tfidf",), settings=Settings(cheap_seeds=1), budget_s=6)
    sizes = sorted({p.n_train for p in res.measurements["tfidf"].points})
    assert sizes[:3] == [50, 100, 200]
    assert 400 in sizes and 800 in sizes  # doublings filled in between the listed sizes and the pool
    assert sizes[-1] > 800  # a point near the pool, at the largest size the budget allows
    assert res.spent_s < 6 * 1.2 + 0.5


def test_tfidf_pool_is_not_cut_to_the_embedding_pool(fakes):
    ex = fakes(make_examples(1200))
    res = run_benchmarks(
        ex, engines=("tfidf", "embedding"), settings=Settings(cheap_seeds=1), budget_s=30, labelled_size=900
    )
    tf, emb = res.measurements["tfidf"], res.measurements["embedding"]
    assert tf.n_max == 900  # the labelled size: TF-IDF needs no embedding
    assert emb.n_max <= res.pool_size <= 900


def test_early_stop_check_sees_a_fine_tune_latency(fakes):
    """Before its own speed is measured, a fine-tune engine borrows the embedding engine's (same
    encoder) in what the early-stop check sees: judged free to serve, it would always look settled."""
    ex = fakes(make_examples(600))
    seen: list[dict] = []

    def settled(partial) -> bool:
        seen.append(dict(partial.measurements["finetune"].latency_ms))
        return False

    configs = {"embedding": {"model": "m"}, "finetune": {"model": "m"}}
    res = run_benchmarks(
        ex, engines=("embedding", "finetune"), settings=Settings(), budget_s=60, configs=configs, settled=settled
    )
    assert seen and all(seen) and seen[0] == res.measurements["embedding"].latency_ms


def test_finetune_climbs_above_the_min_steps_size_to_the_labelled_size(fakes, monkeypatch):
    """Points above the size where the recipe's minimum steps end cost more but sit nearer the
    target: with the budget for them, fine-tuning measures up to the labelled size, and still
    measures cheap sizes below for a curve."""
    ex = fakes(make_examples(1400))
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0002)
    configs = {
        "finetune": {"min_steps": 10, "train_batch_size": 8, "epochs": 2.0, "early_stopping_patience": 3}
    }  # min-steps size: 45
    res = run_benchmarks(
        ex,
        engines=("tfidf", "finetune"),
        settings=Settings(finetune_sizes=[20, 40]),
        budget_s=30,
        labelled_size=900,
        configs=configs,
    )
    sizes = sorted({p.n_train for p in res.measurements["finetune"].points if p.usable})
    assert sizes[-1] == 900  # the labelled size, not the min-steps size
    # 40 is too close to the min-steps size 45 to be a point of its own.
    assert {20, 45} <= set(sizes) and 40 not in sizes and len([n for n in sizes if n > 45]) >= 2
    # The larger fits are the longer ones: throughput comes from the longest.
    assert res.measurements["finetune"].train_examples_per_s == pytest.approx(1 / 0.0002)


def test_a_small_pool_still_gives_every_curve_three_sizes_well_apart(fakes, monkeypatch):
    """450 labels, 180 of them the test part: a pool of 270, just above the listed 200. Each
    curve needs three sizes for a fit, and sizes at least 1.5× apart (200 beside 270 would make
    the fits' held-back step too short to scale an extrapolation error from)."""
    ex = fakes(make_examples(450))
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0002)
    configs = {"finetune": {"min_steps": 150, "train_batch_size": 16, "epochs": 2.0}}
    res = run_benchmarks(
        ex,
        engines=("tfidf", "finetune"),
        budget_s=60,
        configs=configs,
        settings=Settings(test_size=180, train_sizes=[100, 200, 400], finetune_sizes=[200, 400]),
    )
    assert res.pool_size == 270
    for name in ("tfidf", "finetune"):
        sizes = sorted({p.n_train for p in res.measurements[name].points if p.usable})
        assert len(sizes) >= 3 and sizes[-1] == 270, (name, sizes)
        assert all(b >= 1.5 * a for a, b in zip(sizes, sizes[1:])), (name, sizes)


def test_finetune_skips_a_bigger_point_it_cannot_afford_with_the_curve(fakes, monkeypatch):
    ex = fakes(make_examples(1400))
    # 10 ms an example: a min-steps point (80 examples) ≈ 0.8 s, the 900-row point (1,624) ≈ 16 s.
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.01)
    configs = {"finetune": {"min_steps": 10, "train_batch_size": 8, "epochs": 2.0, "early_stopping_patience": 3}}
    res = run_benchmarks(
        ex,
        engines=("finetune",),
        settings=Settings(finetune_sizes=[20, 40]),
        budget_s=20,
        labelled_size=900,
        configs=configs,
    )
    sizes = sorted({p.n_train for p in res.measurements["finetune"].points if p.usable})
    assert 900 not in sizes and {20, 45} <= set(sizes)
    assert max(sizes) > 45  # a bigger size that fits beside the cheap ones
    assert res.spent_s < 20 * 1.2 + 0.5


def test_a_bigger_budget_scores_on_the_bigger_test_part_its_profile_names(fakes):
    ex = fakes(make_examples(1000))
    settings = Settings(cheap_seeds=1)
    named = {"budgets_s": {"quick": 5.0, "standard": 20.0}, "test_sizes": {"standard": 300}}
    settings = settings.model_copy(update=named)
    assert run_benchmarks(ex, engines=("tfidf",), settings=settings, budget_s=20).test_size == 300
    assert run_benchmarks(ex, engines=("tfidf",), settings=settings, budget_s=25).test_size == 300  # covers standard
    assert run_benchmarks(ex, engines=("tfidf",), settings=settings, budget_s=10).test_size == 200  # test_size


class SeededFinetune(FakeFinetune):
    """A trainer that, like the real one, takes its seed from its config (and resumes)."""

    supports_resume = True
    seeds: ClassVar[list[int]] = []

    def fit(self, train: Examples, **kwargs) -> FitReport:
        type(self).seeds.append(int(getattr(self.config, "seed", 0)))
        return super().fit(train, **kwargs)


@pytest.mark.parametrize("open_", [True, False])
def test_left_over_budget_buys_fine_tune_seeds_while_the_decision_is_open(fakes, monkeypatch, open_):
    """The planned points leave budget; while the decision is open, more seeds of the trainer at
    its two largest sizes (each a new engine seed, even on the same rows), at most top_up_seeds;
    none once it is settled."""
    ex = fakes(make_examples(800))
    monkeypatch.setitem(base._REGISTRY, "finetune", f"{__name__}:SeededFinetune")
    monkeypatch.setattr(SeededFinetune, "seeds", [])
    monkeypatch.setattr(SeededFinetune, "SECONDS_PER_EXAMPLE", 0.0002)  # a measured throughput
    checks: list[int] = []

    def settled(partial) -> bool:
        checks.append(len(partial.measurements["finetune"].points))
        return not open_

    settings = Settings().model_copy(update={"top_up_seeds": 2})
    res = run_benchmarks(
        ex,
        engines=("tfidf", "finetune"),
        settings=settings,
        budget_s=60,
        settled=settled,
        configs={"finetune": {"min_steps": 5, "train_batch_size": 8, "seed": 0}},
    )
    ft = [p for p in res.measurements["finetune"].points if p.usable]
    planned = {p.n_train for p in ft if p.seed == 0}
    top2 = sorted(planned)[-2:]
    extra = [(p.n_train, p.seed) for p in ft if p.seed != 0]
    if open_:
        assert sorted(extra) == sorted((n, s) for n in top2 for s in (1, 2))
        assert SeededFinetune.seeds[-4:] == [1, 1, 2, 2]  # the engine's own seed follows the point's
        assert any("more seed(s)" in note for note in res.notes)
    else:
        assert extra == [] and SeededFinetune.seeds == [0] * len(ft)


class Memorizer(FakeTfidf):
    """Right on every text it trained on, wrong on every other: an out-of-fold score above zero
    means a model was scored on rows it saw."""

    name = "tfidf"
    trained: ClassVar[set[str]] = set()

    def fit(self, train: Examples, **kwargs) -> FitReport:
        self.memory = set(train.texts)
        return super().fit(train, **kwargs)

    def predict(self, texts) -> Predictions:
        out = [
            self.TRUTH[t] if t in self.memory else next(c for c in self.CLASSES if c != self.TRUTH[t]) for t in texts
        ]
        return Predictions(labels=out, classes=self.CLASSES, scores=[[0.5] * len(self.CLASSES) for _ in out])


def _open(partial) -> bool:
    return False


def test_an_open_decision_with_budget_left_is_cross_fitted_on_every_row_out_of_fold(fakes, monkeypatch):
    """The cheap approaches are cross-validated on every labelled row (5 folds); then, budget left
    and the decision open, the trainers too (2 folds), on the same rows: the test part first, then
    the pool. Every row is scored once per approach, by a model that never saw it (a memorizer
    scores 0 % out of fold), instead of buying more fine-tune seeds."""
    ex = fakes(make_examples(600))
    monkeypatch.setitem(base._REGISTRY, "tfidf", f"{__name__}:Memorizer")
    settings = Settings().model_copy(update={"crossfit": True, "top_up_seeds": 2})
    res = run_benchmarks(
        ex,
        engines=("tfidf", "embedding", "finetune"),
        settings=settings,
        budget_s=60,
        settled=_open,
        configs={"finetune": {"min_steps": 5, "train_batch_size": 8}},
    )
    assert set(res.crossfits) == {"tfidf", "embedding", "finetune"}
    assert res.crossfit_test_rows == res.test_size == 200
    assert sorted(res.crossfit_labels) == sorted(ex.classes.index(y) for y in ex.labels)
    for name, fit in res.crossfits.items():
        folds, n_train = (2, 300) if name == "finetune" else (5, 480)
        assert (fit.rows, fit.folds, fit.n_train, len(fit.fit_s), len(fit.y_pred)) == (600, folds, n_train, folds, 600)
    assert res.crossfits["tfidf"].accuracy == 0.0  # never scored on its own training rows
    # Instead of the top-up seeds, not as well as them.
    assert not any("more seed(s)" in note for note in res.notes)
    assert any(note.startswith("cross-fitted finetune") for note in res.notes)
    assert {p.seed for p in res.measurements["finetune"].points} == {0}


def test_cheap_approaches_are_cross_validated_at_full_size_whatever_the_decision(fakes):
    """Truth where it is cheap: TF-IDF and the embedding head are cross-validated on every labelled
    row even when the decision is already clear; the trainers' cross-fit only while it is open;
    nothing when the profile switches cross-fits off."""
    ex = fakes(make_examples(600))
    settings = Settings().model_copy(update={"crossfit": True})
    configs = {"finetune": {"min_steps": 5, "train_batch_size": 8}}
    engines = ("tfidf", "embedding", "finetune")
    settled = run_benchmarks(
        ex,
        engines=engines,
        settings=settings,
        budget_s=60,
        configs=configs,
        labelled_size=300,
        settled=lambda partial: True,
    )
    assert set(settled.crossfits) == {"tfidf", "embedding"}
    # 200 test + 300 labelled rows; 5 folds leave 400 outside each, of which the labelled size trains.
    assert {f.n_train for f in settled.crossfits.values()} == {300}
    assert {f.rows for f in settled.crossfits.values()} == {500}


def test_no_cross_fit_when_settled_switched_off_or_out_of_budget(fakes, monkeypatch):
    ex = fakes(make_examples(600))
    settings = Settings().model_copy(update={"crossfit": True})
    configs = {"finetune": {"min_steps": 5, "train_batch_size": 8}}
    engines = ("tfidf", "embedding", "finetune")
    settled = run_benchmarks(
        ex, engines=engines, settings=settings, budget_s=60, configs=configs, settled=lambda partial: True
    )
    off = run_benchmarks(ex, engines=engines, settings=Settings(), budget_s=60, configs=configs, settled=_open)
    assert "finetune" not in settled.crossfits and off.crossfits == {}
    # Fine-tuning at 0.02 s per example: the two 300-row folds (~12 s) do not fit what is left of 8 s.
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.02)
    short = run_benchmarks(ex, engines=engines, settings=settings, budget_s=8, configs=configs, settled=_open)
    assert "finetune" not in short.crossfits
    assert any(note.startswith("no cross-fit: it would take") for note in short.notes)


@pytest.mark.parametrize("room", [False, True])
def test_past_its_largest_size_fine_tuning_leaves_room_for_the_cross_fit(fakes, monkeypatch, room):
    """Once fine-tuning has its largest size, a further size between it and the cheap ones runs
    only if the cross-fit's cost still fits after it: the cross-fit scores every sample row, an
    intermediate size only shapes the curve between two measured ones. The cheap sizes still run."""
    from advisor.measure import crossfits

    ex = fakes(make_examples(1400))
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0002)
    monkeypatch.setattr(crossfits, "crossfit_reserve", lambda session: 0.0 if room else 1e6)
    configs = {
        "finetune": {"min_steps": 10, "train_batch_size": 8, "epochs": 2.0, "early_stopping_patience": 3}
    }  # min-steps size: 45
    settings = Settings(finetune_sizes=[20, 40]).model_copy(update={"crossfit": True})
    res = run_benchmarks(
        ex,
        engines=("tfidf", "finetune"),
        settings=settings,
        budget_s=30,
        labelled_size=900,
        configs=configs,
        settled=_open,
    )
    sizes = sorted({p.n_train for p in res.measurements["finetune"].points if p.usable and p.seed == 0})
    assert sizes[-1] == 900 and {20, 45} <= set(sizes)
    between = [n for n in sizes if 45 < n < 900]
    assert between if room else not between


@pytest.mark.parametrize("time_matters", [False, True])
def test_lora_is_left_out_with_its_reason_unless_its_speed_can_pay_for_it(fakes, monkeypatch, time_matters):
    """Where full fine-tuning was measured (it fits in memory), a short LoRA probe measures LoRA's speed;
    when its faster full run is worth less than LORA_DEFICIT of the metric under the goals' weights,
    LoRA is left out, with both forecast times in the reason, and gets no measurement (so no forecast,
    and no 'not measured' that would keep the call open); when time weighs enough, it is benchmarked."""
    from advisor.decide.goals import Goals, Weights
    from advisor.decide.recommend import points_worth
    from advisor.measure import plan

    monkeypatch.setitem(base._REGISTRY, "lora", f"{FakeLora.__module__}:FakeLora")
    monkeypatch.setattr(FakeLora, "fits", [])
    monkeypatch.setattr(plan, "LORA_PROBE_S", 0.3)
    # 3 s of full fine-tuning against 1 s of LoRA per 15,000 examples: seconds a run, at 10 minutes a scale.
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0002)
    monkeypatch.setattr(FakeLora, "SECONDS_PER_EXAMPLE", 0.0002 / 3)
    monkeypatch.setattr(FakeLora, "MIN_EXAMPLES", 20_000)  # the probe is cut by its budget, as on a real machine
    # The fakes train in a fraction of a second: what their speed-up is worth is scaled up to minutes.
    goals = Goals(weights=Weights(accuracy=0.2, training_time=1.0)) if time_matters else Goals()
    worth = lambda a, b: points_worth(goals, {"train_time_s": 2_000 * a}, {"train_time_s": 2_000 * b})  # noqa: E731
    res = run_benchmarks(
        fakes(make_examples(600)),
        engines=("tfidf", "finetune", "lora"),
        settings=Settings(),
        budget_s=30,
        configs={"finetune": {"min_steps": 10, "train_batch_size": 8}},
        time_worth=worth,
    )
    if not time_matters:
        assert "lora" not in res.measurements and "finetune" in res.measurements
        reason = res.left_out["lora"]
        assert reason.startswith("LoRA left out: full fine-tuning fits in memory here, and LoRA's full run")
        assert "examples/s, measured" in reason and "less than the 1 point LoRA is taken to trail" in reason
    else:
        assert "lora" not in res.left_out and "lora" in res.measurements


def test_full_finetuning_that_does_not_fit_in_memory_leaves_lora_as_the_fine_tune_option():
    from types import SimpleNamespace

    from advisor.advise import full_finetune_fits

    config = {"model": "tiny-bert", "train_batch_size": 16, "max_length": 64, "device": "cpu"}
    fits, said = full_finetune_fits(config, SimpleNamespace(ram_available_bytes=64e9, gpus=[]))
    assert fits and said.endswith("GB free")
    fits, said = full_finetune_fits(config, SimpleNamespace(ram_available_bytes=50e6, gpus=[]))
    assert not fits and "0.1 GB free" in said


class FakeCutShort(FakeFinetune):
    """A trainer whose every fit the budget stops at a given share of its recipe's steps."""

    SHARE: ClassVar[float] = 0.9

    def fit(self, train: Examples, **kw) -> FitReport:
        from advisor.measure import finetune_steps

        report = super().fit(train, **{**kw, "budget_s": None})
        steps = int(self.SHARE * finetune_steps(self.config, len(train))[0])
        return report.model_copy(update={"stopped": "budget", "steps": steps})


@pytest.mark.parametrize("share", [0.9, 0.5])
def test_a_fit_the_budget_stops_late_is_scored_and_kept_with_a_wider_upper_end(fakes, monkeypatch, share):
    """A fine-tune fit stopped by the budget after ≥ PARTIAL_MIN of its steps is a measurement: scored,
    a curve point, its planned steps recorded, and its forecast's upper end allows for the missed
    steps (said in the assumptions). One stopped earlier is a throughput probe only, as before."""
    from advisor.forecast.accuracy import forecast_all

    monkeypatch.setitem(base._REGISTRY, "finetune", f"{__name__}:FakeCutShort")
    monkeypatch.setattr(FakeCutShort, "SHARE", share)
    monkeypatch.setattr(FakeCutShort, "fits", [])
    # epochs as in the other trainer tests: with 2 epochs, 40 rows take exactly min_steps (10 steps of 8)
    configs = {"finetune": {"min_steps": 10, "train_batch_size": 8, "epochs": 2.0}}
    res = run_benchmarks(
        fakes(make_examples(600)), engines=("tfidf", "finetune"), settings=Settings(), budget_s=30, configs=configs
    )
    points = res.measurements["finetune"].points
    if share < 0.8:
        assert points and not any(p.usable for p in points)
        # Why, in the benchmark's own words, with the steps: the forecast says it, and no note offers
        # to resume the benchmark's checkpoint (it is not kept).
        cut = points[-1]
        why = res.measurements["finetune"].unmeasured
        assert (
            why == f"the budget stopped its n={cut.n_train} fit after {cut.steps} of 10 steps (under 80 %: not scored)"
        )
        f = forecast_all(res, n_target=1000, configs=configs)["finetune"]
        assert f.value is None and f.flag_reason == f"not measured: {why}"
        assert not any("resume" in n for n in res.measurements["finetune"].notes)
        return
    assert points and all(p.usable and p.planned_steps and p.steps < p.planned_steps for p in points)
    assert all(p.accuracy is not None for p in points)
    f = forecast_all(res, n_target=1000, configs=configs)["finetune"]
    plain = forecast_all(
        res.model_copy(
            update={
                "measurements": {
                    **res.measurements,
                    "finetune": res.measurements["finetune"].model_copy(
                        update={"points": [p.model_copy(update={"planned_steps": None}) for p in points]}
                    ),
                }
            }
        ),
        n_target=1000,
        configs=configs,
    )["finetune"]
    assert f.value == plain.value and f.high == pytest.approx(min(1.0, plain.high + 0.01), abs=2e-3)
    assert any("steps it missed" in a for a in f.assumptions) and not f.flag_reason.count("steps it missed")


def test_cheap_cross_validation_pairs_with_the_trainers_curves_over_the_test_part(fakes):
    """With only the cheap approaches cross-validated, their forecasts come from every labelled row
    and the trainers' from their curves; the bootstrap replicates of both resample the test part
    (which leads the cross-fit rows) alike, so their differences pair up (the fakes' right and wrong
    rows are shared: the replicates move together)."""
    import numpy as np

    from advisor.forecast.accuracy import forecast_all
    from advisor.forecast.crossfit import METHOD

    ex = fakes(make_examples(600))
    settings = Settings().model_copy(update={"crossfit": True})
    configs = {"finetune": {"min_steps": 5, "train_batch_size": 8}}
    res = run_benchmarks(
        ex,
        engines=("tfidf", "finetune"),
        settings=settings,
        budget_s=60,
        configs=configs,
        labelled_size=400,
        settled=lambda partial: True,
    )
    fcs = forecast_all(res, n_target=400, configs=configs)
    assert fcs["tfidf"].method == METHOD and fcs["finetune"].method != METHOD
    assert "measured out of fold on 600 rows (5 folds) at 400 labels" in fcs["tfidf"].assumptions[-1]
    a, b = np.asarray(fcs["tfidf"].boot), np.asarray(fcs["finetune"].boot)
    assert len(a) == len(b) == 200 and np.corrcoef(a, b)[0, 1] > 0.5


class FakeBagOfWords(FakeTfidf):
    """A cheap approach under a name the benchmark has never heard of."""

    name = "bow"


class FakeAdapters(FakeFinetune):
    """An alternative trainer (like LoRA) under another name."""

    name = "adapters"
    memory_model = "adapters"
    alternative_to = "finetune"


def test_the_benchmark_asks_engines_flags_not_their_names(fakes, monkeypatch):
    """A cheap engine called 'bow' gets a cheap curve (sizes × seeds) and its full-size cross-validation;
    an alternative trainer called 'adapters' is probed against the trainer it is an alternative to and
    left out when its speed cannot pay for it, exactly as TF-IDF and LoRA are."""
    from advisor.measure import plan

    for cls in (FakeBagOfWords, FakeAdapters):
        monkeypatch.setitem(base._REGISTRY, cls.name, f"{__name__}:{cls.__qualname__}")
        monkeypatch.setattr(cls, "fits", [])
    monkeypatch.setattr(plan, "LORA_PROBE_S", 0.3)
    monkeypatch.setattr(FakeFinetune, "SECONDS_PER_EXAMPLE", 0.0002)
    monkeypatch.setattr(FakeAdapters, "SECONDS_PER_EXAMPLE", 0.0002 / 3)
    monkeypatch.setattr(FakeAdapters, "MIN_EXAMPLES", 20_000)
    settings = Settings().model_copy(update={"crossfit": True})
    res = run_benchmarks(
        fakes(make_examples(600)),
        engines=("bow", "finetune", "adapters"),
        settings=settings,
        budget_s=30,
        configs={"finetune": {"min_steps": 10, "train_batch_size": 8}},
        time_worth=lambda faster, slower: 0.0,
    )
    bow = res.measurements["bow"]
    assert sorted({p.n_train for p in bow.points}) == [50, 100, 200, 400]
    assert len({p.seed for p in bow.points}) == 1  # cross-validated: one seed of the curve is enough
    assert res.crossfits["bow"].folds == plan.CV_FOLDS
    assert "adapters" not in res.measurements and res.left_out["adapters"].startswith("LoRA left out")
    assert FakeAdapters.fits  # its speed probe ran
