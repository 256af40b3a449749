"""The six steps, one screen module (and .tcss file) each, imported on first visit."""

from __future__ import annotations

import importlib

# (mode name, title, "module:Class"); keys 1–6 follow this order.
STEPS: list[tuple[str, str, str]] = [
    ("goals", "Goals", "advisor.tui.screens.goals:GoalsScreen"),
    ("resources", "Resources", "advisor.tui.screens.resources:ResourcesScreen"),
    ("data", "Data", "advisor.tui.screens.data:DataScreen"),
    ("bench", "Benchmark", "advisor.tui.screens.bench:BenchScreen"),
    ("advice", "Advice", "advisor.tui.screens.advice:AdviceScreen"),
    ("run", "Run", "advisor.tui.screens.run:RunScreen"),
]


def load_screen(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
