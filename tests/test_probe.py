"""probe(): CPU/RAM/disk from psutil, GPUs through a fake NVML (present, absent, errors, two GPUs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import psutil
import pytest

from advisor.machine.probe import Resources, format_resources, probe, probe_gpus


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801 - the real name
    pass


class FakeNVML:
    """Enough of pynvml for probe: ``gpus`` is a list of dicts; ``fail`` maps a call name to an error."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[dict], fail: dict[str, Exception] | None = None):
        self.gpus, self.fail, self.shutdown = gpus, fail or {}, False

    def _check(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def nvmlInit(self):
        self._check("init")

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlDeviceGetCount(self):
        self._check("count")
        return len(self.gpus)

    def nvmlSystemGetDriverVersion(self):
        self._check("driver")
        return b"550.54.15"

    def nvmlDeviceGetHandleByIndex(self, i):
        self._check("handle")
        return self.gpus[i]

    def nvmlDeviceGetName(self, h):
        self._check("name")
        return h["name"]

    def nvmlDeviceGetMemoryInfo(self, h):
        self._check("memory")
        return SimpleNamespace(total=h["total"], free=h["free"], used=h["total"] - h["free"])

    def nvmlDeviceGetCudaComputeCapability(self, h):
        self._check("cc")
        return h["cc"]

    def nvmlDeviceGetUtilizationRates(self, h):
        self._check("util")
        return SimpleNamespace(gpu=h["util"], memory=0)


H100 = {"name": "NVIDIA H100 80GB HBM3", "total": 80 * 2**30, "free": 79 * 2**30, "cc": (9, 0), "util": 3}
A10 = {"name": b"NVIDIA A10G", "total": 24 * 2**30, "free": 20 * 2**30, "cc": (8, 6), "util": 55}


@pytest.fixture
def fake_psutil(monkeypatch):
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 16 if logical else 8)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(total=64 * 2**30, available=50 * 2**30))


def test_gpu_present(fake_psutil, tmp_path):
    nvml = FakeNVML([H100])
    res = probe(artifacts_dir=tmp_path, nvml=nvml)
    assert res.has_gpu and res.gpu_error is None and nvml.shutdown
    gpu = res.gpus[0]
    assert (gpu.name, gpu.compute_capability, gpu.driver, gpu.utilization_pct) == (
        "NVIDIA H100 80GB HBM3",
        "9.0",
        "550.54.15",
        3,
    )
    assert gpu.memory_total_bytes == 80 * 2**30 and gpu.memory_free_bytes == 79 * 2**30
    assert (res.physical_cores, res.logical_cores, res.ram_total_bytes) == (8, 16, 64 * 2**30)
    assert res.disk_path == str(tmp_path) and res.disk_free_bytes > 0
    assert "H100" in format_resources(res)


def test_two_gpus(fake_psutil):
    res = probe(nvml=FakeNVML([H100, A10]))
    assert [g.index for g in res.gpus] == [0, 1]
    assert res.gpus[1].name == "NVIDIA A10G"  # bytes names decoded
    assert res.gpu_memory_total_bytes == 104 * 2**30
    text = format_resources(res)
    assert "GPU 0" in text and "GPU 1" in text and "A10G" in text


def test_no_nvml_library(fake_psutil):
    res = probe(nvml=FakeNVML([], fail={"init": NVMLError_LibraryNotFound("NVML Shared Library Not Found")}))
    assert not res.has_gpu and res.gpus == []
    assert "NVML Shared Library Not Found" in res.gpu_error
    assert "none" in format_resources(res)


def test_nvml_error_on_count_means_no_gpu(fake_psutil):
    res = probe(nvml=FakeNVML([H100], fail={"count": NVMLError("Driver Not Loaded")}))
    assert res.gpus == [] and "Driver Not Loaded" in res.gpu_error


def test_nvml_error_in_one_field_keeps_the_gpu(fake_psutil):
    res = probe(nvml=FakeNVML([H100], fail={"util": NVMLError("Not Supported"), "driver": NVMLError("x")}))
    assert len(res.gpus) == 1
    assert res.gpus[0].utilization_pct is None and res.gpus[0].driver is None
    assert res.gpus[0].memory_total_bytes == 80 * 2**30


def test_zero_devices():
    gpus, why = probe_gpus(FakeNVML([]))
    assert gpus == [] and "0 devices" in why


def test_unexpected_exception_type_in_init_is_caught():
    gpus, why = probe_gpus(FakeNVML([], fail={"init": OSError("libnvidia-ml.so: cannot open")}))
    assert gpus == [] and "cannot open" in why


def test_real_machine_matches_psutil_and_is_fast(tmp_path):
    start = time.perf_counter()
    res = probe(artifacts_dir=tmp_path / "not" / "yet")
    assert time.perf_counter() - start < 1.0
    assert res.logical_cores == psutil.cpu_count(logical=True)
    assert res.ram_total_bytes == psutil.virtual_memory().total
    assert res.disk_path == str(tmp_path)  # nearest existing folder
    assert res.torch is None
    again = Resources.model_validate_json(res.model_dump_json())
    assert again == res


def test_probe_torch_view():
    res = probe(include_torch=True, nvml=FakeNVML([], fail={"init": NVMLError("none")}))
    assert res.torch is not None and res.torch.version
    import torch

    assert res.torch.cuda_available == torch.cuda.is_available()


def test_cli_probe_json_matches_machine():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-m", "advisor", "probe", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["logical_cores"] == psutil.cpu_count(logical=True)
    assert data["physical_cores"] == (psutil.cpu_count(logical=False) or psutil.cpu_count())
    assert data["ram_total_bytes"] == psutil.virtual_memory().total
    assert isinstance(data["gpus"], list)


def test_cli_probe_start_up_times_every_default_approach_and_says_where_it_is_kept(monkeypatch, capsys, tmp_path):
    """``probe --start-up`` asks for every approach advise may include, with the profile's settings,
    and prints each timing (or why it failed) and where it is remembered; --json carries them too."""
    from advisor.cli import main
    from advisor.machine.startup import StartUp
    from advisor.measure import probes

    asked: list[tuple[list[str], dict]] = []

    def fake_time_start_ups(engines, configs, settings, *, before=None):
        asked.append((list(engines), dict(configs)))
        return {e: StartUp(1.5) if e != "lora" else StartUp(None, "no peft here") for e in engines}

    monkeypatch.setattr(probes, "time_start_ups", fake_time_start_ups)
    monkeypatch.setenv("TOE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["probe", "--start-up", "--profile", "cpu-small"]) == 0
    out = capsys.readouterr().out
    engines, configs = asked[0]
    assert engines == ["tfidf", "embedding", "finetune", "lora"]
    assert configs["finetune"].min_steps == 150  # the profile's own settings: the bench's key
    assert "remembered for 7 days in" in out and str(tmp_path / "cache") in out
    assert "  tfidf        1.5s" in out and "  lora       not measured: no peft here" in out
    assert main(["probe", "--start-up", "--json", "--profile", "cpu-small"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["start_up_s"] == {"tfidf": 1.5, "embedding": 1.5, "finetune": 1.5, "lora": None}
    assert data["resources"]["logical_cores"] == psutil.cpu_count(logical=True)
