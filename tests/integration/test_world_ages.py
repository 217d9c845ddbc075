"""The service's world ages with its day (``mock-oqs serve --today``): the 75th birthday,
a reissued card, a 資格確認書 that passes its 有効期限, certificates ending on birthdays."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from mock_oqs.rules import late_elderly_from
from mock_oqs.world import World
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile
from reception.ladder import confirm_by_number
from reception.oqs_client import NumberQuery, OqsClient
from reception.results import QualificationResult
from reception.settings import OqsSettings
from reception.store import ReceptionStatus, Store
from tests.support.oqs import (
    b64,
    confirm,
    make_client,
    nonce,
    patient_numbers,
    pin_body,
    with_client_cert,
)
from tests.support.stack import WORLD_TODAY


def card_answer(world: World, persona: str, today: dt.date, *, card: str | None = None) -> Any:
    """A PIN check-in with the persona's card (or another card file of theirs)."""
    client = make_client(world, today=today)
    value = nonce(client)
    if card is None:
        body = pin_body(world, persona, value, limit=True)
    else:
        profile = load_profile(world.directory / card)
        jpki = JpkiClient(CardChannel(LoopbackTransport(VirtualCard(profile))))
        auth = jpki.authenticate(Pin(profile.auth_pin.pin or ""), bytes.fromhex(value))
        body = {
            "certificate": b64(auth.certificate_der),
            "method": "pin",
            "nonce": value,
            "signature": b64(auth.signature),
        }
    response = confirm(client, body)
    assert response.status_code == 200, response.text
    return response.json()


def number_answer(world: World, persona: str, which: str, today: dt.date) -> dict[str, Any]:
    body = patient_numbers(world, persona, which)
    response = make_client(world, today=today).post("/v1/confirmations/number", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize(
    ("persona", "share"),
    [("elderly-70-active", "030"), ("elderly-70-2wari", "010"), ("turning-75", "010")],
)
def test_on_the_75th_birthday_the_patient_moves_to_koki(
    world: World, persona: str, share: str
) -> None:
    turning = late_elderly_from(dt.date.fromisoformat(world.persona(persona)["birth_date"]))
    before = card_answer(world, persona, turning - dt.timedelta(days=1))
    (entry,) = before["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
    assert (
        not entry["InsurerNumber"].startswith("39") and "ElderlyRecipientCertificateInfo" in entry
    )
    # the case: elderly-70-active at --today 2028-11-26 (born 1953-11-2x)
    later = [dt.date(2028, 11, 26)] if persona == "elderly-70-active" else []
    for day in [turning, *later]:
        after = QualificationResult.parse(card_answer(world, persona, day))
        assert after.confirmed, day
        (entry_after,) = after.entries
        assert (entry_after.insurer_number or "").startswith("39")
        assert entry_after.insured_partial_contribution_ratio == share  # 現役並み stays 3割
        assert entry_after.qualification_date == turning.strftime("%Y%m%d")
    # the old insurer's numbers: lost on the birthday (事由 03), a newer qualification exists
    old = number_answer(world, persona, "current", turning)["MessageBody"]
    assert old["QualificationValidity"] == "3"
    (lost,) = old["ResultList"]["ResultOfQualificationConfirmation"]
    assert lost["DisqualificationDate"] == turning.strftime("%Y%m%d")
    assert lost["ReasonOfLoss"] == "03" and "InsuredPartialContributionRatio" not in lost


def test_a_reissued_card_confirms_the_same_person_and_the_old_one_is_revoked(
    world: World,
) -> None:
    entry = world.persona("reissued")
    new = QualificationResult.parse(card_answer(world, "reissued", WORLD_TODAY))
    assert new.confirmed and new.entries[0].name == entry["name"].replace(" ", "\u3000")
    old = card_answer(world, "reissued", WORLD_TODAY, card=entry["previous_card"])
    assert old["MessageBody"]["ProcessingResultCode"] == "MOCK-R001"  # 失効


def test_certificates_of_special_personas_end_on_the_holders_birthday(world: World) -> None:
    for persona in ("cert-grace", "cert-lapsed", "cert-renewal-due"):
        entry = world.persona(persona)
        cert = load_profile(world.directory / entry["card"]).certificate()
        ends = cert.not_valid_after_utc.date()
        birth = dt.date.fromisoformat(entry["birth_date"])
        assert (ends.month, ends.day) == (birth.month, birth.day), persona


def test_a_kakuninsho_is_accepted_until_its_expiry_then_refused(
    world: World, tmp_path: Any
) -> None:
    entry = world.persona("kakunin-expiring")
    numbers = entry["numbers"]
    query = NumberQuery(
        insurer_number=numbers["current_insurer_number"],
        symbol=numbers["current_symbol"],
        number=numbers["current_number"],
        branch=numbers["current_branch"],
        birth_date=dt.date.fromisoformat(entry["birth_date"]),
    )
    store = Store(tmp_path / "reception.sqlite")

    async def ask(today: dt.date) -> Any:
        from mock_oqs.app import ServiceSettings, create_app

        app = create_app(ServiceSettings(world=world.directory, today=today))
        transport = httpx.ASGITransport(app=with_client_cert(app, world.terminal_cert.read_text()))
        async with OqsClient(OqsSettings(), transport=transport) as client:
            return await confirm_by_number(client, store, query)

    valid = asyncio.run(ask(WORLD_TODAY))
    assert valid.accepted and valid.result.entries[0].insured_card_expiration_date
    # a new reception by number: confirmed by the 資格確認書 (issue 22 §2)
    assert store.reception(valid.reception_id).status is ReceptionStatus.CONFIRMED_CERTIFICATE
    expired = asyncio.run(ask(WORLD_TODAY + dt.timedelta(days=31)))
    assert expired.result.confirmed  # the qualification still holds …
    assert not expired.accepted and "有効期限切れ" in expired.verdict  # … the document does not
    assert store.reception(expired.reception_id).status is ReceptionStatus.FALLBACK
    assert any("資格確認書の有効期限切れ" in n for n in expired.result.notices)
