"""The benchmark's planner (advisor.measure.plan): pure budget arithmetic, no model runs, no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import BaseModel

from advisor.measure import plan
from engines.config import FinetuneConfig
from engines.finetune import min_steps_rows, recipe_steps


class Settings(BaseModel):
    test_size: int = 200
    train_sizes: list[int] = [50, 100, 200]
    cheap_seeds: int = 2
    finetune_sizes: list[int] = [100, 200]
    finetune_seeds: int = 1


def test_settings_fall_back_to_the_defaults():
    assert plan.setting(None, "cheap_seeds") == plan.DEFAULTS["cheap_seeds"]
    assert plan.setting(Settings(), "cheap_seeds") == 2
    assert plan.seeds(Settings(), "cheap_seeds", 5) == [5, 6]
    assert plan.seeds(Settings(cheap_seeds=0), "cheap_seeds", 0) == [0]  # at least one
    assert plan.config_get({"model": "m"}, "model", "x") == "m" and plan.config_get(None, "model", "x") == "x"
    assert plan.config_get(FinetuneConfig(min_steps=7), "min_steps", 0) == 7


def test_test_rows_grow_with_the_named_budget_covered():
    named = Settings().model_copy(
        update={"budgets_s": {"quick": 5.0, "standard": 20.0}, "test_sizes": {"standard": 300}}
    )
    assert plan.wanted_test_rows(named, 20) == 300 and plan.wanted_test_rows(named, 25) == 300
    assert plan.wanted_test_rows(named, 10) == 200  # test_size
    # At most TEST_SHARE of the sample, at least MIN_TEST (a third of small samples) and 2 a class.
    assert plan.planned_test_rows(Settings(), 60, 600, 2) == 200
    assert plan.planned_test_rows(Settings(), 60, 300, 2) == 120
    assert plan.planned_test_rows(Settings(test_size=50), 60, 600, 2) == 100
    assert plan.planned_test_rows(Settings(test_size=10), 60, 90, 2) == 30


def test_split_without_and_with_a_measured_embedding_speed():
    split = dict(wanted_test=200, labelled_size=None, left_s=60.0, trainer_reserve_s=0.0)
    assert plan.split_rows(600, 2, **split, embed_rate=None) == (200, 400)
    assert plan.split_rows(600, 2, **{**split, "labelled_size": 150}, embed_rate=None) == (200, 150)
    # 10 texts/s over 70 % of 60 s: 420 texts affordable, so 168 test rows and 252 pool rows.
    assert plan.split_rows(600, 2, **split, embed_rate=10.0) == (168, 252)
    # Nothing affordable: the floors hold (MIN_TEST test rows, a 64-row pool).
    assert plan.split_rows(600, 2, **{**split, "trainer_reserve_s": 60.0}, embed_rate=10.0) == (100, 64)


def test_sizes_halve_space_and_ladder():
    assert plan.curve_sizes(400, 2, max_sizes=5, min_size=32) == [50, 100, 200, 400]
    assert plan.curve_sizes(10, 2, max_sizes=5, min_size=32) == [10]  # below the floor: the pool alone
    assert plan.spaced({100, 200, 250}, 270) == [100, 270]  # 200 and 250 too close to 270
    assert plan.ladder([50, 100, 200, 1600]) == [50, 100, 200, 400, 800, 1600]
    assert plan.profile_sizes(Settings(), "train_sizes", 400, 2) == [50, 100, 200, 400]
    assert plan.profile_sizes(None, "train_sizes", 400, 2) == [50, 100, 200, 400]  # halving, no profile sizes
    # A small pool: three sizes at least 1.5× apart all the same.
    sizes = plan.profile_sizes(Settings(train_sizes=[100, 200, 400]), "train_sizes", 270, 2)
    assert len(sizes) >= 3 and sizes[-1] == 270 and all(b >= 1.5 * a for a, b in zip(sizes, sizes[1:]))
    assert plan.profile_sizes(Settings(), "train_sizes", 400, 250) == [400]  # fewer rows than 2 a class


def test_cheap_cost_guess_scales_from_the_largest_measured_fit():
    assert plan.guess_cheap_s({}, 100) == 0.0
    assert plan.guess_cheap_s({100: 2.0}, 100) == 2.0
    assert plan.guess_cheap_s({50: 1.0, 100: 2.0}, 200) == pytest.approx(2.0 * 2**plan.COST_EXPONENT)


def test_the_planner_asks_the_engine_for_the_recipe():
    """One home for the step count: the planner's figures are the engine's own."""
    cfg = FinetuneConfig(min_steps=10, train_batch_size=8, epochs=2.0, early_stopping_patience=3)
    assert plan.finetune_steps(cfg, 900) == recipe_steps(900, cfg)
    assert plan.finetune_steps(cfg.model_dump(), 900) == recipe_steps(900, cfg)  # a dict config reads the same
    assert plan.finetune_examples(cfg, 900) == recipe_steps(900, cfg)[0] * 8
    assert plan.valid_share(cfg) == 0.1 and plan.valid_share(FinetuneConfig()) == 0.0  # early stopping off
    assert min_steps_rows(cfg) == 45  # 10 steps × 8 / (2 epochs × 90 % after the validation split)
    # The min-steps size is where the recipe's steps start to grow.
    plain = FinetuneConfig(min_steps=10, train_batch_size=8, epochs=2.0)
    assert min_steps_rows(plain) == 40 and recipe_steps(40, plain)[0] == 10 < recipe_steps(80, plain)[0]


def test_fine_tune_sizes_split_at_the_min_steps_size_and_climb_to_the_pool():
    cfg = {"min_steps": 10, "train_batch_size": 8, "epochs": 2.0, "early_stopping_patience": 3}
    cheap, above = plan.finetune_sizes(cfg, Settings(finetune_sizes=[20, 40]), 900, 2)
    assert cheap == [20, 45] and above == [90, 180, 360, 900]  # 40 is too close to 45 to be a size of its own
    assert plan.finetune_sizes(cfg, Settings(finetune_sizes=[20, 40]), 40, 2) == ([20, 40], [])  # the pool tops it
    order = plan.finetune_order(cheap, above, [0, 1])
    assert order == [(45, 0), (900, 0), (360, 0), (180, 0), (90, 0), (20, 0), (900, 1), (360, 1)]


def test_fine_tune_fit_seconds():
    cfg = FinetuneConfig(min_steps=10, train_batch_size=8, epochs=2.0)  # 10 steps of 8 on 40 rows
    # 80 examples at 40/s, 100 scored rows at 200/s, a 3 s load when none was measured.
    assert plan.finetune_fit_s(cfg, 40, rate=40.0, infer_rate=200.0, scored_rows=100, load_s=None) == 5.5
    early = cfg.model_copy(update={"early_stopping_patience": 3, "eval_every_steps": 5})
    steps = recipe_steps(40, early)[0]  # no validation split below MIN_VALID_ROWS, so still 10
    # Two validations of 10 % of the 40 rows at 200/s on top.
    assert plan.finetune_fit_s(early, 40, rate=40.0, infer_rate=200.0, scored_rows=100, load_s=1.0) == pytest.approx(
        steps * 8 / 40.0 + 2 * 0.1 * 40 / 200.0 + 0.5 + 1.0
    )


def test_the_trainers_reserve():
    first = 2400  # 150 steps × 16
    # No embedding speed: a probe's worth, between 30 % and 50 % of what is left.
    assert (
        plan.trainer_reserve(100, 1, embed_rate=None, first_examples=first, test_rows=200, alternative_probe=False)
        == 30.0
    )
    assert (
        plan.trainer_reserve(100, 0, embed_rate=250, first_examples=first, test_rows=200, alternative_probe=False)
        == 0.0
    )
    # 250 texts/s: training ~45 examples/s, the first point ~54 s; 2.5× that capped at 65 %.
    assert (
        plan.trainer_reserve(100, 1, embed_rate=250, first_examples=first, test_rows=200, alternative_probe=False)
        == 65.0
    )
    # LoRA's probe on top no longer fits 80 %: a short probe each instead.
    assert (
        plan.trainer_reserve(70, 2, embed_rate=250, first_examples=first, test_rows=200, alternative_probe=True) == 28.0
    )
    assert plan.trainer_probe_s(100, 0) == 30.0 and plan.trainer_probe_s(10, 0) == 12.0


def test_cross_fit_folds_rows_and_cost():
    assert plan.crossfit_folds(True, 100) == plan.CV_FOLDS and plan.crossfit_folds(False, 100) == 2
    assert plan.crossfit_folds(True, 3) == 3 and plan.crossfit_folds(True, 1) == 2
    assert plan.crossfit_train_rows(600, 5, None) == 480 and plan.crossfit_train_rows(500, 5, 300) == 300
    assert plan.crossfit_train_rows(600, 2, None) == 300
    assert plan.cheap_crossfit_s(5, 1.0, 400, 200) == 5.0  # never below the measured fit
    assert plan.cheap_crossfit_s(5, 1.0, 400, 800) == pytest.approx(5 * 2**plan.COST_EXPONENT)


def test_planning_imports_no_model_library():
    code = (
        "import sys, json; from advisor.measure import plan; "
        "plan.finetune_sizes({'min_steps': 10}, None, 900, 2); plan.finetune_steps(None, 900); "
        "print(json.dumps([m for m in ('torch', 'transformers', 'peft', 'sklearn') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
