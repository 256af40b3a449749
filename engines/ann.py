"""An approximate nearest-neighbour index (HNSW, by faiss) over L2-normalised vectors: for collections where
exact search reads too many bytes per query. Optional: ``pip install "tune-or-embed[ann]"``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engines.atomic import write_with
from engines.errors import ArtifactError, ConfigError

INDEX_FILE = "hnsw.faiss"
INSTALL = 'pip install "tune-or-embed[ann]"'
SERIAL_BELOW = 16  # queries: fewer are searched on one thread


def available() -> bool:
    """Whether faiss can be imported here."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def require_faiss() -> Any:
    """The faiss module, or one line saying how to get it."""
    try:
        import faiss
    except ImportError:
        raise ConfigError(f"search_backend 'hnsw' needs faiss, which is not installed: {INSTALL}") from None
    return faiss


@contextmanager
def _omp_threads(faiss: Any, threads: int | None) -> Iterator[None]:
    """faiss's OpenMP threads set to ``threads`` (None: left as they are) for the block, then put back:
    the setting is process-wide, and torch may share it."""
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def build(vectors: Any, *, m: int, ef_construction: int, threads: int | None = None) -> Any:
    """An HNSW graph over ``vectors`` (rows L2-normalised: inner product is cosine)."""
    import numpy as np

    faiss = require_faiss()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    with _omp_threads(faiss, threads):
        index.add(vectors)
    return index


def search(index: Any, queries: Any, k: int, *, ef_search: int, threads: int | None = None) -> tuple[Any, Any]:
    """(scores, rows) of the ``k`` nearest rows to each query, best first; rows of -1 pad a short answer.

    A few queries are searched on one thread: faiss's threads would only wait on the encoder's (torch's
    OpenMP pool spins for a while after each forward pass), which costs more than the search itself."""
    import numpy as np

    faiss = require_faiss()
    index.hnsw.efSearch = max(ef_search, k)
    with _omp_threads(faiss, 1 if len(queries) < SERIAL_BELOW else (threads or os.cpu_count() or 1)):
        return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def save(index: Any, path: Path) -> None:
    """Write ``index`` to ``path`` atomically (faiss's own binary format; nothing pickled)."""
    faiss = require_faiss()
    write_with(path, lambda tmp: faiss.write_index(index, str(tmp)))


def load(path: Path, n_rows: int, dim: int) -> Any:
    """Read ``save``'s file; one that does not hold ``n_rows`` vectors of ``dim`` → ArtifactError."""
    faiss = require_faiss()
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ArtifactError(f"{path} is not a readable HNSW index: {str(exc).splitlines()[0][:200]}") from None
    if (index.ntotal, index.d) != (n_rows, dim):
        raise ArtifactError(f"{path} holds {index.ntotal}×{index.d} vectors, the collection {n_rows}×{dim}")
    return index
