"""The terminal when the service holds its facility back (issue 19): a 429 reaches staff
as a Japanese sentence that says what to do, the folder interface answers it with
SegmentOfResult 9 / LINK-E005, and nothing asks again in a tight loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import ServiceLimits
from mock_oqs.world import World
from reception.declaration import SelfDeclaration
from reception.link import Link
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.reverify import reverify_pending
from reception.settings import OqsSettings
from reception.store import Store
from tests.support.forms import valid
from tests.support.oqs import patient_numbers, with_client_cert
from tests.support.stack import WORLD_TODAY

QUERY = NumberQuery(insurer_number="01130012", number="1", birth_date=dt.date(1980, 1, 1))
LIMITED = json.dumps(
    {
        "error": {
            "code": "MOCK-E018",
            "message": "a lookup by number over this facility's limit (60 per minute, 2000 "
            "per day): try again in 30 s",
        }
    }
).encode()


class Service:
    """A stand-in service that answers every lookup 429 (Retry-After 30) and counts what
    reaches it."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(f"{request.method} {request.url.path}")
            if request.url.path == "/v1/nonces":
                return httpx.Response(200, json={"nonce": "ab" * 16, "expires_at": "x"})
            return httpx.Response(429, content=LIMITED, headers={"retry-after": "30"})

        return httpx.MockTransport(handle)


def run(client: OqsClient, call: Callable[[OqsClient], Any]) -> Any:
    async def go() -> Any:
        return await call(client)

    return asyncio.run(go())


def test_a_429_is_said_in_japanese_and_not_asked_again_until_its_time() -> None:
    service, now = Service(), [1000.0]
    client = OqsClient(OqsSettings(retries=3), transport=service.transport(), clock=lambda: now[0])
    with pytest.raises(OqsError) as caught:
        run(client, lambda c: c.confirm_number(QUERY))
    refused = caught.value
    assert refused.staff_message.startswith("この医療機関からの番号による照会が上限に達しました")
    assert "約30秒後に" in refused.staff_message and "MOCK" not in refused.staff_message
    assert refused.fallback  # like an outage: pending, re-checked later — not an error
    assert service.requests == ["POST /v1/confirmations/number"]  # not retried
    # within its Retry-After, no lookup of any kind is sent again
    for call in (
        lambda c: c.confirm_number(QUERY),
        lambda c: c.records(QUERY, "medications"),
        lambda c: c.register_reference_number(QUERY, "A-1"),
    ):
        now[0] += 5
        with pytest.raises(OqsError) as held:
            run(client, call)
        assert "上限に達しました" in held.value.staff_message
    assert service.requests == ["POST /v1/confirmations/number"]
    assert run(client, lambda c: c.nonce()) == "ab" * 16  # other kinds go on
    now[0] += 16  # 31 s after the 429
    with pytest.raises(OqsError):
        run(client, lambda c: c.confirm_number(QUERY))
    assert service.requests[-1] == "POST /v1/confirmations/number"
    assert len(service.requests) == 3


def declaration(world: World, persona: str) -> SelfDeclaration:
    entry = world.persona(persona)
    n = entry["numbers"]
    return SelfDeclaration.parse(
        valid(
            name=entry["name"],
            birth_date=entry["birth_date"],
            insurer_number=n["current_insurer_number"],
            symbol=n["current_symbol"],
            number=n["current_number"],
        )
    )


def test_re_verification_stops_at_a_429(world: World, tmp_path: Path) -> None:
    """A queue of 申立書 is re-checked by number: a 429 stops the sweep (the queue is kept)
    instead of walking the rest of it into the same refusal."""
    store = Store(tmp_path / "reception.sqlite")
    for persona in ("adult-kyokai", "family", "kokuho"):
        store.add_declaration(declaration(world, persona))
    service = Service()
    client = OqsClient(OqsSettings(), transport=service.transport())
    summary = run(client, lambda c: reverify_pending(c, store))
    assert service.requests == ["POST /v1/confirmations/number"]
    assert summary.error is not None and "上限に達しました" in summary.error
    assert len(store.pending()) == 3


def limited_client(world: World, per_minute: int) -> OqsClient:
    settings = ServiceSettings(
        world=world.directory,
        today=WORLD_TODAY,
        limits=ServiceLimits(lookups_per_minute=per_minute),
    )
    app = with_client_cert(create_app(settings), world.terminal_cert.read_text())
    return OqsClient(OqsSettings(), transport=httpx.ASGITransport(app=app))


def request_file(world: World, persona: str) -> bytes:
    n = patient_numbers(world, persona)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
        "<MedicalInstitutionCode>1312345678</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>r1</ArbitraryFileIdentifier></MessageHeader>"
        "<MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{n['insurer_number']}</InsurerNumber>"
        f"<InsuredCardSymbol>{n['symbol']}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{n['number']}</InsuredIdentificationNumber>"
        f"<Birthdate>{n['birth_date']}</Birthdate>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    ).encode()


def test_the_folder_interface_answers_a_429_with_link_e005(
    own_world: World, tmp_path: Path
) -> None:
    """The real service, limited to 2 lookups a minute: the third request file gets an
    answer all the same — SegmentOfResult 9, LINK-E005 and what to do, in Japanese."""
    folder = tmp_path / "clinic"

    async def go() -> list[ET.Element]:
        async with limited_client(own_world, per_minute=2) as client:
            link = Link(
                folder, client, institution_code="1312345678", private_dir=tmp_path / "data"
            )
            link.prepare()
            answers = []
            for n in range(3):
                path = folder / "req" / f"OQSsiquc01req_{n:04d}.xml"
                path.write_bytes(request_file(own_world, "kakunin-expiring"))
                answer = await link.handle(path)
                assert answer is not None
                answers.append(ET.fromstring(answer.read_bytes()))  # noqa: S314 (ours)
            return answers

    first, second, third = asyncio.run(go())
    assert first.findtext("MessageHeader/SegmentOfResult") == "1"
    assert second.findtext("MessageHeader/SegmentOfResult") == "1"
    assert third.findtext("MessageHeader/SegmentOfResult") == "9"
    assert third.findtext("MessageHeader/ErrorCode") == "LINK-E005"
    message = third.findtext("MessageHeader/ErrorMessage") or ""
    assert message.startswith("この医療機関からの番号による照会が上限に達しました"), message
    assert "秒後に" in message


def by_numbers(world: World, persona: str, birth: dt.date | None = None) -> NumberQuery:
    n = patient_numbers(world, persona)
    return NumberQuery(
        insurer_number=n["insurer_number"],
        symbol=n["symbol"],
        number=n["number"],
        branch=n["branch"],
        birth_date=birth or dt.datetime.strptime(n["birth_date"], "%Y%m%d").date(),
    )


def test_too_many_birth_dates_hold_back_that_patient_only(own_world: World) -> None:
    """MOCK-E020 refuses one patient's numbers (too many different birth dates tried with
    them today): staff read what to check, and the clinic's other lookups go on."""
    settings = ServiceSettings(world=own_world.directory, today=WORLD_TODAY)
    app = with_client_cert(create_app(settings), own_world.terminal_cert.read_text())
    client = OqsClient(OqsSettings(), transport=httpx.ASGITransport(app=app))

    async def go() -> tuple[OqsError, str]:
        for day in (1, 2, 3):  # three mistyped dates: answered (該当資格なし)
            await client.confirm_number(
                by_numbers(own_world, "kakunin-expiring", dt.date(1950, 1, day))
            )
        try:
            await client.confirm_number(
                by_numbers(own_world, "kakunin-expiring", dt.date(1950, 1, 9))
            )
        except OqsError as exc:
            refused = exc
        else:
            raise AssertionError("the fourth different birth date was answered")
        other = await client.confirm_number(by_numbers(own_world, "family"))
        return refused, other.validity_label

    refused, other = asyncio.run(go())
    assert refused.staff_message.startswith("この番号では多くの異なる生年月日で照会された")
    assert "MOCK" not in refused.staff_message
    assert other == "有効"  # the clinic's next patient is not held back
