"""Fine-tune on N Ray Train workers, data-parallel: every step's batch is split over the workers and
their gradients summed (torch.distributed all-reduce), so N workers take the one-process run's steps
on the same batches. Checkpoints go to the run's workdir (rank 0 writes them); ``resume`` reads them."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from engines.atomic import write_json
from engines.base import Examples, ProgressEvent, ProgressFn
from engines.config import FinetuneConfig
from engines.errors import ResourceError
from engines.finetune_loop import FinetuneRun
from engines.ray_cluster import connect, cpus_per_worker, require_ray, user_error

PROGRESS_FILE = "ray-progress.json"
RESULT_DIR = "ray-result"  # rank 0's trained model and its run record, read back by the driver
CANCEL_FILE = "ray-cancel"  # the driver's cancel, seen by every rank at its next step


class _ShardedRun(FinetuneRun):
    """``FinetuneRun`` on rank ``rank`` of ``world``: its share of each batch, gradients summed over the
    ranks before clipping, validation split over the ranks, checkpoints written by rank 0 only."""

    def __init__(self, *args: Any, rank: int, world: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world = rank, world
        self.cancel_file = self.workdir / CANCEL_FILE if self.workdir else None
        self.agreed_cancel = threading.Event()  # set at the step where any rank saw the cancel file
        self.cancel = self.agreed_cancel

    def _rows(self, batch: list[int]) -> list[int]:
        return batch[self.rank :: self.world]

    def _reduce(self, loss_sum: Any) -> Any:
        import torch
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self._params]
        cancel = float(self.cancel_file is not None and self.cancel_file.exists())
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss_sum.reshape(1), loss_sum.new_tensor([cancel])])
        dist.all_reduce(flat)
        offset = 0
        for p, g in zip(self._params, grads, strict=True):
            p.grad = flat[offset : offset + g.numel()].view_as(g)
            offset += g.numel()
        if flat[-1] > 0:
            self.agreed_cancel.set()
        return flat[-2]

    def _valid_sums(self, seqs: list[list[int]], y: Any) -> tuple[float, float, int]:
        import torch
        import torch.distributed as dist

        mine = list(range(self.rank, len(seqs), self.world))
        correct, loss, _ = super()._valid_sums([seqs[i] for i in mine], y[mine]) if mine else (0.0, 0.0, 0)
        sums = torch.tensor([correct, loss], dtype=torch.float64, device=self.device)  # NCCL: on the GPU
        dist.all_reduce(sums)
        return float(sums[0]), float(sums[1]), len(seqs)

    def _checkpoint(self, rng: dict[str, Any] | None = None) -> None:
        if self.rank == 0:
            super()._checkpoint(rng)
        else:
            self._ckpt_step = self.step

    def _setup(self) -> None:
        import torch
        import torch.distributed as dist

        super()._setup()
        for p in self.model.parameters():  # every rank starts from rank 0's weights
            dist.broadcast(p.data, src=0)
        torch.manual_seed(self.cfg.seed * 1009 + self.rank)  # dropout differs between the ranks' rows


def _worker(loop: dict[str, Any]) -> None:
    """One Ray Train worker: build the engine, train its share; rank 0 saves the model and the record."""
    import ray.train

    from engines.backbone import set_threads
    from engines.finetune import FinetuneEngine

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    engine = FinetuneEngine(FinetuneConfig(**loop["config"]))
    set_threads(loop["threads"])
    if loop["gpu"]:
        import ray.train.torch

        engine.device = str(ray.train.torch.get_device())
    else:
        engine.device = "cpu"
    t_start = time.perf_counter()
    load_s = engine._ensure_base()
    workdir = Path(loop["workdir"])
    train = Examples(texts=loop["texts"], labels=loop["labels"])
    valid = Examples(texts=loop["valid"][0], labels=loop["valid"][1]) if loop["valid"] else None
    progress = _progress_writer(workdir / PROGRESS_FILE) if rank == 0 else _ignore
    run = _ShardedRun(
        engine, train, valid, None, progress, None, workdir, loop["resume"], t_start, rank=rank, world=world
    )
    run.phase_s["load"] = load_s
    run.train()
    run.phase_s["train"] = run.train_s
    if rank != 0:
        return
    engine._model, engine.classes = run.final_model, run.classes
    engine.save(workdir / RESULT_DIR)
    record = run.report_fields()
    record.update(device="ray", notes=[*run.notes, f"data-parallel on {world} Ray workers ({engine.device})"])
    write_json(workdir / RESULT_DIR / "run.json", record)


def _ignore(event: ProgressEvent) -> None:
    return None


def _progress_writer(path: Path) -> ProgressFn:
    def write(event: ProgressEvent) -> None:
        write_json(path, event)

    return write


def fit(
    engine: Any,
    train: Examples,
    valid: Examples | None,
    *,
    workdir: Path,
    resume: bool,
    progress: ProgressFn,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    """Train ``engine`` (a FinetuneEngine whose config has ``workers > 1``) on Ray Train workers; load
    rank 0's model into it. Returns rank 0's run record (FitReport's fields but ``n_train`` and ``wall_s``)."""
    require_ray()
    cfg: FinetuneConfig = engine.config
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in (CANCEL_FILE, PROGRESS_FILE):
        (workdir / stale).unlink(missing_ok=True)
    where = connect(cfg.workers, cfg.ray_address, cpus_per_worker=cfg.threads)
    loop = {
        "config": cfg.model_dump(mode="json"),
        "texts": train.texts,
        "labels": train.labels,
        "valid": [valid.texts, valid.labels] if valid is not None else None,
        "workdir": str(workdir.resolve()),
        "resume": resume,
        "gpu": _use_gpu(cfg),
        "threads": cpus_per_worker(cfg.workers, where == "local", cfg),
    }
    watcher = _Watcher(workdir, progress, cancel)
    watcher.start()
    try:
        _train(loop, cfg.workers, workdir)
    finally:
        watcher.stop()
    record = json.loads((workdir / RESULT_DIR / "run.json").read_text(encoding="utf-8"))
    loaded = type(engine).load(workdir / RESULT_DIR)
    engine._model, engine.classes, engine.device = loaded._model, loaded.classes, loaded.device
    engine._tokenizer = loaded._tokenizer
    return dict(record)


def _train(loop: dict[str, Any], workers: int, workdir: Path) -> None:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    per_worker = {"CPU": loop["threads"], **({"GPU": 1} if loop["gpu"] else {})}
    trainer = TorchTrainer(
        _worker,
        train_loop_config=loop,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=loop["gpu"], resources_per_worker=per_worker),
        run_config=RunConfig(storage_path=str(workdir.resolve() / "ray-train"), name="finetune"),
    )
    try:
        trainer.fit()
    except Exception as exc:  # noqa: BLE001 - Ray wraps a worker's error in its own types
        user = user_error(exc)
        if user is not None:
            raise user from None
        raise ResourceError(
            f"the fine-tune on {workers} Ray workers failed: {_reason(exc)}{_resume_hint(workdir)}"
        ) from None


def _reason(exc: BaseException) -> str:
    """The first line that says what went wrong: a worker's own error where Ray Train kept one."""
    failures = list(getattr(exc, "worker_failures", {}).values())
    for e in [*failures, exc]:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        useful = [line for line in lines if not line.startswith(("Training failed", "Traceback", "File "))]
        if useful:
            return useful[0][:200]
    return type(exc).__name__


def _resume_hint(workdir: Path) -> str:
    from engines import checkpoint as ckpt

    try:
        latest = ckpt.load_latest(workdir)
    except Exception:  # noqa: BLE001 - a checkpoint that cannot be read resumes nothing
        latest = None
    if latest is None:
        return ""
    return f"; the checkpoint at step {latest.state.step} can resume it (--resume)"


def _use_gpu(cfg: FinetuneConfig) -> bool:
    import ray

    return cfg.device != "cpu" and ray.cluster_resources().get("GPU", 0) >= cfg.workers


class _Watcher:
    """A driver thread: passes rank 0's progress on, and turns ``cancel`` into the cancel file."""

    def __init__(self, workdir: Path, progress: ProgressFn, cancel: threading.Event | None) -> None:
        self.workdir, self.progress, self.cancel = workdir, progress, cancel
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.last: str | None = None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self._poll()

    def _loop(self) -> None:
        while not self.done.wait(0.5):
            self._poll()

    def _poll(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            (self.workdir / CANCEL_FILE).touch()
        try:
            text = (self.workdir / PROGRESS_FILE).read_text(encoding="utf-8")
            if text != self.last:
                self.last = text
                self.progress(ProgressEvent.model_validate_json(text))
        except (OSError, ValueError):
            pass
