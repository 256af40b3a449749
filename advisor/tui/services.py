"""The backend the TUI calls, as one small injectable object.

`Services()` holds the real public functions of `advisor` and `engines`, each
imported lazily when first called (so the app's first frame never waits for torch,
pandas or scikit-learn). Tests pass fast fakes instead (see `tests/tui_fakes.py`).
Every function here is called from a thread worker, never from the UI thread.
No Textual in this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _probe(**kwargs: Any) -> Any:
    from advisor.machine.probe import probe

    return probe(**kwargs)


def _list_profiles() -> list[tuple[str, str]]:
    from advisor.machine.profiles import list_profiles

    return list_profiles()


def _load_profile(name_or_path: str | None = None, *, resources: Any = None) -> Any:
    from advisor.machine.profiles import load_profile

    return load_profile(name_or_path, resources=resources)


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


def _compare_runs(paths: list[str], goals: Any, resources: Any = None) -> Any:
    from advisor.decide.compare import compare_dirs

    return compare_dirs(paths, goals, resources)


def _write_report(advice: Any, path: Any) -> Any:
    from advisor.report import write_report

    return write_report(advice, path)


def _write_plan(plan: Any, path: Any) -> Any:
    from advisor.run.plan import write_plan

    return write_plan(plan, path)


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


def _load_search_engine(directory: Any) -> Any:
    """A retrieval artifact's engine, checked the way ``tune-or-embed search`` checks it (torch may load)."""
    from engines.artifacts import load_settled, read_manifest
    from engines.base import get_engine
    from engines.errors import ArtifactError, ConfigError

    manifest = read_manifest(directory)
    try:
        cls = get_engine(manifest.engine)
    except ConfigError:
        raise ArtifactError(f"{directory} was written by unknown engine {manifest.engine!r}") from None
    if "retrieval" not in cls.tasks:
        raise ConfigError(f"{directory} is a {manifest.engine} artifact, not a retrieval index")
    engine, _ = load_settled(directory)
    return engine


def _write_rank_report(advice: Any, path: Any) -> Any:
    """The retrieval report: the terminal summary in Markdown, as ``advise --report`` writes it."""
    from pathlib import Path

    from advisor.retrieval import render_rank_summary
    from engines.atomic import write_text

    write_text(Path(path), "# tune-or-embed advice (retrieval)\n\n```\n" + render_rank_summary(advice) + "```\n")
    return path


def _write_rank_plan(plan: Any, path: Any) -> Any:
    from engines.atomic import write_json

    write_json(path, plan)
    return path


def _engine_names() -> list[str]:
    from engines.base import engine_names

    return engine_names()


def _engine_class(name: str) -> Any:
    from engines.base import get_engine

    return get_engine(name)


@dataclass(frozen=True)
class Services:
    """What the app may call. Defaults are the real functions; tests inject fakes."""

    probe: Callable[..., Any] = _probe
    list_profiles: Callable[[], list[tuple[str, str]]] = _list_profiles
    load_profile: Callable[..., Any] = _load_profile
    load_dataset: Callable[..., Any] = _load_dataset
    summarize: Callable[[Any], Any] = _summarize
    check_test_file: Callable[..., int] = _check_test_file
    advise: Callable[..., Any] = _advise
    make_run_spec: Callable[..., Any] = build_run_spec
    full_run: Callable[..., Any] = _full_run
    load_artifact: Callable[[Any], Any] = _load_artifact
    compare_runs: Callable[..., Any] = _compare_runs
    write_report: Callable[[Any, Any], Any] = _write_report
    write_plan: Callable[[Any, Any], Any] = _write_plan
    engine_names: Callable[[], list[str]] = _engine_names
    engine_class: Callable[[str], Any] = _engine_class
    # retrieval
    load_pairs: Callable[..., Any] = _load_pairs
    summarize_pairs: Callable[[Any], Any] = _summarize_pairs
    advise_retrieval: Callable[..., Any] = _advise_retrieval
    make_rank_spec: Callable[..., Any] = build_rank_spec
    rank_full_run: Callable[..., Any] = _rank_full_run
    load_search_engine: Callable[[Any], Any] = _load_search_engine
    write_rank_report: Callable[[Any, Any], Any] = _write_rank_report
    write_rank_plan: Callable[[Any, Any], Any] = _write_rank_plan


def describe_error(exc: BaseException) -> str:
    """One line for the UI: a UserError's own text, anything else its type and message."""
    from engines.errors import UserError

    if isinstance(exc, UserError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory; try a smaller sample, batch size or max length"
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}{f': {exc.filename}' if exc.filename else ''}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first
