"""Snapshots of the staff console's list and detail at 80×24, 120×40 and 200×55 with a
day of receptions of different kinds (issue 22 §5): nothing staff must read is cut at
120×40 and wider (cells wrap), and 80×24 scrolls rather than cuts.

Reception ids and the clock are pinned so that the pictures only change when the screens
do. Update after an intended change:
pytest tests/tui/test_desk_snapshots.py --snapshot-update (then look at the SVGs)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from mock_oqs.world import World
from reception import store as store_module
from reception.tui.app import ReceptionApp, make_app
from reception.tui.widgets.messages import ReceptionSelected
from tests.support.desk import READER_FAULT, seed_day
from tests.support.tui import services, until

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x55": (200, 55)}
FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)
DAY = [
    "adult-kyokai",
    "not-registered",
    "cert-lapsed",
    "medical-aid",
    "limit-u",
    "dialysis",
    READER_FAULT,
    "cert-renewal-due",
]


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    for module in ("reception.tui.widgets.receptions", "reception.ladder"):
        monkeypatch.setattr(f"{module}.now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")


@pytest.fixture
def day(tui_world: World, tmp_path: Path, pinned: None) -> tuple[ReceptionApp, dict[str, str]]:
    svc = services(tui_world, tmp_path)
    ids = seed_day(tui_world, svc, DAY)
    return make_app(svc), ids


async def listed(pilot: Pilot[None]) -> None:
    app: Any = pilot.app
    await until(pilot, lambda: app.panel.warmed)
    await until(pilot, lambda: app.query_one("#receptions").row_count == len(DAY))
    await pilot.pause()


def showing(reception_id: str) -> Any:
    async def run(pilot: Pilot[None]) -> None:
        app: Any = pilot.app
        await listed(pilot)
        app.post_message(ReceptionSelected(reception_id))
        await until(pilot, lambda: app.selected == reception_id)
        await until(pilot, lambda: app.query_one("#staff", TabbedContent).active == "tab-detail")
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES)
def test_the_days_list(
    snap_compare: Any, day: tuple[ReceptionApp, dict[str, str]], size: str
) -> None:
    app, _ = day
    assert snap_compare(app, terminal_size=SIZES[size], run_before=listed)


@pytest.mark.parametrize("size", SIZES)
def test_a_reception_for_the_ladder(
    snap_compare: Any, day: tuple[ReceptionApp, dict[str, str]], size: str
) -> None:
    """未登録: what happened, the next step, and the rungs (stacked where narrow)."""
    app, ids = day
    run = showing(ids["not-registered"])
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_a_confirmed_reception_with_labels(
    snap_compare: Any, day: tuple[ReceptionApp, dict[str, str]], size: str
) -> None:
    """区分ウ（A03）, one date form, no rung on a confirmed reception."""
    app, ids = day
    run = showing(ids["limit-u"])
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)
