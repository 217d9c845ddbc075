"""The terminal's OQS client: contract with the real app (in process and over TLS),
typed errors, retries only where safe, and the circuit breaker."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_oqs.world import World
from reception.oqs_client import (
    BreakerState,
    CardConfirmation,
    NumberQuery,
    OqsCircuitOpen,
    OqsClient,
    OqsMalformed,
    OqsRefused,
    OqsServerError,
    OqsTimeout,
    OqsUnavailable,
)
from reception.results import QualificationResult
from reception.settings import OqsSettings
from tests.support.oqs import in_process, pin_body, world_settings
from tests.support.stack import mock_oqs_serving

QUERY = NumberQuery(insurer_number="01130012", number="1", birth_date=dt.date(1980, 1, 1))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with mock_oqs_serving(world) as (_, url):
        yield url


async def pin_round(client: OqsClient, world: World, persona: str) -> QualificationResult:
    value = await client.nonce()
    body = pin_body(world, persona, value, medication=True)
    return await client.confirm_card(CardConfirmation.model_validate(body))


def test_confirmation_in_process(world: World) -> None:
    async def go() -> QualificationResult:
        async with in_process(world) as client:
            return await pin_round(client, world, "adult-kyokai")

    result = asyncio.run(go())
    assert result.confirmed and result.validity_label == "有効"
    entry = result.entries[0]
    assert entry.ratio == "3割" and entry.insurer_name
    assert entry.pharmacists_info_cons_flg == "1"  # the consent reached the service


def test_confirmation_over_tls_and_records(world: World, server: str) -> None:
    async def go() -> tuple[QualificationResult, list[dict[str, Any]], bool]:
        async with OqsClient(world_settings(world, server)) as client:
            result = await pin_round(client, world, "child-preschool")
            patient = NumberQuery.of_entry(result.entries[0])
            return result, await client.records(patient, "medications"), await client.health()

    result, meds, healthy = asyncio.run(go())
    assert result.confirmed and result.entries[0].ratio == "2割"
    assert "未就学児：負担割合 2割" in result.notices
    assert isinstance(meds, list) and healthy


def test_a_new_connection_resumes_the_tls_session_and_keeps_the_terminal(
    world: World, server: str
) -> None:
    """Every request on a new connection (keep-alive 0): after the first full handshake
    each one resumes the session, and the service still knows the terminal (a nonce and
    a confirmation need its certificate)."""
    settings = world_settings(world, server).model_copy(update={"keepalive": 0})

    async def go() -> tuple[list[QualificationResult], int, int]:
        async with OqsClient(settings) as client:
            results = [await pin_round(client, world, "adult-kyokai") for _ in range(3)]
            assert client.tls is not None
            return results, client.tls.connections, client.tls.resumed

    results, connections, resumed = asyncio.run(go())
    assert all(r.confirmed for r in results)
    assert connections == 6  # a nonce and a confirmation each, none kept
    assert resumed == 5


def test_kept_alive_requests_share_one_connection(world: World, server: str) -> None:
    async def go() -> tuple[int, int]:
        async with OqsClient(world_settings(world, server)) as client:
            for _ in range(3):
                assert (await pin_round(client, world, "adult-kyokai")).confirmed
            assert client.tls is not None
            return client.tls.connections, client.tls.resumed

    assert asyncio.run(go()) == (1, 0)


def test_refusal_is_typed_and_not_a_fallback(world: World) -> None:
    async def go() -> None:
        async with in_process(world) as client:
            body = CardConfirmation.model_validate(
                pin_body(world, "adult-kyokai", await client.nonce())
            )
            await client.confirm_card(body)
            await client.confirm_card(body)  # the replay

    with pytest.raises(OqsRefused) as caught:
        asyncio.run(go())
    assert caught.value.code == "MOCK-E002" and caught.value.status == 409
    assert not caught.value.fallback


def test_without_client_certificate_over_tls(world: World, server: str) -> None:
    settings = world_settings(world, server).model_copy(
        update={"client_cert": None, "client_key": None}
    )

    async def go() -> str:
        async with OqsClient(settings) as client:
            return await client.nonce()

    with pytest.raises(OqsRefused) as caught:
        asyncio.run(go())
    assert caught.value.status == 401 and caught.value.code == "MOCK-E001"


class Scripted:
    """A transport answering from a script of callables; counts the requests."""

    def __init__(self, *steps: Callable[[httpx.Request], httpx.Response]) -> None:
        self.steps = list(steps)
        self.calls = 0

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            step = self.steps[min(self.calls, len(self.steps) - 1)]
            self.calls += 1
            return step(request)

        return httpx.MockTransport(handle)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def status(code: int, body: bytes = b"") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, content=body)


NONCE_OK = status(200, json.dumps({"nonce": "ab" * 16, "expires_at": "x"}).encode())


def run(client: OqsClient, call: Callable[[OqsClient], Any]) -> Any:
    async def go() -> Any:
        async with client:
            return await call(client)

    return asyncio.run(go())


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_sleep = asyncio.sleep

    async def no_wait(_: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    yield


@pytest.mark.usefixtures("fast_retries")
def test_nonce_is_retried_after_refused_connection_and_503() -> None:
    script = Scripted(refuse_connection, status(503), NONCE_OK)
    client = OqsClient(OqsSettings(retries=2), transport=script.transport())
    assert run(client, lambda c: c.nonce()) == "ab" * 16
    assert script.calls == 3 and client.breaker.state is BreakerState.CLOSED


@pytest.mark.usefixtures("fast_retries")
def test_card_confirmation_is_never_retried() -> None:
    script = Scripted(status(503), status(200, b"{}"))
    client = OqsClient(OqsSettings(retries=2), transport=script.transport())
    with pytest.raises(OqsServerError):
        bad = CardConfirmation(method="pin", nonce="x", certificate="AAAA")
        run(client, lambda c: c.confirm_card(bad))
    assert script.calls == 1


def test_read_timeout_is_not_retried() -> None:
    script = Scripted(read_timeout, NONCE_OK)
    client = OqsClient(OqsSettings(retries=2, read_timeout=7), transport=script.transport())
    with pytest.raises(OqsTimeout, match="7 s"):
        run(client, lambda c: c.nonce())
    assert script.calls == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (status(200, b'{"MessageHeader": {"SegmentOfResult": "1", "Proc'), OqsMalformed),
        (status(200, b"<html>proxy error</html>"), OqsMalformed),
        (status(200, b'{"MessageHeader": {}, "MessageBody": {}}'), OqsMalformed),
        (status(500, b'{"error": {"code": "MOCK-F002", "message": "x"}}'), OqsServerError),
        (status(403, b"not json"), OqsRefused),
    ],
)
def test_garbage_and_errors_are_typed(
    answer: Callable[[httpx.Request], httpx.Response], error: type[Exception]
) -> None:
    client = OqsClient(OqsSettings(retries=0), transport=Scripted(answer).transport())
    with pytest.raises(error) as caught:
        run(client, lambda c: c.confirm_number(QUERY))
    assert str(caught.value)  # every error says something


def state_of(client: OqsClient) -> BreakerState:
    return client.breaker.state  # (a call, so that mypy does not narrow it between steps)


@pytest.mark.usefixtures("fast_retries")
def test_breaker_opens_then_tries_once_after_cooldown() -> None:
    now = [0.0]
    script = Scripted(refuse_connection)
    client = OqsClient(
        OqsSettings(retries=0, breaker_failures=3, breaker_cooldown=30),
        transport=script.transport(),
        clock=lambda: now[0],
    )

    async def go() -> None:
        async with client:
            for _ in range(3):
                with pytest.raises(OqsUnavailable):
                    await client.nonce()
            assert state_of(client) is BreakerState.OPEN
            with pytest.raises(OqsCircuitOpen, match="next try in 30 s"):
                await client.nonce()
            assert script.calls == 3  # the open breaker did not touch the network
            now[0] = 31.0
            assert state_of(client) is BreakerState.HALF_OPEN
            with pytest.raises(OqsUnavailable):
                await client.nonce()  # the one trial fails: open again
            assert state_of(client) is BreakerState.OPEN and script.calls == 4
            now[0] = 62.0
            script.steps = [NONCE_OK]
            assert await client.nonce() == "ab" * 16
            assert state_of(client) is BreakerState.CLOSED

    asyncio.run(go())


def test_settings_refuse_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https://"):
        OqsSettings(url="http://plain")
    with pytest.raises(ValueError, match="go together"):
        OqsSettings(client_cert=tmp_path / "c.pem")
    with pytest.raises(ValueError, match="no OQS url"):
        OqsClient(OqsSettings())
