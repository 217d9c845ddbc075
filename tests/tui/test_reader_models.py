"""The reader models and the 処方箋 question on the TUI (issue 24 §1; reception/reader_models.py):
the next-generation reader never asks マイナンバーカード / スマートフォン and reads a
smartphone on the card reader; the model without 目視 offers none (click and keys) and tells
staff where to go once PIN and face are gone; the demo switches the model for the next
check-in and says which is in use; the 処方箋 question off, 院外 and 院内."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception.reader_models import NO_VISUAL_MESSAGE, PrescriptionQuestion, ReaderModel
from reception.settings import ReaderSettings
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.widgets.demo import DemoPanel
from tests.support.tui import at_view, drive, services, shown, text, type_pin, until


def said(app: ReceptionApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("persona", ["android", "iphone"])
def test_next_generation_reads_a_smartphone_on_the_card_reader(
    tui_world: World, tmp_path: Path, persona: str
) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(model=ReaderModel.NEXT_GENERATION))
    pin = tui_world.persona(persona)["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        assert not shown(app, "#wait-phone") and not shown(app, "#wait-card")
        assert "スマートフォンをかざして" in text(app, "#wait-title")
        await pilot.press("s")  # no such choice here: nothing happens
        await pilot.pause()
        assert app.panel.medium is None
        app.place_card(persona)
        await at_view(pilot, app, "method")
        assert svc.cards.present() and svc.phones is not None and not svc.phones.present()
        # the keys line names the one method offered, never 1 (face) nor 3 (目視)
        pin_key = "2: 暗証番号" if persona == "android" else "2: iPhoneで本人確認"
        assert text(app, "#method-keys") == f"キー {pin_key} ・ Esc: やめる"
        await pilot.click("#method-pin")
        if persona == "android":
            await at_view(pilot, app, "pin")
            await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-none")
        await at_view(pilot, app, "done")
        app.remove_card()
        await at_view(pilot, app, "wait")
        assert not shown(app, "#wait-phone")  # the next patient: still no choice

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert (reception.variant, reception.status) == (persona, "confirmed")


def test_today_the_same_phone_goes_to_the_phone_reader(tui_world: World, tmp_path: Path) -> None:
    """The current model, for contrast: the choice is there and the phone's reader is apart."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        assert shown(app, "#wait-phone")
        await pilot.click("#wait-phone")
        await until(pilot, lambda: app.panel.medium == "phone")
        app.place_card("iphone")
        await at_view(pilot, app, "method")
        assert svc.phones is not None and svc.phones.present() and not svc.cards.present()

    asyncio.run(drive(svc, scenario))


def test_no_visual_offers_no_visual_and_tells_staff_where_to_go(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(model=ReaderModel.NO_VISUAL))

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("pin-blocked")
        await at_view(pilot, app, "method")
        assert shown(app, "#method-face")
        assert not shown(app, "#method-visual") and not shown(app, "#method-pin")
        note = text(app, "#method-message")  # the locked PIN: face only, no 目視 promised
        assert "顔認証で続けられます" in note and "目視" not in note, note
        keys = text(app, "#method-keys")
        assert "1: 顔認証" in keys and "3:" not in keys and "2:" not in keys, keys
        await pilot.press("f2")
        assert text(app, "#method-keys") == "Keys 1: face · Esc: cancel"
        await pilot.press("f2")
        await until(pilot, lambda: any("居宅同意取得型" in m for m in said(app)))
        await pilot.press("3")  # 目視 by key: refused, with where to go instead
        await until(pilot, lambda: NO_VISUAL_MESSAGE in said(app))
        assert app.screen.__class__.__name__ != "VisualCheckScreen"
        assert app.panel.view == "method"
        await pilot.click("#method-face")
        await at_view(pilot, app, "face")
        for _ in range(3):
            await pilot.click("#scenario-other")
            await pilot.click("#face-shoot")
            await until(pilot, lambda: app.panel.view in ("method", "done"))
            if app.panel.view == "method":
                await pilot.click("#method-face")
                await at_view(pilot, app, "face")
        await at_view(pilot, app, "done")  # nothing left: the desk, never a 目視 screen
        assert "受付窓口" in text(app, "#done-title")

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert (reception.status, reception.fallback_reason) == ("fallback", "no-method")
    assert reception.method != "visual"


def test_the_demo_switches_the_model_for_the_next_checkin(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        demo = app.query_one(DemoPanel)
        assert "現行機" in text(app, "#demo-model-status")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert [c for c in commands if c.startswith("デモ: リーダー機種")] == [
            f"デモ: リーダー機種 {model.label}" for model in ReaderModel
        ]
        [switch] = [
            c.callback
            for c in app.get_system_commands(app.screen)
            if c.title == f"デモ: リーダー機種 {ReaderModel.NEXT_GENERATION.label}"
        ]
        switch()
        await until(pilot, lambda: "次世代機" in text(app, "#demo-model-status"))
        assert not shown(app, "#wait-phone")
        assert svc.settings.reader.model is ReaderModel.NEXT_GENERATION
        demo.switch_model(ReaderModel.CURRENT)  # as the tab's select does
        await until(pilot, lambda: "現行機" in text(app, "#demo-model-status"))
        assert shown(app, "#wait-phone")
        # a check-in under way keeps its model; the next one takes the new one
        app.place_card("pin-blocked")
        await at_view(pilot, app, "method")
        demo.switch_model(ReaderModel.NO_VISUAL)
        await pilot.click("#method-visual")  # this check-in began on the current model
        await until(pilot, lambda: app.screen.__class__.__name__ == "VisualCheckScreen")
        await pilot.click("#visual-ok")
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-none")
        await at_view(pilot, app, "done")
        app.remove_card()
        await at_view(pilot, app, "wait")
        app.place_card("pin-blocked")
        await at_view(pilot, app, "method")
        assert not shown(app, "#method-visual")

    asyncio.run(drive(svc, scenario))


@pytest.mark.parametrize("setting", list(PrescriptionQuestion))
def test_the_prescription_question_per_setting(
    tui_world: World, tmp_path: Path, setting: PrescriptionQuestion
) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(prescription=setting))
    pin = tui_world.persona("adult-kyokai")["pin"]
    seen: list[str] = []

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.click("#method-pin")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-bundle")
        await until(pilot, lambda: app.panel.view in ("prescription", "done"))
        seen.append(app.panel.view)
        if app.panel.view == "prescription":
            title = text(app, "#prescription-title")
            assert ("院内処方" in title) == (setting is PrescriptionQuestion.INSIDE), title
            await pilot.click("#prescription-2")
            await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    assert seen == ["done" if setting is PrescriptionQuestion.OFF else "prescription"]
    [reception] = svc.store.receptions_on(now_jst().date())
    [result] = svc.store.results_of(reception.reception_id)
    sent = result.entries[0].prescription_issue_select
    assert sent == (None if setting is PrescriptionQuestion.OFF else "2")
