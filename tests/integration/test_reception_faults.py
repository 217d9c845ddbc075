"""The fault matrix: whatever goes wrong at the service, the fallback is offered within
the read timeout + 1 s, the reception is kept as pending, and the card is untouched
beyond the patient's own attempt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_oqs.faults import FAULTS_FILE, FaultPlan, Faults, save_plan
from mock_oqs.world import World, seed_world
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.flow import Method, State
from reception.oqs_client import OqsClient
from reception.reasons import FallbackReason
from reception.settings import OqsSettings
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import world_settings
from tests.support.stack import WORLD_TODAY, free_port, mock_oqs_serving

READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def fault_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A world of its own: the faults file would disturb other tests' service."""
    return seed_world(tmp_path_factory.mktemp("faults") / "w", seed=13, today=WORLD_TODAY)


@pytest.fixture(scope="module")
def server(fault_world: World) -> Iterator[str]:
    with mock_oqs_serving(fault_world, workers=1) as (_, url):
        yield url


def settings_for(world: World, url: str) -> OqsSettings:
    return world_settings(world, url).model_copy(
        update={"read_timeout": READ_TIMEOUT, "connect_timeout": READ_TIMEOUT}
    )


def attempt(world: World, settings: OqsSettings, store: Store) -> tuple[CheckinOutcome, float]:
    card = card_of(world, "adult-kyokai")
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))

    async def go() -> CheckinOutcome:
        async with OqsClient(settings) as client:
            return await check_in(
                LoopbackTransport(card), client, store, terminal_of(world), request
            )

    start = time.perf_counter()
    outcome = asyncio.run(go())
    elapsed = time.perf_counter() - start
    assert card.profile.auth_pin.tries_left == 3  # no PIN attempt lost
    return outcome, elapsed


FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("latency", {"latency_ms": 3000}),
    ("5xx", {"error_rate": 1.0}),
    ("outage", {"outage": True}),
    ("malformed", {"malformed": True}),
    ("hang", {"hang": True}),
]


@pytest.mark.parametrize(("name", "fault"), FAULTS, ids=[n for n, _ in FAULTS])
def test_service_faults_offer_the_fallback_in_time(
    fault_world: World, server: str, tmp_path: Path, name: str, fault: dict[str, Any]
) -> None:
    store = Store(tmp_path / "reception.sqlite")
    plan = FaultPlan()
    plan.global_faults = Faults(**fault)
    save_plan(plan, fault_world.directory / FAULTS_FILE)
    try:
        outcome, elapsed = attempt(fault_world, settings_for(fault_world, server), store)
    finally:
        save_plan(FaultPlan(), fault_world.directory / FAULTS_FILE)
    assert outcome.state is State.OQS_UNAVAILABLE, (name, outcome.flow.message)
    assert outcome.flow.fallback_reason is FallbackReason.OQS_UNAVAILABLE
    assert elapsed < READ_TIMEOUT + 1.0, (name, elapsed)
    assert store.reception(outcome.reception_id).status == "pending"
    # and the service works again once the fault is gone
    again, _ = attempt(fault_world, settings_for(fault_world, server), store)
    assert again.state is State.CONFIRMED, (name, again.flow.message)


def test_service_down_offers_the_fallback_in_time(fault_world: World, tmp_path: Path) -> None:
    store = Store(tmp_path / "reception.sqlite")
    closed = f"https://127.0.0.1:{free_port()}"
    outcome, elapsed = attempt(fault_world, settings_for(fault_world, closed), store)
    assert outcome.state is State.OQS_UNAVAILABLE and elapsed < READ_TIMEOUT + 1.0
    assert store.reception(outcome.reception_id).status == "pending"


def test_failure_after_the_card_signed_keeps_the_counter(world: World, tmp_path: Path) -> None:
    """The confirmation itself fails (after the PIN was verified): pending, counter full."""
    store = Store(tmp_path / "reception.sqlite")
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/v1/nonces":
            return httpx.Response(200, json={"nonce": "ab" * 16, "expires_at": "x"})
        return httpx.Response(503, json={"error": {"code": "MOCK-F001", "message": "down"}})

    card = card_of(world, "adult-kyokai")
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))

    async def go() -> CheckinOutcome:
        client = OqsClient(OqsSettings(), transport=httpx.MockTransport(handle))
        async with client:
            return await check_in(
                LoopbackTransport(card), client, store, terminal_of(world), request
            )

    outcome = asyncio.run(go())
    assert outcome.state is State.OQS_UNAVAILABLE
    assert calls == ["/v1/nonces", "/v1/confirmations/card"]  # the confirmation: not retried
    assert card.profile.auth_pin.tries_left == 3
    assert store.reception(outcome.reception_id).status == "pending"
