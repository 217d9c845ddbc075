"""Snapshots of the main screens at a fixed terminal size (pytest-textual-snapshot).

Reception ids and clock are pinned so that the pictures only change when the screens do.
Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception import store as store_module
from reception.tui.app import ReceptionApp, make_app
from reception.tui.widgets.messages import ReceptionSelected
from reception.tui.widgets.pin import PinPad
from tests.support.tui import at_view, services, type_pin, until

SIZE = (140, 44)
FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    for module in ("reception.tui.widgets.receptions", "reception.ladder"):
        monkeypatch.setattr(f"{module}.now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")


@pytest.fixture
def app(tui_world: World, tmp_path: Path, pinned: None) -> ReceptionApp:
    return make_app(services(tui_world, tmp_path))


async def ready(pilot: Pilot[None]) -> None:
    app: Any = pilot.app
    await until(pilot, lambda: app.panel.warmed)


async def to_method(pilot: Pilot[None], persona: str = "adult-kyokai") -> None:
    await ready(pilot)
    app: Any = pilot.app
    app.place_card(persona)
    await at_view(pilot, app, "method")


def test_card_wait(snap_compare: Any, app: ReceptionApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_smartphone_chosen_at_the_card_wait(snap_compare: Any, app: ReceptionApp) -> None:
    """「マイナンバーカード / スマートフォン」 first, as real readers ask (issue 14 §5)."""

    async def run(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press("s")
        await until(pilot, lambda: "スマートフォン用" in str(app.query_one("#wait-title").render()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_method_choice(snap_compare: Any, app: ReceptionApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=to_method)


def test_pin_pad_with_tries_left(snap_compare: Any, app: ReceptionApp, tui_world: World) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot, "family")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, "0000" if tui_world.persona("family")["pin"] != "0000" else "1111")
        await until(pilot, lambda: app.query_one(PinPad).tries_left == 2)
        await pilot.press("1", "2")

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_consents(snap_compare: Any, app: ReceptionApp, tui_world: World) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot)
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, tui_world.persona("adult-kyokai")["pin"])
        await at_view(pilot, app, "consents")

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_patient_notice_of_an_expired_certificate(
    snap_compare: Any, app: ReceptionApp, tui_world: World
) -> None:
    """The patient reads the grace-period notice at the reader, not only staff."""

    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot, "cert-grace")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, tui_world.persona("cert-grace")["pin"])
        # the qualification only in the grace period: no consent to ask for
        await at_view(pilot, app, "done")
        await until(pilot, lambda: "更新" in str(app.query_one("#done-notice").render()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_registration_offered_at_the_reader(
    snap_compare: Any, app: ReceptionApp, tui_world: World
) -> None:
    """A card without 保険証利用登録: once the PIN proved the holder, the reader offers it
    (before the consents: issue 22 §3)."""

    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot, "not-registered")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, tui_world.persona("not-registered")["pin"])
        await at_view(pilot, app, "register")

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_records_view_for_the_doctor(
    snap_compare: Any, app: ReceptionApp, tui_world: World
) -> None:
    """診療情報: the records a patient agreed to share, each kind in its own table."""

    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot, "limit-u")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, tui_world.persona("limit-u")["pin"])
        await at_view(pilot, app, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")
        app.query_one("#staff").active = "tab-records"  # type: ignore[attr-defined]
        title = "#records-checkups-title"
        await until(pilot, lambda: "件" in str(app.query_one(title).render()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_result_detail_and_fallback_ladder(snap_compare: Any, app: ReceptionApp) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await to_method(pilot, "new-employee")
        await pilot.press("3")  # 目視
        await until(pilot, lambda: app.screen.__class__.__name__ == "VisualCheckScreen")
        await pilot.click("#visual-ok")
        await at_view(pilot, app, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: "該当資格なし" in str(app.query_one("#detail").render()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_declaration_form_with_errors(snap_compare: Any, app: ReceptionApp) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await ready(pilot)
        # the form is offered on a reception for the ladder (issue 22 §1), selected
        rid = app.services.store.begin_reception()
        app.services.store.finish_reception(rid, status="fallback", reason="該当資格なし")
        app.post_message(ReceptionSelected(rid))
        await until(pilot, lambda: app.selected == rid)
        await pilot.pause()
        await pilot.click("#ladder-declare")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DeclarationScreen")
        screen: Any = app.screen
        screen.query_one("#form-name_kana").value = "かくう"
        screen.query_one("#form-phone").value = "12"
        screen.query_one("#form-ok").press()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run)
