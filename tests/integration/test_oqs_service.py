"""The mock service in process (httpx.ASGITransport), driven by the virtual cards.

The TLS layer is stood in for by a wrapper that puts the terminal's verified
certificate into the ASGI scope, as the real server does after the handshake.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.world import World, persona_ids
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import Variant, new_profile
from tests.support.oqs import (
    _SyncOverAsync,
    b64,
    card_of,
    confirm,
    face_body,
    make_client,
    nonce,
    patient_numbers,
    pin_body,
    with_client_cert,
)
from tests.support.stack import WORLD_TODAY

UTC = dt.UTC
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@pytest.fixture(scope="module")
def client(world: World) -> httpx.Client:
    return make_client(world)


REASON_CODES = {
    "certificate-lapsed": "MOCK-R002",
    "certificate-revoked": "MOCK-R001",
    "not-registered": "MOCK-R003",
}


@pytest.mark.parametrize("persona", persona_ids(WORLD_TODAY))
def test_every_persona_gives_its_promised_outcome(
    world: World, client: httpx.Client, persona: str
) -> None:
    expect = world.persona(persona)["expect"]
    value = nonce(client)
    if "pin" in expect["methods"]:
        body = pin_body(world, persona, value)
    else:
        body = face_body(world, persona, value)
    body["consents"] = {"limit": True}  # today's reader flow: 限度額 without a question
    response = confirm(client, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    result = answer["MessageBody"]
    entries = result["ResultList"]["ResultOfQualificationConfirmation"]
    reason = expect["reason"]
    if reason in REASON_CODES:
        assert result["ProcessingResultStatus"] == "2"
        assert result["ProcessingResultCode"] == REASON_CODES[reason]
        return
    assert result["QualificationValidity"] == expect["validity"]
    confirmed = (
        result["ProcessingResultStatus"] == "1"
        and result["QualificationValidity"] == "1"
        and len(entries) == 1
    )  # the client's rule (oqs.md §2)
    assert confirmed == (expect["outcome"] == "confirmed")
    if confirmed:
        assert share(entries[0]) == expect["ratio"]
        assert set(expect["notices"]) <= set(answer["MockNotices"])
        assert response.headers["X-Mock-Notices"] == ",".join(answer["MockNotices"])
        assert "MockNotices" not in result  # beside the message, never in it


def share(entry: dict[str, Any]) -> str:
    """負担割合 as a client reads it: stated for 後期, in the 高齢受給者 information for
    70–74, and otherwise 2割 for 未就学 and 3割 (oqs.md §2); 医療扶助 none (the 医療券's)."""
    if entry["InsuredCardClassification"] == "A1":
        assert "InsuredPartialContributionRatio" not in entry
        return "000"
    if "InsuredPartialContributionRatio" in entry:
        assert entry["InsurerNumber"].startswith("39")  # 後期高齢者医療 only
        return str(entry["InsuredPartialContributionRatio"])
    if "ElderlyRecipientCertificateInfo" in entry:
        return str(entry["ElderlyRecipientCertificateInfo"]["ElderlyRecipientContributionRatio"])
    return "020" if entry.get("PreschoolClassification") == "1" else "030"


def test_certificate_grace_gives_qualification_only(world: World, client: httpx.Client) -> None:
    body = pin_body(world, "cert-grace", nonce(client), medication=True, checkup=True)
    result = confirm(client, body).json()["MessageBody"]
    entry = result["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert "ReferenceNumber" not in entry and entry["PharmacistsInfoConsFlg"] == "0"
    assert entry["SpecificHealthCheckupsInfoConsFlg"] == "0"
    assert "更新" in result["ProcessingResultMessage"]


def test_nonce_is_single_use(world: World, client: httpx.Client) -> None:
    body = pin_body(world, "adult-kyokai", nonce(client))
    assert confirm(client, body).status_code == 200
    replay = confirm(client, body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "MOCK-E002"


def test_unknown_and_expired_nonces(world: World) -> None:
    client = make_client(world)
    body = pin_body(world, "adult-kyokai", "0" * 32)
    assert confirm(client, body).json()["error"]["code"] == "MOCK-E002"
    app = create_app(
        ServiceSettings(world=world.directory, today=WORLD_TODAY, nonce_ttl_seconds=-1)
    )
    pem = (world.terminal_cert).read_text()
    expired = _SyncOverAsync(httpx.ASGITransport(app=with_client_cert(app, pem)))
    body = pin_body(world, "adult-kyokai", nonce(expired))
    response = confirm(expired, body)
    assert response.status_code == 409 and "expired" in response.json()["error"]["message"]


def test_signature_over_another_nonce_is_refused(world: World, client: httpx.Client) -> None:
    body = pin_body(world, "adult-kyokai", nonce(client))
    body["nonce"] = nonce(client)
    response = confirm(client, body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "MOCK-E003"


def test_certificate_from_another_ca_is_refused(world: World, client: httpx.Client) -> None:
    profile, _ = new_profile(pin="1234", seed=999)
    jpki = JpkiClient(CardChannel(LoopbackTransport(VirtualCard(profile))))
    value = nonce(client)
    auth = jpki.authenticate(Pin("1234"), bytes.fromhex(value))
    body = {
        "certificate": b64(auth.certificate_der),
        "method": "pin",
        "nonce": value,
        "signature": b64(auth.signature),
    }
    response = confirm(client, body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "MOCK-E004"
    assert "mock JPKI CA" in response.json()["error"]["message"]


def test_face_and_visual_statements(world: World, client: httpx.Client) -> None:
    for method in ("face", "visual"):
        ok = confirm(client, face_body(world, "pin-blocked", nonce(client), method=method))
        assert ok.status_code == 200 and ok.json()["MessageBody"]["QualificationValidity"] == "1"
    stranger = ec.generate_private_key(ec.SECP256R1())
    cases = [
        face_body(world, "face-only", nonce(client), key=stranger),
        face_body(
            world, "face-only", nonce(client), checked_at=dt.datetime(2020, 1, 1, tzinfo=UTC)
        ),
        face_body(world, "face-only", nonce(client), statement_nonce="f" * 32),
    ]
    for body in cases:
        response = confirm(client, body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "MOCK-E005"
    body = face_body(world, "face-only", nonce(client))
    del body["statement_signature"]
    assert confirm(client, body).json()["error"]["code"] == "MOCK-E005"


def test_no_client_certificate(world: World) -> None:
    bare = make_client(world, cert=False)
    assert bare.get("/health").json() == {"status": "ok"}
    response = bare.post("/v1/nonces")
    assert response.status_code == 401 and response.json()["error"]["code"] == "MOCK-E001"


def test_by_number(world: World, client: httpx.Client) -> None:
    def ask(persona: str, which: str = "current", **over: str) -> httpx.Response:
        body: dict[str, Any] = patient_numbers(world, persona, which) | {"limit_consent": True}
        body.update(over)
        return client.post("/v1/confirmations/number", json=body)

    ok = ask("adult-kyokai").json()
    assert ok["MessageBody"]["QualificationValidity"] == "1"
    assert ok["MessageHeader"]["ReferenceClassification"] == "2"
    search = ok["MessageBody"]["QualificationConfirmSearchInfo"]
    assert search["LimitApplicationCertificateRelatedConsFlg"] == "1"
    assert ask("lost-newer", "old").json()["MessageBody"]["QualificationValidity"] == "3"
    assert ask("lost-newer").json()["MessageBody"]["QualificationValidity"] == "1"
    assert ask("lost").json()["MessageBody"]["QualificationValidity"] == "2"
    assert ask("adult-kyokai", number="999").json()["MessageBody"]["QualificationValidity"] == "4"
    wrong_birth = ask("adult-kyokai", birth_date="19000101").json()
    assert wrong_birth["MessageBody"]["QualificationValidity"] == "4"
    limit = ask("limit-u").json()["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
    info = limit[0]["LimitApplicationCertificateRelatedInfo"]
    assert info["LimitApplicationCertificateClassificationFlag"] == "A03"
    bad = ask("adult-kyokai", insurer_number="01130019")
    assert bad.status_code == 422 and "check digit" in bad.json()["error"]["message"]
    bad = ask("adult-kyokai", birth_date="20261399")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "MOCK-E006"


def test_time_lag(world: World) -> None:
    later = make_client(world, today=WORLD_TODAY + dt.timedelta(days=6))
    body = pin_body(world, "new-employee", nonce(later))
    assert confirm(later, body).json()["MessageBody"]["QualificationValidity"] == "1"


def test_xml_result(world: World, client: httpx.Client) -> None:
    body = pin_body(world, "kokuho", nonce(client))
    response = confirm(client, body, headers={"Accept": "application/xml"})
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own service's output
    assert root.tag == "XmlMsg"
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert root.findtext("MessageBody/QualificationValidity") == "1"
    number = root.findtext("MessageBody/ResultList/ResultOfQualificationConfirmation/InsurerNumber")
    assert number is not None and len(number) == 8 and number.startswith("  ")


@pytest.fixture
def fresh(world: World, tmp_path: Path) -> World:
    """The world without the service's state: no consents or 照会番号 of other tests."""
    shutil.copytree(world.directory, tmp_path / "w")
    (tmp_path / "w" / "service-state.sqlite").unlink(missing_ok=True)
    return World.load(tmp_path / "w")


def test_consent_gated_records(fresh: World) -> None:
    """The consent at this facility is the key to the records (oqs.md §5, §7)."""
    client = make_client(fresh)
    who = patient_numbers(fresh, "adult-kyokai")
    before = client.post("/v1/records/medications", json=who)
    assert before.status_code == 403 and before.json()["error"]["code"] == "MOCK-E008"
    body = pin_body(fresh, "adult-kyokai", nonce(client), medication=True)
    entry = confirm(client, body).json()["MessageBody"]["ResultList"][
        "ResultOfQualificationConfirmation"
    ][0]
    assert entry["PharmacistsInfoConsFlg"] == "1"
    assert entry["SpecificHealthCheckupsInfoConsFlg"] == "0"
    assert "ReferenceNumber" not in entry  # no 照会番号 registered: none made up
    meds = client.post("/v1/records/medications", json=who)
    assert meds.status_code == 200
    rows = meds.json()["medications"]
    # the staff console's fields, and what the folder interface's 薬剤情報 files carry beyond
    assert rows and set(rows[0]) == {"dispensed_on", "institution", "drug", "dose", "days"} | {
        "institution_code",
        "prescribed_by",
        "prescriber_code",
        "drug_code",
        "ingredient",
        "quantity",
        "unit",
        "usage",
        "source",
    }
    assert meds.json()["patient"]["birth_date"] == who["birth_date"]  # the patient they are of
    assert [r["dispensed_on"] for r in rows] == sorted(
        (r["dispensed_on"] for r in rows), reverse=True
    )
    # 診療情報 comes with the same consent (診療情報・薬剤情報); 手術 and 健診 have their own
    assert client.post("/v1/records/diagnoses", json=who).status_code == 200
    for kind in ("checkups", "operations"):
        refused = client.post(f"/v1/records/{kind}", json=who)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "MOCK-E008"
    nobody = client.post("/v1/records/medications", json=who | {"number": "999"})
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "MOCK-E007"
    assert client.post("/v1/records/prescriptions", json=who).status_code == 422


def test_records_fit_each_persona_and_the_window_the_service_shows(fresh: World) -> None:
    """Long histories, none at all, 特定健診 for 40–74 only; 薬剤情報 reach back 3 years and
    the others 5 — older entries exist in the registry and are not shown."""
    client = make_client(fresh)
    today = WORLD_TODAY

    def records(persona: str, kind: str) -> list[dict[str, object]]:
        body = pin_body(
            fresh, persona, nonce(client), medication=True, checkup=True, operation=True
        )
        assert confirm(client, body).status_code == 200
        answer = client.post(f"/v1/records/{kind}", json=patient_numbers(fresh, persona))
        assert answer.status_code == 200, answer.text
        found: list[dict[str, object]] = answer.json()[kind]
        return found

    def oldest(rows: list[dict[str, object]], field: str) -> dt.date:
        return min(dt.date.fromisoformat(str(r[field])) for r in rows)

    meds = records("dialysis", "medications")
    assert len(meds) > 50  # a long history …
    assert oldest(meds, "dispensed_on") >= today - dt.timedelta(days=3 * 365)  # … cut at 3 years
    diagnoses = records("dialysis", "diagnoses")
    assert oldest(diagnoses, "treated_on") >= today - dt.timedelta(days=5 * 365)
    assert oldest(diagnoses, "treated_on") < today - dt.timedelta(days=4 * 365)
    assert any("透析" in str(d["treatment"]) for d in diagnoses)
    assert any("シャント" in str(o["operation"]) for o in records("dialysis", "operations"))
    assert records("late-elderly-2wari", "operations") == []  # its operation is 6 years old
    checkups = records("kokuho", "checkups")  # 52: a 特定健診 every year
    assert {c["item"] for c in checkups} >= {"HbA1c", "LDLコレステロール", "収縮期血圧"}
    assert all(c["unit"] and c["reference"] for c in checkups)
    for persona in ("android", "cert-renewal-due"):  # nobody has seen a doctor
        for kind in ("medications", "diagnoses", "operations", "checkups"):
            assert records(persona, kind) == [], (persona, kind)
    assert records("child-preschool", "checkups") == []  # 特定健診: ages 40–74
    assert records("child-preschool", "medications")  # but the paediatrician's
    assert records("late-elderly-1wari", "checkups") == []  # 75 and over


def test_consent_records_last_24_hours(fresh: World, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(fresh)
    body = pin_body(fresh, "adult-kyokai", nonce(client), checkup=True, limit=True)
    assert confirm(client, body).status_code == 200
    who = patient_numbers(fresh, "adult-kyokai")
    assert client.post("/v1/records/checkups", json=who).status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 24 * 3600 - 60)
    assert client.post("/v1/records/checkups", json=who).status_code == 200
    monkeypatch.setattr(time, "time", lambda: real_time() + 24 * 3600 + 60)
    expired = client.post("/v1/records/checkups", json=who)
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "MOCK-E016"


def test_reference_number_is_the_clinics_own_patient_id(fresh: World) -> None:
    """照会番号 (oqs.md §2, §7): registered by the clinic against a qualification, then
    carried by later results of that person at that facility — card and number alike."""
    client = make_client(fresh)
    who = patient_numbers(fresh, "adult-kyokai")
    registered = client.post("/v1/reference-numbers", json=who | {"reference_number": "診-000123"})
    assert registered.status_code == 200, registered.text
    # the outcome as the clinic's result file carries it: the registration, status 1
    assert registered.json() == {
        "ReferenceNumberRegistrationInfo": {
            "InsurerNumber": who["insurer_number"].rjust(8),
            "InsuredIdentificationNumber": who["number"],
            "ReferenceNumber": "診-000123",
            "InsuredCardSymbol": who["symbol"],
            "InsuredBranchNumber": who["branch"],
        },
        "ProcessingResultStatus": "1",
    }
    body = pin_body(fresh, "adult-kyokai", nonce(client))
    card = confirm(client, body).json()["MessageBody"]["ResultList"]
    assert card["ResultOfQualificationConfirmation"][0]["ReferenceNumber"] == "診-000123"
    by_number = client.post("/v1/confirmations/number", json=who).json()["MessageBody"]
    entry = by_number["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert entry["ReferenceNumber"] == "診-000123"
    other = pin_body(fresh, "family", nonce(client))
    family = confirm(client, other).json()["MessageBody"]["ResultList"]
    assert "ReferenceNumber" not in family["ResultOfQualificationConfirmation"][0]
    # registering again replaces it
    client.post("/v1/reference-numbers", json=who | {"reference_number": "A-9"})
    again = client.post("/v1/confirmations/number", json=who).json()["MessageBody"]
    assert again["ResultList"]["ResultOfQualificationConfirmation"][0]["ReferenceNumber"] == "A-9"


@pytest.mark.parametrize("number", ["x" * 51, "", " 12", "12\x1b[2J"])
def test_reference_number_refusals(fresh: World, number: str) -> None:
    client = make_client(fresh)
    who = patient_numbers(fresh, "adult-kyokai")
    response = client.post("/v1/reference-numbers", json=who | {"reference_number": number})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "MOCK-E006"


def test_a_reference_number_of_numbers_nobody_holds_is_not_made(fresh: World) -> None:
    """Numbers that lead to no one: answered as the result file says a registration not
    made — ProcessingResultStatus 2, a code and why — and nothing registered."""
    client = make_client(fresh)
    who = patient_numbers(fresh, "adult-kyokai") | {"number": "999"}
    response = client.post("/v1/reference-numbers", json=who | {"reference_number": "ok"})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["ProcessingResultStatus"] == "2"
    assert outcome["ProcessingResultCode"] == "MOCK-R004"
    assert "資格はありません" in outcome["ProcessingResultMessage"]
    assert outcome["ReferenceNumberRegistrationInfo"]["ReferenceNumber"] == "ok"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "certificate"),
        ({"certificate": "!!", "method": "pin", "nonce": "0" * 32}, "certificate"),
        ({"certificate": "AAAA", "method": "smell", "nonce": "0" * 32}, "method"),
        ({"certificate": "AAAA", "method": "pin", "nonce": "xyz"}, "nonce"),
        ({"certificate": "AAAA", "method": "pin", "nonce": "0" * 32, "extra": 1}, "extra"),
    ],
)
def test_malformed_requests_say_what(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = confirm(client, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "MOCK-E006" and field in error["message"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/confirmations/card", "/v1/confirmations/number", "/v1/nonces"]),
    body=st.dictionaries(
        st.sampled_from(
            [
                "certificate",
                "method",
                "nonce",
                "signature",
                "statement",
                "statement_signature",
                "consents",
                "insurer_number",
                "symbol",
                "number",
                "branch",
                "birth_date",
                "x",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_no_request_produces_a_500(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = client.post(path, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]["code"].startswith("MOCK-E")


def test_raw_garbage_bodies(client: httpx.Client) -> None:
    for raw in (b"", b"{", b"\xff\xfe", b"[1,2]", b'"x"'):
        response = client.post(
            "/v1/confirmations/card", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, raw
        assert response.json()["error"]["code"] == "MOCK-E006"


def test_variants_reach_the_service(world: World, client: httpx.Client) -> None:
    for persona in ("android", "iphone"):
        entry, _ = card_of(world, persona)
        assert entry["variant"] in (Variant.ANDROID.value, Variant.IPHONE.value)
        response = confirm(client, pin_body(world, persona, nonce(client)))
        assert response.json()["MessageBody"]["QualificationValidity"] == "1"


def test_state_file_is_beside_the_world(world: World) -> None:
    assert Path(world.directory / "service-state.sqlite").exists()
