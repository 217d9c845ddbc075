"""What a holder may agree to follows how they were proven and where the card was read
(issue 19, design.md §6.9): 保険証利用登録 rests on PIN or face at the reader — never on
目視 alone, never on the 居宅同意取得型 route; 目視 at the reader opens the consents real
readers open; that route asks for 診療・薬剤 and 特定健診 only. The service refuses the rest
on its own (MOCK-E017), and the terminal — flow, command line — never asks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.models import Method as ServiceMethod
from mock_oqs.models import Route as ServiceRoute
from mock_oqs.proofs import OPEN_AT
from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinOutcome, CheckinRequest, FixedInteraction, check_in
from reception.cli import main
from reception.flow import (
    OPEN_ITEMS,
    REGISTRATION_OPEN,
    ConsentsGiven,
    CounterRules,
    Method,
    Route,
    State,
)
from reception.questions import Question, YesNo, YesNoKind
from reception.reasons import FallbackReason
from reception.store import Store, now_jst
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import (
    client_for,
    confirm,
    face_body,
    in_process,
    make_client,
    nonce,
    pin_body,
)
from tests.support.stack import WORLD_TODAY

A = TypeVar("A")
EVERYTHING = {"medication": True, "checkup": True, "operation": True, "limit": True}


def offered(answer: Any) -> bool:
    return "RegistrationOffer" in answer.json()


# -- the service, on its own ---------------------------------------------------------------


def test_the_service_offers_registration_only_after_pin_or_face_at_the_reader(
    own_world: World,
) -> None:
    """Issue 19: the service offered 保険証利用登録 after a 目視 statement, and a terminal
    that asked registered the card on staff's word alone."""
    with make_client(own_world) as client:
        visual = confirm(
            client, face_body(own_world, "not-registered", nonce(client), method="visual")
        )
        body = visual.json()["MessageBody"]
        assert body["ProcessingResultCode"] == "MOCK-R003" and not offered(visual)
        assert "目視確認では登録できません" in body["ProcessingResultMessage"]
        counter = confirm(
            client, pin_body(own_world, "not-registered", nonce(client)) | {"route": "counter"}
        )
        assert counter.json()["MessageBody"]["ProcessingResultCode"] == "MOCK-R003"
        assert not offered(counter)
        assert "居宅同意取得型では登録できません" in counter.text
        face = confirm(client, face_body(own_world, "not-registered", nonce(client)))
        assert offered(face)
        assert offered(confirm(client, pin_body(own_world, "not-registered", nonce(client))))


def test_an_offer_kept_for_a_visual_check_is_refused(own_world: World) -> None:
    """Offers are never made after 目視 — and were one there, the service still refuses to
    register on it (its own rule, not the offer's)."""
    app = create_app(ServiceSettings(world=own_world.directory, today=WORLD_TODAY))
    with client_for(app, own_world.terminal_cert.read_text()) as client:
        pin = pin_body(own_world, "not-registered", nonce(client))
        visual = face_body(own_world, "not-registered", nonce(client), method="visual")
        fingerprint = hashlib.sha256(base64.b64decode(pin["certificate"])).hexdigest().upper()
        token = app.state.service.state.offer_registration(
            "1312345678", fingerprint, json.dumps(visual)
        )
        refused = client.post("/v1/registrations", json={"token": token})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "MOCK-E017"
        # the card is still 未登録: a PIN confirmation gets the offer
        assert offered(confirm(client, pin_body(own_world, "not-registered", nonce(client))))


def test_the_service_takes_the_consents_the_route_and_method_open(world: World) -> None:
    with make_client(world) as client:
        # 目視 at the reader: the records consents, as PIN and face
        value = nonce(client)
        visual = confirm(
            client,
            face_body(world, "family", value, method="visual") | {"consents": EVERYTHING},
        )
        entry = visual.json()["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
        assert entry["PharmacistsInfoConsFlg"] == entry["OperationInfoConsFlg"] == "1"
        # … but not the 受給者証 by card
        value = nonce(client)
        subsidies = face_body(world, "kodomo-iryo", value, method="visual") | {
            "consents": {"subsidies": True}
        }
        refused = confirm(client, subsidies)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "MOCK-E017"
        assert "subsidies" in refused.json()["error"]["message"]
        # refused before the nonce was used: the terminal can go on with it
        assert confirm(client, face_body(world, "kodomo-iryo", value, method="visual")).is_success
        # the 居宅同意取得型 route: 診療・薬剤 and 特定健診, no 手術情報, no camera
        value = nonce(client)
        counter = pin_body(world, "family", value, **EVERYTHING) | {"route": "counter"}
        refused = confirm(client, counter)
        assert refused.status_code == 403 and "operation" in refused.json()["error"]["message"]
        allowed = pin_body(world, "family", value, medication=True, checkup=True, limit=True)
        assert confirm(client, allowed | {"route": "counter"}).is_success
        face = face_body(world, "family", nonce(client)) | {"route": "counter"}
        assert confirm(client, face).json()["error"]["code"] == "MOCK-E017"


def test_the_terminal_and_the_service_open_the_same() -> None:
    for (route, method), items in OPEN_ITEMS.items():
        served = OPEN_AT[(ServiceRoute(route.value), ServiceMethod(method.value))]
        assert items == served - {"registration"}, (route, method)
        assert ((route, method) in REGISTRATION_OPEN) == ("registration" in served)
    assert len(OPEN_ITEMS) == len(OPEN_AT)


# -- the terminal: the flow and the check-in -----------------------------------------------


class Recording(FixedInteraction):
    """Headless answers that note every question asked."""

    def __init__(self, request: CheckinRequest) -> None:
        super().__init__(request)
        self.asked: list[str] = []

    async def ask(self, question: Question[A]) -> A | None:
        if isinstance(question, YesNo):
            self.asked.append(ASKED[question.kind])
        return await super().ask(question)


ASKED = {YesNoKind.REGISTER: "registration", YesNoKind.SUBSIDY: "subsidies"}


def check(
    world: World, store: Store, persona: str, request: CheckinRequest, rules: CounterRules
) -> tuple[CheckinOutcome, list[str]]:
    asking = Recording(request)

    async def go() -> CheckinOutcome:
        async with in_process(world) as client:
            return await check_in(
                LoopbackTransport(card_of(world, persona)),
                client,
                store,
                terminal_of(world),
                request,
                interaction=asking,
                rules=rules,
            )

    return asyncio.run(go()), asking.asked


def test_a_visual_check_in_never_asks_for_registration(own_world: World, tmp_path: Path) -> None:
    """Issue 19: `reception checkin --persona not-registered --method visual --register`
    reported confirmed and registered."""
    store = Store(tmp_path / "reception.sqlite")
    pilot = CounterRules(public_expense_pilot=True)
    request = CheckinRequest(Method.VISUAL, register=True, subsidies=True)
    outcome, asked = check(own_world, store, "not-registered", request, pilot)
    assert asked == []  # neither 保険証利用登録 nor the 受給者証 by card
    assert outcome.state is State.FALLBACK and not outcome.flow.registering
    assert outcome.flow.fallback_reason is FallbackReason.NOT_REGISTERED
    assert "目視確認では登録できません" in (outcome.flow.message or "")
    assert "registration" not in [row["action"] for row in store.audit_trail()]
    # the card is still 未登録 for the service
    pin = CheckinRequest(Method.PIN, pin_source=pin_of(own_world, "not-registered"))
    outcome, asked = check(own_world, store, "not-registered", pin, pilot)
    # registration right after identity; declined, nothing more is asked (issue 22 §3)
    assert asked == ["registration"] and outcome.state is State.FALLBACK


def test_the_counter_route_asks_what_it_offers(world: World, tmp_path: Path) -> None:
    store = Store(tmp_path / "reception.sqlite")
    pilot = CounterRules(public_expense_pilot=True)
    everything = ConsentsGiven(medication=True, checkup=True, operation=True)
    for method, source in ((Method.PIN, pin_of(world, "family")), (Method.VISUAL, None)):
        request = CheckinRequest(
            method,
            pin_source=source,
            route=Route.COUNTER,
            consents=everything,
            subsidies=True,
            register=True,
        )
        outcome, asked = check(world, store, "family", request, pilot)
        assert outcome.state is State.CONFIRMED and asked == []
        assert outcome.result is not None
        entry = outcome.result.entries[0]
        assert entry.pharmacists_info_cons_flg == entry.specific_health_checkups_info_cons_flg
        assert entry.pharmacists_info_cons_flg == "1" and entry.operation_info_cons_flg == "0"
    request = CheckinRequest(
        Method.PIN, pin_source=pin_of(world, "not-registered"), route=Route.COUNTER, register=True
    )
    outcome, asked = check(world, store, "not-registered", request, pilot)
    assert outcome.state is State.FALLBACK and asked == []
    assert "居宅同意取得型では登録できません" in (outcome.flow.message or "")


def test_visual_at_the_reader_opens_the_records_consents(world: World, tmp_path: Path) -> None:
    """The sources: 目視モード shows the consent screen as PIN and face do."""
    store = Store(tmp_path / "reception.sqlite")
    request = CheckinRequest(Method.VISUAL, consents=ConsentsGiven(medication=True, operation=True))
    outcome, _ = check(world, store, "adult-kyokai", request, CounterRules())
    assert outcome.state is State.CONFIRMED and outcome.result is not None
    entry = outcome.result.entries[0]
    assert entry.pharmacists_info_cons_flg == entry.operation_info_cons_flg == "1"


# -- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--method", "visual", "--register"], "目視確認では登録できません"),
        (["--method", "visual", "--subsidies"], "受給者証をカードで使えません"),
        (
            ["--method", "pin", "--route", "counter", "--register"],
            "居宅同意取得型では保険証利用登録",
        ),
        (
            ["--method", "visual", "--route", "counter", "--consent", "operation"],
            "--consent operation",
        ),
    ],
)
def test_the_command_line_refuses_what_the_proof_does_not_open(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    says: str,
) -> None:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(world.persona("not-registered")["pin"] + "\n"))
    base = ["checkin", "--world", str(world.directory), "--persona", "not-registered"]
    code = main([*base, "--transport", "loopback", "--pin-stdin", *extra])
    _, err = capsys.readouterr()
    assert code == 2 and says in err
    store = Store(tmp_path / "data" / "reception.sqlite")
    assert store.receptions_on(now_jst().date()) == []
