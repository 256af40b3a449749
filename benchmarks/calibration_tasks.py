"""The calibration's tasks: each dataset at a number of labels, its training split and the held-out
test split nothing sees, and the goals its calls are judged under."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engines.base import Examples  # noqa: E402

DEMO = "demo"  # the budget name for `make demo`'s own path (demo tasks only; see demo_budget)


def demo_budget() -> str:
    """``make demo``'s budget, from the Makefile's ``DEMO_BUDGET ?= …`` line (its one home)."""
    import re

    found = re.search(r"^DEMO_BUDGET \?= (\S+)\s*$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    if found is None:
        raise RuntimeError("no `DEMO_BUDGET ?= …` line in the Makefile")
    return found.group(1)


def task_budgets(task: Task, budgets: list[str]) -> list[str]:
    """The budgets ``task`` runs at: ``DEMO`` becomes make demo's own for a demo task (advise after
    ``probe --start-up``, as `make demo` runs it) and is skipped for the others."""
    return [demo_budget() if b == DEMO else b for b in budgets if b != DEMO or task.demo]


@dataclass(frozen=True)
class Task:
    name: str
    data: str  # a data reference (demo:… or a path), or "synthetic"
    n_train: int
    n_test: int
    classes: tuple[str, ...] | None = None  # keep only these classes (derived binary tasks)
    held_out: bool = False  # data nobody looked at while the forecaster was built (summarised apart)
    # Added to the run's seed for this task's split: another draw of train and test rows from the
    # same data, so that tasks of one dataset do not all share one test split.
    split_offset: int = 0
    # ``make demo``'s path: advise reads the whole demo data with --labelled-size n_train (no test
    # file), and each full run is what `run plan.json` does: it holds out its own test rows (20 %, at
    # most 2,000) and trains on n_train of the rest.
    demo: bool = False


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("demo-rt-1000", "demo:rotten-tomatoes", 1000, 2000, demo=True),  # `make demo`
        Task("rt-1000", "demo:rotten-tomatoes", 1000, 2000),
        Task("rt-3000", "demo:rotten-tomatoes", 3000, 2000),
        Task("rt-6000", "demo:rotten-tomatoes", 6000, 2000),
        Task("rt-10000", "demo:rotten-tomatoes", 10000, 2000),
        # The same sizes on another random draw of the test and training rows: the RT tasks
        # above share one test split, so their rows are not independent of each other.
        Task("rt-6000-split2", "demo:rotten-tomatoes", 6000, 2000, split_offset=1),
        Task("rt-10000-split2", "demo:rotten-tomatoes", 10000, 2000, split_offset=1),
        Task("bbc-1000", "demo:bbc-news", 1000, 1000),
        Task("bbc-business-vs-politics-500", "demo:bbc-news", 500, 400, ("business", "politics")),
        Task("bbc-tech-vs-entertainment-400", "demo:bbc-news", 400, 300, ("tech", "entertainment")),
        # Held out: data first run after the forecaster was settled (2026-11-28), to see how it
        # does on data nobody looked at while building it.
        Task("debates-700", "demo:presidential-debates", 700, 350, held_out=True),
        Task(
            "debates-rep-vs-dem-450", "demo:presidential-debates", 450, 300, ("Republican", "Democratic"), held_out=True
        ),
        # New data (2026-12-04, issue 24): four more domains, each at 1,000 and 3,000 labels with a
        # test split of its own: short informal tweets (3 classes), ICD-10-CM code descriptions (21
        # imbalanced chapters, short), product reviews, terse incident remarks (7 imbalanced classes).
        Task("tweets-1000", "demo:tweets-sentiment", 1000, 2000),
        Task("tweets-3000", "demo:tweets-sentiment", 3000, 2000),
        Task("icd10-1000", "demo:icd10-chapters", 1000, 2000),
        Task("icd10-3000", "demo:icd10-chapters", 3000, 2000),
        Task("food-1000", "demo:fine-food-reviews", 1000, 1500),
        Task("food-3000", "demo:fine-food-reviews", 3000, 1500),
        Task("birds-1000", "demo:bird-strikes", 1000, 2000),
        Task("birds-3000", "demo:bird-strikes", 3000, 2000),
        Task("synthetic-200", "synthetic", 200, 100),  # CI smoke test (tiny profile)
    ]
}
NEW_DATA = ("demo:tweets-sentiment", "demo:icd10-chapters", "demo:fine-food-reviews", "demo:bird-strikes")
# A second random draw of every other real-data task (2026-11-28): one test split per task is too
# few rows to judge the decisions by. Derived, not picked: every task with one draw gets a second.
TASKS.update(
    {
        f"{t.name}-split2": replace(t, name=f"{t.name}-split2", split_offset=1)
        for t in list(TASKS.values())
        if t.data not in ("synthetic", *NEW_DATA)
        and t.split_offset == 0
        and not t.demo
        and f"{t.name}-split2" not in TASKS
    }
)
QUICK_TASKS = ["rt-1000", "bbc-tech-vs-entertainment-400"]
# The published table: `make demo`'s path, every dataset at 1,000 and (where it has the rows) 3,000
# labels, the older data's second draws. One invocation, one sitting (resumable).
FIRST_DRAWS = [
    "rt-1000",
    "rt-3000",
    "bbc-1000",
    "bbc-business-vs-politics-500",
    "bbc-tech-vs-entertainment-400",
    "debates-700",
    "debates-rep-vs-dem-450",
]
FULL_TASKS = [
    "demo-rt-1000",
    # The newest data first: a sitting cut short still covers every dataset once.
    "tweets-1000",
    "tweets-3000",
    "icd10-1000",
    "icd10-3000",
    "food-1000",
    "food-3000",
    "birds-1000",
    "birds-3000",
    *FIRST_DRAWS,
    *(f"{t}-split2" for t in FIRST_DRAWS),
]
# advise runs with its default engines (what a user gets); every approach it may include runs in full.
FULL_RUN_ENGINES = ["tfidf", "embedding", "finetune", "lora"]
GOAL_FILES = {"accuracy": ROOT / "goals" / "accuracy.toml", "macro_f1": ROOT / "goals" / "macro-f1.toml"}


def synthetic_examples(n: int, seed: int = 0) -> Examples:
    """Two learnable classes of short texts (for the smoke test only)."""
    rng = np.random.default_rng(seed)
    words = {"pos": ["great", "superb", "lovely", "fine", "good"], "neg": ["awful", "bad", "dull", "poor", "weak"]}
    filler = ["the", "film", "was", "a", "story", "with", "some", "scenes", "and", "actors"]
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        toks = list(rng.choice(filler, size=6)) + list(rng.choice(words[label], size=2))
        rng.shuffle(toks)
        texts.append(" ".join(toks))
        labels.append(label)
    return Examples(texts=texts, labels=labels)


def task_split(task: Task, seed: int) -> tuple[Examples, Examples]:
    """The task's training split (n_train labels) and its held-out test split."""
    from advisor.data.labelled import load_dataset, stratified_split, stratified_subsample

    seed += task.split_offset

    if task.data == "synthetic":
        examples = synthetic_examples(task.n_train + task.n_test, seed)
    else:
        examples = load_dataset(task.data, seed=seed).examples
        if task.classes:
            keep = [i for i, y in enumerate(examples.labels) if y in task.classes]
            examples = examples.subset(keep)
    if len(examples) < task.n_train + task.n_test:
        raise ValueError(f"{task.name}: needs {task.n_train + task.n_test} rows, data has {len(examples)}")
    train_pool, test = stratified_split(examples, test_size=task.n_test, seed=seed)
    train = stratified_subsample(train_pool, task.n_train, seed=seed)
    return train, test


def task_goals(task: Task):
    """(the default goals, the accuracy-only goal file's, the macro-F1-only goal file's), each at
    the task's labelled size: what a user gets with no --goals, and with each goal file the README
    lists."""
    from advisor.decide.goals import Goals, load_goals

    def sized(goals: Goals) -> Goals:
        return goals.model_copy(update={"labelled_size": task.n_train})

    return (
        Goals(labelled_size=task.n_train),
        sized(load_goals(GOAL_FILES["accuracy"])),
        sized(load_goals(GOAL_FILES["macro_f1"])),
    )
