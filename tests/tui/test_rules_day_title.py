"""The console says which day's rules it plays when a trainer set another day
(`reception --today`, `reception demo --today`; issue 24)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from mock_oqs.world import World
from reader.clock import today_jst
from reception.tui.app import make_app
from tests.support.tui import services


def title_on(day: dt.date, world: World, tmp_path: Path) -> str:
    svc = services(world, tmp_path)
    svc.settings = svc.settings.model_copy(update={"today": day})
    app = make_app(svc)

    async def run() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            return app.sub_title

    return asyncio.run(run())


def test_another_day_is_in_the_title(tui_world: World, tmp_path: Path) -> None:
    assert title_on(dt.date(2026, 3, 15), tui_world, tmp_path).startswith("2026-03-15 の規則で動作")


def test_the_clinics_day_is_not_said(tui_world: World, tmp_path: Path) -> None:
    assert "の規則で動作" not in title_on(today_jst(), tui_world, tmp_path)
