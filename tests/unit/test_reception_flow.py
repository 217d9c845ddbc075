"""The check-in state machine, pure (no card, no service), and the simulated camera."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reception.camera import FaceMatcher, FaceScenario, SimulatedCamera
from reception.flow import (
    CardFailed,
    CardPlaced,
    CardRemoved,
    CheckinFlow,
    ConsentsGiven,
    ConsentsOffered,
    Event,
    FaceCompared,
    InvalidTransition,
    Method,
    MethodChosen,
    OqsFailed,
    PinAccepted,
    PinRejected,
    PinTriesRead,
    ReaderLost,
    RegistrationAnswered,
    Reset,
    ResultReceived,
    Route,
    State,
    Variant,
    VisualConfirmed,
    WrongCardPlaced,
)
from reception.oqs_client import read_result
from reception.reasons import FallbackReason
from reception.results import QualificationResult


def result(
    validity: str = "1", status: str = "1", code: str | None = None, entries: int = 1
) -> QualificationResult:
    # as the OQS client reads an answer: it alone knows what the service's codes mean
    return read_result(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": status,
                "ProcessingResultCode": code,
                "QualificationValidity": validity if status == "1" else None,
                "ResultList": {
                    "ResultOfQualificationConfirmation": [
                        {"InsuredPartialContributionRatio": "030"}
                    ]
                    * entries
                },
            },
        }
    )


def to_consents(flow: CheckinFlow, variant: Variant = Variant.PHYSICAL) -> None:
    flow.apply(CardPlaced(variant))
    flow.apply(MethodChosen(Method.PIN))
    flow.apply(PinTriesRead(3))
    flow.apply(PinAccepted())
    flow.apply(ConsentsOffered())  # the service: this card can be confirmed


def test_happy_path() -> None:
    flow = CheckinFlow()
    flow.apply(CardPlaced(Variant.PHYSICAL))
    flow.apply(MethodChosen(Method.PIN))
    flow.apply(PinTriesRead(3))
    # the card's standing comes first: the service answers before any consent is asked
    assert flow.apply(PinAccepted()) is State.CONFIRMING
    assert flow.apply(ConsentsOffered()) is State.CONSENTS
    assert flow.options() == ["consents"]
    assert flow.apply(ConsentsGiven(medication=True)) is State.CONFIRMING
    with pytest.raises(InvalidTransition):  # one consent round, never a second
        flow.apply(ConsentsOffered())
    assert flow.apply(ResultReceived(result())) is State.CONFIRMED
    assert flow.options() == ["reset"]
    assert flow.history[:3] == [State.WAITING_CARD, State.CHOOSING_METHOD, State.PIN_ENTRY]


@pytest.mark.parametrize(
    ("validity", "status", "code", "reason"),
    [
        ("2", "1", None, FallbackReason.INVALID),
        ("3", "1", None, FallbackReason.INVALID_NEWER),
        ("4", "1", None, FallbackReason.NO_MATCH),
        ("5", "1", None, FallbackReason.MULTIPLE),
        (None, "2", "MOCK-R001", FallbackReason.CERTIFICATE_REVOKED),
        (None, "2", "MOCK-R002", FallbackReason.CERTIFICATE_LAPSED),
        (None, "2", "MOCK-R003", FallbackReason.NOT_REGISTERED),
    ],
)
def test_results_that_need_the_ladder(
    validity: str | None, status: str, code: str | None, reason: FallbackReason
) -> None:
    flow = CheckinFlow()
    to_consents(flow)
    flow.apply(ConsentsGiven())
    assert flow.apply(ResultReceived(result(validity or "1", status, code))) is State.FALLBACK
    assert flow.fallback_reason is reason and "ladder" in flow.options()


def test_valid_but_two_entries_is_not_confirmed() -> None:
    flow = CheckinFlow()
    to_consents(flow)
    flow.apply(ConsentsGiven())
    assert flow.apply(ResultReceived(result(entries=2))) is State.FALLBACK


def test_wrong_pin_counts_down_to_blocked_then_face_or_visual() -> None:
    flow = CheckinFlow()
    flow.apply(CardPlaced(Variant.PHYSICAL))
    flow.apply(MethodChosen(Method.PIN))
    flow.apply(PinTriesRead(3))
    assert flow.apply(PinRejected(2)) is State.PIN_WRONG and "あと2回" in (flow.message or "")
    assert flow.apply(PinRejected(1)) is State.PIN_WRONG
    assert flow.apply(PinRejected(0)) is State.PIN_BLOCKED
    assert flow.methods() == [Method.FACE, Method.VISUAL]
    assert flow.apply(MethodChosen(Method.FACE)) is State.FACE_CAPTURE


def test_face_limit_then_pin_or_visual() -> None:
    flow = CheckinFlow(face_tries=2)
    flow.apply(CardPlaced(Variant.PHYSICAL))
    flow.apply(MethodChosen(Method.FACE))
    flow.apply(FaceCompared(False, 0.1))
    assert "あと1回" in (flow.message or "")
    flow.apply(MethodChosen(Method.FACE))
    flow.apply(FaceCompared(False, 0.2))
    assert flow.methods() == [Method.PIN, Method.VISUAL]
    with pytest.raises(InvalidTransition):
        flow.apply(MethodChosen(Method.FACE))
    assert flow.state is State.FACE_NOT_MATCHED  # a refused event changes nothing
    assert flow.apply(MethodChosen(Method.VISUAL)) is State.VISUAL_CHECK
    assert flow.apply(VisualConfirmed("受付 山田")) is State.CONFIRMING


@pytest.mark.parametrize(
    ("variant", "methods"),
    [
        (Variant.PHYSICAL, [Method.PIN, Method.FACE, Method.VISUAL]),
        (Variant.FACE_ONLY, [Method.FACE, Method.VISUAL]),
        (Variant.ANDROID, [Method.PIN]),
        (Variant.IPHONE, [Method.PIN]),
    ],
)
def test_methods_by_variant(variant: Variant, methods: list[Method]) -> None:
    flow = CheckinFlow()
    flow.apply(CardPlaced(variant))
    assert flow.methods() == methods


def test_removal_reader_loss_and_service_trouble_from_anywhere() -> None:
    flow = CheckinFlow()
    flow.apply(CardPlaced(Variant.PHYSICAL))
    assert flow.apply(CardRemoved()) is State.CARD_REMOVED
    assert flow.apply(Reset()) is State.WAITING_CARD and flow.variant is None
    flow.apply(CardPlaced(Variant.PHYSICAL))
    assert flow.apply(ReaderLost("USB")) is State.READER_LOST
    assert "居宅同意取得型" in (flow.message or "")  # staff read Japanese and the next rung
    assert str(flow.fallback_reason) == FallbackReason.READER_FAULT.value
    flow.apply(Reset())
    to_consents(flow)
    assert flow.apply(OqsFailed("timeout", fallback=True)) is State.OQS_UNAVAILABLE
    assert flow.fallback_reason is FallbackReason.OQS_UNAVAILABLE
    flow.apply(Reset())
    flow.apply(CardPlaced(Variant.PHYSICAL))
    assert flow.apply(CardFailed("6F00")) is State.ERROR


def test_a_wrong_card_ends_the_check_in_before_anything_and_says_so() -> None:
    flow = CheckinFlow()
    assert flow.apply(WrongCardPlaced("adult-kyokai")) is State.WRONG_CARD
    assert flow.state.final and flow.options() == ["reset"]
    message = flow.message or ""
    assert "別のカード" in message and "adult-kyokai" in message
    assert "試行回数は減っていません" in message
    with pytest.raises(InvalidTransition):
        flow.apply(CardPlaced(Variant.PHYSICAL))
    assert flow.apply(Reset()) is State.WAITING_CARD and flow.message is None
    # a smartphone shows its certificate only after the PIN: said as it is
    to_consents(flow, Variant.ANDROID)
    assert flow.apply(WrongCardPlaced("android", pin_sent=True)) is State.WRONG_CARD
    assert "試行回数" not in (flow.message or "")


events = st.one_of(
    st.builds(CardPlaced, st.sampled_from(Variant)),
    st.builds(MethodChosen, st.sampled_from(Method)),
    st.builds(PinTriesRead, st.integers(0, 3)),
    st.just(PinAccepted()),
    st.builds(PinRejected, st.integers(0, 2)),
    st.builds(FaceCompared, st.booleans(), st.floats(0, 1)),
    st.just(VisualConfirmed("staff")),
    st.just(ConsentsOffered()),
    st.just(ConsentsGiven()),
    st.just(CardRemoved()),
    st.builds(OqsFailed, st.text(max_size=5), st.booleans()),
    st.builds(WrongCardPlaced, st.just("adult-kyokai"), st.booleans()),
    st.just(Reset()),
)


@given(st.lists(events, max_size=30))
def test_any_event_sequence_keeps_the_machine_consistent(sequence: list[Event]) -> None:
    flow = CheckinFlow()
    for event in sequence:
        before = flow.state
        try:
            flow.apply(event)
        except InvalidTransition:
            assert flow.state is before
            continue
        if flow.state is State.CONSENTS:
            assert flow.variant is not None and flow.method is not None
        if flow.state is State.PIN_ENTRY:
            assert flow.variant in (Variant.PHYSICAL, Variant.ANDROID, Variant.IPHONE)
        if flow.state is State.FACE_CAPTURE:
            assert flow.variant in (Variant.PHYSICAL, Variant.FACE_ONLY)
            assert flow.face_failures < flow.face_tries
        if flow.state is State.WRONG_CARD:  # final: nothing goes on with another's card
            assert flow.options() == ["reset"] and flow.result is None


def test_camera_scenarios_separate_at_the_threshold() -> None:
    rng = random.Random(7)
    matcher = FaceMatcher(0.82)
    for seed in range(20):
        template = [rng.gauss(0, 1) for _ in range(64)]
        same = SimulatedCamera(FaceScenario.SAME, seed).capture(template)
        other = SimulatedCamera(FaceScenario.OTHER, seed).capture(template)
        poor = SimulatedCamera(FaceScenario.POOR, seed).capture(template)
        assert matcher.compare(template, same).matched
        assert not matcher.compare(template, other).matched
        assert not matcher.compare(template, poor).matched
    assert not matcher.compare([1.0, 0.0], [1.0]).matched  # garbage never matches
    with pytest.raises(ValueError):
        FaceMatcher(1.5)


def unregistered_with_offer() -> QualificationResult:
    message = result(status="2", code="MOCK-R003").model_dump(by_alias=True)
    message["RegistrationOffer"] = {"token": "ab" * 16, "expires_at": "2026-11-24T09:05:00"}
    return read_result(message)


def proven_by(method: Method, route: Route = Route.READER, *, consents: bool = True) -> CheckinFlow:
    flow = CheckinFlow(route=route)
    flow.apply(CardPlaced(Variant.PHYSICAL))
    flow.pin_tries_left = 3
    flow.apply(MethodChosen(method))
    if method is Method.PIN:
        flow.apply(PinAccepted())
    elif method is Method.FACE:
        flow.apply(FaceCompared(matched=True, score=0.9))
    else:
        flow.apply(VisualConfirmed("staff"))
    if consents:
        flow.apply(ConsentsOffered())
        flow.apply(ConsentsGiven(medication=True, checkup=True, operation=True, subsidies=True))
    return flow


@pytest.mark.parametrize(
    ("method", "route", "offered"),
    [
        (Method.PIN, Route.READER, True),
        (Method.FACE, Route.READER, True),
        (Method.VISUAL, Route.READER, False),
        (Method.PIN, Route.COUNTER, False),
        (Method.VISUAL, Route.COUNTER, False),
    ],
)
def test_registration_is_offered_only_to_a_holder_proven_by_pin_or_face_at_the_reader(
    method: Method, route: Route, offered: bool
) -> None:
    """Issue 19, design.md §6.9: whatever the service answered, the flow never asks a
    patient proven by 目視 alone (or on the 居宅同意取得型 route) to register the card."""
    flow = proven_by(method, route, consents=False)  # offered right after identity
    state = flow.apply(ResultReceived(unregistered_with_offer()))
    if offered:
        assert state is State.REGISTRATION_OFFERED and flow.options() == ["register", "decline"]
        return
    assert state is State.FALLBACK and flow.fallback_reason is FallbackReason.NOT_REGISTERED
    assert "登録できません" in (flow.message or "")
    with pytest.raises(InvalidTransition):
        flow.apply(RegistrationAnswered(agreed=True))


def test_consents_are_what_the_route_and_method_open() -> None:
    visual = proven_by(Method.VISUAL)
    assert visual.consents == ConsentsGiven(medication=True, checkup=True, operation=True)
    counter = proven_by(Method.PIN, Route.COUNTER)
    assert counter.consents == ConsentsGiven(medication=True, checkup=True)
    face = proven_by(Method.FACE)
    assert face.consents is not None and face.consents.operation and face.consents.subsidies
