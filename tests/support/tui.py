"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.world import World
from reception.checkin import Terminal
from reception.settings import LinkSettings, OqsSettings, ReaderSettings, ReceptionSettings
from reception.sim.cards import DemoControls, LoopbackCards
from reception.sim.world import WorldFiles
from reception.tui.app import ReceptionApp, make_app
from reception.tui.services import Services
from tests.support.oqs import with_client_cert
from tests.support.stack import WORLD_TODAY

SIZE = (140, 44)


def services(
    world: World,
    tmp_path: Path,
    *,
    service_up: bool = True,
    reader: ReaderSettings | None = None,
    link: Path | None = None,
) -> Services:
    settings = ReceptionSettings(
        data_dir=tmp_path / "data",
        reader=reader or ReaderSettings(),
        link=LinkSettings(folder=link),
    )
    files = WorldFiles.open(world.directory)
    cards = LoopbackCards()
    counter = LoopbackCards()  # the staff-held reader (居宅同意取得型)
    phones = LoopbackCards()  # the clinic's second reader, for smartphones
    app = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY))
    pem = (world.terminal_cert).read_text()
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=with_client_cert(app, pem))
    if not service_up:
        transport = httpx.MockTransport(
            lambda request: (_ for _ in ()).throw(
                httpx.ConnectError("connection refused", request=request)
            )
        )
    from reception.store import Store

    return Services(
        settings=settings,
        store=Store(settings.store_path),
        oqs=OqsSettings(retries=0),
        terminal=Terminal.load(world.terminal_cert, world.terminal_key, world.face_certificate),
        cards=cards,
        demo=DemoControls(
            files, cards, [(str(p["id"]), "") for p in world.index["personas"]], counter, phones
        ),
        counter=counter,
        phones=phones,
        oqs_transport=transport,
    )


def text(app: DOMNode, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def shown(app: DOMNode, selector: str) -> bool:
    """Displayed, and so is every container around it."""
    widget = app.query_one(selector)
    return all(node.display for node in [widget, *widget.ancestors] if isinstance(node, Widget))


async def until(pilot: Pilot[None], check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for the workers (card threads, HTTP) instead of sleeping blindly."""
    for _ in range(int(seconds / 0.05)):
        await pilot.pause()
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the screen never got there")


async def at_view(pilot: Pilot[None], app: ReceptionApp, view: str, seconds: float = 10.0) -> None:
    await until(pilot, lambda: app.panel.view == view, seconds)


async def type_pin(pilot: Pilot[None], pin: str) -> None:
    for digit in pin:
        await pilot.press(digit)
    await pilot.press("enter")


Scenario = Callable[[Pilot[None], ReceptionApp], Awaitable[None]]


async def drive(svc: Services, scenario: Scenario) -> ReceptionApp:
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scenario(pilot, app)
    return app


async def pin_to(pilot: Pilot[None], app: ReceptionApp, persona: str, pin: str, view: str) -> None:
    """Place the persona's card, choose 暗証番号 (key 2), type the PIN; wait for ``view``."""
    app.place_card(persona)
    await at_view(pilot, app, "method")
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, pin)
    await at_view(pilot, app, view)
