"""The reader panel asks only what can apply (issue 22 §3): a card the service will not
confirm — its certificate lapsed past the grace period, or 未登録 and the patient answers
登録しない — goes to the desk without the consent or 電子/紙 screens; a card that can be
confirmed is asked them, after identity (and, for a 未登録 card, after 登録する). Driven
with the mouse and the keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception.settings import ReaderSettings
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from tests.support.tui import at_view, drive, services, text, type_pin, until


def _watch(app: ReceptionApp, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every view the reader panel shows, in order."""
    seen: list[str] = []
    switch = app.panel._switch

    def recording(view: str, variant: object) -> None:
        seen.append(str(view))
        switch(view, variant)  # type: ignore[arg-type]

    monkeypatch.setattr(app.panel, "_switch", recording)
    return seen


async def _pin(pilot: Pilot[None], app: ReceptionApp, persona: str, pin: str) -> None:
    app.place_card(persona)
    await at_view(pilot, app, "method")
    await pilot.click("#method-pin")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, pin)


@pytest.mark.parametrize("persona", ["cert-lapsed", "not-registered"])
def test_a_card_that_cannot_be_confirmed_is_not_asked_for_consents(
    tui_world: World, tmp_path: Path, persona: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(electronic_prescriptions=True))
    pin = tui_world.persona(persona)["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        seen = _watch(app, monkeypatch)
        await _pin(pilot, app, persona, pin)
        if persona == "not-registered":
            await at_view(pilot, app, "register")  # right after identity
            await pilot.click("#register-no")
        await at_view(pilot, app, "done")
        assert "受付窓口にお声がけください" in text(app, "#done-title")
        assert "consents" not in seen and "prescription" not in seen, seen

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "fallback"


def test_a_card_that_can_be_confirmed_is_asked_after_identity(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(electronic_prescriptions=True))
    pin = tui_world.persona("not-registered")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        seen = _watch(app, monkeypatch)
        await _pin(pilot, app, "not-registered", pin)
        await at_view(pilot, app, "register")
        await pilot.click("#register-yes")
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-bundle")
        await at_view(pilot, app, "prescription")
        await pilot.press("1")
        await at_view(pilot, app, "done")
        asked = [v for v in seen if v in ("pin", "register", "consents", "prescription")]
        assert asked == ["pin", "register", "consents", "prescription"], seen

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "confirmed"
    [result] = svc.store.results_of(reception.reception_id)
    entry = result.entries[0]
    assert entry.pharmacists_info_cons_flg == "1"  # まとめて同意, as the patient chose
    assert entry.prescription_issue_select in ("1", "2")
