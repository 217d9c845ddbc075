"""The smartphone as real readers handle it (issue 14 §5): the card-wait screen asks
「マイナンバーカード / スマートフォン」, a clinic may add a second (NFC) reader for phones,
and placing a card without choosing still works (automatic detection)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reader.virtual.vpcd import card_in_slot, vpcd_reader
from reception.cards import PcscCards
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from tests.support.tui import at_view, drive, services, text, type_pin, until


def test_the_patient_chooses_smartphone_and_holds_it_to_the_phone_reader(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("android")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        assert "スマートフォン" in str(app.query_one("#wait-phone").render())
        await pilot.press("s")
        await until(pilot, lambda: "スマートフォン用の読み取り部" in text(app, "#wait-title"))
        assert "Android" in text(app, "#wait-sub")
        app.place_card("android")  # the demo holds the phone to the phone reader
        await at_view(pilot, app, "method")
        assert svc.phones is not None and svc.phones.present()
        assert not svc.cards.present()  # the card reader never saw it
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "done")
        app.remove_card()
        await at_view(pilot, app, "wait")
        assert "置いてください" in text(app, "#wait-title")  # the next patient chooses anew

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert (reception.variant, reception.status) == ("android", "confirmed")


def real_readers(world: World, tmp_path: Path, phones: str) -> Services:
    """The terminal against PC/SC readers, as deployed (no demo): vpcd's slot 0 for cards,
    ``phones`` for smartphones; the service in process."""
    base = services(world, tmp_path)
    return Services(
        settings=base.settings,
        store=base.store,
        oqs=base.oqs,
        terminal=base.terminal,
        cards=PcscCards(vpcd_reader(0)),
        phones=PcscCards(phones),
        oqs_transport=base.oqs_transport,
    )


@pytest.mark.usefixtures("pcscd")
def test_a_second_pcsc_reader_for_phones_is_watched_too(tui_world: World, tmp_path: Path) -> None:
    """Against real readers (pcscd + vpcd: slot 0 the card reader, slot 1 the clinic's
    NFC reader for phones): a phone held to the second reader starts the check-in from
    there, without anyone choosing first — detection as before."""
    svc = real_readers(tui_world, tmp_path, vpcd_reader(1))
    pin = tui_world.persona("android")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        with card_in_slot(tui_world.card("android"), 1):
            await at_view(pilot, app, "method", seconds=15)
            await pilot.press("2")
            await at_view(pilot, app, "pin")
            await type_pin(pilot, pin)
            await at_view(pilot, app, "consents")
            await pilot.press("n")
            await at_view(pilot, app, "done")
            # the card reader stays empty all along: that must not take the phone's done
            # screen away while the phone is still on its reader (polled every 0.5 s)
            await asyncio.sleep(1.5)
            await pilot.pause()
            assert app.panel.view == "done"
        await at_view(pilot, app, "wait", seconds=15)

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert (reception.variant, reception.status) == ("android", "confirmed")


@pytest.mark.usefixtures("pcscd")
def test_a_configured_reader_that_is_missing_is_said_at_start(
    tui_world: World, tmp_path: Path
) -> None:
    svc = real_readers(tui_world, tmp_path, "No Such NFC Reader 00 00")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        def said() -> list[str]:
            return [str(n.message) for n in app._notifications]

        await until(pilot, lambda: any("スマートフォン用" in m for m in said()))
        assert not any("カード読み取り機" in m for m in said())  # slot 0 is there
        assert any("No Such NFC Reader" in m for m in said())

    asyncio.run(drive(svc, scenario))


@pytest.mark.usefixtures("pcscd")
def test_the_demo_holds_a_smartphone_to_vpcds_other_slot(tui_world: World, tmp_path: Path) -> None:
    """`reception demo` through pcscd: cards go to slot 0, a smartphone persona to slot 1
    (the demo's reader for phones), where any PC/SC program sees it."""
    from reception.settings import ReceptionSettings
    from reception.sim.demo import demo_services
    from reception.sim.world import WorldFiles

    svc = demo_services(
        WorldFiles.open(tui_world.directory),
        "https://127.0.0.1:9",
        ReceptionSettings(data_dir=tmp_path / "data"),
        pcsc_slot=0,
    )
    assert svc.demo is not None and svc.phones is not None
    assert svc.demo.is_phone("android") and not svc.demo.is_phone("adult-kyokai")
    try:
        svc.demo.place_phone("android")
        assert PcscCards(vpcd_reader(1)).present()
        assert not PcscCards(vpcd_reader(0)).present()
        assert svc.source("phone").present()
    finally:
        svc.demo.remove()
    assert not PcscCards(vpcd_reader(1)).present()
