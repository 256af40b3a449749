"""The ``finetune``/``lora`` engines on disk: ``save`` writes ``model/`` (safetensors + tokenizer; LoRA
merged), ``labels.json`` and ``finetune.json``; ``load`` reads them back offline and checks them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engines.atomic import staged_dir, write_json
from engines.config import FinetuneConfig
from engines.errors import ArtifactError, ConfigError, ResourceError
from engines.finetune_model import quiet_transformers

if TYPE_CHECKING:
    from engines.finetune import FinetuneEngine

ARTIFACT_FORMAT = 1

F = TypeVar("F", bound="FinetuneEngine")


def save(engine: FinetuneEngine, directory: Path) -> None:
    """Write the fitted ``engine``'s artifact to ``directory`` (the model folder staged, then renamed)."""
    if engine._model is None:
        raise ConfigError("nothing to save: the engine is not fitted")
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with staged_dir(directory / "model", overwrite=True) as tmp:
            engine._model.save_pretrained(str(tmp))
            engine._tokenizer.save_pretrained(str(tmp))
            if not list(tmp.glob("*.safetensors")):
                raise ArtifactError("transformers wrote no safetensors weights")
        write_json(directory / "labels.json", {"classes": engine.classes})
        write_json(
            directory / "finetune.json",
            {
                "format": ARTIFACT_FORMAT,
                "engine": engine.name,
                "lora_merged": engine.config.mode == "lora",
                "config": engine.config.model_dump(mode="json"),
            },
        )
    except OSError as exc:
        error = ResourceError if exc.errno == 28 else ArtifactError
        raise error(f"cannot write the model to {directory}: {exc.strerror or exc}") from None


def load(cls: type[F], directory: Path) -> F:
    """An engine of class ``cls`` from the artifact in ``directory``, on its configured device (else the best one)."""
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
    quiet_transformers()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(model_dir), use_safetensors=True, local_files_only=True, trust_remote_code=False
        )
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - corrupt files surface as many exception types
        raise ArtifactError(f"cannot load the model in {model_dir}: {str(exc).splitlines()[0]}") from None
    if model.config.num_labels != len(classes):
        raise ArtifactError(f"{model_dir} has {model.config.num_labels} outputs but labels.json {len(classes)} classes")
    engine = cls(config)
    try:
        engine.device = pick_device(config.device)
    except ResourceError:
        engine.device = pick_device("auto")
    engine._model = model.to(engine.device).eval()
    engine._tokenizer = tokenizer
    engine.classes = list(classes)
    return engine
