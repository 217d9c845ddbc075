"""Snapshots of the reader panel's views at 80×24, 120×40 and 200×55, in Japanese and
English (issue 22 §5): the card wait, the method choice, the PIN pad, the consents one by
one with one box ticked, the desk (a lapsed certificate), the smartphone wait.
Update after an intended change: pytest tests/tui/test_panel_snapshots.py --snapshot-update
(and look at every SVG)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception import store as store_module
from reception.tui.app import ReceptionApp, make_app
from tests.support.tui import at_view, services, type_pin, until

FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reception ids and the clock pinned, as in test_tui_snapshots.py: the pictures change
    only when the screens do."""
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    for module in ("reception.tui.widgets.receptions", "reception.ladder"):
        monkeypatch.setattr(f"{module}.now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")


SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x55": (200, 55)}
Steps = Callable[[Pilot[None], ReceptionApp, World], Awaitable[None]]


async def wait(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    pass


async def method(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    app.place_card("adult-kyokai")
    await at_view(pilot, app, "method")
    # the first method has the focus, scrolled into view (after a refresh: a loaded
    # machine once took the picture before, at 80×24)
    await until(pilot, lambda: app.focused is not None and app.screen.can_view_entire(app.focused))


async def pin_pad(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    await method(pilot, app, world)
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await pilot.press("1", "2")


async def one_by_one(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    await method(pilot, app, world)
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, world.persona("adult-kyokai")["pin"])
    await at_view(pilot, app, "consents")
    app.panel.query_one("#consent-each").press()  # type: ignore[attr-defined]
    await pilot.pause()
    app.panel.query_one("#consent-checkup").value = True  # type: ignore[attr-defined]


async def desk(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    app.place_card("cert-lapsed")
    await at_view(pilot, app, "method")
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, world.persona("cert-lapsed")["pin"])
    await at_view(pilot, app, "done")  # refused right after identity: nothing asked


async def smartphone(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    await pilot.press("s")
    await until(pilot, lambda: app.panel.medium == "phone")


VIEWS: dict[str, Steps] = {
    "wait": wait,
    "method": method,
    "pin": pin_pad,
    "consents-one-by-one": one_by_one,
    "desk": desk,
    "smartphone": smartphone,
}


@pytest.mark.usefixtures("pinned")
@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("view", list(VIEWS))
def test_panel_view(
    snap_compare: Any, tui_world: World, tmp_path: Path, view: str, size: str, language: str
) -> None:
    app = make_app(services(tui_world, tmp_path))

    async def run(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: app.panel.warmed)
        if language == "en":
            await pilot.press("f2")
        await VIEWS[view](pilot, app, tui_world)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)
