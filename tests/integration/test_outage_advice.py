"""The outage promise (issue 22 §2): 「サービスが戻れば自動で再確認します」 was said, but a
card confirmation cannot be re-sent without the patient (a fresh nonce signed by the card
after the PIN or face) and nothing re-checked. Staff are now told what they can do: the
card again once the service is back, or another rung at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinRequest, check_in
from reception.flow import Method, State
from reception.oqs_client import OqsClient
from reception.oqs_errors import (
    OqsCircuitOpen,
    OqsError,
    OqsMalformed,
    OqsServerError,
    OqsTimeout,
    OqsUnavailable,
)
from reception.present import reception_detail
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import world_settings
from tests.support.stack import free_port

OUTAGES: list[OqsError] = [
    OqsUnavailable("connection refused"),
    OqsCircuitOpen("open"),
    OqsTimeout("read timeout"),
    OqsServerError(503, "MOCK-F001"),
    OqsMalformed("not JSON"),
]


def promises_nothing_automatic(text: str) -> bool:
    return "自動で再確認" not in text and "自動再確認" not in text


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_staff_are_told_what_to_do_not_promised_a_recheck(error: OqsError) -> None:
    said = error.staff_message
    assert promises_nothing_automatic(said), said
    assert "もう一度カードで確認" in said and "資格確認書" in said and "申立書" in said


def test_a_check_in_while_the_service_is_down_tells_staff_the_truth(
    world: World, tmp_path: Path
) -> None:
    store = Store(tmp_path / "reception.sqlite")
    closed = f"https://127.0.0.1:{free_port()}"
    settings = world_settings(world, closed).model_copy(
        update={"read_timeout": 1.0, "connect_timeout": 1.0}
    )
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))

    async def go() -> str:
        async with OqsClient(settings) as client:
            outcome = await check_in(
                LoopbackTransport(card_of(world, "adult-kyokai")),
                client,
                store,
                terminal_of(world),
                request,
            )
        assert outcome.state is State.OQS_UNAVAILABLE
        return outcome.reception_id

    reception = asyncio.run(go())
    detail = "\n".join(reception_detail(store, reception))
    assert store.reception(reception).status == "pending"
    assert promises_nothing_automatic(detail), detail
    assert "もう一度カードで確認" in detail
