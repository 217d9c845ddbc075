"""Every check-in of the terminal closes its connection to the card, whatever happened:
a PC/SC connection left open holds a handle in pcscd and keeps exclusive connections
(``myna-reader``'s default) off the reader for as long as the terminal runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Select

from mock_oqs.world import World
from reader.transport import Transport, TransportDecorator
from reception.tui.app import ReceptionApp
from reception.tui.screens.counter import CounterScreen
from reception.tui.widgets.demo import DemoPanel
from tests.support.tui import at_view, drive, pin_to, services, shown, text, until


class Recorded(TransportDecorator):
    """The card's connection as the terminal gets it; ``closed`` once the terminal let go."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def recording(monkeypatch: pytest.MonkeyPatch, source: object) -> list[Recorded]:
    opened: list[Recorded] = []
    plain = source.transport  # type: ignore[attr-defined]

    def transport() -> Transport:
        connection = Recorded(plain())
        opened.append(connection)
        return connection

    monkeypatch.setattr(source, "transport", transport)
    return opened


def test_a_checkin_at_the_reader_closes_its_connection(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path)
    opened = recording(monkeypatch, svc.cards)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        assert [c.closed for c in opened] == [False]  # in use while the patient answers
        await pilot.press("y")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: all(c.closed for c in opened))

    asyncio.run(drive(svc, scenario))
    assert len(opened) == 1


def test_a_checkin_whose_card_leaves_closes_its_connection(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path)
    opened = recording(monkeypatch, svc.cards)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        app.remove_card()  # the patient takes the card away mid-way
        await pilot.press("2")
        await until(pilot, lambda: bool(opened) and all(c.closed for c in opened))

    asyncio.run(drive(svc, scenario))
    assert opened


def test_the_counter_route_closes_its_connection(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path)
    assert svc.counter is not None
    opened = recording(monkeypatch, svc.counter)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.query_one(DemoPanel).toggle_reader()  # the face-recognition reader fails
        app.query_one(DemoPanel).query_one("#persona", Select).value = "family"
        app.place_card("family")
        await until(pilot, lambda: "保留" in text(app, "#detail"))
        app.query_one("#ladder-counter", Button).press()
        await until(pilot, lambda: isinstance(app.screen, CounterScreen))
        screen = app.screen
        screen.query_one("#counter-place", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-bundle"))
        screen.query_one("#counter-bundle", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-method-visual"))
        screen.query_one("#counter-method-visual", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-visual-ok"))
        screen.query_one("#counter-visual-ok", Button).press()
        await until(pilot, lambda: "資格確認できました" in text(screen, "#counter-status"))
        await until(pilot, lambda: bool(opened) and all(c.closed for c in opened))

    asyncio.run(drive(svc, scenario))
    assert len(opened) == 1
