"""Named GPUs for the what-if forecast: their datasheet figures and indicative prices
(``HardwareProfile``, ``HARDWARE``), looked up by name or by the name NVML reports."""

from __future__ import annotations

import re

from pydantic import Field

from engines.base import Record
from engines.errors import ConfigError

# Named hardware for the what-if forecast ("how long and how much on an A100?").
#
# Figures are vendors' dense (no sparsity) peak numbers from public datasheets; prices
# are indicative on-demand list prices per GPU-hour seen at public cloud/GPU-rental
# providers (they vary by provider, region and month: the user's ``price_per_hour`` goal
# overrides them). They are assumptions, printed with every forecast that uses them.
#
# Sources (datasheets): NVIDIA T4 (65 TFLOPS fp16 tensor, 8.1 fp32, 16 GB), L4 (121 bf16
# dense, 30.3 fp32, 24 GB), A10 (125 bf16 dense, 31.2 fp32, 24 GB), A100 SXM (312 bf16
# dense, 19.5 fp32, 40/80 GB), H100 SXM (989 bf16 dense, 67 fp32, 80 GB), H200 SXM
# (989 bf16 dense, 67 fp32, 141 GB).

# Share of peak FLOPS a small-BERT fine-tune really gets (short sequences, small batches,
# optimizer and data loading overheads). 20–40 % is typical for transformer training on
# these GPUs; we take the low end because encoder models this small rarely saturate them.
DEFAULT_UTILISATION = 0.25


class HardwareProfile(Record):
    """One named machine for what-if forecasts."""

    name: str = Field(description="Short name used on the command line (--hardware).")
    label: str = Field(description="Human name.")
    peak_bf16_tflops: float = Field(description="Dense bf16/fp16 tensor peak, TFLOPS.")
    peak_fp32_tflops: float = Field(description="Dense fp32 peak, TFLOPS.")
    memory_bytes: int = Field(description="Accelerator memory in bytes.")
    price_per_hour: float = Field(description="Indicative on-demand price per hour, USD (assumption).")
    utilisation: float = Field(DEFAULT_UTILISATION, description="Assumed share of peak FLOPS reached.")
    source: str = Field("", description="Where the figures come from.")

    @property
    def effective_flops(self) -> float:
        return self.peak_bf16_tflops * 1e12 * self.utilisation


GB = 1_000_000_000

HARDWARE: dict[str, HardwareProfile] = {
    p.name: p
    for p in [
        HardwareProfile(
            name="t4",
            label="NVIDIA T4 16 GB",
            peak_bf16_tflops=65,
            peak_fp32_tflops=8.1,
            memory_bytes=16 * GB,
            price_per_hour=0.35,
            source="NVIDIA T4 datasheet (fp16 tensor; no bf16); price ~GCP on-demand",
        ),
        HardwareProfile(
            name="l4",
            label="NVIDIA L4 24 GB",
            peak_bf16_tflops=121,
            peak_fp32_tflops=30.3,
            memory_bytes=24 * GB,
            price_per_hour=0.70,
            source="NVIDIA L4 datasheet; price ~GCP g2 on-demand",
        ),
        HardwareProfile(
            name="a10",
            label="NVIDIA A10 24 GB",
            peak_bf16_tflops=125,
            peak_fp32_tflops=31.2,
            memory_bytes=24 * GB,
            price_per_hour=0.75,
            source="NVIDIA A10 datasheet; price ~GPU-rental list",
        ),
        HardwareProfile(
            name="a100-40gb",
            label="NVIDIA A100 40 GB",
            peak_bf16_tflops=312,
            peak_fp32_tflops=19.5,
            memory_bytes=40 * GB,
            price_per_hour=1.30,
            source="NVIDIA A100 datasheet; price ~GPU-rental list",
        ),
        HardwareProfile(
            name="a100-80gb",
            label="NVIDIA A100 80 GB",
            peak_bf16_tflops=312,
            peak_fp32_tflops=19.5,
            memory_bytes=80 * GB,
            price_per_hour=1.80,
            source="NVIDIA A100 datasheet; price ~GPU-rental list",
        ),
        HardwareProfile(
            name="h100",
            label="NVIDIA H100 SXM 80 GB",
            peak_bf16_tflops=989,
            peak_fp32_tflops=67,
            memory_bytes=80 * GB,
            price_per_hour=3.00,
            source="NVIDIA H100 datasheet (dense); price ~GPU-rental list",
        ),
        HardwareProfile(
            name="h200",
            label="NVIDIA H200 SXM 141 GB",
            peak_bf16_tflops=989,
            peak_fp32_tflops=67,
            memory_bytes=141 * GB,
            price_per_hour=3.80,
            source="NVIDIA H200 datasheet (dense); price ~GPU-rental list",
        ),
    ]
}


def hardware_names() -> list[str]:
    return list(HARDWARE)


def get_hardware(name: str) -> HardwareProfile:
    """The profile called ``name`` (case-insensitive); unknown names raise ConfigError."""
    key = name.strip().lower().replace("_", "-")
    aliases = {"a100": "a100-40gb", "h100-80gb": "h100", "h200-141gb": "h200"}
    key = aliases.get(key, key)
    try:
        return HARDWARE[key]
    except KeyError:
        raise ConfigError(f"unknown hardware {name!r}; try one of: {', '.join(HARDWARE)}") from None


def match_hardware(gpu_name: str, memory_bytes: int | None = None) -> HardwareProfile | None:
    """The profile for a GPU as NVML names it ('NVIDIA H100 80GB HBM3' → h100), or None.
    A100s are told apart by memory (over 60 GB → the 80 GB one)."""
    found = re.search(r"\b(H200|H100|A100|A10G?|L4|T4)\b", gpu_name.upper().replace("-", " "))
    if found is None:
        return None
    token = found.group(1)
    if token == "A100":
        big = (memory_bytes is not None and memory_bytes > 60 * GB) or "80GB" in gpu_name.upper()
        return HARDWARE["a100-80gb" if big else "a100-40gb"]
    return HARDWARE["a10" if token == "A10G" else token.lower()]
