"""Helpers shared by the TUI tests (Pilot)."""

from __future__ import annotations

import asyncio


async def until(pilot, condition, timeout: float = 5.0) -> None:
    """Let the app work (workers post messages) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
