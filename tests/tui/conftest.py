"""Fixtures of the TUI tests."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World


@pytest.fixture
def tui_world(world: World, tmp_path: Path) -> World:
    """A copy: the demo's cards persist their PIN counters; without the service's state
    (consents and nonces other tests left in the session's world)."""
    shutil.copytree(
        world.directory,
        tmp_path / "w",
        ignore=shutil.ignore_patterns("service-state.sqlite*", "mock-oqs.log"),
    )
    return World.load(tmp_path / "w")


async def settled(pilot: Pilot[Any], seconds: float = 5.0) -> None:
    """Wait until no widget of the screen scrolls any more: a focus change scrolls its
    widget into view after a refresh (Textual's ``scroll_to_center``, animated), which a
    loaded machine may not have finished when a picture is taken."""

    def offsets() -> list[tuple[float, float]]:
        return [(w.scroll_x, w.scroll_y) for w in pilot.app.screen.query("*")]

    last: list[tuple[float, float]] | None = None
    for _ in range(int(seconds / 0.05)):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        now = offsets()
        if now == last:
            return
        last = now
        await asyncio.sleep(0.05)


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """pytest-textual-snapshot's ``snap_compare``, its picture taken once the screen has
    stopped scrolling (:func:`settled`): the same screen gives the same picture however
    loaded the machine is."""

    def compare(
        app: Any,
        press: tuple[str, ...] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: Callable[[Pilot[Any]], Awaitable[None] | None] | None = None,
    ) -> bool:
        async def run(pilot: Pilot[Any]) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            await settled(pilot)

        return snap_compare(app, press=press, terminal_size=terminal_size, run_before=run)

    return compare
