"""The check-in flow for one patient: a pure state machine (no I/O, no Textual).

card placed → card identified (variant) → method (暗証番号 / 顔認証 / 目視確認) →
authentication → the card's standing at OQS (CONFIRMING: can it be confirmed? a refusal
ends there, before any consent is asked; a 未登録 card is offered 保険証利用登録 there) →
consents (:class:`ConsentsOffered`) → confirmation at OQS → result. The 居宅同意取得型
route asks its consents before identity (oqs.md §6 rung 0). Every failure has a state
of its own and a way on (:meth:`CheckinFlow.options`). The machine never holds a PIN:
it learns only the outcome of an attempt.

Events are applied with :meth:`CheckinFlow.apply`; an event the current state does not
expect raises :class:`InvalidTransition` and changes nothing. How this clinic's reader
asks, and what a route and a method may ask, are in :mod:`reception.counter_rules`
(imported here too).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reception.counter_rules import ALL_ITEMS as ALL_ITEMS
from reception.counter_rules import COUNTER_ITEMS as COUNTER_ITEMS
from reception.counter_rules import OPEN_ITEMS as OPEN_ITEMS
from reception.counter_rules import REGISTRATION_CLOSED_MESSAGE as REGISTRATION_CLOSED_MESSAGE
from reception.counter_rules import REGISTRATION_OPEN as REGISTRATION_OPEN
from reception.counter_rules import ConsentFlow as ConsentFlow
from reception.counter_rules import ConsentsGiven as ConsentsGiven
from reception.counter_rules import CounterRules as CounterRules
from reception.counter_rules import Prescription as Prescription
from reception.counter_rules import open_items as open_items
from reception.counter_rules import within as within
from reception.reader_models import NO_VISUAL_MESSAGE, pin_locked_message
from reception.reasons import FallbackReason
from reception.verdict import Refusal, Validity

# defined in reception.vocabulary with the rest of the terminal's words; used with the flow
from reception.vocabulary import Method as Method
from reception.vocabulary import Route as Route
from reception.vocabulary import Variant as Variant

if TYPE_CHECKING:  # types only: the flow is imported by every command, results are not
    from reception.results import QualificationResult


class State(enum.StrEnum):
    WAITING_CARD = "waiting-card"
    CHOOSING_METHOD = "choosing-method"
    PIN_ENTRY = "pin-entry"
    PIN_WRONG = "pin-wrong"
    PIN_BLOCKED = "pin-blocked"
    FACE_CAPTURE = "face-capture"
    FACE_NOT_MATCHED = "face-not-matched"
    VISUAL_CHECK = "visual-check"
    CONSENTS = "consents"
    CONFIRMING = "confirming"
    REGISTRATION_OFFERED = "registration-offered"  # 保険証利用登録 offered at the reader
    CONFIRMED = "confirmed"
    FALLBACK = "fallback"
    OQS_UNAVAILABLE = "oqs-unavailable"
    CARD_REMOVED = "card-removed"
    READER_LOST = "reader-lost"
    CARD_UNREADABLE = "card-unreadable"
    WRONG_CARD = "wrong-card"  # not the card the terminal was told to expect
    ERROR = "error"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        State.CONFIRMED,
        State.FALLBACK,
        State.OQS_UNAVAILABLE,
        State.CARD_REMOVED,
        State.READER_LOST,
        State.CARD_UNREADABLE,
        State.WRONG_CARD,
        State.ERROR,
    }
)


VALIDITY_FALLBACK = {
    Validity.INVALID: FallbackReason.INVALID,
    Validity.INVALID_NEWER: FallbackReason.INVALID_NEWER,
    Validity.NO_MATCH: FallbackReason.NO_MATCH,
    Validity.MULTIPLE: FallbackReason.MULTIPLE,
}
REFUSAL_FALLBACK = {
    Refusal.CERTIFICATE_REVOKED: FallbackReason.CERTIFICATE_REVOKED,
    Refusal.CERTIFICATE_LAPSED: FallbackReason.CERTIFICATE_LAPSED,
    Refusal.NOT_REGISTERED: FallbackReason.NOT_REGISTERED,
}


class InvalidTransition(Exception):
    def __init__(self, state: State, event: object) -> None:
        super().__init__(f"{type(event).__name__} is not expected in state {state.value}")
        self.state = state
        self.event = event


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardPlaced:
    variant: Variant


@dataclass(frozen=True)
class MethodChosen:
    method: Method


@dataclass(frozen=True)
class PinTriesRead:
    tries_left: int


@dataclass(frozen=True)
class PinAccepted:
    pass


@dataclass(frozen=True)
class PinRejected:
    tries_left: int


@dataclass(frozen=True)
class FaceCompared:
    matched: bool
    score: float


@dataclass(frozen=True)
class VisualConfirmed:
    staff: str


@dataclass(frozen=True)
class RegistrationAnswered:
    """The patient's answer to the 保険証利用登録 offer of a 未登録 card."""

    agreed: bool


READER_FAULT_MESSAGE = (
    "カードリーダーが使えません。職員の読み取り機（居宅同意取得型）か代替手段で確認してください"
)
CARD_DEFECT_MESSAGE = (
    "カードを読み取れません。職員の読み取り機（居宅同意取得型）か代替手段で確認してください"
)


def wrong_card_message(expected: str, *, pin_sent: bool) -> str:
    """What staff read when the card in the reader is not the one expected."""
    spent = (
        "暗証番号はカードに送っていません（試行回数は減っていません）"
        if not pin_sent
        else "資格確認はしていません"
    )
    return (
        f"別のカードです: 読み取り機のカードは予定のカード（{expected}）ではありません。"
        f"{spent}。カードを取り出し、正しいカードを置いてください"
    )


@dataclass(frozen=True)
class ResultReceived:
    result: QualificationResult


@dataclass(frozen=True)
class ConsentsOffered:
    """The service answered the first step: this card can be confirmed; the consents are
    asked now (reception/visit.py, ``Visit.confirm``)."""


@dataclass(frozen=True)
class OqsFailed:
    message: str
    fallback: bool  # True: the service is unreachable/broken; False: it refused the request


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class ReaderLost:
    message: str


@dataclass(frozen=True)
class CardFailed:
    message: str
    defect: bool = False  # the card cannot be read (a ladder case), not a terminal error
    staff_message: str | None = None  # what staff read of a defect, where more is known


@dataclass(frozen=True)
class WrongCardPlaced:
    """The card in the reader is not the one the terminal was told to expect (the
    simulator's persona: its certificate differs). ``expected``: whose card was expected,
    as staff know it; ``pin_sent``: whether a PIN reached the card before it was found
    out (a smartphone releases its certificate only after the PIN)."""

    expected: str
    pin_sent: bool = False


@dataclass(frozen=True)
class NoMethodLeft:
    """Neither PIN nor face can be used and this reader cannot do 目視
    (reception/reader_models.py): staff take the 居宅同意取得型 route or the ladder."""


@dataclass(frozen=True)
class Reset:
    pass


Event = (
    CardPlaced
    | MethodChosen
    | PinTriesRead
    | PinAccepted
    | PinRejected
    | FaceCompared
    | VisualConfirmed
    | ConsentsGiven
    | ResultReceived
    | ConsentsOffered
    | RegistrationAnswered
    | OqsFailed
    | CardRemoved
    | ReaderLost
    | CardFailed
    | WrongCardPlaced
    | NoMethodLeft
    | Reset
)

AUTH_STATES = frozenset(
    {
        State.CHOOSING_METHOD,
        State.PIN_ENTRY,
        State.PIN_WRONG,
        State.PIN_BLOCKED,
        State.FACE_CAPTURE,
        State.FACE_NOT_MATCHED,
        State.VISUAL_CHECK,
        State.CONSENTS,
    }
)


@dataclass
class CheckinFlow:
    """One patient's check-in. ``face_tries``: failed captures before face is closed."""

    face_tries: int = 3
    route: Route = Route.READER
    state: State = State.WAITING_CARD
    variant: Variant | None = None
    method: Method | None = None
    pin_tries_left: int | None = None
    face_failures: int = 0
    last_face_score: float | None = None
    consents: ConsentsGiven | None = None
    result: QualificationResult | None = None
    fallback_reason: FallbackReason | None = None
    message: str | None = None
    registering: bool = False  # the patient agreed to 保険証利用登録: confirm by registering
    history: list[State] = field(default_factory=list)
    visual_check: bool = True  # the reader can do 目視 (ReaderModel.visual_check)

    # -- what staff and patient may do now ------------------------------------------------

    def methods(self) -> list[Method]:
        """Authentication methods open for this card now."""
        if self.variant is None:
            return []
        if self.variant in (Variant.ANDROID, Variant.IPHONE):
            # smartphones: the PIN (Android on the reader, iPhone on the phone); no face
            # object to compare; staff cannot check a phone visually against a photo
            return [] if self.state is State.PIN_BLOCKED else [Method.PIN]
        methods: list[Method] = []
        if self.variant is Variant.PHYSICAL and self.pin_tries_left != 0:
            methods.append(Method.PIN)
        if self.face_failures < self.face_tries and self.route is Route.READER:
            methods.append(Method.FACE)
        if self.visual_check or self.route is Route.COUNTER:  # 目視 at the counter is staff's
            methods.append(Method.VISUAL)
        return methods

    def locked_message(self, *, now: bool = False) -> str:
        """Staff's words for a locked PIN: the ways on this reader has."""
        return pin_locked_message(self.visual_check or self.route is Route.COUNTER, locked_now=now)

    def open_items(self) -> frozenset[str]:
        """The consent items the patient may be asked now (design.md §6.9)."""
        return open_items(self.route, self.method)

    def may_register(self) -> bool:
        """保険証利用登録 may be offered: the holder proved it by PIN or face, at the reader."""
        return self.method is not None and (self.route, self.method) in REGISTRATION_OPEN

    def options(self) -> list[str]:
        """The ways on from the current state, as action names for the UI."""
        if self.state in (State.CHOOSING_METHOD, State.PIN_BLOCKED, State.FACE_NOT_MATCHED):
            return [f"method:{m.value}" for m in self.methods()] + ["cancel"]
        if self.state in (State.PIN_ENTRY, State.PIN_WRONG):
            return ["pin", "cancel"] + [
                f"method:{m.value}" for m in self.methods() if m is not Method.PIN
            ]
        if self.state is State.FACE_CAPTURE:
            return ["capture", "cancel"]
        if self.state is State.VISUAL_CHECK:
            return ["visual-confirm", "cancel"]
        if self.state is State.CONSENTS:
            return ["consents"]
        if self.state is State.REGISTRATION_OFFERED:
            return ["register", "decline"]
        if self.state in (State.FALLBACK, State.OQS_UNAVAILABLE):
            return ["ladder", "reset"]
        if self.state.final:
            return ["reset"]
        return []

    # -- transitions --------------------------------------------------------------------------

    def apply(self, event: Event) -> State:
        new = self._next(event)
        self.history.append(self.state)
        self.state = new
        return new

    def _next(self, event: Event) -> State:
        s = self.state
        if isinstance(event, Reset):
            return self._reset()
        if isinstance(event, CardRemoved) and not s.final:
            self.message = "カードが取り外されました。もう一度置いてください"
            return State.CARD_REMOVED
        if isinstance(event, ReaderLost) and not s.final:
            # a ladder case (oqs.md §6): the reception waits for staff and their rungs
            self.message = READER_FAULT_MESSAGE
            self.fallback_reason = FallbackReason.READER_FAULT
            return State.READER_LOST
        if isinstance(event, CardFailed) and not s.final:
            if event.defect:
                self.message = event.staff_message or CARD_DEFECT_MESSAGE
                self.fallback_reason = FallbackReason.CARD_DEFECT
                return State.CARD_UNREADABLE
            self.message = event.message
            return State.ERROR
        if isinstance(event, WrongCardPlaced) and not s.final:
            self.message = wrong_card_message(event.expected, pin_sent=event.pin_sent)
            return State.WRONG_CARD
        if isinstance(event, NoMethodLeft):
            return self._no_method_left(event)
        if isinstance(event, CardPlaced) and s is State.WAITING_CARD:
            self.variant = event.variant
            return State.CHOOSING_METHOD
        if isinstance(event, MethodChosen) and s in (
            State.CHOOSING_METHOD,
            State.PIN_BLOCKED,
            State.FACE_NOT_MATCHED,
            State.PIN_ENTRY,
            State.PIN_WRONG,
        ):
            return self._method_chosen(event)
        if isinstance(event, PinTriesRead) and s in (State.PIN_ENTRY, State.PIN_WRONG):
            self.pin_tries_left = event.tries_left
            if event.tries_left == 0:
                self.message = self.locked_message()
                return State.PIN_BLOCKED
            return s
        if isinstance(event, PinAccepted) and s in (State.PIN_ENTRY, State.PIN_WRONG):
            return State.CONFIRMING  # the card's standing first (ConsentsOffered)
        if isinstance(event, PinRejected) and s in (State.PIN_ENTRY, State.PIN_WRONG):
            self.pin_tries_left = event.tries_left
            if event.tries_left == 0:
                self.message = self.locked_message(now=True)
                return State.PIN_BLOCKED
            self.message = f"暗証番号が違います（あと{event.tries_left}回）"
            return State.PIN_WRONG
        if isinstance(event, FaceCompared) and s is State.FACE_CAPTURE:
            return self._face_compared(event)
        if isinstance(event, VisualConfirmed) and s is State.VISUAL_CHECK:
            return State.CONFIRMING
        if isinstance(event, ConsentsGiven) and s is State.CONSENTS:
            self.consents = within(event, self.open_items())
            return State.CONFIRMING
        if isinstance(event, ConsentsOffered) and s is State.CONFIRMING and not self.consents:
            return State.CONSENTS
        if isinstance(event, ResultReceived) and s is State.CONFIRMING:
            return self._classify(event.result)
        if isinstance(event, RegistrationAnswered) and s is State.REGISTRATION_OFFERED:
            if event.agreed:
                self.registering = True
                self.message = "保険証利用登録をしています"
                return State.CONFIRMING
            self.fallback_reason = FallbackReason.NOT_REGISTERED
            self.message = "保険証利用登録がありません（登録しないを選びました）"
            return State.FALLBACK
        if isinstance(event, OqsFailed) and s in AUTH_STATES | {
            State.CONFIRMING,
            State.REGISTRATION_OFFERED,
        }:
            self.message = event.message
            if event.fallback:
                self.fallback_reason = FallbackReason.OQS_UNAVAILABLE
                return State.OQS_UNAVAILABLE
            return State.ERROR
        raise InvalidTransition(s, event)

    def _no_method_left(self, event: NoMethodLeft) -> State:
        """A card that PIN and face cannot prove, on a reader without 目視: the desk."""
        cards = (Variant.PHYSICAL, Variant.FACE_ONLY)  # a phone never had 目視 to lose
        if self.state not in AUTH_STATES or self.variant not in cards or self.methods():
            raise InvalidTransition(self.state, event)
        self.message = NO_VISUAL_MESSAGE
        self.fallback_reason = FallbackReason.NO_METHOD
        return State.FALLBACK

    def _reset(self) -> State:
        fresh = CheckinFlow(face_tries=self.face_tries)
        for name in (
            "variant",
            "method",
            "pin_tries_left",
            "face_failures",
            "last_face_score",
            "consents",
            "result",
            "fallback_reason",
            "message",
            "registering",
        ):
            setattr(self, name, getattr(fresh, name))
        return State.WAITING_CARD

    def _method_chosen(self, event: MethodChosen) -> State:
        if event.method is Method.PIN and self.pin_tries_left == 0:
            self.method = event.method
            self.message = self.locked_message()
            if self.variant is Variant.ANDROID:
                self.message = "暗証番号がロックされています。資格確認書などで確認してください"
            return State.PIN_BLOCKED
        if event.method not in self.methods():
            raise InvalidTransition(self.state, event)
        self.method = event.method
        return {
            Method.PIN: State.PIN_ENTRY,
            Method.FACE: State.FACE_CAPTURE,
            Method.VISUAL: State.VISUAL_CHECK,
        }[event.method]

    def _face_compared(self, event: FaceCompared) -> State:
        self.last_face_score = event.score
        if event.matched:
            return State.CONFIRMING
        self.face_failures += 1
        left = self.face_tries - self.face_failures
        self.message = (
            f"顔が一致しませんでした（あと{left}回）"
            if left
            else "顔認証はこれ以上できません。暗証番号か目視確認で続けてください"
        )
        return State.FACE_NOT_MATCHED

    def _classify(self, result: QualificationResult) -> State:
        self.result = result
        body = result.message_body
        if result.confirmed:
            self.message = result.message_body.processing_result_message
            return State.CONFIRMED
        if not result.processed:
            offered = result.registration_offer is not None and not self.registering
            if offered and self.may_register():
                # the holder is proven and the card only lacks 保険証利用登録: real readers
                # offer it on the spot (the check-in then continues as usual)
                self.message = "マイナンバーカードの保険証利用登録がされていません。登録しますか"
                return State.REGISTRATION_OFFERED
            reason = REFUSAL_FALLBACK.get(result.refusal or Refusal.UNKNOWN)
            if reason is FallbackReason.NOT_REGISTERED and not self.may_register():
                # 目視 alone, or the 居宅同意取得型 route: never asked, whatever came back
                closed = self.route if self.route is Route.COUNTER else Method.VISUAL
                self.fallback_reason = reason
                self.message = REGISTRATION_CLOSED_MESSAGE[closed]
                return State.FALLBACK
            self.message = body.processing_result_message or "資格確認ができませんでした"
            if reason is None:
                return State.ERROR
            self.fallback_reason = reason
            return State.FALLBACK
        validity = result.validity  # 1 too: valid, but not one entry or not complete
        found = VALIDITY_FALLBACK.get(validity) if validity is not None else None
        self.fallback_reason = found or FallbackReason.NO_MATCH
        self.message = f"資格確認の結果: {result.validity_label}"
        return State.FALLBACK
