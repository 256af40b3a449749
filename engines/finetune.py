"""The fine-tuning engines, ``finetune`` (all weights) and ``lora`` (peft adapters), their step recipe
(``recipe``, ``min_steps_rows``: the one home of the step arithmetic) and ``validation_split``. The model
is engines.finetune_model's, the loop engines.finetune_loop's, the artifact engines.finetune_artifact's."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines import finetune_artifact
from engines.backbone import cut_count
from engines.base import Engine, Examples, FitReport, MemoryModel, Predictions, ProgressEvent, ProgressFn, no_progress
from engines.config import FinetuneConfig
from engines.errors import ConfigError, DataError
from engines.finetune_model import FinetuneModel

MIN_VALID_ROWS = 50  # below this, or with a class of < 2 rows, no validation split
_MEGABATCH = 50  # length grouping: sort within chunks of 50 batches (like HF's LengthGroupedSampler)


# ------------------------------------------------------------------------ recipe
# ``max(ceil(epochs × batches per epoch), min_steps)`` optimizer steps (capped by ``max_steps``) so
# that small data gets enough steps. Batches are length-grouped; the data order is a pure function
# of (seed, epoch), so a resumed run (engines.checkpoint) reaches the same weights.
def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: a pure function of (seed, epoch), so a resumed run recomputes it.

    Shuffle, sort by length inside chunks of 50 batches (little padding, still random),
    cut into batches, shuffle the batch order.
    """
    import numpy as np

    rng = np.random.default_rng([int(seed), int(epoch)])
    lens = np.asarray(lengths)
    perm = rng.permutation(len(lens))
    mega = batch_size * _MEGABATCH
    batches: list[list[int]] = []
    for start in range(0, len(perm), mega):
        chunk = perm[start : start + mega]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def plan_steps(n: int, cfg: FinetuneConfig) -> tuple[int, int]:
    """(optimizer steps, batches per epoch) for ``n`` training rows under ``cfg``'s recipe."""
    per_epoch = sum(
        math.ceil(min(cfg.train_batch_size * _MEGABATCH, n - s) / cfg.train_batch_size)
        for s in range(0, n, cfg.train_batch_size * _MEGABATCH)
    )
    steps = max(math.ceil(cfg.epochs * per_epoch), cfg.min_steps)
    if cfg.max_steps is not None:
        steps = min(steps, cfg.max_steps)
    return max(1, steps), per_epoch


def recipe_steps(n: int, cfg: FinetuneConfig) -> tuple[int, int]:
    """(optimizer steps, batch) of a fit on ``n`` labelled rows: ``plan_steps`` on the rows left
    once the validation split is held out (only when early stopping is on). The one home of the
    recipe's arithmetic: the benchmark plans and the forecasts cost with it too."""
    held = 0
    if cfg.early_stopping_patience > 0 and cfg.valid_fraction > 0 and n >= MIN_VALID_ROWS:
        held = max(1, round(cfg.valid_fraction * n))
    return plan_steps(max(1, n - held), cfg)[0], cfg.train_batch_size


def recipe_config(config: Any) -> FinetuneConfig:
    """``config`` (a FinetuneConfig, another pydantic model, a dict or None) as the FinetuneConfig
    the recipe reads: unknown keys are dropped, missing ones take FinetuneConfig's defaults."""
    if isinstance(config, FinetuneConfig):
        return config
    raw = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
    return FinetuneConfig(**{k: v for k, v in raw.items() if k in FinetuneConfig.model_fields})


def recipe(config: Any, n: int) -> tuple[int, int]:
    """(optimizer steps, batch) a fit under ``config`` takes on ``n`` labelled rows (``recipe_steps``
    on ``recipe_config(config)``): what the benchmark's planner asks instead of redoing the sums."""
    return recipe_steps(n, recipe_config(config))


def held_out_share(config: Any) -> float:
    """Share of the labelled rows a fit holds out for early stopping (0 when it is off)."""
    cfg = recipe_config(config)
    return float(cfg.valid_fraction) if cfg.early_stopping_patience > 0 else 0.0


def min_steps_rows(config: Any) -> int:
    """Labelled rows up to which every fit costs the recipe's ``min_steps`` (where ``epochs`` passes
    over the rows left after the validation split reach ``min_steps`` batches)."""
    cfg = recipe_config(config)
    return math.ceil(cfg.min_steps * cfg.train_batch_size / (cfg.epochs * (1 - held_out_share(cfg))))


def min_steps_note(total_steps: int, epochs: float, per_epoch: int) -> str | None:
    """The note for a plan that ``min_steps`` made longer than ``epochs`` passes of ``per_epoch``
    batches (None when it did not); the classification and the contrastive loops say it alike."""
    epoch_steps = math.ceil(epochs * per_epoch)
    if total_steps <= epoch_steps:
        return None
    return (
        f"{total_steps} optimizer steps (min_steps; {epochs:g} epochs would be "
        f"{epoch_steps}): small data needs enough steps to learn"
    )


def validation_split(
    train: Examples, valid: Examples | None, cfg: FinetuneConfig, notes: list[str]
) -> tuple[Examples, Examples | None]:
    """(training rows, validation rows or None) of a fit: ``valid`` when given, else a stratified share
    (``valid_fraction``) held out of ``train``; none without early stopping or with too few rows (noted)."""
    if cfg.early_stopping_patience == 0:
        return train, None
    if valid is not None:
        unknown = sorted(set(valid.labels) - set(train.labels))
        if unknown:
            raise DataError(f"validation labels not in the training data: {', '.join(unknown[:5])}")
        return train, valid if len(valid) else None
    counts: dict[str, int] = {}
    for y in train.labels:
        counts[y] = counts.get(y, 0) + 1
    if cfg.valid_fraction <= 0 or len(train) < MIN_VALID_ROWS or min(counts.values()) < 2:
        notes.append(f"no early stopping: {len(train)} training rows are too few for a validation split")
        return train, None
    from sklearn.model_selection import train_test_split

    n_valid = max(len(counts), round(cfg.valid_fraction * len(train)))
    idx_train, idx_valid = train_test_split(
        list(range(len(train))), test_size=n_valid, stratify=train.labels, random_state=cfg.seed
    )
    notes.append(f"early stopping on {len(idx_valid)} validation rows held out of the training data")
    return train.subset(sorted(idx_train)), train.subset(sorted(idx_valid))


# ------------------------------------------------------------------------ engine
class FinetuneEngine(FinetuneModel, Engine):
    """Fine-tune a pre-trained transformer for classification (all weights, or LoRA).

    AutoModelForSequenceClassification on the same backbone as the embedding engine; the loop
    (AdamW, warm-up and decay, early stopping, checkpoints) is engines.finetune_loop.s ``FinetuneRun``.
    torch / transformers / peft are imported inside the methods.
    """

    name: ClassVar[str] = "finetune"
    description: ClassVar[str] = "Fine-tune the transformer end to end with a classification head."
    config_cls: ClassVar[type] = FinetuneConfig
    uses_transformer: ClassVar[bool] = True
    trains_backbone: ClassVar[bool] = True
    supports_resume: ClassVar[bool] = True
    supports_gpu: ClassVar[bool] = True
    scales_out: ClassVar[bool] = True
    label: ClassVar[str] = "Fine-tune (full)"
    memory_model: ClassVar[MemoryModel] = "full"

    config: FinetuneConfig

    def __init__(self, config: FinetuneConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.device = "cpu"
        self.classes: list[str] = []
        self._model: Any = None
        self._tokenizer: Any = None
        self._base: dict[str, Any] | None = None  # cached: path, config, weights (CPU), tokenizer

    # ------------------------------------------------------------------ loading
    def warm_up(self) -> None:
        """Load the tokenizer and weights, import the model classes (and peft for LoRA), and
        start the device: everything ``fit`` pays for before its first step."""
        import sklearn.model_selection  # noqa: F401
        from transformers import AutoModelForSequenceClassification  # noqa: F401

        import engines.checkpoint  # noqa: F401
        import engines.finetune_loop  # noqa: F401
        import engines.metrics  # noqa: F401
        from engines.backbone import pick_device, set_threads

        set_threads(self.config.threads)
        self.device = pick_device(self.config.device)
        self._ensure_base()
        if self.config.mode == "lora":
            import peft  # noqa: F401
        if str(self.device).startswith("cuda"):
            import torch

            torch.zeros(1, device=self.device)  # the CUDA context

    def prepare(
        self, texts: Sequence[str], *, progress: ProgressFn = no_progress, cancel: threading.Event | None = None
    ) -> None:
        """Load the tokenizer and pre-trained weights now, so that ``fit`` times only training."""
        progress(ProgressEvent(phase="load", done=0, total=1, unit="models", message=self.config.model))
        self._ensure_base()
        progress(ProgressEvent(phase="load", done=1, total=1, unit="models", message=self.config.model))

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train: Examples,
        *,
        valid: Examples | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        from engines.finetune_loop import FinetuneRun
        from engines.metrics import PeakMemory

        t_start = time.perf_counter()
        if len(train) == 0:
            raise DataError("no training examples")
        if len(set(train.labels)) < 2:
            raise DataError(f"fine-tuning needs at least 2 classes; the training data has {len(set(train.labels))}")
        if self.config.workers > 1 and budget_s is None:
            return self._fit_on_ray(train, valid, progress, cancel, workdir, resume, t_start)
        from engines.backbone import pick_device, set_threads

        set_threads(self.config.threads)
        self.device = pick_device(self.config.device)
        progress(ProgressEvent(phase="load", done=0, total=1, unit="models", message=self.config.model))
        load_s = self._ensure_base()
        progress(ProgressEvent(phase="load", done=1, total=1, unit="models", message=self.config.model))
        with PeakMemory(self.device) as mem:
            run = FinetuneRun(self, train, valid, budget_s, progress, cancel, workdir, resume, t_start)
            run.phase_s["load"] = load_s
            run.train()
            run.phase_s["train"] = run.train_s
        self._model, self.classes = run.final_model, run.classes
        wall = time.perf_counter() - t_start
        return FitReport(
            engine=self.name,
            n_train=len(train),
            wall_s=wall,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            peak_gpu_bytes=mem.peak_gpu_bytes,
            device=self.device,
            **run.report_fields(),
        )

    def _fit_on_ray(
        self,
        train: Examples,
        valid: Examples | None,
        progress: ProgressFn,
        cancel: threading.Event | None,
        workdir: Path | None,
        resume: bool,
        t_start: float,
    ) -> FitReport:
        """A full run on ``workers`` Ray Train workers (engines.ray_finetune); without a workdir, its
        checkpoints go to a temporary folder that is removed afterwards."""
        import tempfile

        from engines import ray_finetune

        with tempfile.TemporaryDirectory(prefix="toe-ray-") as tmp:
            record = ray_finetune.fit(
                self,
                train,
                valid,
                workdir=Path(workdir) if workdir else Path(tmp),
                resume=resume,
                progress=progress,
                cancel=cancel,
            )
        return FitReport(engine=self.name, n_train=len(train), wall_s=time.perf_counter() - t_start, **record)

    # ------------------------------------------------------------------ predict
    def predict(self, texts: Sequence[str]) -> Predictions:
        import numpy as np

        if self._model is None:
            raise ConfigError("the fine-tuned model is not there: fit or load it first")
        if not len(texts):
            return Predictions(labels=[], classes=list(self.classes), scores=[])
        seqs = self._encode(texts)
        logits = self._logits(self._model, seqs, self.config.batch_size)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        labels = [self.classes[i] for i in probs.argmax(axis=1)]
        cut = cut_count(map(len, seqs), self.config.max_length)
        return Predictions(labels=labels, classes=list(self.classes), scores=probs.tolist(), cut=cut)

    # ------------------------------------------------------------------ save / load
    def save(self, directory: Path) -> None:
        """``model/`` (safetensors + tokenizer; LoRA merged), ``labels.json``, ``finetune.json``."""
        finetune_artifact.save(self, directory)

    @classmethod
    def load(cls, directory: Path) -> FinetuneEngine:
        return finetune_artifact.load(cls, directory)


class LoraEngine(FinetuneEngine):
    """Fine-tune LoRA adapters (peft) plus the head; the artifact holds the merged model.

    The saved folder (``merge_and_unload``) is a plain transformers model that loads and predicts
    without peft and without the base model.
    """

    name: ClassVar[str] = "lora"
    description: ClassVar[str] = "Fine-tune low-rank adapters (LoRA) and the head; the backbone stays frozen."
    label: ClassVar[str] = "Fine-tune (LoRA)"
    memory_model: ClassVar[MemoryModel] = "adapters"
    alternative_to: ClassVar[str | None] = "finetune"

    def __init__(self, config: FinetuneConfig | dict[str, Any] | None = None) -> None:
        if config is None:
            config = FinetuneConfig(mode="lora")
        elif isinstance(config, dict):
            config = FinetuneConfig(**{**config, "mode": "lora"})
        elif config.mode != "lora":
            config = config.model_copy(update={"mode": "lora"})
        super().__init__(config)
