"""Shared test helpers (tests/support): imported by test modules, never the other way.

A day of receptions of different kinds for the staff console's tests: each persona
checked in headless through the terminal's own services (the TUI's store, certificates
and loopback cards), before the app starts."""

from __future__ import annotations

import asyncio

from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable

from mock_oqs.world import World
from reception.checkin import CheckinRequest, FixedInteraction
from reception.flow import ConsentsGiven
from reception.oqs_client import OqsClient
from reception.results import QualificationResult
from reception.sim.cards import DemoControls
from reception.store import Store
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from reception.vocabulary import Method
from tests.support.checkin import pin_of
from tests.support.tui import until

READER_FAULT = "reader-fault"  # not a persona: adult-kyokai's card on an unplugged reader


async def _check_in(world: World, svc: Services, client: OqsClient, persona: str) -> str:
    demo = svc.demo
    assert isinstance(demo, DemoControls)
    card = "adult-kyokai" if persona == READER_FAULT else persona
    request = CheckinRequest(
        Method.PIN,
        pin_source=pin_of(world, card),
        consents=ConsentsGiven(medication=True, checkup=True, operation=True),
        expected=demo.expected(card),
    )
    demo.place(card)
    unplugged = persona == READER_FAULT and demo.toggle_reader()
    try:
        outcome = await svc.check_in(svc.cards, client, request, FixedInteraction(request))
    finally:
        if unplugged:
            demo.toggle_reader()
        demo.remove()
    return outcome.reception_id


def seed_day(world: World, svc: Services, personas: list[str]) -> dict[str, str]:
    """Check each persona in (in this order, PIN and every consent): their reception ids."""

    async def day() -> dict[str, str]:
        client = OqsClient(svc.oqs, transport=svc.oqs_transport)
        try:
            return {p: await _check_in(world, svc, client, p) for p in personas}
        finally:
            await client.aclose()

    return asyncio.run(day())


def result_named(
    name: str, *, validity: str = "1", ratio: str | None = None, birth: str | None = None
) -> QualificationResult:
    """A result with one qualification of this name (valid unless ``validity`` says
    otherwise; with a 負担割合 such as "030" when ``ratio`` is given, a ``birth`` date
    YYYYMMDD when given)."""
    entry = {"Name": name} | ({"InsuredPartialContributionRatio": ratio} if ratio else {})
    entry |= {"Birthdate": birth} if birth else {}
    return QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": validity,
                "ResultList": {"ResultOfQualificationConfirmation": [entry]},
            },
        }
    )


def confirmed(store: Store, *names: str) -> list[str]:
    """A confirmed reception for each name, in this order."""
    ids = []
    for name in names:
        rid = store.begin_reception()
        store.finish_reception(
            rid, status="confirmed", method=Method.PIN, result=result_named(name)
        )
        ids.append(rid)
    return ids


def shown_rows(app: ReceptionApp) -> list[str]:
    """The receptions the list shows, top to bottom."""
    table = app.query_one("#receptions", DataTable)
    keys = (table.coordinate_to_cell_key(Coordinate(r, 0)) for r in range(table.row_count))
    return [str(key.row_key.value) for key in keys]


async def listed(pilot: Pilot[None], app: ReceptionApp, ids: list[str]) -> None:
    """Wait until the list shows exactly these receptions (read, matched, added)."""
    await until(pilot, lambda: shown_rows(app) == ids)
