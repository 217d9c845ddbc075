"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import ServiceLimits
from mock_oqs.world import World
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile
from reception.oqs_client import (
    OqsClient,
)
from reception.settings import OqsSettings
from tests.support.stack import WORLD_TODAY

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def with_client_cert(app: ASGIApp, pem: str | None) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if pem is not None and scope["type"] == "http":
            scope.setdefault("extensions", {})["tls"] = {"client_cert_chain": [pem]}
        await app(scope, receive, send)

    return wrapped


class _SyncOverAsync(httpx.Client):
    """httpx.ASGITransport is async only: run each request in a fresh event loop."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        super().__init__(base_url="https://oqs.test")
        self._asgi = transport

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._asgi, base_url="https://oqs.test") as c:
                response = await c.send(request)
                await response.aread()
                return response

        return asyncio.run(go())


# A test about something else must not trip a clinic's limits (60 lookups a minute, 2,000
# a day per facility: every in-process app and served world of the session shares one
# facility and one state file); the limits' own tests make their apps with them.
NO_LIMITS = ServiceLimits.unlimited()


def make_client(world: World, *, cert: bool = True, today: dt.date = WORLD_TODAY) -> httpx.Client:
    app = create_app(ServiceSettings(world=world.directory, today=today, limits=NO_LIMITS))
    pem = (world.terminal_cert).read_text() if cert else None
    transport = httpx.ASGITransport(app=with_client_cert(app, pem))
    return _SyncOverAsync(transport)


def stranger_pem(institution_code: str = "1399999999") -> str:
    """Another clinic's terminal certificate (its own facility CA: the in-process app reads
    only the 医療機関コード, the TLS layer is not there to check the chain)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from mock_oqs.pki import FacilityCa

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    other = FacilityCa.generate(None, not_before=start).issue_terminal(
        None, not_before=start, institution_code=institution_code
    )
    return other.certificate.public_bytes(Encoding.PEM).decode()


def client_for(app: ASGIApp, pem: str | None) -> httpx.Client:
    """A synchronous client of an in-process app, as the terminal of ``pem``."""
    return _SyncOverAsync(httpx.ASGITransport(app=with_client_cert(app, pem)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def card_of(world: World, persona: str) -> tuple[dict[str, Any], JpkiClient]:
    entry = world.persona(persona)
    card = VirtualCard(load_profile(world.directory / entry["card"]))  # counters in memory only
    return entry, JpkiClient(CardChannel(LoopbackTransport(card)))


def pin_body(world: World, persona: str, value: str, **consents: bool) -> dict[str, Any]:
    entry, jpki = card_of(world, persona)
    pin = Pin(entry["pin"]) if entry["pin"] else None
    auth = jpki.authenticate(pin, bytes.fromhex(value))
    return {
        "certificate": b64(auth.certificate_der),
        "method": "pin",
        "nonce": value,
        "signature": b64(auth.signature),
        "consents": consents,
    }


def nonce(client: httpx.Client) -> str:
    response = client.post("/v1/nonces")
    assert response.status_code == 200, response.text
    value: str = response.json()["nonce"]
    return value


def face_body(
    world: World,
    persona: str,
    value: str,
    *,
    method: str = "face",
    key: ec.EllipticCurvePrivateKey | None = None,
    checked_at: dt.datetime | None = None,
    statement_nonce: str | None = None,
) -> dict[str, Any]:
    _, jpki = card_of(world, persona)
    der = jpki.fetch_auth_certificate_der()
    statement = json.dumps(
        {
            "method": method,
            "nonce": statement_nonce or value,
            "certificate_sha256": hashlib.sha256(der).hexdigest().upper(),
            "checked_at": (checked_at or dt.datetime.now(dt.UTC)).isoformat(),
        }
    )
    signer = key or terminal_key(world)
    return {
        "certificate": b64(der),
        "method": method,
        "nonce": value,
        "statement": statement,
        "statement_signature": b64(signer.sign(statement.encode(), ec.ECDSA(hashes.SHA256()))),
    }


def confirm(client: httpx.Client, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return client.post("/v1/confirmations/card", json=body, **kw)


def patient_numbers(world: World, persona: str, which: str = "current") -> dict[str, str]:
    """A persona's qualification numbers and birth date, as by-number requests send them."""
    entry = world.persona(persona)
    n = entry["numbers"]
    return {
        "insurer_number": n[f"{which}_insurer_number"],
        "symbol": n[f"{which}_symbol"],
        "number": n[f"{which}_number"],
        "branch": n[f"{which}_branch"],
        "birth_date": entry["birth_date"].replace("-", ""),
    }


def terminal_key(world: World) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((world.terminal_key).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def world_settings(world: World, url: str | None = None) -> OqsSettings:
    return OqsSettings(
        url=url,
        client_cert=world.terminal_cert,
        client_key=world.terminal_key,
        ca=world.facility_ca,
    )


def in_process(world: World) -> OqsClient:
    app = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY, limits=NO_LIMITS))
    pem = (world.terminal_cert).read_text()
    transport = httpx.ASGITransport(app=with_client_cert(app, pem))
    return OqsClient(OqsSettings(), transport=transport)


def forget_service_state(world: World, table: str) -> None:
    """Empty one table of the service's state file: the session's world is shared, and a
    test that counts nonces or needs a patient without consent must not see what other
    tests left there."""
    with contextlib.closing(sqlite3.connect(world.directory / "service-state.sqlite")) as db:
        db.execute(f"DELETE FROM {table}")  # noqa: S608 (a table name of the tests)
        db.commit()
