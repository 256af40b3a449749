"""A fast, deterministic stand-in for the TUI's backend (test support; not shipped in the wheel).

Fixed probe values, a fixed small dataset, fixed benchmark points and a fake engine
that trains in milliseconds: Pilot tests walk the whole flow in about a second and
SVG snapshots do not change between runs. The shapes follow the public records of
`advisor` and `engines` (a test compares the field names with the real models).
No Textual here.
"""

from __future__ import annotations

import csv
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from advisor.tui.services import Services
from advisor.tui.task_flows import ClassificationFlow
from engines.base import Predictions, ProgressEvent
from engines.errors import Cancelled, DataError

GiB = 1024**3


# ------------------------------------------------------------------ records (shapes)
@dataclass(frozen=True)
class FakeGpu:
    index: int
    name: str
    memory_total_bytes: int
    memory_free_bytes: int
    driver: str
    compute_capability: str
    utilization_pct: float | None


@dataclass(frozen=True)
class FakeResources:
    cpu_model: str = "Fake CPU @ 2.0GHz"
    physical_cores: int = 2
    logical_cores: int = 2
    ram_total_bytes: int = 8 * GiB
    ram_available_bytes: int = 5 * GiB
    disk_path: str = "/work/runs"
    disk_free_bytes: int = 40 * GiB
    gpus: list[FakeGpu] = field(default_factory=list)
    gpu_error: str | None = "NVML library not found (no NVIDIA driver)"
    torch: Any = None
    os: str = "Linux 6.1 x86_64"
    python: str = "3.11.9"

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)


@dataclass(frozen=True)
class FakeProfile:
    name: str
    description: str = ""


@dataclass(frozen=True)
class FakeExamples:
    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class FakeDrops:
    nan_labels: int = 0
    empty_texts: int = 0
    duplicates: int = 0
    total_rows_read: int = 0


@dataclass(frozen=True)
class FakeDataset:
    examples: FakeExamples
    ref: str
    path: str
    format: str
    text_col: str
    label_col: str
    encoding: str
    fingerprint: str
    total_rows: int
    sampled: bool
    dropped: FakeDrops
    warnings: list[str]


@dataclass(frozen=True)
class FakeClass:
    label: str
    count: int
    share: float


@dataclass(frozen=True)
class FakeLengthStats:
    unit: str
    mean: float
    p10: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: int


@dataclass(frozen=True)
class FakeSummary:
    rows: int
    total_rows: int
    classes: list[FakeClass]
    imbalance_ratio: float
    lengths: dict[str, FakeLengthStats]
    dropped: FakeDrops
    warnings: list[str]


@dataclass(frozen=True)
class FakePoint:
    approach: str
    n_train: int
    seed: int
    accuracy: float
    macro_f1: float
    fit_s: float
    stopped: str = "completed"


@dataclass(frozen=True)
class FakeBenchEvent:
    approach: str
    phase: str
    done: int
    total: int | None
    message: str
    elapsed_s: float
    budget_s: float
    point: FakePoint | None = None


@dataclass(frozen=True)
class FakeMeasurement:
    approach: str
    points: list[FakePoint]
    accuracy: float
    ci_low: float
    ci_high: float
    macro_f1: float
    train_examples_per_s: float
    infer_texts_per_s: float
    latency_ms: dict[str, float]
    peak_rss_bytes: int


@dataclass(frozen=True)
class FakeBench:
    measurements: dict[str, FakeMeasurement]
    budget_s: float
    spent_s: float
    cancelled: bool
    test_size: int


@dataclass(frozen=True)
class FakeForecast:
    approach: str
    n_target: int
    value: float
    low: float
    high: float
    method: str
    flagged: bool
    train_time_s: float
    peak_memory_bytes: int
    curve: list[tuple[float, float]]


@dataclass(frozen=True)
class FakeReason:
    text: str


@dataclass(frozen=True)
class FakeRuledOut:
    approach: str
    reason: str


@dataclass(frozen=True)
class FakeRecommendation:
    choice: str
    label: str
    confidence: str
    too_close: bool
    reasons: list[FakeReason]
    ruled_out: list[FakeRuledOut]
    flips: list[str]
    settle: str | None


@dataclass(frozen=True)
class FakeRunSpec:
    engine: str
    data: str
    text_col: str | None = None
    label_col: str | None = None
    profile: str | None = None
    train_file: str | None = None
    test_file: str | None = None


@dataclass(frozen=True)
class FakePlan:
    run: FakeRunSpec


@dataclass(frozen=True)
class FakeDataInfo:
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FakeAdvice:
    bench: FakeBench
    forecasts: dict[str, FakeForecast]
    recommendation: FakeRecommendation
    plan: FakePlan
    cancelled: bool
    data: FakeDataInfo = field(default_factory=FakeDataInfo)


@dataclass(frozen=True)
class FakeMetrics:
    accuracy: float
    macro_f1: float
    n: int


@dataclass(frozen=True)
class FakeFit:
    wall_s: float


@dataclass(frozen=True)
class FakeManifest:
    engine: str
    metrics: FakeMetrics
    fit: FakeFit


@dataclass(frozen=True)
class FakeHit:
    text: str
    label: str
    score: float


# -------------------------------------------------------------------------- engine
class FakeEngine:
    """Predicts 'pos' for texts with a positive word, else 'neg'."""

    def __init__(self, name: str, texts: list[str], labels: list[str]) -> None:
        self.name = name
        self.supports_search = name == "embedding"
        self._texts = texts
        self._labels = labels

    def predict(self, texts: list[str]) -> Predictions:
        good = ("good", "great", "fun", "love")
        labels = ["pos" if any(w in t.lower() for w in good) else "neg" for t in texts]
        scores = [[0.2, 0.8] if lab == "pos" else [0.7, 0.3] for lab in labels]
        return Predictions(labels=labels, classes=["neg", "pos"], scores=scores)

    def search(self, query: str, k: int = 5) -> list[FakeHit]:
        words = set(query.lower().split())
        ranked = sorted(
            range(len(self._texts)),
            key=lambda i: (-len(words & set(self._texts[i].lower().split())), i),
        )
        return [FakeHit(self._texts[i], self._labels[i], round(1.0 / (1 + r), 3)) for r, i in enumerate(ranked[:k])]


# ------------------------------------------------------------------------- backend
_POSITIVE = ["a good film", "great fun", "I love the cast", "good acting and a great score"]
_NEGATIVE = ["a dull plot", "too long and slow", "the script is weak", "flat and boring"]

# Fixed learning curves: (approach, n_train, seed, accuracy).
CURVES: dict[str, list[tuple[int, int, float]]] = {
    "tfidf": [(100, 0, 0.61), (200, 0, 0.64), (400, 0, 0.67), (800, 0, 0.69)],
    "embedding": [(100, 0, 0.66), (200, 0, 0.69), (400, 0, 0.71), (800, 0, 0.72)],
    "finetune": [(200, 0, 0.70), (400, 0, 0.75)],
}


class FakeBackend:
    """Deterministic fakes; ``step_delay`` slows the benchmark/run so tests can cancel."""

    # Held-out accuracy of each engine's fake run, on the same 200 rows.
    RUN_ACCURACY: ClassVar[dict[str, float]] = {"tfidf": 0.70, "embedding": 0.74, "finetune": 0.80, "lora": 0.78}

    def __init__(self, *, step_delay: float = 0.0, gpus: int = 0, rows: int = 40) -> None:
        self.step_delay = step_delay
        self.gpus = gpus
        self.rows = rows
        self.calls: list[str] = []
        self.run_started = threading.Event()
        self.bench_started = threading.Event()

    # --- probe and profiles
    def probe(self, **_: Any) -> FakeResources:
        self.calls.append("probe")
        gpus = [
            FakeGpu(i, "NVIDIA H100 80GB HBM3", 80 * GiB, (70 - 20 * i) * GiB, "550.54.15", "9.0", 3.0 + i)
            for i in range(self.gpus)
        ]
        if gpus:
            return FakeResources(gpus=gpus, gpu_error=None)
        return FakeResources()

    def list_profiles(self) -> list[tuple[str, str]]:
        return [
            ("cpu-small", "2–8 CPU cores: MiniLM-L6, max length 128"),
            ("gpu", "one NVIDIA GPU: bigger batches and samples, bf16"),
            ("tiny", "a tiny random model for tests and smoke runs"),
        ]

    def load_profile(self, name: str | None = None, *, resources: Any = None) -> FakeProfile:
        if name is None:
            name = "gpu" if resources is not None and resources.has_gpu else "cpu-small"
        if name not in {n for n, _ in self.list_profiles()}:
            from engines.errors import ConfigError

            raise ConfigError(f"unknown profile {name!r}; try one of: cpu-small, gpu, tiny")
        return FakeProfile(name)

    # --- data
    def load_dataset(
        self,
        ref: str,
        *,
        text_col: str | None = None,
        label_col: str | None = None,
        encoding: str | None = None,
        **_: Any,
    ) -> FakeDataset:
        self.calls.append(f"load_dataset:{ref}")
        if ref.startswith("demo:"):
            texts = [(_POSITIVE + _NEGATIVE)[i % 8] + f" #{i}" for i in range(self.rows)]
            labels = ["pos" if i % 8 < 4 else "neg" for i in range(self.rows)]
            tcol, lcol = "text", "label"
        else:
            path = Path(ref)
            if not path.exists():
                raise DataError(f"data file not found: {ref}")
            raw = path.read_bytes()
            if not raw.strip():
                raise DataError(f"data file is empty: {ref}")
            if b"\x00" in raw[:8192]:
                raise DataError(f"{ref} looks binary, not text (NUL bytes in the first 8 KiB)")
            rows = list(csv.DictReader(raw.decode(encoding or "utf-8").splitlines()))
            columns = list(rows[0]) if rows else []
            tcol = text_col or ("text" if "text" in columns else "")
            lcol = label_col or ("label" if "label" in columns else "")
            if tcol not in columns:
                raise DataError(f"no text column in {ref} (columns: {', '.join(columns)}); pass --text-col")
            if lcol not in columns:
                raise DataError(f"no label column in {ref} (columns: {', '.join(columns)}); pass --label-col")
            texts = [r[tcol] for r in rows]
            labels = [r[lcol] for r in rows]
            if len(set(labels)) < 2:
                raise DataError(f"only one class ({labels[0]!r}) in {ref}: need at least 2")
        return FakeDataset(
            examples=FakeExamples(texts, labels),
            ref=ref,
            path=ref,
            format="csv",
            text_col=tcol,
            label_col=lcol,
            encoding=encoding or "utf-8",
            fingerprint="f00d",
            total_rows=len(texts),
            sampled=False,
            dropped=FakeDrops(total_rows_read=len(texts)),
            warnings=[],
        )

    def check_test_file(
        self,
        test_file: str,
        dataset: FakeDataset,
        *,
        text_col: str | None = None,
        label_col: str | None = None,
        encoding: str | None = None,
    ) -> int:
        test = self.load_dataset(test_file, text_col=text_col, label_col=label_col, encoding=encoding)
        unseen = sorted(set(test.examples.labels) - set(dataset.examples.labels))
        if unseen:
            raise DataError(f"test file {test_file} has label(s) the data lacks: {', '.join(map(repr, unseen[:3]))}")
        return len(test.examples.labels)

    def summarize(self, dataset: FakeDataset) -> FakeSummary:
        counts = Counter(dataset.examples.labels)
        n = len(dataset.examples.labels)
        chars = sorted(len(t) for t in dataset.examples.texts)
        words = sorted(len(t.split()) for t in dataset.examples.texts)

        def stats(values: list[int], unit: str) -> FakeLengthStats:
            def q(p: float) -> float:
                return float(values[min(len(values) - 1, int(p * len(values)))])

            return FakeLengthStats(
                unit, sum(values) / len(values), q(0.1), q(0.5), q(0.9), q(0.95), q(0.99), values[-1]
            )

        classes = [FakeClass(k, v, v / n) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
        return FakeSummary(
            rows=n,
            total_rows=dataset.total_rows,
            classes=classes,
            imbalance_ratio=max(counts.values()) / min(counts.values()),
            lengths={"chars": stats(chars, "chars"), "words": stats(words, "words")},
            dropped=dataset.dropped,
            warnings=list(dataset.warnings),
        )

    # --- advice
    def _wait(self, cancel: threading.Event | None) -> bool:
        """Sleep one step; True when cancelled."""
        if self.step_delay:
            time.sleep(self.step_delay)
        return bool(cancel is not None and cancel.is_set())

    def advise(
        self,
        data: Any,
        goals: Any,
        *,
        profile: Any = None,
        budget: Any = "quick",
        resources: Any = None,
        progress: Any = None,
        cancel: threading.Event | None = None,
        test_file: str | None = None,
        **_: Any,
    ) -> FakeAdvice:
        self.calls.append(f"advise:{budget}" + (f":test_file={test_file}" if test_file else ""))
        self.bench_started.set()
        budget_s = {"quick": 90.0, "standard": 600.0, "thorough": 1800.0}.get(str(budget), 90.0)
        progress = progress or (lambda e: None)
        points: dict[str, list[FakePoint]] = {}
        cancelled = False
        elapsed = 0.0
        for approach, curve in CURVES.items():
            if cancelled:
                break
            progress(FakeBenchEvent(approach, "load", 0, len(curve), "loading", elapsed, budget_s))
            for i, (n, seed, acc) in enumerate(curve):
                if self._wait(cancel):
                    cancelled = True
                    break
                elapsed += 2.5 if approach != "finetune" else 12.0
                point = FakePoint(approach, n, seed, acc, round(acc - 0.01, 4), 1.0 + i)
                points.setdefault(approach, []).append(point)
                progress(
                    FakeBenchEvent(approach, "fit", i + 1, len(curve), f"n={n} seed={seed}", elapsed, budget_s, point)
                )
            else:
                progress(FakeBenchEvent(approach, "done", len(curve), len(curve), "done", elapsed, budget_s))
        return self._advice(points, budget_s, elapsed, cancelled, data, test_file)

    def _advice(
        self,
        points: dict[str, list[FakePoint]],
        budget_s: float,
        spent: float,
        cancelled: bool,
        data: Any,
        test_file: str | None = None,
    ) -> FakeAdvice:
        speeds = {"tfidf": (5000.0, 20000.0, 0.05), "embedding": (75.0, 75.0, 12.0), "finetune": (20.0, 75.0, 12.0)}
        measurements, forecasts = {}, {}
        for approach, pts in points.items():
            last = pts[-1]
            ex_s, inf_s, lat = speeds[approach]
            measurements[approach] = FakeMeasurement(
                approach,
                pts,
                last.accuracy,
                last.accuracy - 0.03,
                last.accuracy + 0.03,
                last.macro_f1,
                ex_s,
                inf_s,
                {"p50_b1": lat, "p95_b1": lat * 1.3, "p50_bN": lat / 4, "p95_bN": lat / 3},
                (300 if approach == "tfidf" else 900) * 1024**2,
            )
            value = min(1.0, last.accuracy + 0.03)
            width = 0.08 if approach == "finetune" else 0.03
            forecasts[approach] = FakeForecast(
                approach,
                3000,
                value,
                value - width,
                min(1.0, value + width),
                "power-law(b∈[0.3,0.7])" if len(pts) > 2 else "flat-fallback",
                len(pts) <= 2,
                {"tfidf": 4.0, "embedding": 60.0, "finetune": 420.0}[approach],
                (300 if approach == "tfidf" else 1600) * 1024**2,
                [(float(p.n_train), p.accuracy) for p in pts] + [(3000.0, value)],
            )
        best = max(forecasts, key=lambda a: forecasts[a].value) if forecasts else "tfidf"
        labels = {"tfidf": "TF-IDF baseline", "embedding": "Embeddings + head", "finetune": "Fine-tune (full)"}
        reasons = (
            [FakeReason(f"{labels[best]} is forecast at {100 * forecasts[best].value:.1f} % at 3,000 labels")]
            if forecasts
            else [FakeReason("nothing was measured")]
        )
        rec = FakeRecommendation(
            choice=best,
            label=labels[best],
            confidence="medium" if not cancelled else "low",
            too_close=False,
            reasons=reasons + [FakeReason("embeddings train in 1 min instead of 7 min")],
            ruled_out=[FakeRuledOut("lora", "not measured at the quick budget")],
            flips=["with a deadline under 5 min, Embeddings + head would win"],
            settle=None,
        )
        ref = getattr(data, "ref", str(data))
        return FakeAdvice(
            FakeBench(measurements, budget_s, spent, cancelled, 1000),
            forecasts,
            rec,
            FakePlan(FakeRunSpec(best, ref, "text", "label", "cpu-small", ref if test_file else None, test_file)),
            cancelled,
            FakeDataInfo([f"2 of 3 rows in {test_file} also appear in {ref} (same text)"] if test_file else []),
        )

    def make_run_spec(
        self, *, engine: str, advice: Any, dataset: Any, profile: str | None, test_file: str | None = None
    ) -> FakeRunSpec:
        if advice is not None:
            return replace(advice.plan.run, engine=engine)
        if dataset is None:
            raise DataError("no data loaded yet: pick a data file on the Data step (3)")
        return FakeRunSpec(
            engine,
            dataset.ref,
            dataset.text_col,
            dataset.label_col,
            profile,
            dataset.ref if test_file else None,
            test_file,
        )

    # --- full run and artifacts
    def full_run(
        self,
        spec: FakeRunSpec,
        out_dir: Any,
        *,
        resume: bool = False,
        overwrite: bool = False,
        progress: Any = None,
        cancel: threading.Event | None = None,
    ) -> FakeManifest:
        self.calls.append(
            f"full_run:{spec.engine}:resume={resume}" + (f":test_file={spec.test_file}" if spec.test_file else "")
        )
        self.run_started.set()
        out = Path(out_dir)
        if out.exists() and not overwrite and not resume:
            from engines.errors import ArtifactError

            raise ArtifactError(f"{out} exists; pass --overwrite or choose another --out")
        progress = progress or (lambda e: None)
        total = 10
        for step in range(1, total + 1):
            if self._wait(cancel):
                raise Cancelled(f"run cancelled at step {step - 1}/{total}; resume to continue")
            progress(ProgressEvent(phase="train", done=step, total=total, unit="steps", message=f"loss {1 / step:.2f}"))
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(f'{{"engine": "{spec.engine}"}}\n', encoding="utf-8")
        return self._manifest(spec.engine)

    def _manifest(self, engine: str) -> FakeManifest:
        acc = self.RUN_ACCURACY.get(engine, 0.5)
        return FakeManifest(engine, FakeMetrics(acc, round(acc - 0.01, 2), 200), FakeFit(12.5))

    def load_artifact(self, directory: Any) -> tuple[FakeEngine, FakeManifest]:
        path = Path(directory) / "manifest.json"
        if not path.exists():
            from engines.errors import ArtifactError

            raise ArtifactError(f"no manifest.json in {directory}")
        engine = path.read_text(encoding="utf-8").split('"')[3]
        texts = _POSITIVE + _NEGATIVE
        labels = ["pos"] * 4 + ["neg"] * 4
        return FakeEngine(engine, texts, labels), self._manifest(engine)

    def compare_runs(self, paths: list[str], goals: Any, resources: Any = None) -> Any:
        """The real ``advisor.decide.compare.compare`` on fixed predictions: each engine gets its
        ``RUN_ACCURACY`` on 200 shared rows, wrong on the first rows (so the runs' errors overlap)."""
        from advisor.decide.compare import RunResult, compare, run_names

        self.calls.append("compare:" + ",".join(paths))
        y_true = ["pos" if i % 2 else "neg" for i in range(200)]
        runs = []
        for path, name in zip(paths, run_names(paths), strict=True):
            engine, _ = self.load_artifact(path)
            wrong = round((1 - self.RUN_ACCURACY.get(engine.name, 0.5)) * len(y_true))
            y_pred = [("neg" if y == "pos" else "pos") if i < wrong else y for i, y in enumerate(y_true)]
            runs.append(
                RunResult(
                    name=name,
                    engine=engine.name,
                    n_train=800,
                    rows_digest="fake",
                    y_true=y_true,
                    y_pred=y_pred,
                    train_s=12.5,
                    ms_b1=1.0,
                    ms_batch=0.5,
                )
            )
        return compare(runs, goals, resources)

    def write_report(self, advice: Any, path: Any) -> Path:
        path = Path(path)
        path.write_text(f"# Advice\n\nChoice: {advice.recommendation.label}\n", encoding="utf-8")
        return path

    def write_plan(self, plan: Any, path: Any) -> Path:
        path = Path(path)
        path.write_text(f'{{"run": {{"engine": "{plan.run.engine}"}}}}\n', encoding="utf-8")
        return path

    def engine_names(self) -> list[str]:
        return ["tfidf", "embedding", "finetune", "lora"]

    def engine_class(self, name: str) -> Any:
        return type(name, (), {"supports_search": name == "embedding", "description": f"the {name} engine"})

    def services(self) -> Services:
        """The app's services on these fakes: the classification task's steps and the shared functions
        (the retrieval task keeps its real steps; ``tui_rank_fakes.rank_services`` swaps its engines)."""
        classification = ClassificationFlow(
            load_dataset=self.load_dataset,
            summarize=self.summarize,
            check_test_file=self.check_test_file,
            advise=self.advise,
            make_run_spec=self.make_run_spec,
            full_run=self.full_run,
            load_artifact=self.load_artifact,
            write_report=self.write_report,
            write_plan=self.write_plan,
        )
        return Services(
            probe=self.probe,
            list_profiles=self.list_profiles,
            load_profile=self.load_profile,
            compare_runs=self.compare_runs,
            engine_names=self.engine_names,
            engine_class=self.engine_class,
        ).with_task(classification)
