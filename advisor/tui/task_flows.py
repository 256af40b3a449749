"""Each task's backend for the TUI's steps (read the data, benchmark, run, export) and what its screens
show (`TaskTexts`) behind one `TaskFlow` interface. Backend imports are lazy; no Textual here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from advisor.tui.class_format import ClassificationTexts
from advisor.tui.rank_format import RetrievalTexts
from advisor.tui.task_texts import TaskTexts

DEFAULT_TASK = "classification"  # the task of an advice that names none (the classification Advice)


@dataclass(frozen=True)
class DataRequest:
    """What the Data step asks to read; for retrieval the two columns are the query and document ones."""

    ref: str
    text_col: str | None = None
    label_col: str | None = None
    encoding: str | None = None
    test_file: str | None = None
    corpus: str | None = None


class TaskFlow(TaskTexts, Protocol):
    """One task's steps, each called from a thread worker (never the UI thread), and its texts, which
    the screens ask on the UI thread (``TaskTexts``): a new task is a new flow, no screen changes."""

    @property
    def name(self) -> str: ...

    @property
    def opens_search(self) -> bool:
        """A finished run opens the search screen over its index (else its engine answers "Try it")."""
        ...

    def read(self, req: DataRequest) -> tuple[Any, Any]:
        """The data and its summary."""
        ...

    def held_out_rows(self, req: DataRequest, dataset: Any) -> int | None:
        """The rows of the request's separate test file (None without one), read now to fail early."""
        ...

    def measure(
        self,
        dataset: Any,
        goals: Any,
        *,
        profile: str | None,
        budget: str,
        resources: Any,
        progress: Callable[[Any], None],
        cancel: threading.Event,
        test_file: str | None,
    ) -> Any:
        """The advice: micro-benchmarks, forecasts and the recommendation."""
        ...

    def train(
        self,
        *,
        engine: str,
        advice: Any,
        dataset: Any,
        profile: str | None,
        test_file: str | None,
        out_dir: Path,
        resume: bool,
        overwrite: bool,
        progress: Callable[[Any], None],
        cancel: threading.Event,
    ) -> tuple[Any, Any]:
        """The full run of ``engine`` (the advice's plan, else the loaded data): its manifest and the
        artifact's engine loaded for "Try it" (None where ``opens_search``: that screen loads it)."""
        ...

    def write_report(self, advice: Any, path: Path) -> Any: ...

    def write_plan(self, plan: Any, path: Path) -> Any: ...


def advice_task(advice: Any) -> str:
    """The task an advice was made for."""
    return getattr(advice, "task", None) or DEFAULT_TASK


# ---------------------------------------------------------------- classification
def _load_dataset(ref: str, **kwargs: Any) -> Any:
    from advisor.data.labelled import load_dataset

    return load_dataset(ref, **kwargs)


def _check_test_file(test_file: str, dataset: Any, **kwargs: Any) -> int:
    from advisor.data.heldout import check_test_file

    return check_test_file(test_file, dataset, **kwargs)


def _summarize(dataset: Any) -> Any:
    from advisor.data.summary import summarize

    return summarize(dataset)


def _advise(data: Any, goals: Any, **kwargs: Any) -> Any:
    from advisor.advise import advise

    return advise(data, goals, **kwargs)


def build_run_spec(*, engine: str, advice: Any, dataset: Any, profile: str | None, test_file: str | None = None) -> Any:
    """The advice's plan for its own choice; the same split and data for another engine. Without
    advice: the loaded data, scored on ``test_file`` when one is given (else a held-out split)."""
    from advisor.run.fullrun import RunSpec

    plan = getattr(advice, "plan", None) if advice is not None else None
    if plan is not None:
        spec = plan.run
        if spec.engine == engine:
            return spec
        return spec.model_copy(update={"engine": engine, "engine_config": {}})
    if dataset is None:
        from engines.errors import DataError

        raise DataError("no data loaded yet: pick a data file on the Data step (3)")
    fields: dict[str, Any] = {
        "engine": engine,
        "data": dataset.ref,
        "text_col": dataset.text_col,
        "label_col": dataset.label_col,
    }
    if test_file:
        fields.update(train_file=dataset.ref, test_file=test_file)
    if profile:
        fields["profile"] = profile
    if getattr(dataset, "encoding", None):
        fields["encoding"] = dataset.encoding
    return RunSpec(**fields)


def _full_run(spec: Any, out_dir: Any, **kwargs: Any) -> Any:
    from advisor.run.fullrun import full_run

    return full_run(spec, out_dir, **kwargs)


def _load_artifact(directory: Any) -> Any:
    from engines.artifacts import load_artifact

    return load_artifact(directory)


def _write_report(advice: Any, path: Any) -> Any:
    from advisor.report import write_report

    return write_report(advice, path)


def _write_plan(plan: Any, path: Any) -> Any:
    from advisor.run.plan import write_plan

    return write_plan(plan, path)


@dataclass(frozen=True)
class ClassificationFlow(ClassificationTexts):
    """Labelled texts: the real backend functions by default; tests replace them with fakes."""

    name: str = "classification"
    opens_search: bool = False
    load_dataset: Callable[..., Any] = _load_dataset
    summarize: Callable[[Any], Any] = _summarize
    check_test_file: Callable[..., int] = _check_test_file
    advise: Callable[..., Any] = _advise
    make_run_spec: Callable[..., Any] = build_run_spec
    full_run: Callable[..., Any] = _full_run
    load_artifact: Callable[[Any], Any] = _load_artifact
    write_report: Callable[[Any, Any], Any] = _write_report
    write_plan: Callable[[Any, Any], Any] = _write_plan

    def read(self, req: DataRequest) -> tuple[Any, Any]:
        dataset = self.load_dataset(req.ref, text_col=req.text_col, label_col=req.label_col, encoding=req.encoding)
        return dataset, self.summarize(dataset)

    def held_out_rows(self, req: DataRequest, dataset: Any) -> int | None:
        if not req.test_file:
            return None
        return self.check_test_file(
            req.test_file, dataset, text_col=req.text_col, label_col=req.label_col, encoding=req.encoding
        )

    def measure(self, dataset: Any, goals: Any, **kwargs: Any) -> Any:
        return self.advise(dataset, goals, **kwargs)

    def train(
        self,
        *,
        engine: str,
        advice: Any,
        dataset: Any,
        profile: str | None,
        test_file: str | None,
        out_dir: Path,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        spec = self.make_run_spec(engine=engine, advice=advice, dataset=dataset, profile=profile, test_file=test_file)
        manifest = self.full_run(spec, out_dir, **kwargs)
        loaded, _ = self.load_artifact(out_dir)
        return manifest, loaded


# --------------------------------------------------------------------- retrieval
def _load_pairs(ref: str, **kwargs: Any) -> Any:
    from advisor.data.pairs import load_pairs

    return load_pairs(ref, **kwargs)


def _summarize_pairs(dataset: Any) -> Any:
    from advisor.data.pairs_summary import summarize_pairs

    return summarize_pairs(dataset)


def _advise_retrieval(data: Any, goals: Any, **kwargs: Any) -> Any:
    from advisor.retrieval import advise_retrieval

    return advise_retrieval(data, goals, **kwargs)


def build_rank_spec(*, engine: str, advice: Any, dataset: Any, profile: str | None) -> Any:
    """The retrieval advice's plan (the same split) for ``engine``; without advice, the loaded pairs."""
    from advisor.run.rank_run import RankRunSpec, spec_from_plan

    plan = getattr(advice, "plan", None) if advice is not None else None
    if plan is not None:
        spec = spec_from_plan(plan.model_dump())
        return spec if spec.engine == engine else spec.model_copy(update={"engine": engine})
    if dataset is None:
        from engines.errors import DataError

        raise DataError("no pairs loaded yet: pick a pairs file on the Data step (3)")
    return RankRunSpec(engine=engine, data=dataset.source, corpus=dataset.corpus, profile=profile)


def _rank_full_run(spec: Any, out_dir: Any, **kwargs: Any) -> Any:
    from advisor.run.rank_run import rank_full_run

    return rank_full_run(spec, out_dir, **kwargs)


def _write_rank_report(advice: Any, path: Any) -> Any:
    """The retrieval report: the terminal summary in Markdown, as ``advise --report`` writes it."""
    from advisor.retrieval import render_rank_summary
    from engines.atomic import write_text

    write_text(Path(path), "# tune-or-embed advice (retrieval)\n\n```\n" + render_rank_summary(advice) + "```\n")
    return path


def _write_rank_plan(plan: Any, path: Any) -> Any:
    from engines.atomic import write_json

    write_json(path, plan)
    return path


@dataclass(frozen=True)
class RetrievalFlow(RetrievalTexts):
    """Query/document pairs (plus an optional corpus); a finished run's index opens the search screen."""

    name: str = "retrieval"
    opens_search: bool = True
    load_pairs: Callable[..., Any] = _load_pairs
    summarize_pairs: Callable[[Any], Any] = _summarize_pairs
    advise_retrieval: Callable[..., Any] = _advise_retrieval
    make_rank_spec: Callable[..., Any] = build_rank_spec
    rank_full_run: Callable[..., Any] = _rank_full_run
    write_report: Callable[[Any, Any], Any] = _write_rank_report
    write_plan: Callable[[Any, Any], Any] = _write_rank_plan

    def read(self, req: DataRequest) -> tuple[Any, Any]:
        dataset = self.load_pairs(req.ref, corpus=req.corpus, query_col=req.text_col, doc_col=req.label_col)
        return dataset, self.summarize_pairs(dataset)

    def held_out_rows(self, req: DataRequest, dataset: Any) -> int | None:
        return None  # the queries are split; no separate test file

    def measure(self, dataset: Any, goals: Any, *, test_file: str | None = None, **kwargs: Any) -> Any:
        return self.advise_retrieval(dataset, goals, corpus=getattr(dataset, "corpus", None), **kwargs)

    def train(
        self,
        *,
        engine: str,
        advice: Any,
        dataset: Any,
        profile: str | None,
        test_file: str | None,
        out_dir: Path,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        spec = self.make_rank_spec(engine=engine, advice=advice, dataset=dataset, profile=profile)
        return self.rank_full_run(spec, out_dir, **kwargs), None


def default_flows() -> dict[str, TaskFlow]:
    """The tasks the TUI serves, by name (the order of ``advisor.common.tasks.TASKS``)."""
    flows: tuple[TaskFlow, ...] = (ClassificationFlow(), RetrievalFlow())
    return {flow.name: flow for flow in flows}
