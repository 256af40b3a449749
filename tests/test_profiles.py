"""Profiles: bundled files validate, env overrides beat the file, bad files give one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from advisor.machine.probe import GpuInfo, Resources
from advisor.machine.profiles import Profile, engine_config, list_profiles, load_profile, profiles_dir
from engines.config import EmbeddingConfig, FinetuneConfig, TfidfConfig
from engines.errors import ConfigError


def _resources(gpus: list[GpuInfo]) -> Resources:
    return Resources(
        cpu_model="x",
        physical_cores=2,
        logical_cores=2,
        usable_cores=2,
        ram_total_bytes=8 << 30,
        ram_available_bytes=4 << 30,
        disk_path="/",
        disk_free_bytes=1 << 30,
        gpus=gpus,
        os="Linux",
        python="3.11",
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("TOE_") and key != "TOE_CACHE_DIR":
            monkeypatch.delenv(key)


def test_bundled_profiles_load_and_are_distinct():
    names = [n for n, _ in list_profiles()]
    assert {"cpu-small", "gpu", "tiny"} <= set(names)
    assert all(desc and "\n" not in desc for _, desc in list_profiles())
    cpu, gpu, tiny = (load_profile(n) for n in ("cpu-small", "gpu", "tiny"))
    assert cpu.name == "cpu-small" and cpu.embedding.model == "all-MiniLM-L6-v2" and cpu.finetune.max_length == 128
    assert cpu.bench.budgets_s == {"quick": 90, "standard": 600, "thorough": 1800}
    assert cpu.bench.test_size >= 1000 and cpu.finetune.min_steps == 150
    assert gpu.finetune.precision == "bf16" and gpu.bench.sample_size > cpu.bench.sample_size
    assert gpu.finetune.train_batch_size > cpu.finetune.train_batch_size
    assert tiny.embedding.model == tiny.finetune.model == "tiny-bert" and tiny.finetune.max_length == 64
    for p in (cpu, gpu, tiny):
        assert p.lora.mode == "lora" and p.finetune.mode == "full"
        assert max(p.bench.train_sizes) <= p.bench.sample_size - p.bench.test_size


def test_auto_choice_from_resources():
    assert load_profile(resources=_resources([])).name == "cpu-small"
    gpu = GpuInfo(index=0, name="H100", memory_total_bytes=80 << 30)
    assert load_profile(resources=_resources([gpu])).name == "gpu"
    from advisor.machine.probe import probe

    assert load_profile().name == ("gpu" if probe().has_gpu else "cpu-small")


def test_env_overrides_beat_the_file(monkeypatch):
    monkeypatch.setenv("TOE_FINETUNE__TRAIN_BATCH_SIZE", "8")
    monkeypatch.setenv("TOE_BENCH__CHEAP_SEEDS", "5")
    monkeypatch.setenv("TOE_CACHE_DIR", "/tmp/elsewhere")  # other TOE_ variables are not fields: ignored
    p = load_profile("cpu-small")
    assert p.finetune.train_batch_size == 8 and p.bench.cheap_seeds == 5
    assert p.finetune.min_steps == 150 and p.bench.sample_size == 12000  # the rest still from the file


def test_bad_env_value_is_one_line(monkeypatch):
    monkeypatch.setenv("TOE_FINETUNE__TRAIN_BATCH_SIZE", "zero")
    with pytest.raises(ConfigError, match=r"^profile 'cpu-small': finetune.train_batch_size: "):
        load_profile("cpu-small")


def test_user_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "mine"\n[bench]\nsample_size = 600\ntest_size = 200\n'
        "train_sizes = [50, 100]\nfinetune_sizes = [100]\n"
    )
    p = load_profile(str(path))
    assert p.name == "mine" and p.bench.sample_size == 600 and p.embedding == EmbeddingConfig()


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("[bench\n", "is not valid TOML"),
        ("[bench]\ntest_size = 5000\n", "bench: Value error, test_size"),
        ("[finetune]\nlearning_rate = -1\n", "finetune.learning_rate"),
        ("colour = 'red'\n", "colour: Extra inputs are not permitted"),
        ("[lora]\nmode = 'full'\n", "lora.mode must be 'lora'"),
        ("[cluster]\ngpus_per_worker = 8\n", "cluster: Value error, gpus_per_worker needs hardware"),
        ("[cluster]\nhardware = 'a100'\ngpus_per_worker = 0\n", "cluster.gpus_per_worker"),
    ],
)
def test_invalid_files(tmp_path, content, pattern):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_profile(str(path))
    assert "\n" not in str(info.value)


def test_a_gpu_cluster_section(tmp_path):
    path = tmp_path / "gpus.toml"
    path.write_text("[cluster]\nworkers = 4\nhardware = 'a100'\ngpus_per_worker = 8\n")
    c = load_profile(str(path)).cluster
    assert (c.workers, c.hardware, c.gpus_per_worker, c.price_per_hour) == (4, "a100", 8, None)


def test_unknown_name_and_missing_file():
    with pytest.raises(ConfigError, match=r"unknown profile 'huge'; try one of: cpu-small, gpu, tiny"):
        load_profile("huge")
    with pytest.raises(ConfigError, match="profile file not found"):
        load_profile("nowhere.toml")


def test_engine_config():
    p = load_profile("tiny")
    assert isinstance(engine_config(p, "tfidf"), TfidfConfig)
    assert isinstance(engine_config(p, "embedding"), EmbeddingConfig)
    assert isinstance(engine_config(p, "finetune"), FinetuneConfig)
    assert engine_config(p, "lora").mode == "lora"
    with pytest.raises(ConfigError, match="try one of: tfidf, embedding, finetune, lora"):
        engine_config(p, "svm")


def test_profile_is_frozen_and_defaults_validate():
    p = Profile()
    with pytest.raises(ValidationError):
        p.name = "x"  # type: ignore[misc]
    assert profiles_dir().name in ("profiles", "_profiles")


def test_profiles_command(capsys):
    import json

    from advisor.cli import main

    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "* cpu-small" in out and "tiny" in out
    assert main(["profiles", "--json"]) == 0
    assert {p["name"] for p in json.loads(capsys.readouterr().out)} >= {"cpu-small", "gpu", "tiny"}
    assert main(["profiles", "--show", "tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["embedding"]["model"] == "tiny-bert"
