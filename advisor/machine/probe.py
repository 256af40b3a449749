"""What this machine has: CPU, RAM, disk, NVIDIA GPUs (through NVML) and, on request, torch's view.

``probe()`` gathers; ``format_resources()`` formats (like accelerate's ``env``). No GPU, no
NVML library, no driver or any NVML error means "no GPU" with the reason in ``gpu_error`` —
never a crash. torch is imported only with ``include_torch=True``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field

from engines.base import Record

T = TypeVar("T")


class GpuInfo(Record):
    """One NVIDIA GPU as NVML sees it; a field NVML cannot report is None."""

    index: int = Field(description="NVML device index.")
    name: str = Field(description="Device name, e.g. 'NVIDIA H100 80GB HBM3'.")
    memory_total_bytes: int | None = Field(None, description="Total device memory.")
    memory_free_bytes: int | None = Field(None, description="Free device memory now.")
    driver: str | None = Field(None, description="NVIDIA driver version.")
    compute_capability: str | None = Field(None, description="CUDA compute capability, e.g. '8.0'.")
    utilization_pct: int | None = Field(None, description="GPU utilisation now, percent.")


class TorchInfo(Record):
    """What torch sees (only gathered with ``include_torch``)."""

    version: str | None = Field(None, description="torch.__version__; None when torch is missing.")
    cuda_available: bool = Field(False, description="torch.cuda.is_available().")
    mps_available: bool = Field(False, description="Apple-silicon MPS backend available.")
    device_count: int = Field(0, description="torch.cuda.device_count().")
    cuda_version: str | None = Field(None, description="CUDA version torch was built with.")
    bf16_supported: bool = Field(False, description="torch.cuda.is_bf16_supported() on device 0.")
    error: str | None = Field(None, description="Why torch could not be asked, if it could not.")


class Resources(Record):
    """The machine's resources, as measured now."""

    cpu_model: str = Field(description="CPU model name.")
    physical_cores: int = Field(description="Physical CPU cores (logical when unknown).")
    logical_cores: int = Field(description="Logical CPUs (hyper-threads counted).")
    usable_cores: int = Field(description="CPUs this process may run on (affinity / container limit).")
    ram_total_bytes: int = Field(description="Total RAM.")
    ram_available_bytes: int = Field(description="RAM available to new work now.")
    disk_path: str = Field(description="Folder whose file system was measured (where artifacts go).")
    disk_free_bytes: int = Field(description="Free bytes on that file system.")
    gpus: list[GpuInfo] = Field(default_factory=list, description="NVIDIA GPUs found through NVML.")
    gpu_error: str | None = Field(None, description="Why there is no GPU (no NVML library, no driver, an NVML error).")
    torch: TorchInfo | None = Field(None, description="torch's view; None unless asked for (--torch).")
    os: str = Field(description="Operating system and release.")
    python: str = Field(description="Python version.")

    @property
    def has_gpu(self) -> bool:
        """At least one usable NVIDIA GPU (NVML), or CUDA/MPS through torch when that was probed."""
        if self.gpus:
            return True
        return bool(self.torch and (self.torch.cuda_available or self.torch.mps_available))

    @property
    def gpu_memory_total_bytes(self) -> int:
        return sum(g.memory_total_bytes or 0 for g in self.gpus)


# ---------------------------------------------------------------------------- gather
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``sysctl`` on macOS), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=2, check=False
            ).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores(logical: int) -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = logical
    try:  # cgroup v2 CPU quota (containers)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(-(-int(quota) // int(period)))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _existing(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _safe(fn: Callable[[], T], errors: tuple[type[BaseException], ...]) -> T | None:
    try:
        return fn()
    except errors:
        return None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def probe_gpus(nvml: Any = None) -> tuple[list[GpuInfo], str | None]:
    """(GPUs, reason for none). ``nvml`` is the pynvml module (tests pass a fake)."""
    if nvml is None:
        try:
            import pynvml  # nvidia-ml-py
        except Exception as exc:  # noqa: BLE001 - ImportError, OSError …: all mean "no NVML"
            return [], f"NVML not available ({type(exc).__name__}: {exc})"
        nvml = pynvml
    nvml_error: type[BaseException] = getattr(nvml, "NVMLError", Exception)
    errors = (nvml_error, OSError, AttributeError, ValueError, TypeError)
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - LibraryNotFound, DriverNotLoaded, anything
        return [], f"no NVIDIA GPU: NVML could not start ({exc or type(exc).__name__})"
    try:
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:  # noqa: BLE001
            return [], f"no NVIDIA GPU: NVML device count failed ({exc or type(exc).__name__})"
        if count == 0:
            return [], "no NVIDIA GPU: NVML found 0 devices"
        driver = _safe(lambda: _text(nvml.nvmlSystemGetDriverVersion()), errors)
        gpus = []
        for i in range(count):
            handle = _safe(partial(nvml.nvmlDeviceGetHandleByIndex, i), errors)
            if handle is None:
                continue
            mem = _safe(partial(nvml.nvmlDeviceGetMemoryInfo, handle), errors)
            cc = _safe(partial(nvml.nvmlDeviceGetCudaComputeCapability, handle), errors)
            util = _safe(partial(nvml.nvmlDeviceGetUtilizationRates, handle), errors)
            name = _safe(partial(nvml.nvmlDeviceGetName, handle), errors)
            gpus.append(
                GpuInfo(
                    index=i,
                    name=(_text(name) if name is not None else "") or f"GPU {i}",
                    memory_total_bytes=int(mem.total) if mem is not None else None,
                    memory_free_bytes=int(mem.free) if mem is not None else None,
                    driver=driver,
                    compute_capability=f"{cc[0]}.{cc[1]}" if cc is not None else None,
                    utilization_pct=int(util.gpu) if util is not None else None,
                )
            )
        if not gpus:
            return [], f"no NVIDIA GPU: NVML listed {count} device(s) but none could be opened"
        return gpus, None
    finally:
        _safe(nvml.nvmlShutdown, (Exception,))


def probe_torch() -> TorchInfo:
    """torch's view of accelerators (imports torch)."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return TorchInfo(error=f"torch not importable ({type(exc).__name__}: {exc})")
    try:
        cuda = bool(torch.cuda.is_available())
        mps_backend = getattr(torch.backends, "mps", None)
        return TorchInfo(
            version=str(torch.__version__),
            cuda_available=cuda,
            mps_available=bool(mps_backend is not None and mps_backend.is_available()),
            device_count=int(torch.cuda.device_count()) if cuda else 0,
            cuda_version=getattr(torch.version, "cuda", None),
            bf16_supported=bool(cuda and torch.cuda.is_bf16_supported()),
        )
    except Exception as exc:  # noqa: BLE001
        return TorchInfo(version=str(getattr(torch, "__version__", "")), error=f"{type(exc).__name__}: {exc}")


def probe(*, artifacts_dir: Path | None = None, include_torch: bool = False, nvml: Any | None = None) -> Resources:
    """Measure the machine now. ``artifacts_dir`` (default: the current folder) is where free disk
    is measured. ``nvml`` replaces the pynvml module (tests)."""
    import psutil

    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    vm = psutil.virtual_memory()
    disk = _existing(Path(artifacts_dir) if artifacts_dir is not None else Path.cwd())
    gpus, gpu_error = probe_gpus(nvml)
    return Resources(
        cpu_model=cpu_model(),
        physical_cores=int(physical),
        logical_cores=int(logical),
        usable_cores=_usable_cores(int(logical)),
        ram_total_bytes=int(vm.total),
        ram_available_bytes=int(vm.available),
        disk_path=str(disk),
        disk_free_bytes=int(shutil.disk_usage(disk).free),
        gpus=gpus,
        gpu_error=gpu_error,
        torch=probe_torch() if include_torch else None,
        os=f"{platform.system()} {platform.release()}".strip(),
        python=platform.python_version(),
    )


# ---------------------------------------------------------------------------- format
def format_resources(res: Resources) -> str:
    """A compact human table of ``res``."""
    from advisor.common.output import format_table, human_bytes

    rows: list[tuple[str, str]] = [
        ("CPU", res.cpu_model),
        ("cores", f"{res.physical_cores} physical, {res.logical_cores} logical, {res.usable_cores} usable"),
        ("RAM", f"{human_bytes(res.ram_available_bytes)} available of {human_bytes(res.ram_total_bytes)}"),
        ("disk", f"{human_bytes(res.disk_free_bytes)} free at {res.disk_path}"),
    ]
    if res.gpus:
        for g in res.gpus:
            mem = (
                f"{human_bytes(g.memory_free_bytes)} free of {human_bytes(g.memory_total_bytes)}"
                if g.memory_total_bytes is not None
                else "memory unknown"
            )
            extra = ", ".join(
                x
                for x in (
                    f"cc {g.compute_capability}" if g.compute_capability else "",
                    f"driver {g.driver}" if g.driver else "",
                    f"{g.utilization_pct}% busy" if g.utilization_pct is not None else "",
                )
                if x
            )
            rows.append((f"GPU {g.index}", f"{g.name}, {mem}" + (f", {extra}" if extra else "")))
    else:
        rows.append(("GPU", f"none ({res.gpu_error})" if res.gpu_error else "none"))
    if res.torch is not None:
        t = res.torch
        rows.append(
            (
                "torch",
                f"{t.version or 'missing'}: CUDA {'yes' if t.cuda_available else 'no'}"
                f" ({t.device_count} device(s)), MPS {'yes' if t.mps_available else 'no'}"
                + (f", error: {t.error}" if t.error else ""),
            )
        )
    rows += [("OS", res.os), ("Python", res.python)]
    return format_table(rows)
