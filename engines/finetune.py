"""The fine-tuning engines: ``finetune`` (all weights) and ``lora`` (peft adapters).

AutoModelForSequenceClassification on the same backbone as the embedding engine, trained
with AdamW, linear warm-up and decay and gradient clipping, for
``max(ceil(epochs × batches per epoch), min_steps)`` optimizer steps (capped by
``max_steps``) so that small data gets enough steps; early stopping on a validation split
keeps the best weights. Batches are length-grouped with dynamic padding; bf16/fp16
autocast on a GPU. Checkpoints (engines.checkpoint) make ``resume`` reach the same weights
as an uninterrupted run: the data order is a pure function of (seed, epoch) and the RNG
state is saved. A CUDA out-of-memory halves the micro-batch and accumulates gradients to
keep the effective batch.

LoRA artifacts hold the *merged* model (``merge_and_unload``): the saved folder is a plain
transformers model that loads and predicts without peft and without the base model.

torch / transformers / peft are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from engines import checkpoint as ckpt
from engines.atomic import staged_dir, write_json
from engines.base import Engine, Examples, FitReport, Predictions, ProgressEvent, ProgressFn, no_progress
from engines.config import FinetuneConfig
from engines.errors import ArtifactError, ConfigError, DataError, ModelNotFoundError, ResourceError

ARTIFACT_FORMAT = 1
MIN_VALID_ROWS = 50  # below this, or with a class of < 2 rows, no validation split
_MEGABATCH = 50  # length grouping: sort within chunks of 50 batches (like HF's LengthGroupedSampler)


# ----------------------------------------------------------------------- helpers
def _quiet_transformers() -> None:
    """transformers 5 prints a LOAD REPORT and progress bars; the CLI stays clean without them."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _forward_logits(model: Any, batch: dict[str, Any]) -> Any:
    """One forward pass. Module-level so tests can fake a CUDA out-of-memory here."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _free_cuda(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def _collate(seqs: Sequence[Sequence[int]], pad_id: int, device: str) -> dict[str, Any]:
    """Pad token-id lists to the longest of them (dynamic padding)."""
    import numpy as np
    import torch

    width = max(1, max(len(s) for s in seqs))
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    nb = device.startswith("cuda")
    return {
        "input_ids": torch.from_numpy(ids).to(device, non_blocking=nb),
        "attention_mask": torch.from_numpy(mask).to(device, non_blocking=nb),
    }


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


def _fingerprint(train: Examples, valid: Examples | None, cfg: FinetuneConfig, model_id: str) -> str:
    """What a checkpoint belongs to: the data, the model and the settings that shape the weights."""
    keys = (
        "model",
        "max_length",
        "mode",
        "train_batch_size",
        "learning_rate",
        "learning_rate_lora",
        "weight_decay",
        "warmup_ratio",
        "max_grad_norm",
        "epochs",
        "min_steps",
        "max_steps",
        "valid_fraction",
        "eval_every_steps",
        "early_stopping_patience",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_targets",
        "seed",
    )
    h = hashlib.sha256()
    h.update(json.dumps({k: getattr(cfg, k) for k in keys}, sort_keys=True, default=list).encode())
    h.update(model_id.encode())
    for part in (train, valid):
        h.update(b"\x02")
        if part is not None:
            for t, y in zip(part.texts, part.labels, strict=True):
                h.update(t.encode("utf-8", "surrogatepass") + b"\x00" + y.encode("utf-8", "surrogatepass") + b"\x01")
    return h.hexdigest()[:32]


def _trainable(model: Any) -> dict[str, Any]:
    """CPU copies of the parameters that train (what checkpoints and 'best' hold)."""
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model: Any, tensors: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in tensors]
    if missing or any(n not in params for n in tensors):
        raise ArtifactError(f"checkpoint weights do not match the model ({len(missing)} missing)")
    with torch.no_grad():
        for n, t in tensors.items():
            params[n].copy_(t)


class _LinearWarmupDecay:
    """LR factor: linear warm-up to 1, then linear decay to 0 (transformers' linear schedule)."""

    def __init__(self, warmup: int, total: int) -> None:
        self.warmup, self.total = warmup, total

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return step / max(1, self.warmup)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


# ------------------------------------------------------------------------ engine
class FinetuneEngine(Engine):
    """Fine-tune a pre-trained transformer for classification (all weights, or LoRA)."""

    name: ClassVar[str] = "finetune"
    description: ClassVar[str] = "Fine-tune the transformer end to end with a classification head."
    config_cls: ClassVar[type] = FinetuneConfig
    uses_transformer: ClassVar[bool] = True
    trains_backbone: ClassVar[bool] = True
    supports_resume: ClassVar[bool] = True
    supports_gpu: ClassVar[bool] = True
    label: ClassVar[str] = "Fine-tune (full)"
    memory_model: ClassVar[str] = "full"

    config: FinetuneConfig

    def __init__(self, config: FinetuneConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.device = "cpu"
        self.classes: list[str] = []
        self._model: Any = None
        self._tokenizer: Any = None
        self._base: dict[str, Any] | None = None  # cached: path, config, weights (CPU), tokenizer

    # ------------------------------------------------------------------ loading
    def _ensure_base(self) -> float:
        """Load tokenizer, config and pre-trained weights once (CPU); seconds spent (0 if cached)."""
        if self._base is not None:
            return 0.0
        t0 = time.perf_counter()
        from safetensors.torch import load_file
        from transformers import AutoConfig

        from engines.backbone import load_tokenizer
        from engines.models import model_fingerprint, resolve_model

        _quiet_transformers()
        resolved = resolve_model(self.config.model)
        try:
            hf_config = AutoConfig.from_pretrained(str(resolved.path), local_files_only=True, trust_remote_code=False)
            weights: dict[str, Any] = {}
            for f in sorted(resolved.path.glob("*.safetensors")):
                weights.update(load_file(str(f)))
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"cannot load the model from {resolved.path}: {str(exc).splitlines()[0]}"
            ) from None
        self._tokenizer = load_tokenizer(resolved)
        self._base = {
            "path": resolved.path,
            "config": hf_config,
            "weights": weights,
            "id": f"{resolved.path}:{model_fingerprint(resolved)}",
        }
        return time.perf_counter() - t0

    def warm_up(self) -> None:
        """Load the tokenizer and weights, import the model classes (and peft for LoRA), and
        start the device: everything ``fit`` pays for before its first step."""
        import sklearn.model_selection  # noqa: F401
        from transformers import AutoModelForSequenceClassification  # noqa: F401

        import engines.checkpoint  # noqa: F401
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

    def _build_model(self, classes: list[str]) -> tuple[Any, list[str]]:
        """A fresh classifier on the pre-trained weights (head seeded); the fresh module names."""
        import copy

        from transformers import AutoModelForSequenceClassification

        from engines.backbone import seed_everything

        assert self._base is not None
        cfg = copy.deepcopy(self._base["config"])
        cfg.num_labels = len(classes)
        cfg.id2label = dict(enumerate(classes))
        cfg.label2id = {c: i for i, c in enumerate(classes)}
        cfg.problem_type = "single_label_classification"
        seed_everything(self.config.seed)
        model = AutoModelForSequenceClassification.from_config(cfg)
        prefix = model.base_model_prefix
        weights = self._base["weights"]
        if any(k.startswith(prefix + ".") for k in weights):
            weights = {k[len(prefix) + 1 :]: v for k, v in weights.items() if k.startswith(prefix + ".")}
        try:
            missing, _unexpected = model.base_model.load_state_dict(weights, strict=False)
        except RuntimeError as exc:
            raise ModelNotFoundError(
                f"weights in {self._base['path']} do not fit its config: {str(exc).splitlines()[0]}"
            ) from None
        if len(missing) > max(4, len(weights) // 4):
            raise ModelNotFoundError(
                f"weights in {self._base['path']} do not fit its config ({len(missing)} tensors missing, "
                f"e.g. {missing[0]})"
            )
        params = dict(model.base_model.named_parameters())
        base_modules = {k.rsplit(".", 1)[0] for k in missing if k in params}  # freshly initialised
        head_modules = {n.rsplit(".", 1)[0] for n, _ in model.named_parameters() if not n.startswith(prefix + ".")}
        return model, sorted(base_modules | head_modules)

    def _wrap_lora(self, model: Any, fresh: list[str]) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        cfg = self.config
        lcfg = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_targets),
            modules_to_save=fresh,
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return get_peft_model(model, lcfg)
        except ValueError as exc:
            raise ConfigError(f"LoRA: {str(exc).splitlines()[0]} (lora_targets={list(cfg.lora_targets)})") from None

    # ------------------------------------------------------------------ data
    def _split(self, train: Examples, valid: Examples | None, notes: list[str]) -> tuple[Examples, Examples | None]:
        cfg = self.config
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

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        enc = self._tokenizer(
            list(texts),
            truncation=True,
            max_length=self.config.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(x) for x in enc["input_ids"]]

    def _logits(self, model: Any, seqs: list[list[int]], batch_size: int) -> Any:
        """Logits (float32 numpy, input order) in length-sorted batches; halves the batch on OOM."""
        import numpy as np

        from engines.backbone import inference_context, length_sorted_batches

        out = np.zeros((len(seqs), model.config.num_labels), dtype=np.float32)
        pad = self._tokenizer.pad_token_id or 0
        model.eval()
        todo = length_sorted_batches([len(s) for s in seqs], batch_size)
        while todo:
            idx = todo.pop(0)
            try:
                with inference_context(self.device, self.config.precision):
                    logits = _forward_logits(model, _collate([seqs[i] for i in idx], pad, self.device))
            except Exception as exc:
                if not _is_oom(exc) or len(idx) == 1:
                    if _is_oom(exc):
                        raise ResourceError("CUDA out of memory even at batch 1 while predicting") from None
                    raise
                _free_cuda(self.device)
                half = len(idx) // 2
                todo[:0] = [idx[:half], idx[half:]]
                continue
            out[idx] = logits.float().cpu().numpy()
        return out

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
        from engines.metrics import PeakMemory

        t_start = time.perf_counter()
        if len(train) == 0:
            raise DataError("no training examples")
        if len(set(train.labels)) < 2:
            raise DataError(f"fine-tuning needs at least 2 classes; the training data has {len(set(train.labels))}")
        from engines.backbone import pick_device, set_threads

        set_threads(self.config.threads)
        self.device = pick_device(self.config.device)
        progress(ProgressEvent(phase="load", done=0, total=1, unit="models", message=self.config.model))
        load_s = self._ensure_base()
        progress(ProgressEvent(phase="load", done=1, total=1, unit="models", message=self.config.model))
        with PeakMemory(self.device) as mem:
            run = _Run(self, train, valid, budget_s, progress, cancel, workdir, resume, t_start)
            run.phase_s["load"] = load_s
            run.train()
            run.phase_s["train"] = run.train_s
        self._model, self.classes = run.final_model, run.classes
        wall = time.perf_counter() - t_start
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=run.examples_seen,
            epochs=round(run.examples_seen / max(1, len(run.train_ex)), 4),
            steps=run.step,
            tokens_seen=run.tokens_seen,
            stopped=run.stopped,
            best_step=run.best_step,
            phase_s=run.phase_s,
            wall_s=wall,
            train_examples_per_s=run.session_examples / run.train_s if run.train_s > 0 else None,
            train_tokens_per_s=run.session_tokens / run.train_s if run.train_s > 0 else None,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            peak_gpu_bytes=mem.peak_gpu_bytes,
            device=self.device,
            notes=run.notes,
        )

    # ------------------------------------------------------------------ predict
    def predict(self, texts: Sequence[str]) -> Predictions:
        import numpy as np

        if self._model is None:
            raise ConfigError("the fine-tuned model is not there: fit or load it first")
        if not len(texts):
            return Predictions(labels=[], classes=list(self.classes), scores=[])
        logits = self._logits(self._model, self._encode(texts), self.config.batch_size)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        labels = [self.classes[i] for i in probs.argmax(axis=1)]
        return Predictions(labels=labels, classes=list(self.classes), scores=probs.tolist())

    # ------------------------------------------------------------------ save / load
    def save(self, directory: Path) -> None:
        """``model/`` (safetensors + tokenizer; LoRA merged), ``labels.json``, ``finetune.json``."""
        if self._model is None:
            raise ConfigError("nothing to save: the engine is not fitted")
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with staged_dir(directory / "model", overwrite=True) as tmp:
                self._model.save_pretrained(str(tmp))
                self._tokenizer.save_pretrained(str(tmp))
                if not list(tmp.glob("*.safetensors")):
                    raise ArtifactError("transformers wrote no safetensors weights")
            write_json(directory / "labels.json", {"classes": self.classes})
            write_json(
                directory / "finetune.json",
                {
                    "format": ARTIFACT_FORMAT,
                    "engine": self.name,
                    "lora_merged": self.config.mode == "lora",
                    "config": self.config.model_dump(mode="json"),
                },
            )
        except OSError as exc:
            cls = ResourceError if exc.errno == 28 else ArtifactError
            raise cls(f"cannot write the model to {directory}: {exc.strerror or exc}") from None

    @classmethod
    def load(cls, directory: Path) -> FinetuneEngine:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from engines.backbone import pick_device

        directory = Path(directory)
        model_dir = directory / "model"
        try:
            meta = json.loads((directory / "finetune.json").read_text(encoding="utf-8"))
            classes = json.loads((directory / "labels.json").read_text(encoding="utf-8"))["classes"]
            if meta.get("format") != ARTIFACT_FORMAT:
                raise ValueError(f"format {meta.get('format')}, expected {ARTIFACT_FORMAT}")
            config = FinetuneConfig(**meta["config"])
            if not isinstance(classes, list) or len(classes) < 2:
                raise ValueError("labels.json holds no class list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{directory} is not a fine-tuned model artifact: {str(exc).splitlines()[0]}") from None
        if not (model_dir / "config.json").is_file() or not list(model_dir.glob("*.safetensors")):
            raise ArtifactError(f"{model_dir} lacks config.json or safetensors weights")
        _quiet_transformers()
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                str(model_dir), use_safetensors=True, local_files_only=True, trust_remote_code=False
            )
            tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, trust_remote_code=False)
        except Exception as exc:  # noqa: BLE001 - corrupt files surface as many exception types
            raise ArtifactError(f"cannot load the model in {model_dir}: {str(exc).splitlines()[0]}") from None
        if model.config.num_labels != len(classes):
            raise ArtifactError(
                f"{model_dir} has {model.config.num_labels} outputs but labels.json {len(classes)} classes"
            )
        engine = cls(config)
        try:
            engine.device = pick_device(config.device)
        except ResourceError:
            engine.device = pick_device("auto")
        engine._model = model.to(engine.device).eval()
        engine._tokenizer = tokenizer
        engine.classes = list(classes)
        return engine


class LoraEngine(FinetuneEngine):
    """Fine-tune LoRA adapters (peft) plus the head; the artifact holds the merged model."""

    name: ClassVar[str] = "lora"
    description: ClassVar[str] = "Fine-tune low-rank adapters (LoRA) and the head; the backbone stays frozen."
    label: ClassVar[str] = "Fine-tune (LoRA)"
    memory_model: ClassVar[str] = "adapters"
    alternative_to: ClassVar[str | None] = "finetune"

    def __init__(self, config: FinetuneConfig | dict[str, Any] | None = None) -> None:
        if config is None:
            config = FinetuneConfig(mode="lora")
        elif isinstance(config, dict):
            config = FinetuneConfig(**{**config, "mode": "lora"})
        elif config.mode != "lora":
            config = config.model_copy(update={"mode": "lora"})
        super().__init__(config)


# --------------------------------------------------------------------- training
class _Run:
    """One ``fit``: the loop, early stopping, budget, cancel, checkpoints and OOM retries."""

    def __init__(
        self,
        engine: FinetuneEngine,
        train: Examples,
        valid: Examples | None,
        budget_s: float | None,
        progress: ProgressFn,
        cancel: threading.Event | None,
        workdir: Path | None,
        resume: bool,
        t_start: float,
    ) -> None:
        self.engine, self.cfg = engine, engine.config
        self.budget_s, self.progress, self.cancel = budget_s, progress, cancel
        self.workdir, self.resume, self.t_start = (Path(workdir) if workdir else None), resume, t_start
        self.device = engine.device
        self.notes: list[str] = []
        self.phase_s: dict[str, float] = {}
        self.fingerprint = _fingerprint(train, valid, self.cfg, engine._base["id"])  # type: ignore[index]
        self.classes = sorted(set(train.labels))
        self.train_ex, self.valid_ex = engine._split(train, valid, self.notes)
        self.step = self.examples_seen = self.tokens_seen = 0
        self.session_examples = self.session_tokens = self.session_steps = 0
        self.train_s = 0.0
        self.eval_s: list[float] = []
        self.best: dict[str, Any] | None = None
        self.best_score: tuple[float, float] | None = None
        self.best_step: int | None = None
        self.evals_without_gain = 0
        self.last_eval_step: int | None = None
        self.finished: str | None = None
        self.stopped = "completed"
        self.final_model: Any = None

    def _add(self, phase: str, seconds: float) -> None:
        self.phase_s[phase] = self.phase_s.get(phase, 0.0) + seconds

    # ---------------------------------------------------------------- setup
    def _setup(self) -> None:
        import torch

        from engines.backbone import resolve_precision

        t0 = time.perf_counter()
        cfg, eng = self.cfg, self.engine
        index = {c: i for i, c in enumerate(self.classes)}
        self.seqs = eng._encode(self.train_ex.texts)
        self.lengths = [len(s) for s in self.seqs]
        self.y = torch.tensor([index[c] for c in self.train_ex.labels], dtype=torch.long)
        if self.valid_ex is not None:
            self.valid_seqs = eng._encode(self.valid_ex.texts)
            self.valid_y = torch.tensor([index[c] for c in self.valid_ex.labels], dtype=torch.long)
        self.total_steps, self.per_epoch = plan_steps(len(self.train_ex), cfg)
        epoch_steps = math.ceil(cfg.epochs * self.per_epoch)
        if self.total_steps > epoch_steps:
            self.notes.append(
                f"{self.total_steps} optimizer steps (min_steps; {cfg.epochs:g} epochs would be "
                f"{epoch_steps}): small data needs enough steps to learn"
            )
        model, fresh = eng._build_model(self.classes)
        if cfg.mode == "lora":
            model = eng._wrap_lora(model, fresh)
        self.model = model.to(self.device)
        self.precision = resolve_precision(self.device, cfg.precision)
        if cfg.precision in ("bf16", "fp16") and not self.device.startswith("cuda"):
            self.notes.append(f"precision {cfg.precision} needs a CUDA GPU: training in fp32 on {self.device}")
        lr = cfg.learning_rate_lora if cfg.mode == "lora" else cfg.learning_rate
        decay, no_decay = [], []
        for _, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 else decay).append(p)
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        try:  # fused AdamW (CPU and CUDA): ~6x faster than the per-tensor loop on CPU
            self.optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError):
            self.optimizer = torch.optim.AdamW(groups, lr=lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _LinearWarmupDecay(math.ceil(cfg.warmup_ratio * self.total_steps), self.total_steps)
        )
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.micro = cfg.train_batch_size
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._epoch: tuple[int, list[list[int]]] = (-1, [])
        self._updating = False
        self._step_rng: dict[str, Any] | None = None
        self._ckpt_step: int | None = None
        self._ckpt_s: list[float] = []
        self._add("prepare", time.perf_counter() - t0)

    def _restore(self) -> None:
        if self.workdir is None or not self.resume:
            return
        ck = ckpt.load_latest(self.workdir)
        if ck is None:
            self.notes.append(f"no checkpoint in {self.workdir}: started from the beginning")
            return
        st = ck.state
        if st.fingerprint != self.fingerprint:
            raise ConfigError(
                f"the checkpoint in {self.workdir} belongs to other data or settings; "
                "run without --resume to start over"
            )
        _load_trainable(self.model, ck.weights)
        self.optimizer.load_state_dict(
            ckpt.optimizer_from_flat(ck.optimizer_tensors, st.optimizer_groups, st.optimizer_scalars)
        )
        self.scheduler.load_state_dict(dict(st.scheduler))
        if self.scaler is not None and st.scaler:
            self.scaler.load_state_dict(dict(st.scaler))
        ckpt.restore_rng(ck.rng, st.python_rng, st.numpy_rng)
        self.step, self.examples_seen, self.tokens_seen = st.step, st.examples_seen, st.tokens_seen
        self.micro = min(st.micro_batch, self.cfg.train_batch_size)
        self.best = ck.best
        self.best_score = tuple(st.best_score) if st.best_score else None  # type: ignore[assignment]
        self.best_step, self.evals_without_gain = st.best_step, st.evals_without_gain
        self.last_eval_step, self.finished = st.last_eval_step, st.finished
        self.notes = [n for n in st.notes if n not in self.notes] + self.notes
        self.notes.append(f"resumed from the checkpoint at step {st.step} of {st.total_steps}")

    # ---------------------------------------------------------------- checkpoints
    def _torch_rng(self) -> dict[str, Any]:
        """torch's generator states (Python/NumPy generators are not used inside a step)."""
        import torch

        states = {"torch": torch.get_rng_state()}
        if self.device.startswith("cuda"):
            states.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
        return states

    def _checkpoint(self, rng: dict[str, Any] | None = None) -> None:
        if self.workdir is None:
            return
        t0 = time.perf_counter()
        self.progress(
            ProgressEvent(phase="save", done=self.step, total=self.total_steps, unit="steps", message="checkpoint")
        )
        tensors, py_rng, np_rng = ckpt.capture_rng()
        if rng is not None:  # a step cut short restarts from the generator state it began with
            tensors = rng
        opt_t, groups, scalars = ckpt.optimizer_to_flat(self.optimizer.state_dict())
        state = ckpt.TrainState(
            fingerprint=self.fingerprint,
            step=self.step,
            total_steps=self.total_steps,
            examples_seen=self.examples_seen,
            tokens_seen=self.tokens_seen,
            micro_batch=self.micro,
            best_score=self.best_score,
            best_step=self.best_step,
            evals_without_gain=self.evals_without_gain,
            last_eval_step=self.last_eval_step,
            finished=self.finished,
            notes=list(self.notes),
            scheduler=ckpt._jsonable(self.scheduler.state_dict()),
            scaler=ckpt._jsonable(self.scaler.state_dict()) if self.scaler is not None else None,
            optimizer_groups=groups,
            optimizer_scalars=scalars,
            python_rng=py_rng,
            numpy_rng=np_rng,
        )
        ckpt.save_checkpoint(
            self.workdir, state, weights=_trainable(self.model), optimizer_tensors=opt_t, rng=tensors, best=self.best
        )
        self._ckpt_step = self.step
        self._ckpt_s.append(time.perf_counter() - t0)
        self._add("checkpoint", self._ckpt_s[-1])

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        import torch

        t0 = time.perf_counter()
        logits = self.engine._logits(self.model, self.valid_seqs, self.cfg.batch_size)
        self.model.train()
        y = self.valid_y.numpy()
        acc = float((logits.argmax(axis=1) == y).mean())
        loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), self.valid_y))
        score = (acc, -loss)
        if self.best_score is None or score > self.best_score:
            best, best_score, best_step, without = _trainable(self.model), score, self.step, 0
        else:
            best, best_score, best_step = self.best, self.best_score, self.best_step
            without = self.evals_without_gain + 1
        finished = "early_stopping" if without >= self.cfg.early_stopping_patience else self.finished
        # one statement: a Ctrl-C cannot leave half of the early-stopping state updated
        (self.best, self.best_score, self.best_step, self.evals_without_gain, self.finished, self.last_eval_step) = (
            best,
            best_score,
            best_step,
            without,
            finished,
            self.step,
        )
        self.eval_s.append(time.perf_counter() - t0)
        self._add("eval", self.eval_s[-1])
        self.progress(
            ProgressEvent(
                phase="eval",
                done=self.step,
                total=self.total_steps,
                unit="steps",
                message=f"validation accuracy {acc:.3f} loss {loss:.3f}",
            )
        )

    def _eval_due(self) -> bool:
        return (
            self.valid_ex is not None
            and self.step > 0
            and self.last_eval_step != self.step
            and (self.step % self.cfg.eval_every_steps == 0 or self.step == self.total_steps)
        )

    # ---------------------------------------------------------------- one step
    def _train_step(self) -> float:
        import torch

        epoch, pos = divmod(self.step, self.per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.lengths, self.cfg.train_batch_size, self.cfg.seed, epoch))
        batch = self._epoch[1][pos]
        pad = self.engine._tokenizer.pad_token_id or 0
        from engines.backbone import autocast_context

        rng_start = torch.get_rng_state()
        self._step_rng = self._torch_rng()
        while True:
            self.optimizer.zero_grad(set_to_none=True)
            loss_sum = torch.zeros((), device=self.device)
            try:
                for s in range(0, len(batch), self.micro):
                    idx = batch[s : s + self.micro]
                    inputs = _collate([self.seqs[i] for i in idx], pad, self.device)
                    with autocast_context(self.device, self.cfg.precision):
                        logits = _forward_logits(self.model, inputs)
                    loss = torch.nn.functional.cross_entropy(
                        logits.float(), self.y[idx].to(self.device), reduction="sum"
                    ) / len(batch)
                    (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
                    loss_sum = loss_sum + loss.detach().float()
                break
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self.optimizer.zero_grad(set_to_none=True)
                _free_cuda(self.device)
                if self.micro == 1:
                    raise ResourceError(
                        "CUDA out of memory even at micro-batch 1: lower max_length or use device=cpu"
                    ) from None
                old, self.micro = self.micro, max(1, self.micro // 2)
                accum = math.ceil(self.cfg.train_batch_size / self.micro)
                self.notes.append(
                    f"CUDA out of memory at batch {old}: continuing at micro-batch "
                    f"{self.micro} × {accum} accumulation steps"
                )
                torch.set_rng_state(rng_start)
        self._updating = True
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self._params, self.cfg.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        tokens = sum(self.lengths[i] for i in batch)
        self.examples_seen += len(batch)
        self.tokens_seen += tokens
        self.session_examples += len(batch)
        self.session_tokens += tokens
        self._updating, self._step_rng = False, None
        return float(loss_sum)

    def _out_of_budget(self) -> bool:
        if self.budget_s is None:
            return False
        elapsed = time.perf_counter() - self.t_start
        step_s = self.train_s / self.session_steps if self.session_steps else 0.0
        nxt = step_s
        if self.valid_ex is not None and (self.step + 1) % self.cfg.eval_every_steps == 0 and self.eval_s:
            nxt += sum(self.eval_s) / len(self.eval_s)
        if self._ckpt_s:  # stopping writes a checkpoint too
            nxt += sum(self._ckpt_s) / len(self._ckpt_s)
        return elapsed + nxt > self.budget_s

    # ---------------------------------------------------------------- the loop
    def train(self) -> None:
        from engines.backbone import synchronize

        self._setup()
        self._restore()
        self.model.train()
        if self._eval_due():  # interrupted between a step and its validation
            self._validate()
        stop: str | None = None
        try:
            while self.finished is None and self.step < self.total_steps:
                if self.cancel is not None and self.cancel.is_set():
                    stop = "cancelled"
                    break
                if self._out_of_budget():
                    stop = "budget"
                    break
                t0 = time.perf_counter()
                loss = self._train_step()
                synchronize(self.device)
                self.train_s += time.perf_counter() - t0
                self.session_steps += 1
                self.progress(
                    ProgressEvent(
                        phase="train", done=self.step, total=self.total_steps, unit="steps", message=f"loss {loss:.4f}"
                    )
                )
                if self._eval_due():
                    self._validate()
                if self.step == self.total_steps and self.finished is None:
                    self.finished = "completed"
                if self.finished is not None or self.step % self.cfg.checkpoint_every_steps == 0:
                    self._checkpoint()
        except KeyboardInterrupt:
            # A step cut short restarts from its beginning: its RNG state and the counters before it.
            if not self._updating:
                self._checkpoint(self._step_rng)
            raise
        if stop is not None:
            self.stopped = stop
            if self._ckpt_step != self.step:
                self._checkpoint()
            self.notes.append(
                f"stopped by the {'budget' if stop == 'budget' else 'user'} after "
                f"{self.step} of {self.total_steps} steps; the checkpoint can resume it"
                if self.workdir
                else f"stopped by the {'budget' if stop == 'budget' else 'user'} after "
                f"{self.step} of {self.total_steps} steps"
            )
        elif self.finished == "early_stopping":
            self.stopped = "early_stopping"
            self.notes.append(
                f"early stopping at step {self.step}: no validation gain in "
                f"{self.cfg.early_stopping_patience} evaluations"
            )
        self._finish()

    def _finish(self) -> None:
        """Keep the best validated weights; merge LoRA so the model needs no peft."""
        if self.best is not None:
            current_validated = self.last_eval_step == self.step
            if not current_validated and self.stopped == "budget":
                self.notes.append(
                    f"the budget left no time to validate the last {self.step - (self.last_eval_step or 0)}"
                    " steps: kept the latest weights"
                )
            elif not current_validated and self.stopped == "cancelled":
                self.notes.append("cancelled before validating the latest weights: kept them")
            else:
                if self.best_step != self.step:
                    _load_trainable(self.model, self.best)
                    self.notes.append(f"kept the best validation weights, from step {self.best_step}")
        model = self.model
        if self.cfg.mode == "lora":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = model.merge_and_unload()
        model.eval()
        self.final_model = model
