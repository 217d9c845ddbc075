"""The check-in's questions as data: one frozen dataclass a question, one ``ask``.

The check-in (:mod:`reception.checkin`) asks; a front end answers. Every front end — the
patient's reader panel and the staff-held counter screen (reception/tui), the headless
``reception checkin`` (:class:`reception.checkin.FixedInteraction`) — implements the one
:class:`Interaction` protocol: ``ask(question)`` returns the answer of the question's own
type, or ``None`` for "not this way" (back to the choice of method; from the choice
itself, stop). ``progress`` is one-way: what the check-in is doing between questions.

A question says what it asks (the methods offered, the tries left …) and, through
:meth:`Question.at`, where the check-in stands when it asks: the flow's state, the card's
variant and the flow's message (a wrong PIN, a face not matched), which the screens show
with the question. Adding a question is one dataclass here, one widget (or a reuse: every
yes/no question is a :class:`YesNo` of its own :class:`YesNoKind`) and one step of the
check-in.

:class:`QuestionBroker` is the one future broker of the screens: the check-in awaits
``ask``; the screen shows the question and hands the answer back with
:meth:`~QuestionBroker.answer`.
No Textual here (the core's import-linter contract).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, cast

from reception.camera import FaceScenario
from reception.error_screens import ErrorScreen
from reception.flow import (
    CheckinFlow,
    ConsentFlow,
    ConsentsGiven,
    Method,
    Prescription,
    State,
    Variant,
)
from reception.reader_models import Medium, PrescriptionQuestion, ReaderModel

A = TypeVar("A")


@dataclass(frozen=True, kw_only=True)
class Question(Generic[A]):
    """One question of the check-in; ``A`` is the type of its answer (``answer_type``).

    The keyword fields are where the check-in stands when it asks (:meth:`at`)."""

    answer_type: ClassVar[type[Any]] = object

    state: State = State.WAITING_CARD
    variant: Variant | None = None
    message: str | None = None  # what the flow says before asking (a wrong PIN …): staff words
    pin_tries_left: int | None = None  # the card's PIN tries (0: locked), where known
    face_tries_left: int | None = None  # face captures left before face is closed

    def at(self, flow: CheckinFlow) -> Self:
        """This question as asked now: the flow's state, the card's variant, its message,
        the PIN's tries and the face's (a screen says them in its own words)."""
        return dataclasses.replace(
            self,
            state=flow.state,
            variant=flow.variant,
            message=flow.message,
            pin_tries_left=flow.pin_tries_left,
            face_tries_left=max(flow.face_tries - flow.face_failures, 0),
        )

    def accepts(self, answer: A) -> bool:
        """Whether an answer given before the question opened (typed ahead) fits it."""
        return True

    def describe(self) -> str:
        """The question's own fields (never the answer), for the developer view."""
        own = [f for f in dataclasses.fields(self) if not f.kw_only]
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in own)


@dataclass(frozen=True)
class ChooseMethod(Question[Method]):
    """暗証番号 / 顔認証 / 目視確認: the methods this card allows now."""

    answer_type = Method
    methods: tuple[Method, ...]

    def accepts(self, answer: Method) -> bool:
        return answer in self.methods


@dataclass(frozen=True)
class EnterPin(Question[str]):
    """The 4-digit PIN, after the tries left are shown (design.md §6.4)."""

    answer_type = str
    tries_left: int


@dataclass(frozen=True)
class CaptureFace(Question[FaceScenario]):
    """Look into the camera (the simulation's scenario is the answer)."""

    answer_type = FaceScenario


@dataclass(frozen=True)
class ConfirmVisually(Question[str]):
    """目視確認: staff compare the card's photo with the patient; the answer is who did."""

    answer_type = str


@dataclass(frozen=True)
class GiveConsents(Question[ConsentsGiven]):
    """The consents: ``items`` are what this route and method may ask (flow.OPEN_ITEMS;
    まとめて同意 agrees to the records among them); ``consent_flow`` how the reader asks."""

    answer_type = ConsentsGiven
    items: frozenset[str]
    consent_flow: ConsentFlow = ConsentFlow.CURRENT

    def bundle(self) -> ConsentsGiven:
        """まとめて同意: every record this question asks about."""
        return ConsentsGiven(
            medication="medication" in self.items,
            checkup="checkup" in self.items,
            operation="operation" in self.items,
        )


@dataclass(frozen=True)
class ChoosePrescription(Question[Prescription]):
    """電子処方箋 / 紙の処方箋, where the clinic asks at the reader: ``covers`` says for
    what — 院外処方, or 院内処方 too (reception/reader_models.py); the answers are the same
    two (OQSCD017 1 / 2)."""

    answer_type = Prescription
    covers: PrescriptionQuestion = PrescriptionQuestion.OUTSIDE


@dataclass(frozen=True)
class ChooseMedium(Question[Medium]):
    """マイナンバーカード / スマートフォン on the card-wait screen, before any card
    (reception/reader_models.py :func:`medium_question`): ``separate_reader`` — a phone goes
    to the clinic's generic NFC reader. A reader that reads phones itself (the
    next-generation model) asks nothing: the card itself tells what it is."""

    answer_type = Medium
    media: tuple[Medium, ...] = (Medium.CARD, Medium.PHONE)
    separate_reader: bool = False

    def accepts(self, answer: Medium) -> bool:
        return answer in self.media


class YesNoKind(enum.StrEnum):
    """The questions a patient answers yes or no (the value names the screen's texts)."""

    REGISTER = "register"  # 保険証利用登録 of a card that lacks it
    SUBSIDY = "subsidy"  # 医療費助成の受給者証を利用する (the areas of the pilot)


@dataclass(frozen=True)
class YesNo(Question[bool]):
    answer_type = bool
    kind: YesNoKind


def medium_question(model: ReaderModel, *, separate_reader: bool) -> ChooseMedium | None:
    """The card-wait screen's question on this reader: マイナンバーカード / スマートフォン
    (where a phone goes to the generic NFC reader when ``separate_reader``), or none where
    the reader reads a smartphone itself (the next-generation model)."""
    if model.reads_phones:
        return None
    return ChooseMedium(separate_reader=separate_reader)


@dataclass(frozen=True)
class ShowErrorScreen(Question[bool]):
    """A numbered error screen (reception/error_screens.py): the number, its title and
    「受付窓口にご連絡ください」, shown until the patient closes it (「閉じる」: True) or the
    card leaves. Asked once the reception is recorded: the answer changes nothing of it."""

    answer_type = bool
    screen: ErrorScreen


def checked(question: Question[A], answer: object) -> A | None:
    """``answer`` as the answer of ``question``: None, or of its type — else TypeError
    (naming types only: an answer may be a PIN)."""
    if answer is None or isinstance(answer, question.answer_type):
        return cast("A | None", answer)
    raise TypeError(
        f"{type(question).__name__} is answered with {question.answer_type.__name__}, "
        f"not {type(answer).__name__}"
    )


class Interaction(Protocol):
    """What the check-in asks of the patient and staff: ``ask`` one question at a time
    (``None``: not this way), and hear what it is doing in between."""

    async def ask(self, question: Question[A]) -> A | None: ...

    def progress(self, flow: CheckinFlow, doing: str) -> None: ...


Show = Callable[[Question[Any]], bool]
"""Shows a question; False: this screen does not ask it (the answer is None at once)."""


class QuestionBroker:
    """One question open at a time, for a screen: :meth:`ask` shows it and waits; the
    screen's widgets answer with :meth:`answer` (of the question's kind, or nothing
    happens); :meth:`fail` ends the wait with an error (the card left the reader)."""

    def __init__(
        self,
        show: Show,
        progress: Callable[[CheckinFlow, str], None] | None = None,
        closed: Callable[[Question[Any]], None] | None = None,
    ) -> None:
        self._show = show
        self._progress = progress
        self._closed = closed
        self.asking: Question[Any] | None = None
        self._future: asyncio.Future[Any] | None = None
        self._ahead: tuple[type[Question[Any]], object] | None = None

    async def ask(self, question: Question[A]) -> A | None:
        ahead = self._take_ahead(question)
        if ahead is not None:  # answered before it opened: shown, not waited for
            self._show(question)
            return ahead
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.asking, self._future = question, future
        try:
            if not self._show(question):
                return None
            return checked(question, await future)
        finally:
            self.asking = self._future = None
            if self._closed is not None:
                self._closed(question)

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        if self._progress is not None:
            self._progress(flow, doing)

    def answer(self, kind: type[Question[A]], value: A | None) -> bool:
        """Answer the open question if it is a ``kind``; False if none such is open."""
        future = self._future
        if future is None or future.done() or not isinstance(self.asking, kind):
            return False
        future.set_result(value)
        return True

    def fail(self, error: BaseException) -> bool:
        """The open question ends with ``error`` raised in the check-in."""
        future = self._future
        if future is None or future.done():
            return False
        future.set_exception(error)
        return True

    def type_ahead(self, kind: type[Question[A]], value: A) -> None:
        """An answer given before its question opened: it answers the next ``kind``
        question when that opens — if the question accepts it."""
        self._ahead = (kind, value)

    def forget_typed_ahead(self) -> None:
        self._ahead = None

    def _take_ahead(self, question: Question[A]) -> A | None:
        if self._ahead is None or not isinstance(question, self._ahead[0]):
            return None
        value = checked(question, self._ahead[1])
        self._ahead = None
        return value if value is not None and question.accepts(value) else None
