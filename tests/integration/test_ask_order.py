"""The order a check-in asks in (issue 22 §3): the service says whether the card can be
confirmed right after identity, so a card it refuses is never asked for consents or the
prescription's form, and goes to the desk; a card it accepts is asked, and its result
carries what the patient chose. The two steps are bound by a single-use token; the
nonce stays single use across them (design.md §6.5)."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinOutcome, CheckinRequest, FixedInteraction, check_in
from reception.cli import main
from reception.flow import ConsentsGiven, CounterRules, Method, Prescription, Route, State
from reception.questions import ChoosePrescription, GiveConsents, Question, YesNo, YesNoKind
from reception.reasons import FallbackReason
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import confirm, in_process, make_client, nonce, pin_body
from tests.support.stack import mock_oqs_serving

CHOSEN = ConsentsGiven(medication=True, checkup=False, operation=True)


class Recording(FixedInteraction):
    """The headless answers, and which questions were asked, in order; with the calls to
    the service in the same list (``events``), to see which came first."""

    def __init__(self, request: CheckinRequest) -> None:
        super().__init__(request)
        self.asked: list[Question[Any]] = []
        self.events: list[str] = []

    async def ask(self, question: Any) -> Any:
        self.asked.append(question)
        self.events.append(type(question).__name__)
        return await super().ask(question)

    def kinds(self) -> list[type[Any]]:
        return [type(q) for q in self.asked]


def _check(
    world: World,
    store: Store,
    persona: str,
    *,
    register: bool = False,
    route: Route = Route.READER,
    method: Method = Method.PIN,
) -> tuple[CheckinOutcome, Recording]:
    request = CheckinRequest(
        method,
        pin_source=pin_of(world, persona),
        consents=CHOSEN,
        prescription=Prescription.ELECTRONIC,
        register=register,
        route=route,
    )
    recording = Recording(request)

    async def go() -> CheckinOutcome:
        async with in_process(world) as client:
            client.on_exchange = lambda _, path, *__: recording.events.append(path)
            return await check_in(
                LoopbackTransport(card_of(world, persona)),
                client,
                store,
                terminal_of(world),
                request,
                interaction=recording,
                rules=CounterRules(electronic_prescriptions=True),
            )

    return asyncio.run(go()), recording


@pytest.mark.parametrize(
    ("persona", "reason"),
    [
        ("cert-lapsed", FallbackReason.CERTIFICATE_LAPSED),
        ("revoked", FallbackReason.CERTIFICATE_REVOKED),
    ],
)
def test_a_refused_card_is_never_asked_for_consents(
    world: World, tmp_path: Path, persona: str, reason: FallbackReason
) -> None:
    outcome, recording = _check(world, Store(tmp_path / "r.sqlite"), persona)
    assert outcome.state is State.FALLBACK and outcome.flow.fallback_reason is reason
    assert GiveConsents not in recording.kinds()
    assert ChoosePrescription not in recording.kinds()


def test_a_certificate_in_its_grace_period_is_not_asked_for_records_it_cannot_share(
    world: World, tmp_path: Path
) -> None:
    """The service shares the qualification only in the grace period: no consent
    question (it would ask what cannot apply); the prescription's form still is."""
    outcome, recording = _check(world, Store(tmp_path / "r.sqlite"), "cert-grace")
    assert outcome.state is State.CONFIRMED
    assert GiveConsents not in recording.kinds()
    assert ChoosePrescription in recording.kinds()
    assert outcome.flow.result is not None
    assert "certificate-grace" in outcome.flow.result.notice_codes()


def test_declining_registration_is_asked_before_consents_and_none_follow(
    own_world: World, tmp_path: Path
) -> None:
    outcome, recording = _check(own_world, Store(tmp_path / "r.sqlite"), "not-registered")
    assert outcome.state is State.FALLBACK
    assert outcome.flow.fallback_reason is FallbackReason.NOT_REGISTERED
    registration = [q for q in recording.asked if isinstance(q, YesNo)]
    assert [q.kind for q in registration] == [YesNoKind.REGISTER]
    assert GiveConsents not in recording.kinds()
    assert ChoosePrescription not in recording.kinds()


def test_registering_comes_first_then_the_consents_then_the_result(
    own_world: World, tmp_path: Path
) -> None:
    outcome, recording = _check(
        own_world, Store(tmp_path / "r.sqlite"), "not-registered", register=True
    )
    assert outcome.state is State.CONFIRMED and outcome.flow.registering
    kinds = recording.kinds()
    assert kinds.index(YesNo) < kinds.index(GiveConsents) < kinds.index(ChoosePrescription)
    entry = outcome.flow.result.entries[0] if outcome.flow.result else None
    assert entry is not None and entry.pharmacists_info_cons_flg == "1"


def test_a_valid_card_is_asked_and_its_result_carries_the_choice(
    world: World, tmp_path: Path
) -> None:
    store = Store(tmp_path / "r.sqlite")
    outcome, recording = _check(world, store, "adult-kyokai")
    assert outcome.state is State.CONFIRMED
    assert GiveConsents in recording.kinds() and ChoosePrescription in recording.kinds()
    # the service said the card can be confirmed before the patient was asked
    events = recording.events
    assert events.index("/v1/confirmations/card") < events.index("GiveConsents"), events
    assert events[-1] == "/v1/confirmations/card/consents", events
    stored = store.results_of(outcome.reception_id)
    assert stored, "the result is kept with the reception"
    entry = stored[-1].entries[0]
    # what the patient chose: 診療・薬剤 and 手術 yes, 健診 no; 電子処方箋
    assert entry.pharmacists_info_cons_flg == "1"
    assert entry.operation_info_cons_flg == "1"
    assert entry.specific_health_checkups_info_cons_flg == "0"
    assert entry.prescription_issue_select == "1"


def test_the_counter_route_still_asks_consents_first(world: World, tmp_path: Path) -> None:
    outcome, recording = _check(
        world, Store(tmp_path / "r.sqlite"), "adult-kyokai", route=Route.COUNTER
    )
    assert outcome.state is State.CONFIRMED
    assert recording.kinds()[0] is GiveConsents  # before the method, the PIN and the service
    # 電子/紙 only once the service said this card can be confirmed
    events = recording.events
    assert events.index("/v1/confirmations/card") < events.index("ChoosePrescription"), events


def test_a_lapsed_card_on_the_counter_route_is_asked_nothing_after_identity(
    world: World, tmp_path: Path
) -> None:
    outcome, recording = _check(
        world, Store(tmp_path / "r.sqlite"), "cert-lapsed", route=Route.COUNTER
    )
    assert outcome.state is State.FALLBACK
    assert ChoosePrescription not in recording.kinds()


def test_the_first_step_says_the_route(own_world: World, tmp_path: Path) -> None:
    """The proof travels with its route: on the 居宅同意取得型 route a 未登録 card is never
    offered registration by the service either (design.md §6.9)."""
    outcome, recording = _check(
        own_world, Store(tmp_path / "r.sqlite"), "not-registered", route=Route.COUNTER
    )
    assert outcome.state is State.FALLBACK
    assert outcome.flow.result is not None and outcome.flow.result.registration_offer is None
    assert YesNo not in recording.kinds()


def test_two_steps_keep_the_nonce_single_use_and_the_token_too(own_world: World) -> None:
    with make_client(own_world) as client:
        body = pin_body(own_world, "adult-kyokai", nonce(client))
        first = confirm(client, {**body, "consents_later": True})
        assert first.status_code == 200, first.text
        offer = first.json()["ConsentOffer"]
        # the nonce was spent by the first step: neither step can use it again
        replay = confirm(client, {**body, "consents_later": True})
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "MOCK-E002"
        replay = confirm(client, body)
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "MOCK-E002"
        # consents do not travel with the first step
        early = confirm(
            client,
            {
                **pin_body(own_world, "adult-kyokai", nonce(client)),
                "consents_later": True,
                "consents": {"medication": True},
            },
        )
        assert early.status_code == 422
        second = client.post(
            "/v1/confirmations/card/consents",
            json={"token": offer["token"], "consents": {"medication": True, "limit": True}},
        )
        assert second.status_code == 200, second.text
        result = second.json()
        assert "ConsentOffer" not in result
        entry = result["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
        assert entry["PharmacistsInfoConsFlg"] == "1"
        # the token is single use
        again = client.post(
            "/v1/confirmations/card/consents", json={"token": offer["token"], "consents": {}}
        )
        assert again.status_code == 409 and again.json()["error"]["code"] == "MOCK-E015"


def test_a_lapsed_card_gets_no_consent_offer(world: World) -> None:
    with make_client(world) as client:
        body = pin_body(world, "cert-lapsed", nonce(client))
        answer = confirm(client, {**body, "consents_later": True}).json()
        assert answer["MessageBody"]["ProcessingResultCode"] == "MOCK-R002"
        assert "ConsentOffer" not in answer


def test_the_grace_period_reads_one_line_at_the_command_line(
    own_world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`reception checkin` printed the service's message and, below it, the notice that
    restates it in staff words: two lines alike. One now, the staff's."""
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    pin = own_world.persona("cert-grace")["pin"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{pin}\n"))
    args = ["checkin", "--world", str(own_world.directory), "--persona", "cert-grace"]
    args += ["--transport", "loopback", "--method", "pin", "--pin-stdin", "--consent", "all"]
    with mock_oqs_serving(own_world) as (_, url):
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    about = [line for line in out.splitlines() if "電子証明書" in line]
    assert len(about) == 1 and "猶予期間中" in about[0], out
