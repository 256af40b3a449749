"""Settings for each engine. Profiles (``profiles/*.toml``) hold one section per engine.

These are the knobs a full run and the micro-benchmark share: the benchmark runs
the same engine with the same config on a sample.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, description="Seed for every random choice the engine makes.")


class TfidfConfig(_Config):
    """TF-IDF (word + char n-grams) with a logistic-regression head: the honest floor."""

    word_ngrams: tuple[int, int] = Field((1, 2), description="Word n-gram range.")
    char_ngrams: tuple[int, int] | None = Field(
        (2, 5), description="Char n-gram range (char_wb); None turns char features off."
    )
    max_features: int = Field(200_000, description="Cap on vocabulary size per analyzer.")
    min_df: int = Field(1, description="Ignore terms seen in fewer documents than this.")
    C: float | None = Field(None, description="LogisticRegression C; None picks it by small CV.")


class TransformerConfig(_Config):
    """What both transformer engines share."""

    model: str = Field(
        DEFAULT_MODEL,
        description="Model reference: a local folder, an installed model package, or a "
        "Hugging Face id already in the local cache (see engines.models).",
    )
    max_length: int = Field(128, ge=8, le=8192, description="Tokens per text; longer texts are truncated.")
    batch_size: int = Field(32, ge=1, description="Batch size for inference/embedding.")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto' = bf16 autocast on a GPU that supports it, else fp32."
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = all cores.")


class EmbeddingConfig(TransformerConfig):
    """Frozen encoder + a light head (or a vector index)."""

    head: Literal["logreg", "knn"] = Field("logreg", description="Classifier on the vectors.")
    knn_k: int = Field(10, ge=1, description="Neighbours for the kNN head and default search k.")
    C: float | None = Field(None, description="LogisticRegression C; None picks it by small CV.")
    backend: Literal["torch", "onnx-int8"] = Field(
        "torch",
        description="Encoder runtime: 'torch', or 'onnx-int8' (the encoder exported to ONNX with int8 "
        "weights, run by onnxruntime on the CPU; needs the 'onnx' extra).",
    )
    workers: int = Field(
        1,
        ge=1,
        description="Encoder workers: above 1, a full run's training and held-out texts are embedded by this "
        "many Ray actors (engines.ray_embed; needs the 'ray' extra); budgeted benchmark fits stay in one process.",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to embed on (with workers > 1); None = $RAY_ADDRESS, else a local cluster."
    )


class FinetuneConfig(TransformerConfig):
    """AutoModelForSequenceClassification trained end to end (or with LoRA adapters)."""

    mode: Literal["full", "lora"] = Field("full", description="Train all weights, or LoRA adapters.")
    train_batch_size: int = Field(16, ge=1, description="Examples per optimizer step (effective).")
    learning_rate: float = Field(1e-4, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, le=0.5, description="Share of steps for linear warm-up.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    epochs: float = Field(4.0, gt=0, description="Epochs over the training data (at least).")
    min_steps: int = Field(
        150,
        ge=0,
        description="Train at least this many optimizer steps: small data otherwise collapses "
        "to the majority class and the comparison is decided by the recipe.",
    )
    max_steps: int | None = Field(None, ge=1, description="Hard cap on optimizer steps.")
    valid_fraction: float = Field(
        0.1, ge=0, lt=0.5, description="Share of the training data held out for early stopping."
    )
    eval_every_steps: int = Field(50, ge=1, description="Validate (for early stopping) this often.")
    early_stopping_patience: int = Field(
        0,
        ge=0,
        description="Evaluations without gain before stopping; 0 = off (the default recipe: every "
        "labelled row trains, and the step count is known in advance; docs/RECIPES.md).",
    )
    checkpoint_every_steps: int = Field(50, ge=1, description="Write a resumable checkpoint this often.")
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.1, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: tuple[str, ...] = Field(("query", "value"), description="Modules that get adapters.")
    workers: int = Field(
        1,
        ge=1,
        description="Data-parallel workers: above 1, a full run trains on this many Ray Train workers, each "
        "step's batch split over them (engines.ray_finetune; needs the 'ray' extra); budgeted benchmark fits "
        "stay in one process.",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to train on (with workers > 1); None = $RAY_ADDRESS, else a local cluster."
    )
    learning_rate_lora: float = Field(
        2e-3,
        gt=0,
        description="Peak learning rate in LoRA mode (adapters need a higher rate: at 5e-4 and 150 steps "
        "MiniLM-L6 stayed at the majority class on 1,000 Rotten Tomatoes rows; 2e-3 reached 74.5 %).",
    )


CONFIG_FOR_ENGINE: dict[str, type[_Config]] = {
    "tfidf": TfidfConfig,
    "embedding": EmbeddingConfig,
    "finetune": FinetuneConfig,
    "lora": FinetuneConfig,
}
