"""Check-ins end to end in process: every persona and method of the seeded world,
over loopback against the real app (ASGI), with the flow's failure states."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mock_oqs.world import World, persona_ids
from reader.errors import ReaderUnavailable
from reader.transport import DEFAULT_DEADLINE_SECONDS
from reader.virtual.card import VirtualCard
from reader.virtual.hostile import EndlessCard, NonsenseCard, SilentCard, T0Card
from reader.virtual.loopback import LoopbackTransport
from reception.camera import FaceScenario
from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.error_screens import NOT_MY_NUMBER_CARD
from reception.flow import (
    CARD_DEFECT_MESSAGE,
    CheckinFlow,
    ConsentFlow,
    ConsentsGiven,
    CounterRules,
    Method,
    Prescription,
    Route,
    State,
)
from reception.oqs_client import OqsClient
from reception.questions import (
    CaptureFace,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    YesNo,
    YesNoKind,
    checked,
)
from reception.reasons import FallbackReason
from reception.settings import OqsSettings
from reception.store import Store
from tests.support.checkin import card_of, expected_of, pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import WORLD_TODAY, CardLeavesAfter, SharedReader

A = TypeVar("A")

REASONS = {
    "certificate-lapsed": FallbackReason.CERTIFICATE_LAPSED,
    "certificate-revoked": FallbackReason.CERTIFICATE_REVOKED,
    "not-registered": FallbackReason.NOT_REGISTERED,
    "no-qualification": FallbackReason.NO_MATCH,
    "invalid": FallbackReason.INVALID,
    "multiple": FallbackReason.MULTIPLE,
}


def run(
    world: World,
    store: Store,
    card: VirtualCard | LoopbackTransport,
    request: CheckinRequest,
    client: OqsClient | None = None,
    *,
    deadline: float = DEFAULT_DEADLINE_SECONDS,
) -> CheckinOutcome:
    transport = card if isinstance(card, LoopbackTransport) else LoopbackTransport(card)

    async def go() -> CheckinOutcome:
        async with client or in_process(world) as oqs:
            return await check_in(
                transport, oqs, store, terminal_of(world), request, deadline=deadline
            )

    return asyncio.run(go())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


@pytest.mark.parametrize("persona", persona_ids(WORLD_TODAY))
def test_every_persona_and_method_gives_the_promised_outcome(
    world: World, store: Store, persona: str
) -> None:
    entry = world.persona(persona)
    expect = entry["expect"]
    assert expect["methods"]
    for method in expect["methods"]:
        request = CheckinRequest(
            Method(method),
            pin_source=pin_of(world, persona),
            seed=1,
            consents=ConsentsGiven(medication=True, limit=True),
        )
        outcome = run(world, store, card_of(world, persona), request)
        where = (persona, method, outcome.flow.message)
        if expect["outcome"] == "confirmed":
            assert outcome.state is State.CONFIRMED, where
            assert outcome.result is not None
            assert outcome.result.entries[0].ratio_code == expect["ratio"], where
            assert set(expect["notices"]) <= set(outcome.result.notice_codes()), where
            assert store.reception(outcome.reception_id).status == "confirmed"
        else:
            assert outcome.state is State.FALLBACK, where
            assert outcome.flow.fallback_reason is REASONS[expect["reason"]], where
            assert store.reception(outcome.reception_id).status == "fallback"


def test_the_world_has_every_persona_the_tests_name(world: World) -> None:
    assert [e["id"] for e in world.index["personas"]] == persona_ids(WORLD_TODAY)


def test_tries_are_shown_before_the_attempt_and_a_wrong_pin_is_not_resent(
    world: World, store: Store
) -> None:
    card = card_of(world, "adult-kyokai")
    shown: list[int] = []

    def wrong(tries_left: int) -> str:
        shown.append(tries_left)
        return "0000" if world.persona("adult-kyokai")["pin"] != "0000" else "1111"

    outcome = run(world, store, card, CheckinRequest(Method.PIN, pin_source=wrong))
    assert shown == [3]
    assert outcome.state is State.PIN_WRONG and outcome.flow.pin_tries_left == 2
    assert card.profile.auth_pin.tries_left == 2  # exactly one attempt reached the card
    assert "あと2回" in (outcome.flow.message or "")
    assert store.reception(outcome.reception_id).status == "error"
    # the next patient attempt sees 2 before typing, and the right PIN resets the counter
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai", shown))
    again = run(world, store, card, request)
    assert shown == [3, 2] and again.state is State.CONFIRMED
    assert card.profile.auth_pin.tries_left == 3


def test_blocked_pin_offers_face_and_visual(world: World, store: Store) -> None:
    outcome = run(
        world,
        store,
        card_of(world, "pin-blocked"),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "pin-blocked")),
    )
    assert outcome.state is State.PIN_BLOCKED
    assert outcome.flow.methods() == [Method.FACE, Method.VISUAL]


def test_face_not_matched_until_the_limit(world: World, store: Store) -> None:
    card = card_of(world, "adult-kyokai")
    outcome = run(world, store, card, CheckinRequest(Method.FACE, face=FaceScenario.OTHER, seed=2))
    assert outcome.state is State.FACE_NOT_MATCHED and outcome.flow.face_failures == 3
    assert Method.FACE not in outcome.flow.methods()
    assert outcome.flow.methods() == [Method.PIN, Method.VISUAL]
    poor = run(world, store, card, CheckinRequest(Method.FACE, face=FaceScenario.POOR, seed=2))
    assert poor.state is State.FACE_NOT_MATCHED


def test_face_only_card_has_no_pin_option(world: World, store: Store) -> None:
    outcome = run(
        world,
        store,
        card_of(world, "face-only"),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
    )
    assert outcome.state is State.ERROR and "使えません" in (outcome.flow.message or "")
    assert outcome.apdus <= 4  # identified, never asked for a PIN


def test_removal_after_every_apdu_leaves_a_clean_state(world: World, store: Store) -> None:
    full = run(
        world,
        store,
        card_of(world, "adult-kyokai"),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
    )
    assert full.state is State.CONFIRMED
    for after in range(full.apdus):
        card = card_of(world, "adult-kyokai")
        transport = CardLeavesAfter(card, after)
        request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))
        outcome = run(world, store, transport, request)
        assert outcome.state is State.CARD_REMOVED, after
        assert "取り外され" in (outcome.flow.message or "")
        assert card.profile.auth_pin.tries_left == 3, after  # no attempt was lost
        assert store.reception(outcome.reception_id).status == "error"


class VanishingReader(LoopbackTransport):
    """A reader that is unplugged after a few APDUs."""

    def __init__(self, card: VirtualCard, after: int) -> None:
        super().__init__(card)
        self.left = after

    def transmit(self, command: bytes) -> bytes:
        if self.left <= 0:
            raise ReaderUnavailable("the reader was unplugged")
        self.left -= 1
        return super().transmit(command)


def test_reader_lost_mid_flow(world: World, store: Store) -> None:
    card = card_of(world, "adult-kyokai")
    outcome = run(
        world,
        store,
        VanishingReader(card, 4),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
    )
    assert outcome.state is State.READER_LOST and "unplugged" in (outcome.detail or "")
    assert card.profile.auth_pin.tries_left == 3
    # a ladder case (oqs.md §6): pending for staff, the reason in Japanese
    reception = store.reception(outcome.reception_id)
    assert reception.status == "pending" and reception.fallback_reason == "reader-fault"
    assert "居宅同意取得型" in (reception.reason or "")


class NotJpki(LoopbackTransport):
    """A card without the JPKI application (a bank card, a broken chip): 6A82 to it."""

    def transmit(self, command: bytes) -> bytes:
        if command[:4] == bytes.fromhex("00A4040C"):
            return bytes.fromhex("6A82")
        return super().transmit(command)


def test_a_card_that_cannot_be_read_is_a_ladder_case(world: World, store: Store) -> None:
    card = card_of(world, "adult-kyokai")
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))
    outcome = run(world, store, NotJpki(card), request)
    assert outcome.state is State.CARD_UNREADABLE, outcome.detail
    reception = store.reception(outcome.reception_id)
    assert reception.status == "pending" and reception.fallback_reason == "card-defect"
    # no JPKI AP: 【002】, and staff read what the card is (issue 24), not 「読み取れません」
    assert (reception.reason or "").startswith("【002】")
    assert "マイナンバーカードではない" in (reception.reason or "")


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("kind", "method"),
    [("silent", Method.PIN), ("silent", Method.FACE), ("endless", Method.PIN)],
)
def test_a_card_that_never_ends_its_answer_is_a_card_fault_at_every_apdu(
    world: World, store: Store, kind: str, method: Method
) -> None:
    """Issue 19: a card answering 61xx for ever hung the reader side; a silent card
    blocked with no deadline. Wherever it happens, the check-in now ends as a card that
    cannot be read — pending for the ladder, the patient told so —, no PIN try is lost,
    and the next card on the same reader is confirmed."""
    persona = "adult-kyokai"
    request = CheckinRequest(method, pin_source=pin_of(world, persona))
    full = run(world, store, card_of(world, persona), request)
    assert full.state is State.CONFIRMED
    for after in range(1, full.apdus + 1):
        card = card_of(world, persona)
        hostile = SilentCard(card, after) if kind == "silent" else EndlessCard(card, after)
        transport = LoopbackTransport(hostile)
        request = CheckinRequest(method, pin_source=pin_of(world, persona))
        outcome = run(world, store, transport, request, deadline=0.3)
        assert outcome.state is State.CARD_UNREADABLE, (after, outcome.detail)
        expected = "CardUnresponsive" if kind == "silent" else "EndlessResponse"
        assert (outcome.detail or "").startswith(expected), outcome.detail
        assert outcome.flow.message == CARD_DEFECT_MESSAGE
        reception = store.reception(outcome.reception_id)
        assert reception.status == "pending" and reception.fallback_reason == "card-defect"
        assert card.profile.auth_pin.tries_left == 3, after
        transport.close()  # the patient takes the card away
        sane = run(world, store, card_of(world, persona), request)
        assert sane.state is State.CONFIRMED, after


@pytest.mark.parametrize("answer", ["6C10", "EAE9", "6F00", "6A86"])
def test_a_card_that_answers_nonsense_is_a_card_fault_at_every_apdu(
    world: World, store: Store, answer: str
) -> None:
    """Issue 19: a card answering ``6Cxx`` for ever, a status word no card sends
    (``EAE9``), or one that a genuine card never gives to our commands (``6F00``,
    ``6A86``) ended the check-in as an error of the terminal — 「中断しました」, exit 1.
    A card that answers nonsense is a defective card: pending for the ladder,
    card-defect (exit 9), wherever it happens; no PIN try is lost."""
    persona = "adult-kyokai"
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, persona))
    full = run(world, store, card_of(world, persona), request)
    assert full.state is State.CONFIRMED
    for after in range(1, full.apdus + 1):
        card = card_of(world, persona)
        transport = LoopbackTransport(NonsenseCard(card, bytes.fromhex(answer), after))
        request = CheckinRequest(Method.PIN, pin_source=pin_of(world, persona))
        outcome = run(world, store, transport, request)
        assert outcome.state is State.CARD_UNREADABLE, (after, outcome.detail)
        reception = store.reception(outcome.reception_id)
        # 6A86 to a SELECT (the JPKI AP's or its files'): taken for no JPKI AP (【002】) —
        # staff read what the card is, not 「読み取れません」; only 6A86 is (issue 24)
        no_jpki = (reception.reason or "").startswith(NOT_MY_NUMBER_CARD.number)
        assert not no_jpki or answer == "6A86", (after, reception.reason)
        said = NOT_MY_NUMBER_CARD.staff_ja if no_jpki else CARD_DEFECT_MESSAGE
        assert outcome.flow.message == said, (after, reception.reason)
        assert reception.status == "pending" and reception.fallback_reason == "card-defect"
        assert card.profile.auth_pin.tries_left == 3, after


@pytest.mark.parametrize("t0", [False, True], ids=["t1", "t0"])
@pytest.mark.parametrize("method", [Method.PIN, Method.FACE, Method.VISUAL])
def test_no_apdu_of_ours_goes_where_we_did_not_select(
    world: World, store: Store, method: Method, t0: bool
) -> None:
    """design.md §6.1 for every check-in path: another program selects the text AP before
    and between our transactions; every APDU of ours (the channel's own GET RESPONSEs on
    a T=0 card included) runs in an application we selected in the same transaction."""
    card = card_of(world, "adult-kyokai")
    reader = SharedReader(card, T0Card(card, chunk=100) if t0 else None)
    request = CheckinRequest(method, pin_source=pin_of(world, "adult-kyokai"))
    outcome = run(world, store, reader, request)
    assert outcome.state is State.CONFIRMED, outcome.detail
    assert reader.transactions >= 2
    reader.assert_clean()


def test_core_imports_neither_the_service_nor_textual() -> None:
    code = (
        "import sys, reception.cli, reception.checkin, reception.store, reception.pdf;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mock_oqs', 'textual')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class Scripted:
    """An interaction answering from lists, as a patient at the reader would."""

    def __init__(
        self,
        methods: list[Method | None],
        pins: list[str | None] | None = None,
        faces: list[FaceScenario | None] | None = None,
        consents: ConsentsGiven | None = None,
        register: bool | None = None,
    ) -> None:
        self.methods, self.pins, self.faces = list(methods), list(pins or []), list(faces or [])
        self.consents = consents or ConsentsGiven()
        self.register = register
        self.shown_tries: list[int] = []
        self.steps: list[str] = []

    async def ask(self, question: Question[A]) -> A | None:
        return checked(question, self.answer(question))

    def answer(self, question: Question[Any]) -> object:
        match question:
            case ChooseMethod():
                self.steps.append(f"choose:{question.state.value}")
                return self.methods.pop(0) if self.methods else None
            case EnterPin():
                self.shown_tries.append(question.tries_left)
                return self.pins.pop(0) if self.pins else None
            case CaptureFace():
                return self.faces.pop(0) if self.faces else None
            case ConfirmVisually():
                return "受付 山田"
            case GiveConsents():
                self.steps.append("consents")
                return self.consents
            case ChoosePrescription():
                self.steps.append("prescription")
                return Prescription.ELECTRONIC
            case YesNo(kind=YesNoKind.REGISTER):
                self.steps.append("registration")
                return self.register
            case YesNo(kind=YesNoKind.SUBSIDY):
                self.steps.append("subsidies")
                return True
        raise AssertionError(f"not scripted: {question}")

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        self.steps.append(doing)


def interactive(
    world: World,
    store: Store,
    card: VirtualCard,
    script: Scripted,
    rules: CounterRules | None = None,
) -> Any:
    async def go() -> CheckinOutcome:
        async with in_process(world) as oqs:
            return await check_in(
                LoopbackTransport(card),
                oqs,
                store,
                terminal_of(world),
                CheckinRequest(Method.PIN),
                interaction=script,
                rules=rules,
            )

    return asyncio.run(go())


def test_the_counter_rules_decide_limit_and_prescription(world: World, store: Store) -> None:
    """Today's flow: 限度額 is provided whatever the front end asked (by law since
    2024-10-07) and the 処方箋 choice is asked only where the clinic issues electronic ones;
    the pre-2024 flow honours the patient's 限度額 answer."""
    pin = world.persona("limit-u")["pin"]
    declined = ConsentsGiven(medication=True, limit=False)
    for rules, limit, prescription in (
        (CounterRules(), "1", None),
        (CounterRules(electronic_prescriptions=True), "1", "1"),
        (CounterRules(ConsentFlow.PRE_2024), "0", None),
    ):
        script = Scripted([Method.PIN], pins=[pin], consents=declined)
        outcome = interactive(world, store, card_of(world, "limit-u"), script, rules)
        entry = outcome.result.entries[0]
        assert entry.limit_application_certificate_related_cons_flg == limit, rules
        assert entry.prescription_issue_select == prescription, rules
        assert ("prescription" in script.steps) == rules.electronic_prescriptions


def test_wrong_pin_then_right_pin_at_the_reader(world: World, store: Store) -> None:
    card = card_of(world, "adult-kyokai")
    right = world.persona("adult-kyokai")["pin"]
    script = Scripted(
        [Method.PIN],
        pins=["0000" if right != "0000" else "1111", right],
        consents=ConsentsGiven(medication=True),
    )
    outcome = interactive(world, store, card, script)
    assert outcome.state is State.CONFIRMED and script.shown_tries == [3, 2]
    assert card.profile.auth_pin.tries_left == 3
    assert outcome.result.entries[0].pharmacists_info_cons_flg == "1"  # the consent arrived


def test_blocked_then_face_fails_then_visual(world: World, store: Store) -> None:
    script = Scripted(
        [Method.PIN, Method.FACE, Method.FACE, Method.FACE, Method.VISUAL],
        faces=[FaceScenario.OTHER] * 3,
    )
    outcome = interactive(world, store, card_of(world, "pin-blocked"), script)
    assert outcome.state is State.CONFIRMED and outcome.flow.method is Method.VISUAL
    assert outcome.flow.face_failures == 3
    assert "choose:pin-blocked" in script.steps and "choose:face-not-matched" in script.steps
    trail = [a["action"] for a in store.audit_trail(outcome.reception_id)]
    assert "visual-check" in trail


def test_leaving_the_pin_pad_goes_back_to_the_choice(world: World, store: Store) -> None:
    script = Scripted([Method.PIN, Method.FACE], pins=[None], faces=[FaceScenario.SAME])
    outcome = interactive(world, store, card_of(world, "family"), script)
    assert outcome.state is State.CONFIRMED and outcome.flow.method is Method.FACE


def test_the_counter_route_settles_a_reader_fault(world: World, store: Store) -> None:
    """oqs.md §6 rung 0: the face-recognition reader fails; staff read the card on their own
    reader (居宅同意取得型): consent first, then PIN or 目視 — never the camera; the pending
    reception becomes a normal card confirmation recorded as that route."""
    pin = pin_of(world, "adult-kyokai")
    broken = run(
        world,
        store,
        VanishingReader(card_of(world, "adult-kyokai"), 4),
        CheckinRequest(Method.PIN, pin_source=pin),
    )
    assert store.reception(broken.reception_id).status == "pending"
    script = Scripted([Method.PIN], pins=[world.persona("adult-kyokai")["pin"]])
    script.consents = ConsentsGiven(medication=True)

    async def go() -> CheckinOutcome:
        async with in_process(world) as oqs:
            return await check_in(
                LoopbackTransport(card_of(world, "adult-kyokai")),
                oqs,
                store,
                terminal_of(world),
                CheckinRequest(Method.PIN, route=Route.COUNTER, resume=broken.reception_id),
                interaction=script,
            )

    outcome = asyncio.run(go())
    assert outcome.reception_id == broken.reception_id and outcome.state is State.CONFIRMED
    assert Method.FACE not in outcome.flow.methods()  # a staff-held reader has no camera
    # the consent question came before the identity check
    assert script.steps.index("consents") < script.steps.index("choose:choosing-method")
    reception = store.reception(broken.reception_id)
    assert reception.status == "confirmed" and reception.route == "counter"
    assert reception.apdu_count and reception.apdu_count > 0
    assert [step for step, _ in store.steps_of(reception.reception_id)] == ["居宅同意取得型"]
    assert outcome.result is not None
    assert outcome.result.entries[0].pharmacists_info_cons_flg == "1"


class SlowCard(LoopbackTransport):
    """A card that takes 100 ms an APDU (an old contactless reader)."""

    def transmit(self, command: bytes) -> bytes:
        time.sleep(0.1)
        return super().transmit(command)


def exchanges_of(world: World) -> tuple[OqsClient, list[tuple[str, float]]]:
    """An in-process client that records when each request ended (path, monotonic)."""
    seen: list[tuple[str, float]] = []
    client = in_process(world)
    client.on_exchange = lambda _m, path, _o, _s: seen.append((path, time.monotonic()))
    return client, seen


def test_the_nonce_is_fetched_while_the_card_is_read(world: World, store: Store) -> None:
    """The patient never waits for the nonce: it was asked for when the card was placed
    and arrived while the (slow) card was still being read."""
    client, seen = exchanges_of(world)
    started = time.monotonic()
    outcome = run(
        world,
        store,
        SlowCard(card_of(world, "adult-kyokai")),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
        client,
    )
    assert outcome.state is State.CONFIRMED
    nonces = [t for path, t in seen if path == "/v1/nonces"]
    assert len(nonces) == 1
    assert nonces[0] - started < 0.2  # two APDUs of identification take 200 ms at least
    assert outcome.timings["oqs"] < outcome.timings["card"]


def test_a_stale_prefetched_nonce_is_replaced(
    world: World, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reception.visit.PREFETCH_FRESH_SECONDS", 0.0)
    client, seen = exchanges_of(world)
    outcome = run(
        world,
        store,
        card_of(world, "adult-kyokai"),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
        client,
    )
    assert outcome.state is State.CONFIRMED
    assert [path for path, _ in seen].count("/v1/nonces") == 2


class SlowNotJpki(NotJpki):
    """Unreadable, and slow to say so: the nonce request has failed by then."""

    def transmit(self, command: bytes) -> bytes:
        time.sleep(0.2)
        return super().transmit(command)


def test_a_card_failure_with_the_service_down_leaves_nothing_behind(
    world: World, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The prefetched nonce's failure is retrieved, never logged as a lost task; the
    check-in is the card's ladder case, not a service outage."""
    down = OqsClient(OqsSettings(url="https://127.0.0.1:9", retries=0, connect_timeout=1))
    outcome = run(
        world,
        store,
        SlowNotJpki(card_of(world, "adult-kyokai")),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
        down,
    )
    gc.collect()
    assert outcome.state is State.CARD_UNREADABLE
    assert "never retrieved" not in caplog.text


class Commands(LoopbackTransport):
    """A loopback reader that keeps the INS byte of every command sent to the card."""

    def __init__(self, card: VirtualCard) -> None:
        super().__init__(card)
        self.ins: list[int] = []

    def transmit(self, command: bytes) -> bytes:
        self.ins.append(command[1])
        return super().transmit(command)


@pytest.mark.parametrize("method", [Method.PIN, Method.FACE, Method.VISUAL])
def test_the_card_expected_goes_on_another_is_stopped_before_any_verify(
    world: World, store: Store, method: Method
) -> None:
    """With the card expected (``reception checkin --persona``, the demo): that card is
    checked in as ever; another one ends the check-in before any VERIFY — not even the
    empty one asking the tries left — and before the face path's authentication."""
    expected = expected_of(world, "adult-kyokai")
    request = CheckinRequest(
        method, pin_source=pin_of(world, "adult-kyokai"), expected=expected, seed=1
    )
    assert run(world, store, card_of(world, "adult-kyokai"), request).state is State.CONFIRMED
    other = card_of(world, "family")
    reader = Commands(other)
    outcome = run(world, store, reader, request)
    assert outcome.state is State.WRONG_CARD and outcome.result is None
    assert reader.ins and 0x20 not in reader.ins and 0x82 not in reader.ins, reader.ins
    assert other.profile.auth_pin.tries_left == 3
    assert "試行回数は減っていません" in (outcome.flow.message or "")
    assert outcome.wrong_card is not None and not outcome.wrong_card.pin_sent
    reception = store.reception(outcome.reception_id)
    assert reception.status == "cancelled" and "別のカード" in (reception.reason or "")


def test_a_smartphone_is_checked_right_after_its_pin(world: World, store: Store) -> None:
    """An Android token shows its certificate only after the PIN: another phone than the
    one expected is found out then — before anything goes to the service — and staff are
    not told that no PIN was sent."""
    request = CheckinRequest(
        Method.PIN, pin_source=pin_of(world, "android"), expected=expected_of(world, "family")
    )
    outcome = run(world, store, card_of(world, "android"), request)
    assert outcome.state is State.WRONG_CARD and outcome.result is None
    assert outcome.wrong_card is not None and outcome.wrong_card.pin_sent
    assert "試行回数" not in (outcome.flow.message or "")
    assert "資格確認はしていません" in (outcome.flow.message or "")


def test_another_card_at_the_counter_leaves_the_reception_pending(
    world: World, store: Store
) -> None:
    """The 居宅同意取得型 route settles a pending reception: another card than expected
    there leaves it pending, the attempt recorded as a rung."""
    broken = run(
        world,
        store,
        VanishingReader(card_of(world, "adult-kyokai"), 4),
        CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai")),
    )
    request = CheckinRequest(
        Method.PIN,
        route=Route.COUNTER,
        resume=broken.reception_id,
        pin_source=pin_of(world, "adult-kyokai"),
        expected=expected_of(world, "adult-kyokai"),
    )
    outcome = run(world, store, card_of(world, "family"), request)
    assert outcome.state is State.WRONG_CARD
    assert store.reception(broken.reception_id).status == "pending"
    steps = store.steps_of(broken.reception_id)
    assert any("別のカード" in detail for _, detail in steps), steps
