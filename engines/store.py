"""The embedded vector store behind the ``embedding`` engine: LanceDB.

LanceDB is embedded (no server), keeps its table on disk as Lance/Arrow files inside
the artifact folder, opens lazily, and answers exact (flat) nearest-neighbour queries
— several queries in one call — with metadata (text, label) alongside and filters
available. Vectors are L2-normalised, so the "dot" distance (1 − dot) gives cosine
similarity as ``1 − distance``.

``import lancedb`` happens inside the methods: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from engines.base import Record
from engines.errors import ArtifactError, DataError

TABLE = "examples"


class Hit(Record):
    """One neighbour returned by a search."""

    text: str = Field(description="The stored text.")
    label: str = Field(description="Its label.")
    score: float = Field(description="Cosine similarity to the query (1 = identical direction).")
    row: int = Field(description="Row number in the store (training order).")


class VectorStore:
    """A LanceDB table of (vector, text, label, row) in a folder."""

    def __init__(self, directory: Path, table: Any) -> None:
        self.directory = Path(directory)
        self._table = table

    # ------------------------------------------------------------------ building
    @classmethod
    def create(cls, directory: str | Path, vectors: Any, texts: Sequence[str], labels: Sequence[str]) -> VectorStore:
        """Write a new store into ``directory`` (created; must not hold a store yet)."""
        import lancedb
        import numpy as np
        import pyarrow as pa

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise DataError("vector store needs a non-empty 2-D array of vectors")
        if not (len(vectors) == len(texts) == len(labels)):
            raise DataError(f"{len(vectors)} vectors, {len(texts)} texts, {len(labels)} labels")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        dim = vectors.shape[1]
        data = pa.table(
            {
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), type=pa.float32()), dim),
                "text": pa.array([str(t) for t in texts], type=pa.string()),
                "label": pa.array([str(lbl) for lbl in labels], type=pa.string()),
                "row": pa.array(np.arange(len(vectors), dtype=np.int64)),
            }
        )
        db = lancedb.connect(str(directory))
        table = db.create_table(TABLE, data=data, mode="create")
        return cls(directory, table)

    @classmethod
    def open(cls, directory: str | Path) -> VectorStore:
        """Open the store in ``directory``; missing or unreadable → ArtifactError."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ArtifactError(f"vector store folder missing: {directory}")
        try:
            import lancedb

            db = lancedb.connect(str(directory))
            table = db.open_table(TABLE)
            table.count_rows()
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - lance raises ValueError/OSError/RuntimeError on damage
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ArtifactError(f"cannot open the vector store in {directory}: {first}") from None
        return cls(directory, table)

    # ------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return int(self._table.count_rows())

    @property
    def dim(self) -> int:
        return int(self._table.schema.field("vector").type.list_size)

    def rows(self) -> tuple[Any, list[str], list[str]]:
        """Every stored row in row order: (float32 vectors, texts, labels)."""
        import numpy as np

        table = self._table.to_arrow().sort_by("row")
        flat = table.column("vector").combine_chunks().flatten()
        vectors = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(table), self.dim)
        return vectors, table.column("text").to_pylist(), table.column("label").to_pylist()

    def search_many(self, vectors: Any, k: int) -> list[list[Hit]]:
        """The ``k`` nearest stored rows (exact, cosine) for each query vector."""
        import numpy as np

        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if len(queries) == 0:
            return []
        if queries.shape[1] != self.dim:
            raise DataError(f"query vectors have {queries.shape[1]} dims, the store {self.dim}")
        k = max(1, min(int(k), len(self)))
        query = self._table.search(list(queries) if len(queries) > 1 else queries[0])
        result = (
            query.distance_type("dot").limit(k).select(["text", "label", "row", "_distance"]).to_arrow().to_pydict()
        )
        n = len(result["row"])
        qidx = result.get("query_index", [0] * n)
        hits: list[list[Hit]] = [[] for _ in range(len(queries))]
        for q, text, label, row, dist in zip(
            qidx, result["text"], result["label"], result["row"], result["_distance"], strict=True
        ):
            hits[int(q)].append(Hit(text=text, label=label, score=1.0 - float(dist), row=int(row)))
        for h in hits:
            h.sort(key=lambda hit: (-hit.score, hit.row))
        return hits

    def search(self, vector: Any, k: int) -> list[Hit]:
        """The ``k`` nearest stored rows for one query vector, best first."""
        return self.search_many(vector, k)[0]


def knn_vote(hits: Sequence[Hit], classes: Sequence[str]) -> list[float]:
    """Similarity-weighted vote of ``hits`` over ``classes``, normalised to sum to 1."""
    weights = dict.fromkeys(classes, 0.0)
    for hit in hits:
        if hit.label in weights:
            weights[hit.label] += max(hit.score, 0.0) + 1e-6
    total = sum(weights.values())
    if total <= 0:
        return [1.0 / len(classes)] * len(classes)
    return [weights[c] / total for c in classes]
