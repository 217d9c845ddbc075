"""利用登録解除 and the 資格確認書 at the desk (issue 24 §1–2), in the TUI: the card of a
cancelled registration makes the reader ask to register it (answered by a click or by
keys); staff read that it was cancelled and the 資格確認書's validity; the 資格確認書 rung
refuses a document past its 有効期限 on the rules' day (``reception --today``)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent

from mock_oqs.world import World
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from reception.tui.widgets.messages import ReceptionSelected
from tests.support.tui import at_view, drive, services, text, type_pin, until

PERSONA = "deregistered"


async def _to_the_question(pilot: Pilot[None], app: ReceptionApp, pin: str) -> None:
    await until(pilot, lambda: app.panel.warmed)
    app.place_card(PERSONA)
    await at_view(pilot, app, "method")
    await pilot.click("#method-pin")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, pin)
    await at_view(pilot, app, "register")  # the reader switches to registration by itself


async def _detail(pilot: Pilot[None], app: ReceptionApp, reception_id: str) -> str:
    app.post_message(ReceptionSelected(reception_id))
    await until(pilot, lambda: app.selected == reception_id)
    app.query_one("#staff", TabbedContent).active = "tab-detail"
    await pilot.pause()
    return text(app, "#detail")


def _declined(world: World, tmp_path: Path) -> tuple[Services, str]:
    """The patient said 登録しない (a click): the reception waits for the ladder."""
    svc = services(world, tmp_path)
    pin = world.persona(PERSONA)["pin"]
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await _to_the_question(pilot, app, pin)
        assert "保険証利用登録がされていません" in text(app, "#register-title")
        await pilot.click("#register-no")
        await at_view(pilot, app, "done")
        [reception] = svc.store.receptions_on(now_jst().date())
        seen["rid"] = reception.reception_id
        seen["detail"] = await _detail(pilot, app, reception.reception_id)
        # as the detail draws it: no 「※」 alone on a line, its notice on the next
        width = app.query_one("#detail").content_region.width
        drawn = Text(seen["detail"]).wrap(Console(width=width), width)
        assert all(line.plain.strip() != "※" for line in drawn), drawn

    asyncio.run(drive(svc, scenario))
    assert "利用登録解除済み" in seen["detail"] and "資格確認書が交付されています" in seen["detail"]
    assert svc.store.reception(seen["rid"]).status == "fallback"
    return svc, seen["rid"]


def test_declined_by_click_then_staff_read_the_cancellation(
    tui_world: World, tmp_path: Path
) -> None:
    _declined(tui_world, tmp_path)


def test_registered_again_by_keys(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona(PERSONA)["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await _to_the_question(pilot, app, pin)
        await pilot.press("y")  # 登録する
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-bundle")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "confirmed"


async def _query(pilot: Pilot[None], app: ReceptionApp, world: World) -> None:
    """The 資格確認書 rung with the numbers printed on the persona's 資格確認書."""
    entry = world.persona(PERSONA)
    numbers = entry["numbers"]
    await pilot.click("#ladder-number")
    await until(pilot, lambda: app.screen.__class__.__name__ == "NumberQueryScreen")
    fields = {
        "insurer_number": numbers["current_insurer_number"],
        "symbol": numbers["current_symbol"],
        "number": numbers["current_number"],
        "branch": numbers["current_branch"],
        "birth_date": entry["birth_date"],
    }
    for key, value in fields.items():
        app.screen.query_one(f"#number-{key}", Input).value = value
    await pilot.pause()
    ok = app.screen.query_one("#number-ok")
    ok.scroll_visible(animate=False)
    await until(pilot, lambda: not ok.has_class("-active"))
    await pilot.click("#number-ok")


@pytest.mark.parametrize("today", [None, dt.date(2027, 8, 1)])
def test_the_document_s_validity_on_the_detail_and_the_rules_day(
    tui_world: World, tmp_path: Path, today: dt.date | None
) -> None:
    svc, rid = _declined(tui_world, tmp_path / "declined")
    if today is not None:  # reception --today 2027-08-01: the 7/31 has passed
        settings = svc.settings.model_copy(update={"today": today})
        svc = dataclasses.replace(svc, settings=settings)
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await _detail(pilot, app, rid)
        await _query(pilot, app, tui_world)
        await until(pilot, lambda: len(svc.store.results_of(rid)) == 2)
        await pilot.pause()
        seen["detail"] = await _detail(pilot, app, rid)

    asyncio.run(drive(svc, scenario))
    detail = seen["detail"]
    assert "資格確認書 交付 2026/08/01  有効期限 2027/07/31" in detail, detail
    status = svc.store.reception(rid).status
    if today is None:
        assert status == "confirmed-certificate"
    else:
        assert status == "fallback"
        assert "資格確認書の有効期限切れ（2027/07/31）" in detail, detail
