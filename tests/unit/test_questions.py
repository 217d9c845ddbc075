"""The check-in's questions as data (reception/questions.py): one broker for the screens,
typed answers, the headless answers from a request (issue 21 §1)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from reception.camera import FaceScenario
from reception.checkin import CheckinRequest, FixedInteraction
from reception.flow import (
    CardPlaced,
    CheckinFlow,
    ConsentsGiven,
    Method,
    Route,
    State,
    Variant,
    open_items,
)
from reception.questions import (
    CaptureFace,
    ChooseMethod,
    EnterPin,
    GiveConsents,
    Question,
    QuestionBroker,
    YesNo,
    YesNoKind,
    checked,
)

T = TypeVar("T")


class Screen:
    """What a screen does with a broker: notes what it showed and when it closed."""

    def __init__(self, *, asks: bool = True) -> None:
        self.asks = asks
        self.shown: list[Question[Any]] = []
        self.closed: list[Question[Any]] = []
        self.broker = QuestionBroker(self._show, closed=self.closed.append)

    def _show(self, question: Question[Any]) -> bool:
        self.shown.append(question)
        return self.asks


def asked(broker: QuestionBroker, question: Question[T]) -> T | None:
    """Ask ``question`` where the screen answers at once (or not at all)."""
    opened = broker.ask(question)
    return asyncio.run(opened)


def run_asking(
    broker: QuestionBroker, question: Question[T], meanwhile: Callable[[], Awaitable[None]]
) -> T | None:
    """Ask ``question`` and, while it is open, do ``meanwhile`` (the screen answering)."""

    async def go() -> T | None:
        opened = broker.ask(question)
        asking = asyncio.ensure_future(opened)
        await asyncio.sleep(0)  # the question opens
        await meanwhile()
        return await asyncio.wait_for(asking, 1)

    return asyncio.run(go())


def test_the_broker_shows_the_question_and_returns_the_answer_given() -> None:
    screen = Screen()
    pin = EnterPin(3)

    async def answer() -> None:
        assert screen.shown == [pin] and screen.broker.asking is pin
        assert screen.broker.answer(EnterPin, "1234")

    assert run_asking(screen.broker, pin, answer) == "1234"
    assert screen.broker.asking is None and screen.closed == [pin]


def test_an_answer_to_another_kind_of_question_answers_nothing() -> None:
    """A method key while the PIN pad is open, a stale consent: the question stays open."""
    screen = Screen()

    async def answer() -> None:
        assert not screen.broker.answer(ChooseMethod, Method.FACE)
        assert not screen.broker.answer(GiveConsents, ConsentsGiven())
        assert screen.broker.asking is not None
        assert screen.broker.answer(EnterPin, None)  # 戻る

    assert run_asking(screen.broker, EnterPin(2), answer) is None


def test_no_answer_lands_when_no_question_is_open() -> None:
    screen = Screen()
    assert not screen.broker.answer(EnterPin, "1234")
    assert not screen.broker.fail(RuntimeError("nothing open"))


def test_a_failure_ends_the_open_question_with_its_error() -> None:
    """The card left the reader while a question was open: the check-in hears it."""
    screen = Screen()

    async def card_left() -> None:
        assert screen.broker.fail(LookupError("the card was removed"))

    with pytest.raises(LookupError, match="removed"):
        run_asking(screen.broker, YesNo(YesNoKind.REGISTER), card_left)
    assert screen.broker.asking is None and len(screen.closed) == 1


def test_a_question_the_screen_does_not_ask_is_answered_none_at_once() -> None:
    """The counter screen has no camera and offers no 保険証利用登録: not this way."""
    screen = Screen(asks=False)
    assert asked(screen.broker, CaptureFace()) is None
    assert asked(screen.broker, YesNo(YesNoKind.REGISTER)) is None
    assert len(screen.shown) == 2


def test_a_method_typed_ahead_answers_the_method_question_if_the_card_allows_it() -> None:
    screen = Screen()
    screen.broker.type_ahead(ChooseMethod, Method.PIN)
    offered = ChooseMethod((Method.PIN, Method.FACE, Method.VISUAL))
    assert asked(screen.broker, offered) is Method.PIN
    assert screen.shown == [offered]  # shown, as the patient should see it


def test_a_method_typed_ahead_that_the_card_lacks_leaves_the_question_open() -> None:
    """2 (PIN) typed ahead on a 顔認証マイナンバーカード: the question is asked."""
    screen = Screen()
    screen.broker.type_ahead(ChooseMethod, Method.PIN)

    async def choose() -> None:
        assert screen.broker.answer(ChooseMethod, Method.FACE)

    face_only = ChooseMethod((Method.FACE, Method.VISUAL))
    assert run_asking(screen.broker, face_only, choose) is Method.FACE

    async def nothing() -> None:  # the typed-ahead key was used up by that question
        assert screen.broker.answer(ChooseMethod, Method.VISUAL)

    assert run_asking(screen.broker, face_only, nothing) is Method.VISUAL


def test_a_typed_ahead_answer_is_forgotten_on_request() -> None:
    screen = Screen()
    screen.broker.type_ahead(ChooseMethod, Method.PIN)
    screen.broker.forget_typed_ahead()

    async def choose() -> None:
        assert screen.broker.answer(ChooseMethod, Method.VISUAL)

    assert run_asking(screen.broker, ChooseMethod((Method.PIN,)), choose) is Method.VISUAL


def test_an_answer_of_the_wrong_type_is_refused_without_showing_it() -> None:
    with pytest.raises(TypeError, match="EnterPin is answered with str, not int") as raised:
        checked(EnterPin(3), 1234)
    assert "1234" not in str(raised.value)
    with pytest.raises(TypeError, match="ChooseMethod is answered with Method, not str"):
        checked(ChooseMethod((Method.PIN,)), "5678")
    assert checked(CaptureFace(), FaceScenario.OTHER) is FaceScenario.OTHER
    assert checked(YesNo(YesNoKind.SUBSIDY), None) is None


def test_a_question_carries_where_the_check_in_stands() -> None:
    flow = CheckinFlow()
    flow.apply(CardPlaced(Variant.IPHONE))
    flow.message = "暗証番号が違います"
    asked = EnterPin(2).at(flow)
    assert (asked.state, asked.variant, asked.message) == (
        State.CHOOSING_METHOD,
        Variant.IPHONE,
        "暗証番号が違います",
    )
    assert asked.tries_left == 2 and asked.describe() == "tries_left=2"


def test_bundle_consent_agrees_to_the_records_the_question_asks_about() -> None:
    at_the_reader = GiveConsents(open_items(Route.READER, Method.PIN))
    assert at_the_reader.bundle() == ConsentsGiven(medication=True, checkup=True, operation=True)
    at_the_counter = GiveConsents(open_items(Route.COUNTER, None))
    assert at_the_counter.bundle() == ConsentsGiven(medication=True, checkup=True)


def test_the_headless_answers_come_from_the_request() -> None:
    pins: list[int] = []

    def pin(tries_left: int) -> str:
        pins.append(tries_left)
        return "1234"

    request = CheckinRequest(
        Method.FACE, pin_source=pin, face=FaceScenario.POOR, register=True, subsidies=False
    )
    fixed = FixedInteraction(request)

    def ask(question: Question[T]) -> T | None:
        answering = fixed.ask(question)
        return asyncio.run(answering)

    offered = ChooseMethod((Method.PIN, Method.FACE))
    assert ask(offered) is Method.FACE
    assert ask(offered) is None  # the request's method only once
    assert ask(ChooseMethod((Method.FACE,), state=State.FACE_NOT_MATCHED)) is Method.FACE
    assert ask(EnterPin(3)) == "1234" and pins == [3]
    assert ask(EnterPin(2)) is None  # never a second PIN on its own (design.md §6.4)
    assert ask(CaptureFace()) is FaceScenario.POOR
    assert ask(YesNo(YesNoKind.REGISTER)) is True
    assert ask(YesNo(YesNoKind.SUBSIDY)) is False
