"""What the advisor asks of an engine by name — its label and capability flags — so that no
forecast, decision or report tests engine names. Unregistered names get the defaults."""

from __future__ import annotations

from typing import Any

from engines.base import Engine, get_engine
from engines.errors import ConfigError


def engine_class(name: str) -> type[Engine] | None:
    """The registered engine class called ``name``; None for a name no engine has."""
    try:
        return get_engine(name)
    except (ConfigError, ImportError, AttributeError):
        return None


def flag(name: str, attr: str, default: Any = False) -> Any:
    """Capability flag ``attr`` of engine ``name`` (``default`` when unregistered)."""
    cls = engine_class(name)
    return default if cls is None else getattr(cls, attr, default)


def label(name: str) -> str:
    """What a user reads for engine ``name`` ("Fine-tune (full)"); the name itself without one."""
    return flag(name, "label", "") or name


def memory_model(name: str) -> str:
    """How its training memory is modelled: 'none', 'frozen', 'full' or 'adapters'."""
    return str(flag(name, "memory_model", "none"))


def trains_weights(name: str) -> bool:
    """Trains weights by optimizer steps (a full fine-tune or adapters): its run is steps × batch."""
    return memory_model(name) in ("full", "adapters")


def uses_transformer(name: str) -> bool:
    """Runs a transformer encoder (has a model shape, tokens, hardware what-ifs)."""
    return bool(flag(name, "uses_transformer"))


def scales_out(name: str) -> bool:
    """Its full run can spread over Ray workers (``run --workers N``)."""
    return bool(flag(name, "scales_out"))
