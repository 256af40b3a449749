"""The CPU int8 fast path for the embedding engine: the frozen encoder in ONNX Runtime.

The encoder (the very folder the engine resolves: safetensors weights, no remote
code) is exported to ONNX with dynamic batch and sequence axes, its weights are
quantized to int8 with ``onnxruntime.quantization.quantize_dynamic`` (QInt8), and
``OnnxEncoder`` runs it on the CPU. It returns the encoder's last hidden state;
pooling and L2 normalisation stay in the engine (``engines.backbone.pool``), so the
torch and ONNX paths share one home for them.

Exports are cached under ``engines.models.cache_root()/onnx-int8/<model hash>-v<N>/``
(written atomically: a concurrent exporter never leaves half a file) and copied into
an artifact on ``save``, so ``load`` runs offline from the artifact alone.

onnxruntime is optional (``pip install 'tune-or-embed[onnx]'``) and imported only
inside functions: importing this module, or ``--help``, never loads it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engines.atomic import write_json, write_with
from engines.errors import ConfigError, ModelNotFoundError

BACKEND = "onnx-int8"
ONNX_FILE = "model.int8.onnx"
META_FILE = "onnx-int8.json"
EXPORT_VERSION = 1  # bump when the export recipe changes: old cache entries are then ignored
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "last_hidden_state"
# Per-channel weight scales: per-tensor int8 left MiniLM-L6's vectors at cosine 0.82–0.92 to
# torch's on short reviews, per-channel at 0.97–0.99. MatMul weights only: the word-embedding
# table stays fp32 (int8 Gather saved 35 MB and cost a little more agreement). 7-bit weights
# (reduce_range) keep an artifact accurate on CPUs without VNNI, where u8×s8 products can saturate.
QUANTIZE_OPTIONS: dict[str, Any] = {"per_channel": True, "reduce_range": True, "op_types_to_quantize": ["MatMul"]}
MISSING_HINT = f"backend {BACKEND!r} needs onnxruntime: pip install 'tune-or-embed[onnx]'"


def onnxruntime_available() -> bool:
    """True when onnxruntime can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):  # a broken or blocked entry in sys.modules
        return False


def require_onnxruntime() -> Any:
    """Import onnxruntime, or raise the one-line ConfigError that says how to install it."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise ConfigError(MISSING_HINT) from None


def check_device(device: str | None) -> None:
    """The int8 path runs on the CPU only: 'auto' and 'cpu' pass, a GPU is a ConfigError."""
    pref = (device or "auto").strip().lower()
    if pref not in ("auto", "cpu"):
        raise ConfigError(
            f"backend {BACKEND!r} runs on the CPU only (device {device!r} asked for); "
            "use --set device=cpu or backend=torch"
        )


def cache_dir(model_hash: str) -> Path:
    """Where the int8 export of the model with weights hash ``model_hash`` is cached."""
    from engines.models import cache_root

    return cache_root() / BACKEND / f"{model_hash}-v{EXPORT_VERSION}"


def _export_fp32(resolved: Any, out: Path) -> None:
    """Export the bare encoder (input_ids, attention_mask → last_hidden_state) to ``out``."""
    import warnings

    import torch

    from engines.backbone import load_encoder

    model = load_encoder(resolved, "cpu")  # a private copy: export flips it to training mode

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    wrapper = _Encoder(model).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export_int8(resolved: Any, dest: Path) -> Path:
    """Export ``resolved`` to ONNX, quantize its weights to int8, and write ``dest/ONNX_FILE`` atomically."""
    require_onnxruntime()
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="toe-onnx-", dir=dest) as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        try:
            _export_fp32(resolved, fp32)
        except ModelNotFoundError:
            raise
        except Exception as exc:  # the exporter fails in many ways; say which model and why, in one line
            raise ConfigError(
                f"cannot export {getattr(resolved, 'name', resolved)} to ONNX: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a 'run pre-processing' hint on root
        try:
            write_with(
                dest / ONNX_FILE,
                lambda p: quantize_dynamic(str(fp32), str(p), weight_type=QuantType.QInt8, **QUANTIZE_OPTIONS),
            )
        finally:
            root.setLevel(level)
    return dest / ONNX_FILE


def cached_int8_model(resolved: Any, model_hash: str) -> Path:
    """The cached int8 ONNX file for ``resolved`` (exported on the first call for these weights)."""
    ort = require_onnxruntime()
    import torch

    folder = cache_dir(model_hash)
    path = folder / ONNX_FILE
    if path.is_file() and path.stat().st_size > 0:
        return path
    export_int8(resolved, folder)
    write_json(
        folder / META_FILE,
        {
            "model_name": getattr(resolved, "name", None),
            "model_hash": model_hash,
            "export_version": EXPORT_VERSION,
            "opset": OPSET,
            "quantization": {"method": "quantize_dynamic", "weight_type": "QInt8", **QUANTIZE_OPTIONS},
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        },
    )
    return path


def copy_into(src: Path, directory: Path) -> Path:
    """Copy the int8 model (and its notes, if any) into ``directory`` (an artifact's folder)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_with(directory / ONNX_FILE, lambda p: shutil.copyfile(src, p))
    meta = Path(src).parent / META_FILE
    if meta.is_file():
        write_json(directory / META_FILE, json.loads(meta.read_text(encoding="utf-8")))
    return directory / ONNX_FILE


class OnnxEncoder:
    """An int8 encoder in an ONNX Runtime session on the CPU: ids + mask → last hidden state."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        ort = require_onnxruntime()
        if threads is None:
            import torch

            threads = torch.get_num_threads()  # the same cores the torch path would use
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.path = Path(path)
        self.threads = opts.intra_op_num_threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph …)
            from engines.errors import ArtifactError

            raise ArtifactError(
                f"cannot open the int8 model {path}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        names = [i.name for i in self.session.get_inputs()]
        if names != list(INPUT_NAMES):
            from engines.errors import ArtifactError

            raise ArtifactError(f"int8 model {path} takes {names}, expected {list(INPUT_NAMES)}")
        shape = self.session.get_outputs()[0].shape
        self.dim = shape[-1] if isinstance(shape[-1], int) else None

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        """int64 arrays (batch × sequence) → float32 last hidden state (batch × sequence × dim), numpy."""
        return self.session.run([OUTPUT_NAME], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
