"""The records engines take and report: frozen pydantic models, no behaviour beyond validation.

Split from ``engines.base`` so that ``engines.metrics`` (which builds reports) and ``base``
(whose ``Engine`` calls metrics) do not import each other; ``base`` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["classification", "retrieval"]


class Record(BaseModel):
    """Base for data that crosses a boundary: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- data
class Examples(Record):
    """Labelled texts for the classification task (one label per text)."""

    texts: list[str] = Field(description="The input texts.")
    labels: list[str] = Field(description="One label per text, as strings.")

    @model_validator(mode="after")
    def _same_length(self) -> Examples:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        return self

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> Examples:
        """The examples at ``indices``, in that order."""
        return Examples(texts=[self.texts[i] for i in indices], labels=[self.labels[i] for i in indices])

    @property
    def classes(self) -> list[str]:
        """Sorted distinct labels."""
        return sorted(set(self.labels))


class Pairs(Record):
    """Retrieval data: queries, the ids of their relevant documents, and the collection searched.

    ``doc_ids``/``docs`` is the whole collection (an extra corpus plus every document of the
    pairs); ``subset`` keeps it whole, so a sample of queries still searches everything.
    """

    query_ids: list[str] = Field(description="One id per query.")
    queries: list[str] = Field(description="The query texts.")
    relevant: list[list[str]] = Field(description="Per query, the ids of its relevant documents (at least one).")
    negatives: list[list[str]] = Field(
        default_factory=list, description="Per query, ids of hard negatives (empty list: none given)."
    )
    doc_ids: list[str] = Field(description="Ids of the documents searched, unique.")
    docs: list[str] = Field(description="The document texts, in ``doc_ids`` order.")

    @model_validator(mode="after")
    def _consistent(self) -> Pairs:
        if not (len(self.query_ids) == len(self.queries) == len(self.relevant)):
            raise ValueError(
                f"{len(self.queries)} queries, {len(self.query_ids)} ids, {len(self.relevant)} relevance lists"
            )
        if self.negatives and len(self.negatives) != len(self.queries):
            raise ValueError(f"{len(self.queries)} queries but {len(self.negatives)} negative lists")
        if len(self.doc_ids) != len(self.docs):
            raise ValueError(f"{len(self.doc_ids)} document ids but {len(self.docs)} documents")
        return self

    def __len__(self) -> int:
        return len(self.queries)

    def subset(self, indices: Sequence[int]) -> Pairs:
        """The queries at ``indices`` (in that order) over the same collection."""
        return Pairs.model_construct(
            query_ids=[self.query_ids[i] for i in indices],
            queries=[self.queries[i] for i in indices],
            relevant=[self.relevant[i] for i in indices],
            negatives=[self.negatives[i] for i in indices] if self.negatives else [],
            doc_ids=self.doc_ids,
            docs=self.docs,
        )

    def doc_text(self) -> dict[str, str]:
        """Document id → text."""
        return dict(zip(self.doc_ids, self.docs))

    def training_pairs(self) -> list[tuple[str, str]]:
        """(query, relevant document text) for every relevant document of every query."""
        text = self.doc_text()
        return [(q, text[d]) for q, rel in zip(self.queries, self.relevant) for d in rel]


# The data a classification engine's ``fit`` takes; retrieval engines (``engines.retrieval``) take ``Pairs``.
TaskData = Examples


# ----------------------------------------------------------------------- progress
class ProgressEvent(Record):
    """One progress report from long work."""

    phase: str = Field(description="What is running: 'load', 'embed', 'train', 'eval', 'head', 'index', 'save'.")
    done: int = Field(description="Units done so far in this phase.")
    total: int | None = Field(None, description="Units in this phase, if known.")
    unit: str = Field("examples", description="What is counted: 'examples', 'steps', 'texts'.")
    message: str = Field("", description="A short human note, e.g. 'loss 0.41'.")


# ------------------------------------------------------------------------ reports
StopReason = Literal["completed", "budget", "cancelled", "early_stopping"]


class FitReport(Record):
    """What one ``fit`` did and measured."""

    engine: str
    n_train: int = Field(description="Training examples given.")
    examples_seen: int = Field(description="Training examples processed (counting repeats over epochs).")
    epochs: float = Field(description="Epochs completed (fractional when stopped early).")
    steps: int = Field(0, description="Optimizer steps (0 for engines without steps).")
    tokens_seen: int = Field(0, description="Non-padding tokens processed in training (transformers).")
    stopped: StopReason = Field("completed", description="Why training ended.")
    best_step: int | None = Field(None, description="Step of the best validation score (early stopping), if validated.")
    phase_s: dict[str, float] = Field(
        default_factory=dict, description="Wall seconds per phase (load, embed, train, head …)."
    )
    wall_s: float = Field(description="Wall seconds of the whole fit.")
    train_examples_per_s: float | None = Field(None, description="Training throughput (examples/s) in the main phase.")
    train_tokens_per_s: float | None = Field(None, description="Training throughput in non-padding tokens/s.")
    peak_rss_bytes: int | None = Field(None, description="Peak resident memory of the process during fit.")
    peak_gpu_bytes: int | None = Field(None, description="torch.cuda.max_memory_allocated during fit, on GPU.")
    device: str = Field("cpu", description="Where it ran.")
    notes: list[str] = Field(default_factory=list, description="Things the user should know (OOM retries, resume …).")


class Predictions(Record):
    """Labels and class probabilities for a list of texts."""

    labels: list[str]
    classes: list[str] = Field(description="Column order of ``scores``.")
    scores: list[list[float]] = Field(description="Per text, a probability (or score) per class.")
    cut: int = Field(0, description="Texts that reached the model's token limit: only their start was read.")


class ClassReport(Record):
    precision: float
    recall: float
    f1: float
    support: int


class EvalReport(Record):
    """Held-out quality. ``correct`` lets callers bootstrap confidence intervals."""

    task: Task = "classification"
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassReport] = Field(default_factory=dict)
    correct: list[bool] = Field(default_factory=list, description="Per test example, was it right.")
    y_pred: list[str] = Field(default_factory=list, description="Per test example, the predicted label.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Other metrics (recall@k, MRR for retrieval).")


RANK_METRICS = ("ndcg@10", "recall@10", "mrr@10")  # the retrieval metrics, the first is the default


class RankReport(Record):
    """Held-out retrieval quality: each metric's mean and its value per query (for bootstraps)."""

    task: Literal["retrieval"] = "retrieval"
    n: int = Field(description="Queries scored.")
    metrics: dict[str, float] = Field(description="Mean over queries, per metric in RANK_METRICS.")
    per_query: dict[str, list[float]] = Field(description="Per metric, one value per query in input order.")


class SearchHit(Record):
    """One document found for a query."""

    doc_id: str
    score: float = Field(description="Higher is closer (cosine similarity, or the BM25 score).")
    text: str = ""


class SpeedReport(Record):
    """Inference speed, measured after a warm-up."""

    texts_per_s: float = Field(description="Throughput at the large batch size.")
    batch_sizes: tuple[int, int] = (1, 32)
    latency_ms_p50: dict[int, float] = Field(description="Per batch size, median milliseconds per text.")
    latency_ms_p95: dict[int, float] = Field(description="Per batch size, 95th-percentile milliseconds per text.")
    peak_rss_bytes: int | None = None
    device: str = "cpu"
