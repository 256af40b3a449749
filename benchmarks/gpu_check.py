"""The GPU path, checked: probe the GPU (NVML), then compare the what-if forecast made on
another machine (``advise --hardware …``: FLOPs at an assumed share of peak, the AdamW memory
rule) with a real fine-tune and a real embedding run on this GPU.

Inputs are what ``advise`` wrote on the CPU machine (its ``--json`` output, which holds the
benchmark measurements the forecast is made from) and the same training and test files.
The forecast for *this* GPU is recomputed from those measurements with
``advisor.forecast.accuracy.forecast_all`` (what ``advise --hardware`` runs), so one advice file
serves any GPU the table in ``advisor/forecast/hardware.py`` knows.

The runs use the advice's own profile recipe (batch, max length, epochs, min steps) with the
device set to CUDA and bf16 autocast, which is what the forecast assumes. The fine-tune runs
through ``full_run`` (checkpoints and all) with early stopping switched off, so that it runs
the recipe's epochs (on every row: no validation split); the forecast, made for the recipe's
steps with a validation split, is scaled to the steps run. Peak memory is
read two ways: ``torch.cuda.max_memory_allocated`` (tensors) and NVML's device memory in use,
polled every 20 ms (what ``nvidia-smi`` shows: tensors + allocator cache + CUDA context).

    HF_HUB_OFFLINE=1 python benchmarks/gpu_check.py --advice advice.json \\
        --train train.csv --test test.csv [--out gpu_check.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class MemoryPoller:
    """Peak NVML 'memory used' of one device while the block runs (every ``every`` s)."""

    def __init__(self, index: int = 0, every: float = 0.02) -> None:
        self.index, self.every = index, every
        self.peak = 0
        self.baseline = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _used(self) -> int:
        import pynvml

        return int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def __enter__(self) -> MemoryPoller:
        import pynvml

        pynvml.nvmlInit()
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
        self.baseline = self.peak = self._used()

        def loop() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, self._used())
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import pynvml

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self._used())
        pynvml.nvmlShutdown()


class NoPoller:
    """Stands in for MemoryPoller on a dry run without a GPU."""

    peak = baseline = 0

    def __enter__(self) -> NoPoller:
        return self

    def __exit__(self, *exc) -> None:
        return None


def _gib(b: float | None) -> str:
    return "–" if b is None else f"{b / 2**30:.2f} GiB"


def what_ifs(advice, hw) -> dict:
    """Per measured approach, (the hardware forecast ``advise --hardware`` makes, its engine
    config), from the advice's own measurements through ``forecast_all`` as advise does
    (tokens per text measured by one approach serve the others on the same encoder)."""
    from advisor.forecast.accuracy import forecast_all
    from advisor.machine.profiles import engine_config, load_profile

    profile = load_profile(advice.profile)
    configs = {a: engine_config(profile, a) for a in advice.bench.measurements}
    out = forecast_all(
        advice.bench,
        n_target=advice.n_target,
        configs=configs,
        hardware=[hw.name],
        predictions_per_day=advice.goals.predictions_per_day,
    )
    return {a: (f.hardware[0], configs[a]) for a, f in out.items() if f.hardware}


def for_steps_run(forecast_s: float, steps: int | None, recipe_steps: int | None) -> float:
    """The forecast (made for the recipe's steps) for the steps the run really took."""
    return forecast_s / recipe_steps * steps if (steps and recipe_steps) else forecast_s


def read_advice(path: str):
    """The ``advise --json`` output at ``path``; an unreadable one ends the script with one line."""
    from pydantic import ValidationError

    from advisor.advise import Advice

    try:
        return Advice.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValidationError) as exc:
        sys.exit(f"gpu_check: cannot read the advice {path}: {str(exc).splitlines()[0]}")


def reforecast(args) -> int:
    """Forecasts made with this code against the measurements of an earlier run."""
    from advisor.forecast.hardware_profiles import get_hardware

    advice = read_advice(args.advice)
    try:
        measured = json.loads(Path(args.measured).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        sys.exit(f"gpu_check: cannot read the measurements {args.measured}: {exc}")
    hw = get_hardware(args.hardware or measured["hardware_profile"])
    print(f"measurements: {args.measured} ({measured['gpu']['name']}); forecasts: this code, '{hw.name}' profile")
    forecasts = what_ifs(advice, hw)
    for name, row in measured["engines"].items():
        fc, _ = forecasts[name]
        steps = row.get("steps")
        per = for_steps_run(fc.train_time_s, steps, row.get("recipe_steps"))
        what = f"the {steps} steps run" if steps else "embed + head"
        print(
            f"{name}: forecast {per:.1f} s for {what}"
            f" vs measured {row['measured_train_s']:.1f} s (ratio {per / row['measured_train_s']:.2f}); "
            f"memory forecast {_gib(fc.peak_memory_bytes)} vs device in use "
            f"{_gib(row['measured_device_used_peak_bytes'])} (ratio "
            f"{fc.peak_memory_bytes / row['measured_device_used_peak_bytes']:.2f}), max allocated "
            f"{_gib(row['measured_max_allocated_bytes'])}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advice", required=True, help="advise --json output made on another machine")
    parser.add_argument("--train", help="the training file advise was run on")
    parser.add_argument("--test", help="the held-out test file")
    parser.add_argument("--hardware", help="hardware profile to compare with (default: matched from the GPU name)")
    parser.add_argument("--engines", default="finetune,embedding")
    parser.add_argument("--out", help="write the results here as JSON")
    parser.add_argument(
        "--measured",
        help="no runs: forecast again (with this code) against the measurements "
        "in an earlier --out file, e.g. after changing the what-if rule",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="dry run of this script on a machine without a GPU (needs --hardware; no memory figures)",
    )
    args = parser.parse_args()

    from advisor.forecast.hardware_profiles import get_hardware, match_hardware
    from advisor.machine.probe import GpuInfo, probe_gpus
    from advisor.measure import finetune_steps

    if args.measured:
        return reforecast(args)
    if not (args.train and args.test):
        parser.error("--train and --test are needed (or --measured)")
    gpus, why = probe_gpus()
    if not gpus and not args.cpu:
        print(f"gpu_check: {why}", file=sys.stderr)
        return 2
    gpu = gpus[0] if gpus else GpuInfo(index=0, name="none (dry run on CPU)")
    if args.cpu and not args.hardware:
        print("gpu_check: --cpu needs --hardware", file=sys.stderr)
        return 2
    hw = get_hardware(args.hardware) if args.hardware else match_hardware(gpu.name, gpu.memory_total_bytes)
    if hw is None:
        print(f"gpu_check: no hardware profile matches {gpu.name!r}; pass --hardware", file=sys.stderr)
        return 2

    import torch

    advice = read_advice(args.advice)
    n_target = advice.n_target
    result: dict = {
        "gpu": gpu.model_dump(),
        "hardware_profile": hw.name,
        "advice_profile": advice.profile,
        "n_target": n_target,
        "advice_budget": advice.budget,
        "versions": {p: metadata.version(p) for p in ("torch", "transformers")},
        "python": platform.python_version(),
        "engines": {},
    }
    print(
        f"GPU: {gpu.name}, {_gib(gpu.memory_total_bytes)}, driver {gpu.driver}, CC {gpu.compute_capability}; "
        f"compared with the '{hw.name}' profile ({hw.peak_bf16_tflops:g} bf16 TFLOPS × "
        f"{hw.utilisation:.0%} assumed); torch {torch.__version__}"
    )

    forecasts = what_ifs(advice, hw)
    for name in args.engines.split(","):
        if name not in forecasts:
            print(f"{name}: not measured in the advice; skipped")
            continue
        fc, base = forecasts[name]
        overrides = {"device": "cpu", "precision": "fp32"} if args.cpu else {"device": "cuda", "precision": "bf16"}
        if name in ("finetune", "lora"):
            overrides["early_stopping_patience"] = 0
        if not args.cpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        with NoPoller() if args.cpu else MemoryPoller(gpu.index) as mem, tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            if name in ("finetune", "lora"):
                from advisor.run.fullrun import RunSpec, full_run

                spec = RunSpec(
                    engine=name,
                    profile=advice.profile,
                    engine_config=overrides,
                    train_file=args.train,
                    test_file=args.test,
                )
                manifest = full_run(spec, Path(tmp) / "artifact", speed_texts=0)
                fit, accuracy = manifest.fit, manifest.metrics.accuracy
            else:  # the embedding engine's fit and evaluate (its save writes the vector store)
                from advisor.data.labelled import load_dataset
                from engines.base import get_engine

                engine = get_engine(name)(base.model_copy(update=overrides))
                fit = engine.fit(load_dataset(args.train).examples)
                accuracy = engine.evaluate(load_dataset(args.test).examples).accuracy
            if not args.cpu:
                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
        steps = fit.steps
        recipe_steps = finetune_steps(base, n_target)[0] if name in ("finetune", "lora") else None
        measured_s = (
            fit.phase_s.get("train")
            if name in ("finetune", "lora")
            else (fit.phase_s.get("embed", 0.0) + fit.phase_s.get("head", 0.0))
        )
        forecast_s = for_steps_run(fc.train_time_s, steps, recipe_steps)
        row = {
            "forecast_train_s": fc.train_time_s,
            "forecast_train_s_for_steps_run": forecast_s,
            "measured_train_s": measured_s,
            "time_ratio": forecast_s / measured_s if measured_s else None,
            "forecast_memory_bytes": fc.peak_memory_bytes,
            "measured_max_allocated_bytes": fit.peak_gpu_bytes,
            "measured_device_used_peak_bytes": mem.peak - mem.baseline,
            "memory_ratio_vs_device": fc.peak_memory_bytes / (mem.peak - mem.baseline)
            if mem.peak > mem.baseline
            else None,
            "steps": steps,
            "recipe_steps": recipe_steps,
            "phase_s": fit.phase_s,
            "wall_s": wall,
            "accuracy": accuracy,
            "cpu_forecast_accuracy": advice.forecasts[name].value if name in advice.forecasts else None,
            "device": fit.device,
            "assumptions": fc.assumptions,
            "train_examples_per_s": fit.train_examples_per_s,
        }
        result["engines"][name] = row
        print(
            f"{name}: forecast {forecast_s:.1f} s train, {_gib(fc.peak_memory_bytes)}; measured "
            f"{measured_s:.1f} s ({'train phase, ' + str(steps) + ' steps' if steps else 'embed + head'}; "
            f"whole run {wall:.1f} s), max allocated {_gib(fit.peak_gpu_bytes)}, device in use "
            f"{_gib(mem.peak - mem.baseline)}; time ratio forecast/measured {row['time_ratio']:.2f}; "
            f"accuracy {accuracy:.4f} on {args.test}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
