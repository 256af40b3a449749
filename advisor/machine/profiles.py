"""Profiles: presets (``profiles/*.toml``) holding every engine's config and the micro-benchmark's
sizes and budgets, validated by pydantic. Environment variables ``TOE_<FIELD>`` (nested with
``__``, e.g. ``TOE_FINETUNE__TRAIN_BATCH_SIZE=8``) override the file's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engines.config import EmbeddingConfig, FinetuneConfig, TfidfConfig
from engines.errors import ConfigError

if TYPE_CHECKING:
    from advisor.machine.probe import Resources


class BenchSettings(BaseModel):
    """How big the micro-benchmark is and how long it may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_size: int = Field(2000, ge=20, description="Rows sampled from the data for the micro-benchmark.")
    test_size: int = Field(
        1000,
        ge=10,
        description="Held-out rows inside the sample that every measured point is scored on "
        "(≥ 1,000 where the data allows: smaller test sets make the intervals wide).",
    )
    test_sizes: dict[str, int] = Field(
        {},
        description="Held-out rows by named budget, for larger budgets: a bigger test part narrows every "
        "interval and costs only inference. A budget in seconds uses the largest named budget it covers; "
        "unlisted budgets use test_size.",
    )
    train_sizes: list[int] = Field(
        [100, 200, 400, 800], min_length=1, description="Nested training sizes for the cheap engines."
    )
    cheap_seeds: int = Field(3, ge=1, description="Seeds (resamples) per size for the cheap engines.")
    finetune_sizes: list[int] = Field([200, 400], description="Training sizes for fine-tuning points.")
    finetune_seeds: int = Field(1, ge=1, description="Seeds per size for fine-tuning points.")
    top_up_seeds: int = Field(
        3,
        ge=0,
        description="Most extra fine-tuning seeds (at the two largest measured sizes) that budget left "
        "after the planned points may buy while the decision is still open.",
    )
    crossfit: bool = Field(
        False,
        description="When the decision is still open after the learning curves and the budget left "
        "covers it: cross-fit every approach on the sample (two halves, each trained on one and scored on the "
        "other) and forecast from every row scored out of fold, instead of buying more fine-tuning seeds.",
    )
    start_up_cache_days: float = Field(
        7.0,
        ge=0,
        description="Days a start-up timing is remembered on this machine (in the tune-or-embed cache "
        "folder, per engine, settings and torch/transformers versions), so that only the first advise in that "
        "time pays for it out of its budget; 0 times it in every advise.",
    )
    time_start_up: bool = Field(
        True,
        description="Time each engine's start-up (imports, model load) in a new process, a few seconds "
        "each of the budget: a full run starts cold and pays it, so the time forecasts add it.",
    )
    budgets_s: dict[str, float] = Field(
        {"quick": 90.0, "standard": 600.0, "thorough": 1800.0},
        description="Wall-seconds budget of the whole micro-benchmark, by name.",
    )
    default_budget: str = Field("quick", description="Budget used when none is given.")

    @model_validator(mode="after")
    def _consistent(self) -> BenchSettings:
        if self.test_size >= self.sample_size:
            raise ValueError(f"test_size ({self.test_size}) must be below sample_size ({self.sample_size})")
        room = self.sample_size - self.test_size
        for name in ("train_sizes", "finetune_sizes"):
            sizes = getattr(self, name)
            if sizes != sorted(sizes) or len(set(sizes)) != len(sizes) or any(s < 2 for s in sizes):
                raise ValueError(f"{name} must be distinct, ascending and ≥ 2 (got {sizes})")
            if sizes and sizes[-1] > room:
                raise ValueError(f"{name} reach {sizes[-1]} but sample_size - test_size is only {room}")
        big = {k: v for k, v in self.test_sizes.items() if v >= self.sample_size or v < 10}
        if big:
            raise ValueError(f"test_sizes {big} must be ≥ 10 and below sample_size ({self.sample_size})")
        if self.default_budget not in self.budgets_s:
            raise ValueError(f"default_budget {self.default_budget!r} is not one of {sorted(self.budgets_s)}")
        if any(v <= 0 for v in self.budgets_s.values()):
            raise ValueError("budgets_s must be positive")
        return self


class ClusterSettings(BaseModel):
    """What ``advise --workers`` forecasts for: a Ray cluster of workers, each as fast as this machine
    or with ``gpus_per_worker`` GPUs of a named ``hardware``, and what a worker-hour costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int | None = Field(
        None, ge=1, description="Ray workers to forecast a full run on (advise --workers overrides it)."
    )
    ray_address: str | None = Field(None, description="Cluster that measures the scaling (default: a local one).")
    scaling_efficiency: float | None = Field(
        None,
        gt=0,
        le=1.5,
        description="Examples/s of N workers ÷ (N × one worker's), if known; unset: advise measures it "
        "on 2 Ray workers.",
    )
    price_per_hour: float | None = Field(
        None,
        ge=0,
        description="Price of one worker-hour (default: with hardware, its GPUs' indicative price; else the "
        "goals' price per hour).",
    )
    hardware: str | None = Field(
        None,
        min_length=1,
        description="The GPU each worker has, by advise --hardware's names (t4, l4, a10, a100, a100-80gb, h100, "
        "h200; checked when advise starts): the scale-out is forecast from that what-if; unset: workers like "
        "this machine.",
    )
    gpus_per_worker: int | None = Field(
        None,
        ge=1,
        description="GPUs of that hardware in each worker (default 1); the plan runs one Ray worker per GPU.",
    )

    @model_validator(mode="after")
    def _gpus_need_hardware(self) -> ClusterSettings:
        if self.gpus_per_worker is not None and self.hardware is None:
            raise ValueError("gpus_per_worker needs hardware, the GPU each worker has (e.g. hardware = 'a100')")
        return self


def _lora_default() -> FinetuneConfig:
    return FinetuneConfig(mode="lora")


class Profile(BaseSettings):
    """Engine settings and benchmark sizes for one kind of machine."""

    model_config = SettingsConfigDict(
        env_prefix="TOE_", env_nested_delimiter="__", frozen=True, extra="forbid", case_sensitive=False
    )

    name: str = Field("custom", description="Profile name.")
    description: str = Field("", description="One line: what machine it is for.")
    tfidf: TfidfConfig = Field(default_factory=TfidfConfig, description="TF-IDF + logistic regression.")
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig, description="Frozen encoder + light head.")
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig, description="Full fine-tuning.")
    lora: FinetuneConfig = Field(default_factory=_lora_default, description="LoRA fine-tuning (mode 'lora').")
    bench: BenchSettings = Field(default_factory=BenchSettings, description="Micro-benchmark sizes and budgets.")
    cluster: ClusterSettings = Field(default_factory=ClusterSettings, description="Scale-out what-if (Ray).")

    @model_validator(mode="after")
    def _modes(self) -> Profile:
        if self.lora.mode != "lora":
            raise ValueError("lora.mode must be 'lora'")
        if self.finetune.mode != "full":
            raise ValueError("finetune.mode must be 'full' (use the lora section for LoRA)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ):
        # Environment first: it beats the TOML values, which arrive as init kwargs.
        return env_settings, init_settings


# --------------------------------------------------------------------------- locating
def profiles_dir() -> Path:
    """The folder of bundled profiles: ``<repo>/profiles`` or, in a wheel, ``advisor/_profiles``."""
    here = Path(__file__).resolve().parents[1]  # advisor/
    for candidate in (here / "_profiles", here.parent / "profiles"):
        if candidate.is_dir():
            return candidate
    return here.parent / "profiles"


def bundled_profiles() -> dict[str, Path]:
    """The profiles shipped with the package, by name."""
    return {p.stem: p for p in sorted(profiles_dir().glob("*.toml"))}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"profile file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read profile {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path} is not valid TOML: {exc}") from None


def _one_line(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ())) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"profile {where}: {loc}: {err.get('msg', 'invalid')}{more}"


def load_profile(name_or_path: str | Path | None = None, *, resources: Resources | None = None) -> Profile:
    """A bundled profile by name, or a .toml file by path; None picks from ``resources`` (probed
    when not given): "gpu" with a GPU, else "cpu-small". Env vars ``TOE_…`` override the file."""
    if name_or_path is None:
        if resources is None:
            from advisor.machine.probe import probe

            resources = probe()
        name_or_path = "gpu" if resources.has_gpu else "cpu-small"
    ref = str(name_or_path)
    bundled = bundled_profiles()
    if ref in bundled:
        path = bundled[ref]
    elif ref.endswith(".toml") or Path(ref).expanduser().is_file():
        path = Path(ref).expanduser()
    else:
        raise ConfigError(
            f"unknown profile {ref!r}; try one of: {', '.join(bundled) or 'none found'} (or pass a .toml file)"
        )
    data = _read_toml(path)
    data.setdefault("name", path.stem)
    try:
        return Profile(**data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, str(path) if ref not in bundled else repr(ref))) from None


def list_profiles() -> list[tuple[str, str]]:
    """(name, one-line description) of the bundled profiles."""
    out = []
    for name, path in bundled_profiles().items():
        try:
            description = str(tomllib.loads(path.read_text(encoding="utf-8")).get("description", ""))
        except (OSError, tomllib.TOMLDecodeError):
            description = "(unreadable)"
        out.append((name, description.strip().splitlines()[0] if description.strip() else ""))
    return out


def engine_config(profile: Profile, engine_name: str) -> BaseModel:
    """The profile's config section for an engine ('tfidf', 'embedding', 'finetune', 'lora'); an engine
    that is another way to one of them (``alternative_to``, e.g. ``embedding-int8``) reads its section."""
    sections = ("tfidf", "embedding", "finetune", "lora")
    if engine_name in sections:
        return getattr(profile, engine_name)
    from engines.base import get_engine

    try:
        base = get_engine(engine_name).alternative_to
    except ConfigError:
        base = None
    if base not in sections:
        raise ConfigError(
            f"profile has no settings for engine {engine_name!r}; "
            "try one of: tfidf, embedding, finetune, lora, embedding-int8"
        )
    return getattr(profile, str(base))


# Settings a retrieval engine takes from the profile's embedding section when its config has them.
SHARED_RETRIEVAL_SETTINGS = ("model", "device", "max_length", "threads", "batch_size", "backend")


def retrieval_config(profile: Profile, engine_name: str) -> BaseModel:
    """A retrieval engine's own defaults, with the model and device settings of the profile's embedding
    section (profiles have no retrieval sections: the same model serves both tasks)."""
    from engines.base import get_engine

    cls = get_engine(engine_name)
    shared = getattr(profile, "embedding", None)
    fields = cls.config_cls.model_fields
    given = {k: getattr(shared, k) for k in SHARED_RETRIEVAL_SETTINGS if k in fields and hasattr(shared, k)}
    return cls.config_cls(**given)
