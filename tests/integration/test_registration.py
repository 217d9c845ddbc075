"""保険証利用登録 at the reader (issue 14 §2): a card without it is offered registration
once its holder is proven; the service registers it at once and the check-in goes on.

Every test that registers uses a private copy of the world (``own_world``): the session's
world keeps its 未登録 persona."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.pki import FacilityCa
from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinRequest, check_in
from reception.cli import main
from reception.flow import Method, State
from reception.reasons import FallbackReason
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import (
    _SyncOverAsync,
    confirm,
    in_process,
    make_client,
    nonce,
    pin_body,
    with_client_cert,
)
from tests.support.stack import WORLD_TODAY, mock_oqs_serving

BIN = Path(sys.executable).parent


def test_a_proven_holder_of_an_unregistered_card_gets_an_offer(own_world: World) -> None:
    with make_client(own_world) as client:
        answer = confirm(client, pin_body(own_world, "not-registered", nonce(client)))
        body = answer.json()
        assert body["MessageBody"]["ProcessingResultCode"] == "MOCK-R003"
        offer = body["RegistrationOffer"]
        assert len(offer["token"]) == 32 and offer["expires_at"]
        # the offer travels beside the message, never inside XmlMsg
        xml = confirm(
            client,
            pin_body(own_world, "not-registered", nonce(client)),
            headers={"accept": "application/xml"},
        ).text
        assert "R003" in xml and "RegistrationOffer" not in xml and "token" not in xml

        registered = client.post("/v1/registrations", json={"token": offer["token"]})
        assert registered.status_code == 200, registered.text
        result = registered.json()
        assert result["MessageBody"]["QualificationValidity"] == "1"
        assert "RegistrationOffer" not in result
        # single use
        again = client.post("/v1/registrations", json={"token": offer["token"]})
        assert again.status_code == 409 and again.json()["error"]["code"] == "MOCK-E015"
        # from now on the card confirms directly
        later = confirm(client, pin_body(own_world, "not-registered", nonce(client))).json()
        assert later["MessageBody"]["QualificationValidity"] == "1"
        assert "RegistrationOffer" not in later


def test_no_offer_for_a_revoked_or_lapsed_card_and_garbage_tokens_refused(
    own_world: World,
) -> None:
    with make_client(own_world) as client:
        for persona, code in (("revoked", "MOCK-R001"), ("cert-lapsed", "MOCK-R002")):
            body = confirm(client, pin_body(own_world, persona, nonce(client))).json()
            assert body["MessageBody"]["ProcessingResultCode"] == code
            assert "RegistrationOffer" not in body
        for token, status in (("0" * 32, 409), ("not hex", 422), ("", 422)):
            answer = client.post("/v1/registrations", json={"token": token})
            assert answer.status_code == status, answer.text
        assert client.post("/v1/registrations", json={}).status_code == 422


def test_an_offer_is_for_the_facility_it_was_made_for(own_world: World) -> None:
    with make_client(own_world) as client:
        token = confirm(client, pin_body(own_world, "not-registered", nonce(client))).json()[
            "RegistrationOffer"
        ]["token"]
    # another clinic's terminal (the same service state): the offer is not theirs
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    other = FacilityCa.generate(None, not_before=start).issue_terminal(
        None, not_before=start, institution_code="1399999999"
    )
    app = create_app(ServiceSettings(world=own_world.directory, today=WORLD_TODAY))
    pem = other.certificate.public_bytes(Encoding.PEM).decode()
    with _SyncOverAsync(httpx.ASGITransport(app=with_client_cert(app, pem))) as stranger:
        answer = stranger.post("/v1/registrations", json={"token": token})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "MOCK-E015"
    with make_client(own_world) as client:  # still the first clinic's to use
        assert client.post("/v1/registrations", json={"token": token}).status_code == 200


def check(world: World, store: Store, register: bool) -> tuple[State, str | None, bool]:
    async def go() -> tuple[State, str | None, bool]:
        async with in_process(world) as client:
            outcome = await check_in(
                _loopback(world),
                client,
                store,
                terminal_of(world),
                CheckinRequest(
                    Method.PIN, pin_source=pin_of(world, "not-registered"), register=register
                ),
            )
        reason = outcome.flow.fallback_reason
        return outcome.state, reason.value if reason else None, outcome.flow.registering

    return asyncio.run(go())


def _loopback(world: World) -> LoopbackTransport:
    return LoopbackTransport(card_of(world, "not-registered"))


def test_declining_goes_to_the_ladder_and_agreeing_confirms(
    own_world: World, tmp_path: Path
) -> None:
    store = Store(tmp_path / "reception.sqlite")
    state, reason, registering = check(own_world, store, register=False)
    assert state is State.FALLBACK and reason == FallbackReason.NOT_REGISTERED.value
    assert not registering
    state, reason, registering = check(own_world, store, register=True)
    assert state is State.CONFIRMED and reason is None and registering
    audit = [row["action"] for row in store.audit_trail()]
    assert audit.count("registration") == 1
    # registered now: no offer any more, the card confirms directly
    state, _, registering = check(own_world, store, register=False)
    assert state is State.CONFIRMED and not registering


@pytest.mark.usefixtures("pcscd")
def test_register_from_the_command_line_over_pcscd(
    own_world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    pin = own_world.persona("not-registered")["pin"]

    def checkin(*extra: str) -> tuple[int, dict[str, object], str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{pin}\n"))
        args = [
            "checkin",
            "--world",
            str(own_world.directory),
            "--persona",
            "not-registered",
            "--transport",
            "pcsc",
            "--slot",
            "1",
            "--method",
            "pin",
            "--pin-stdin",
            *extra,
        ]
        code = main(args)
        out, err = capsys.readouterr()
        return code, json.loads(out) if out.startswith("{") else {}, out + err

    with mock_oqs_serving(own_world) as (_, url):
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        code, data, _ = checkin("--json")
        assert code == 9 and data["fallback_reason"] == "not-registered"
        assert data["registered"] is False
        code, _, text = checkin("--register")
        assert code == 0, text
        assert "保険証利用登録をしました" in text
        code, data, _ = checkin("--json")
        assert code == 0 and data["outcome"] == "confirmed" and data["registered"] is False
    # the trainer's reset: the persona is 未登録 again
    out = subprocess.run(
        [
            str(BIN / "mock-oqs"),
            "unregister",
            "--world",
            str(own_world.directory),
            "not-registered",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "undone for 1 card" in out
    with make_client(own_world) as client:
        body = confirm(client, pin_body(own_world, "not-registered", nonce(client))).json()
        assert body["MessageBody"]["ProcessingResultCode"] == "MOCK-R003"
