"""Ray for the engines: whether it is installed, joining or starting a cluster, sizing actors,
and turning what Ray wraps around an actor's error back into the engine's one-line error."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from typing import Any

from engines.config import EmbeddingConfig, TransformerConfig
from engines.errors import ConfigError, ResourceError, UserError

MISSING_HINT = "--workers needs Ray, which is not installed: pip install 'tune-or-embed[ray]'"


def ray_available() -> bool:
    """Whether ``import ray`` would work (without importing it)."""
    return importlib.util.find_spec("ray") is not None


def require_ray() -> None:
    """ConfigError with the install hint when Ray is missing."""
    if not ray_available():
        raise ConfigError(MISSING_HINT)


def connect(workers: int, address: str | None = None, *, cpus_per_worker: int | None = None) -> str:
    """Join the Ray cluster at ``address`` (else $RAY_ADDRESS), or start a local one sized for
    ``workers`` actors. Returns 'local' or the address. A process already connected stays so."""
    require_ray()
    import ray

    quiet_ray_data()
    if ray.is_initialized():
        return os.environ.get("RAY_ADDRESS") or address or "local"
    address = check_cluster(address)
    quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # not a warning per retry while it connects
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ResourceError(f"cannot reach the Ray cluster at {address}: {first}") from None
        return address
    cpus = os.cpu_count() or 1
    per = cpus_per_worker or max(1, cpus // workers)
    ray.init(num_cpus=max(cpus, workers * per), **quiet)
    return "local"


def check_cluster(address: str | None = None) -> str | None:
    """Ray installed and the cluster at ``address`` (else $RAY_ADDRESS) reachable, each a one-line
    error, checked before any work. Returns that address, None for a local cluster."""
    require_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
    return address


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """ResourceError in one line when ``address`` (``host:port`` or ``ray://host:port``) does not
    accept a TCP connection within ``timeout_s`` — ``ray.init`` itself retries for minutes.
    'auto' and 'local' are left to Ray."""
    import socket

    target = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ResourceError(f"cannot reach the Ray cluster at {address}: {reason} (is RAY_ADDRESS right?)") from None


def quiet_ray_data() -> None:
    """Our progress bar reports the embedding; Ray Data's own progress logs and hints stay out of stderr."""
    import logging
    import warnings

    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    with contextlib.suppress(AttributeError):
        ctx.print_on_execution_start = False
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*minimum number of concurrent actors.*")


def cpus_per_worker(workers: int, local: bool, config: TransformerConfig) -> int:
    if config.threads:
        return config.threads
    if local:
        return max(1, (os.cpu_count() or 1) // workers)
    return 1


def gpus_per_worker(config: EmbeddingConfig) -> float:
    """One GPU per actor when the cluster has as many and the config does not pin the CPU."""
    import ray

    if config.device == "cpu" or config.backend != "torch":
        return 0.0
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


def user_error(exc: BaseException) -> UserError | None:
    """The UserError an actor raised, found through Ray's wrappers (as an object, or as the
    ``engines.errors.Name: message`` line of a traceback Ray passed on as text)."""
    import re

    from engines import errors

    for line in reversed(str(exc).splitlines()):
        found = re.search(r"engines\.errors\.(\w+): (.+)$", line)
        cls = getattr(errors, found.group(1), None) if found else None
        if found and isinstance(cls, type) and issubclass(cls, UserError):
            return cls(found.group(2).strip())
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, UserError):
            return e
        stack.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
        stack.extend(getattr(e, "worker_failures", {}).values())  # Ray Train: rank → the error it raised
    return None


def shutdown() -> None:
    """Leave the cluster (stops a local one this process started)."""
    if ray_available():
        import ray

        with contextlib.suppress(Exception):
            ray.shutdown()
