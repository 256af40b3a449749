"""The ``frozen-index`` engines' indexed collection: the LanceDB store, its document ids, the vectors
read back for a NumPy search and the HNSW graph over them, searched by a config's backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engines import dense_search
from engines.errors import ArtifactError
from engines.records import SearchHit
from engines.search_cost import SearchCost

SCORE_CELLS = 1 << 24  # numpy search: at most this many query × document scores at once (64 MiB)


class Collection:
    """One indexed collection. The backend comes from the ``FrozenIndexConfig`` each call is given
    (``engines.dense_search.backend``): 'auto' settles by the collection's size."""

    def __init__(self, store: Any, doc_ids: list[str], *, rows: tuple[Any, list[str]] | None = None) -> None:
        self.store = store  # engines.store.VectorStore: the artifact's ``store/``
        self.doc_ids = doc_ids
        self.graph: Any = None  # the HNSW graph over the vectors (backend 'hnsw'), built or loaded
        self._rows = rows  # the store's (vectors, texts) in row order; read from it on first use

    def backend(self, config: Any) -> str:
        return dense_search.backend(config, len(self.doc_ids))

    def rows(self) -> tuple[Any, list[str]]:
        """The store's (vectors, texts) in row order, read once (a loaded artifact's ids checked)."""
        if self._rows is None:
            vectors, texts, labels = self.store.rows()
            if labels != self.doc_ids:
                raise ArtifactError(f"the vector store in {self.store.directory} lists other document ids")
            self._rows = (vectors, texts)
        return self._rows

    def build_graph(self, config: Any) -> None:
        """The HNSW graph over the vectors, with the config's links and build candidates."""
        self.graph = dense_search.build_graph(self.rows()[0], config)

    def search(self, vectors: Any, k: int, config: Any) -> list[list[SearchHit]]:
        """The ``k`` nearest documents to each (encoded, normalised) query, best first."""
        backend = self.backend(config)
        if backend == "lancedb":
            hits = self.store.search_many(vectors, k)
            return [[SearchHit(doc_id=h.label, score=h.score, text=h.text) for h in row] for row in hits]
        stored, texts = self.rows()
        if backend == "hnsw":
            if self.graph is None:  # an artifact saved without its graph
                self.build_graph(config)
            return dense_search.graph_top_k(self.graph, vectors, texts, self.doc_ids, k, config)
        return dense_search.top_k(vectors, stored, texts, self.doc_ids, k, SCORE_CELLS)

    def cost(
        self, n_docs: int, probe: Sequence[str], encode: Callable[[Any], Any], config: Any, *, k: int
    ) -> SearchCost:
        """One query over ``n_docs`` documents by the backend that size gets, timed here with these
        vectors as the sample (``engines.dense_search.cost``)."""
        return dense_search.cost(
            n_docs, probe, encode, self.rows()[0], self.store, config, k=k, score_cells=SCORE_CELLS
        )
