"""``contrastive`` / ``contrastive-lora``: fine-tune the encoder on (query, relevant document) pairs.

sentence-transformers' MultipleNegativesRankingLoss (in-batch negatives; hard negatives as a third
column), no-duplicate batches; then index and search exactly as ``frozen-index`` does, with the tuned weights
(with ``workers > 1`` the index is embedded on Ray from the tuned weights' folder; training stays here).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from engines.base import MemoryModel, ProgressEvent, ProgressFn, no_progress
from engines.contrastive_loop import TrainLoop, no_duplicate_batches, plan, training_rows
from engines.dense import FrozenIndexConfig, FrozenIndexEngine
from engines.errors import ConfigError, ModelNotFoundError
from engines.records import FitReport, Pairs
from engines.retrieval import check_train

__all__ = [
    "ContrastiveConfig",
    "ContrastiveEngine",
    "ContrastiveLoraEngine",
    "no_duplicate_batches",
    "plan",
    "training_rows",
]

ENCODER_DIR = "encoder"
ADAPTER_DIR = "adapters"


class ContrastiveConfig(FrozenIndexConfig):
    """The frozen-index settings plus the contrastive recipe (steps follow ``engines.finetune.recipe``)."""

    mode: Literal["full", "lora"] = Field("full", description="Train all weights, or LoRA adapters.")
    train_batch_size: int = Field(32, ge=2, description="Pairs per optimizer step: each query's in-batch negatives.")
    learning_rate: float = Field(5e-5, gt=0, description="Peak AdamW learning rate (full mode).")
    learning_rate_lora: float = Field(1e-3, gt=0, description="Peak AdamW learning rate in LoRA mode.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, le=0.5, description="Share of steps for linear warm-up.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    epochs: float = Field(3.0, gt=0, description="Epochs over the training pairs (at least).")
    min_steps: int = Field(
        150, ge=0, description="Train at least this many optimizer steps (the classification recipe's rule)."
    )
    max_steps: int | None = Field(None, ge=1, description="Hard cap on optimizer steps.")
    checkpoint_every_steps: int = Field(
        50, ge=1, description="Write a resumable checkpoint this often (with a workdir)."
    )
    scale: float = Field(20.0, gt=0, description="MultipleNegativesRankingLoss scale (inverse temperature).")
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.1, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: tuple[str, ...] = Field(("query", "value"), description="Modules that get adapters.")


def _st_classes() -> tuple[Any, Any, Any, Any]:
    """SentenceTransformer, Transformer, Pooling, Normalize from their sentence-transformers 6 modules."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    return SentenceTransformer, Transformer, Pooling, Normalize


def _inner(transformer: Any) -> str:
    """The attribute holding a sentence-transformers Transformer's model: ``model`` where ``auto_model``
    is a read-only property (sentence-transformers 5+), else ``auto_model``."""
    return "model" if isinstance(getattr(type(transformer), "auto_model", None), property) else "auto_model"


class ContrastiveEngine(FrozenIndexEngine):
    """Fine-tune the whole encoder with in-batch negatives, then index with the tuned weights."""

    name: ClassVar[str] = "contrastive"
    description: ClassVar[str] = "fine-tune the encoder on query-document pairs (in-batch negatives), then index"
    config_cls: ClassVar[type] = ContrastiveConfig
    label: ClassVar[str] = "Contrastive fine-tune (full)"
    trains_backbone: ClassVar[bool] = True
    supports_resume: ClassVar[bool] = True
    memory_model: ClassVar[MemoryModel] = "full"
    scales_out: ClassVar[bool] = False  # training stays in one process; only ``index`` spreads over Ray workers

    config: ContrastiveConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.last_fit: dict[str, Any] = {}
        self._adapters: Path | None = None  # LoRA: the trained adapters (peft's safetensors folder)

    def _build(self, resolved: Any, *, new_adapters: bool = True) -> Any:
        """A SentenceTransformer on the pre-trained weights: Transformer + the encoder's pooling + Normalize
        (the ``embedding`` engine always normalises too); in LoRA mode with fresh adapters unless told not."""
        from transformers.utils import logging as hf_logging

        from engines.backbone import seed_everything
        from engines.models import pooling_mode

        hf_logging.set_verbosity_error()  # no load reports or progress bars: the CLI draws its own
        hf_logging.disable_progress_bar()
        SentenceTransformer, Transformer, Pooling, Normalize = _st_classes()
        offline = {"local_files_only": True, "trust_remote_code": False}
        seed_everything(self.config.seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tr = Transformer(
                    str(resolved.path),
                    model_kwargs={**offline, "use_safetensors": True},
                    processor_kwargs=offline,
                    config_kwargs=offline,
                    max_seq_length=self.config.max_length,
                )
                pool = Pooling(tr.get_embedding_dimension(), pooling_mode=pooling_mode(resolved))
                model = SentenceTransformer(modules=[tr, pool, Normalize()], device=self.device)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"cannot load the model from {resolved.path}: {str(exc).splitlines()[0]}"
            ) from None
        if self.config.mode == "lora" and new_adapters:
            from peft import LoraConfig, TaskType, get_peft_model

            cfg = self.config
            lcfg = LoraConfig(
                task_type=TaskType.FEATURE_EXTRACTION,
                r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                lora_dropout=cfg.lora_dropout,
                target_modules=list(cfg.lora_targets),
            )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    setattr(tr, _inner(tr), get_peft_model(tr.auto_model, lcfg))
            except ValueError as exc:
                raise ConfigError(f"LoRA: {str(exc).splitlines()[0]} (lora_targets={list(cfg.lora_targets)})") from None
        return model

    def warm_up(self) -> None:
        """Import sentence-transformers (and peft), resolve and load the model once: what ``fit`` pays
        before its first step. Loaded from an artifact: its tuned encoder, what ``search`` reads."""
        if self._model_ref is not None:
            return super().warm_up()
        from engines.backbone import pick_device
        from engines.models import resolve_model

        self.device = pick_device(self.config.device)
        self._build(resolve_model(self.config.model))

    def prepare(
        self, texts: Sequence[str], *, progress: ProgressFn = no_progress, cancel: threading.Event | None = None
    ) -> None:
        """Resolve the model (``fit`` builds its own from the pre-trained weights each time)."""
        from engines.models import resolve_model

        resolve_model(self.config.model)

    def fit(  # type: ignore[override]  # on Pairs, as every RetrievalEngine (see engines.retrieval)
        self,
        train: Pairs,
        *,
        valid: Pairs | None = None,
        budget_s: float | None = None,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
        workdir: Path | None = None,
        resume: bool = False,
    ) -> FitReport:
        """Train from the pre-trained weights (every fit starts afresh, unless ``resume`` finds a checkpoint
        of the same pairs and settings in ``workdir``). Stops before a step that would overrun ``budget_s``
        or once ``cancel`` is set, keeping the steps done (and, with a ``workdir``, a checkpoint of them)."""
        from engines.backbone import pick_device, set_threads
        from engines.metrics import PeakMemory
        from engines.models import model_fingerprint, resolve_model

        t_start = time.perf_counter()
        train = check_train(train, self.name)
        if budget_s is None:
            self._check_pool()  # an unreachable cluster fails now, not after the training
        notes: list[str] = []
        if valid is not None:
            notes.append("no early stopping: the validation pairs were not used")
        rows = training_rows(train, notes)
        cfg = self.config
        set_threads(cfg.threads)
        self.device = pick_device(cfg.device)
        phase_s: dict[str, float] = {}
        with PeakMemory(self.device) as mem:
            progress(ProgressEvent(phase="load", done=0, total=1, unit="models", message=cfg.model))
            t0 = time.perf_counter()
            resolved = resolve_model(cfg.model)
            model = self._build(resolved)
            phase_s["load"] = time.perf_counter() - t0
            progress(ProgressEvent(phase="load", done=1, total=1, unit="models", message=cfg.model))
            model_id = f"{resolved.path}:{model_fingerprint(resolved)}"
            run = TrainLoop(
                self,
                model,
                rows,
                budget_s,
                progress,
                cancel,
                t_start,
                workdir=workdir,
                resume=resume,
                model_id=model_id,
            )
            run.train()
            phase_s["train"] = run.train_s
            t0 = time.perf_counter()
            self._keep(model)
            phase_s["save"] = time.perf_counter() - t0
        notes += run.notes
        self.last_fit = {"steps": run.step, "stopped": run.stopped, "n_rows": len(rows)}
        return FitReport(
            engine=self.name,
            n_train=len(train),
            examples_seen=run.examples_seen,
            epochs=round(run.examples_seen / len(rows), 4),
            steps=run.step,
            tokens_seen=run.tokens_seen,
            stopped=run.stopped,
            phase_s=phase_s,
            wall_s=time.perf_counter() - t_start,
            train_examples_per_s=run.session_examples / run.train_s if run.train_s > 0 else None,
            train_tokens_per_s=run.session_tokens / run.train_s if run.train_s > 0 else None,
            peak_rss_bytes=mem.peak_rss_bytes or None,
            peak_gpu_bytes=mem.peak_gpu_bytes,
            device=self.device,
            notes=notes,
        )

    def _keep(self, model: Any) -> None:
        """Write the tuned encoder (LoRA: the adapters, then the merged model) as a sentence-transformers
        folder of safetensors in the scratch folder, and encode from it: the frozen and tuned paths share
        ``EmbeddingEngine.encode``."""
        import shutil
        import tempfile

        tr = model[0]
        root = Path(tempfile.mkdtemp(prefix="tuned-", dir=self._scratch()))
        if self.config.mode == "lora":
            tr.auto_model.save_pretrained(str(root / ADAPTER_DIR))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                setattr(tr, _inner(tr), tr.auto_model.merge_and_unload())
        model.save(str(root / ENCODER_DIR), create_model_card=False, safe_serialization=True)
        old = Path(self._model_ref).parent if self._model_ref else None
        self._set_model(str(root / ENCODER_DIR))
        self._adapters = root / ADAPTER_DIR if self.config.mode == "lora" else None
        if old is not None and self._tmp is not None and self._tmp in old.parents:
            shutil.rmtree(old, ignore_errors=True)

    def _extra_meta(self) -> dict[str, Any]:
        return {"tuned": bool(self.last_fit), "last_fit": self.last_fit}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        self.last_fit = dict(meta.get("last_fit") or {})


class ContrastiveLoraEngine(ContrastiveEngine):
    """The contrastive fine-tune with LoRA adapters; the artifact holds the adapters and the base model's
    reference and hash (``load`` needs that base model offline and merges the adapters into it)."""

    name: ClassVar[str] = "contrastive-lora"
    description: ClassVar[str] = "fine-tune LoRA adapters of the encoder on query-document pairs, then index"
    label: ClassVar[str] = "Contrastive fine-tune (LoRA)"
    memory_model: ClassVar[MemoryModel] = "adapters"
    alternative_to: ClassVar[str | None] = "contrastive"

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = ContrastiveConfig(mode="lora")
        elif isinstance(config, dict):
            config = ContrastiveConfig(**{**config, "mode": "lora"})
        elif config.mode != "lora":
            config = config.model_copy(update={"mode": "lora"})
        super().__init__(config)

    def _save_model(self, directory: Path) -> dict[str, Any]:
        """``adapters/`` (peft's safetensors) and the base model's reference and hash in the JSON; a
        never-fitted engine copies its frozen model as ``frozen-index`` does."""
        import shutil

        from engines.atomic import staged_dir

        if self._adapters is None:
            return super()._save_model(directory)
        with staged_dir(directory / ADAPTER_DIR, overwrite=True) as tmp:
            shutil.copytree(self._adapters, tmp, dirs_exist_ok=True)
        return {"adapters": ADAPTER_DIR}

    def _load_model(self, directory: Path, meta: dict[str, Any]) -> str:
        """The base model resolved offline (its hash must match the one trained on), the adapters merged
        into it, written to the scratch folder: what the encoder reads."""
        import tempfile

        from engines.backbone import pick_device
        from engines.errors import ArtifactError, ResourceError, UserError
        from engines.models import model_fingerprint, resolve_model

        if not meta.get("adapters"):
            return super()._load_model(directory, meta)
        try:
            base = resolve_model(self.config.model)
        except UserError as exc:
            raise ArtifactError(f"the LoRA artifact in {directory} needs its base model: {exc}") from None
        if model_fingerprint(base) != meta.get("base_model_hash"):
            raise ArtifactError(
                f"base model {self.config.model!r} is not the one the adapters in {directory} were trained on (hash)"
            )
        try:
            self.device = pick_device(self.config.device)
        except ResourceError:
            self.device = pick_device("auto")
        from peft import PeftModel

        model = self._build(base, new_adapters=False)
        tr = model[0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tuned = PeftModel.from_pretrained(tr.auto_model, str(directory / ADAPTER_DIR))
                setattr(tr, _inner(tr), tuned.merge_and_unload())
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ArtifactError(
                f"cannot apply the adapters in {directory / ADAPTER_DIR}: {type(exc).__name__}"
            ) from None
        root = Path(tempfile.mkdtemp(prefix="tuned-", dir=self._scratch()))
        model.save(str(root / ENCODER_DIR), create_model_card=False, safe_serialization=True)
        self._adapters = directory / ADAPTER_DIR
        return str(root / ENCODER_DIR)
