"""One check-in under way (:class:`Visit`): the steps :func:`reception.checkin.check_in`
runs. The flow's state decides the next step; a step asks the patient or staff its
questions (:mod:`reception.questions`) through the check-in's :class:`Interaction`,
talks to the card (in a thread: the screen never waits on the card) and to the service.

A step asks with :meth:`Visit.ask`: adding a question to the check-in is one question
dataclass, one widget (or a reuse) and one ``await self.ask(…)`` in the step it belongs to.

The order (issue 22 §3): identity → the card's standing at the service → 保険証利用登録
(a 未登録 card, PIN or face at the reader) → consents, 公費, 処方箋 電子/紙 → the result.
The service alone says whether a card can be confirmed — its day is the world's reference
day, not this terminal's clock — so the confirmation is made in two steps
(:meth:`OqsClient.check_card` right after identity, spending the nonce;
:meth:`OqsClient.give_consents` with the single-use token the first answer carries): a
card whose certificate lapsed past its grace period or was revoked, or a 未登録 card whose
holder answers 登録しない, goes to the desk without one question it could not use. The
居宅同意取得型 route keeps its consents first (oqs.md §6 rung 0).

What real readers show, and in which order (public material; the screens themselves are
the vendors' and are not published in full — thin on the exact order of the screens):

- A clinic's walk-through of its reader: ① place the card, ② 本人認証 (顔認証 or the 4-digit
  PIN), then the consent screens (uehara-cl.jp, medical-consultation-information/
  individual-number-card); the MHLW's smartphone flow likewise: 本人認証, then
  「顔認証付きカードリーダーで同意情報を入力する」 (reported by wacoca.com news 2646535).
- The certificate is checked at 資格確認 and the reader shows the alert on its screen:
  「医療機関等の資格確認の際に、顔認証付きカードリーダーの画面上で…アラートが出ます」
  (hinokenpo.or.jp FAQ 18475); a lapsed one past three months 「健康保険証としても使え
  なくなります」 and the reader says so (city.takasago.lg.jp 12291, a table of what the
  reader's screen shows before and after the expiry; tagoclinic.or.jp 2025-11-23). In the
  grace period only the qualification is shared, no 診療・薬剤情報 (hinokenpo FAQ).
- 保険証利用登録 can be made at a clinic's reader (excite.co.jp Cobs_3082096: 「マイナ
  ポータル、セブン銀行ATM、医療機関の顔認証リーダーのいずれでも設定できます」).
No source found shows the exact screen sequence of an error against the consent screens;
that the error comes first follows from the certificate being checked at 本人確認 and
from a refused card having no qualification to share.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from reader.errors import CardRemoved as CardRemovedError
from reader.errors import (
    NoCard,
    PinBlocked,
    PinIncorrect,
    ReaderError,
    ReaderUnavailable,
    TransportError,
)
from reader.jpki import JpkiClient, ReadMode
from reader.pin import Pin
from reader.transport import CardChannel, Transport
from reception import redaction
from reception.camera import FaceMatcher, SimulatedCamera
from reception.card_checks import CardFailedError, WrongCard, face_template, identify
from reception.declaration import LadderStep
from reception.error_screens import CAUSE_SCREENS, NOT_A_CARD, Cause, cause_of
from reception.flow import (
    CardFailed,
    CardPlaced,
    CardRemoved,
    CheckinFlow,
    ConsentFlow,
    ConsentsGiven,
    ConsentsOffered,
    CounterRules,
    FaceCompared,
    InvalidTransition,
    Method,
    MethodChosen,
    NoMethodLeft,
    OqsFailed,
    PinAccepted,
    PinRejected,
    PinTriesRead,
    ReaderLost,
    RegistrationAnswered,
    ResultReceived,
    Route,
    State,
    Variant,
    VisualConfirmed,
    WrongCardPlaced,
)
from reception.oqs_client import CardConfirmation, CardStanding, OqsClient, OqsError
from reception.questions import (
    CaptureFace,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Interaction,
    Question,
    YesNo,
    YesNoKind,
)
from reception.results import QualificationResult, RegistrationOffer
from reception.settings import FaceSettings
from reception.store import Store

if TYPE_CHECKING:
    from reception.checkin import CheckinRequest, Terminal

log = logging.getLogger("reception.checkin")  # the check-in's log, as before the split
T = TypeVar("T")
A = TypeVar("A")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# a prefetched nonce older than this is not used (the service keeps one 120 s): a patient
# who took long over the PIN or the face gets a fresh one
PREFETCH_FRESH_SECONDS = 60.0


class Visit:
    """One check-in under way: the flow's state decides the next step, each a method that
    returns False when the check-in stops where it is (the patient left the question)."""

    def __init__(
        self,
        transport: Transport,
        client: OqsClient,
        store: Store,
        terminal: Terminal,
        request: CheckinRequest,
        face: FaceSettings,
        read_mode: ReadMode,
        dialogue: Interaction,
        rules: CounterRules,
        deadline: float,
    ) -> None:
        self.client, self.store, self.terminal, self.request = client, store, terminal, request
        self.dialogue = dialogue
        self.rules = rules
        self.flow = CheckinFlow(
            face_tries=face.tries,
            route=request.route,
            visual_check=rules.reader_model.visual_check,  # reception/reader_models.py
        )
        self.early_consents: ConsentsGiven | None = None
        if request.resume is not None:
            store.reception(request.resume)  # NotFound: a clear message
            store.record_step(
                request.resume,
                LadderStep.COUNTER,
                f"{request.route.label}で確認を始めました",
                actor=request.staff,
            )
            self.reception_id = request.resume
        else:
            self.reception_id = store.begin_reception(actor=request.staff)
        self.channel = CardChannel(transport, deadline=deadline)
        self.jpki = JpkiClient(self.channel, read_mode=read_mode)
        self.matcher = FaceMatcher(face.threshold)
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()
        self.certificate_der: bytes | None = None
        self.template: list[float] | None = None
        self.camera: SimulatedCamera | None = None
        self.confirmation: CardConfirmation | None = None
        self.variant: Variant | None = None
        self.detail: str | None = None  # what failed, for developers
        self.card_error: str | None = None  # a card fault, titled (CheckinOutcome)
        self.wrong_card: WrongCard | None = None  # not the card expected (CheckinOutcome)
        self.cause: Cause | None = None  # what the card was, when it could not be used
        self._nonce_task: asyncio.Task[str] | None = None
        self._nonce_asked = 0.0
        self.consent_offer: RegistrationOffer | None = None  # the first step's, awaiting consents
        # False when the first step says no record will be shared whatever the patient
        # answers (a certificate in its grace period: qualification only)
        self.records_shared = True
        self.registered = False  # 保険証利用登録 made at this reader

    async def ask(self, question: Question[A]) -> A | None:
        """Ask the patient (or staff) ``question``, as the check-in stands now."""
        return await self.dialogue.ask(question.at(self.flow))

    def progress(self, doing: str) -> None:
        self.dialogue.progress(self.flow, doing)

    def stopped_by(self, exc: BaseException) -> None:
        """The check-in ends on ``exc`` (one of :data:`STOPS`) as the flow knows it."""
        flow = self.flow
        self.detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, CardRemovedError):
            flow.apply(CardRemoved())
        elif isinstance(exc, ReaderUnavailable | NoCard | TransportError):
            flow.apply(ReaderLost(str(exc)))
        elif isinstance(exc, OqsError):
            self.detail = f"OQS {self.detail}"
            log.warning("%s", self.detail)  # staff read Japanese only (the flow's message)
            flow.apply(OqsFailed(exc.staff_message, exc.fallback))
        elif isinstance(exc, WrongCard):
            self.wrong_card = exc
            log.warning("%s", self.detail)  # staff read the flow's message, in Japanese
            flow.apply(WrongCardPlaced(exc.expected.holder, pin_sent=exc.pin_sent))
        else:
            # a card that answers what a JPKI card never does cannot be read here (a
            # ladder case); a guard refusal or a terminal problem stays an error
            self.cause = cause_of(exc)  # which numbered screen (【001】【002】【S01】)
            defect = self.cause is not None  # cause_of asks card_fault: one look
            if defect and isinstance(exc, ReaderError):
                self.card_error = f"{exc.title}: {exc}"
            # not a My Number card at all (【002】【S01】): what staff do with it, not the
            # staff-held reader, which reads it no better
            said = CAUSE_SCREENS[self.cause].staff_ja if self.cause in NOT_A_CARD else None
            flow.apply(CardFailed(str(exc), defect=defect, staff_message=said))

    def _timed(self, name: str, since: float) -> None:
        spent = (time.perf_counter() - since) * 1000
        self.timings[name] = round(self.timings.get(name, 0.0) + spent, 3)

    async def card(self, call: Callable[..., T], *args: Any) -> T:
        """Card I/O in a thread: the event loop (the screen) never waits on the card."""
        t = time.perf_counter()
        try:
            return await asyncio.to_thread(call, *args)
        finally:
            self._timed("card", t)

    def prefetch_nonce(self) -> None:
        """Ask the service for the first nonce while the card is read: by the time the
        PIN is typed (or the face matched) it is there, and the patient never waits for
        it. Failures surface where the nonce is used, as before."""
        self._nonce_task = asyncio.create_task(self.client.nonce())
        self._nonce_asked = time.monotonic()

    def drop_prefetched(self) -> None:
        """A nonce asked for and not used: cancel the request or forget the answer (an
        unused nonce just expires at the service)."""
        task, self._nonce_task = self._nonce_task, None
        if task is not None:
            task.cancel()
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "never retrieved" warning

    async def nonce(self) -> str:
        self.progress("nonce")
        t = time.perf_counter()
        task = self._nonce_task
        if task is not None and time.monotonic() - self._nonce_asked < PREFETCH_FRESH_SECONDS:
            self._nonce_task = None
            value = await task
        else:
            self.drop_prefetched()
            value = await self.client.nonce()
        self._timed("oqs", t)
        return value

    async def certificate(self) -> bytes:
        if self.certificate_der is None:
            self.certificate_der = await self.card(self.jpki.fetch_auth_certificate_der)
        return self.certificate_der

    async def run(self) -> None:
        flow = self.flow
        self.progress("identify")
        self.prefetch_nonce()
        identified = await self.card(identify, self.jpki, self.request.expected)
        variant, tries = identified.variant, identified.tries_left
        self.certificate_der = identified.certificate_der
        self.variant = variant
        flow.apply(CardPlaced(variant))
        if flow.route is Route.COUNTER and not self.rules.qualification_only:
            # 居宅同意取得型: the consent question comes first, then identity (PIN or 目視)
            self.early_consents = await self.ask(self._consents_question()) or ConsentsGiven()
        flow.pin_tries_left = tries
        if tries == 0:
            flow.message = flow.locked_message()
        steps = {
            State.CHOOSING_METHOD: self.choose,
            State.PIN_BLOCKED: self.choose,
            State.FACE_NOT_MATCHED: self.choose,
            State.PIN_ENTRY: self.pin,
            State.PIN_WRONG: self.pin,
            State.FACE_CAPTURE: self.face,
            State.VISUAL_CHECK: self.visual,
            State.CONSENTS: self.consents,
            State.CONFIRMING: self.confirm,
            State.REGISTRATION_OFFERED: self.registration,
        }
        while not flow.state.final:
            if not await steps[flow.state]():
                break

    async def choose(self) -> bool:
        """Ask for a method; False: the check-in stops where it is. A card no way is left
        for on a reader without 目視 goes to the desk (NoMethodLeft) unasked."""
        flow = self.flow
        card = flow.variant in (Variant.PHYSICAL, Variant.FACE_ONLY)  # 目視 is for cards
        if card and not flow.methods() and not flow.visual_check:
            flow.apply(NoMethodLeft())
            return True
        method = await self.ask(ChooseMethod(tuple(self.flow.methods())))
        if method is None:
            return False
        try:
            self.flow.apply(MethodChosen(method))
        except InvalidTransition:
            open_methods = "・".join(m.label for m in self.flow.methods()) or "なし"
            variant = self.flow.variant.label if self.flow.variant else "このカード"
            raise CardFailedError(
                f"{variant}では{method.label}を使えません（使えるもの: {open_methods}）"
            ) from None
        return True

    async def pin(self) -> bool:
        flow = self.flow
        pin: Pin | None = None
        if self.variant is not Variant.IPHONE:  # an iPhone checks its holder itself
            left = flow.pin_tries_left if flow.pin_tries_left is not None else 0
            if flow.apply(PinTriesRead(left)) is State.PIN_BLOCKED:
                return True
            text = await self.ask(EnterPin(left))
            if text is None:
                return await self.choose()
            with redaction.secret(text):
                pin = Pin(text)
        value = await self.nonce()
        self.progress("authenticate")
        try:
            auth = await self.card(self.jpki.authenticate, pin, bytes.fromhex(value))
        except PinIncorrect as exc:
            flow.apply(PinRejected(exc.tries_left))
            return True
        except PinBlocked:
            flow.apply(PinRejected(0))
            return True
        expected = self.request.expected
        if expected is not None and not expected.matches(auth.certificate_der):
            # a smartphone's certificate comes only after its PIN (identify): checked here,
            # before the signature goes anywhere
            raise WrongCard(expected, auth.certificate_der, self.channel.reader_name, pin_sent=True)
        flow.apply(PinAccepted())
        self.certificate_der = auth.certificate_der
        self.confirmation = CardConfirmation(
            method=Method.PIN.value,
            nonce=value,
            certificate=_b64(auth.certificate_der),
            signature=_b64(auth.signature),
        )
        return True

    async def face(self) -> bool:
        if self.template is None:
            self.progress("face-object")
            await self.certificate()
            self.template = await self.card(face_template, self.channel, self.terminal)
        scenario = await self.ask(CaptureFace())
        if scenario is None:
            return await self.choose()
        self.camera = self.camera or SimulatedCamera(scenario, self.request.seed)
        self.camera.scenario = scenario
        match = self.matcher.compare(self.template, self.camera.capture(self.template))
        if self.flow.apply(FaceCompared(match.matched, match.score)) is State.CONFIRMING:
            self.confirmation = await self._statement(Method.FACE)
        return True

    async def visual(self) -> bool:
        staff = await self.ask(ConfirmVisually())
        if staff is None:
            return await self.choose()
        await self.certificate()
        self.store.audit(staff, "visual-check", "目視確認で本人確認", self.reception_id)
        self.flow.apply(VisualConfirmed(staff))
        self.confirmation = await self._statement(Method.VISUAL)
        return True

    async def _statement(self, method: Method) -> CardConfirmation:
        """Face and 目視: the terminal signs that it checked the holder, for this nonce."""
        der = await self.certificate()
        value = await self.nonce()
        signed = self.terminal.sign_statement(method, value, der)
        return CardConfirmation(
            method=method.value,
            nonce=value,
            certificate=_b64(der),
            statement=signed["statement"],
            statement_signature=signed["statement_signature"],
        )

    async def consents(self) -> bool:
        if self.rules.qualification_only:  # 資格確認限定型: no question, every flag 0
            given = ConsentsGiven()
        else:
            given = await self._asked()
        self.flow.apply(given)
        given = self.flow.consents or given  # what this route and method open, no more
        assert self.confirmation is not None
        self.confirmation.route = self.flow.route.value
        self.confirmation.consents = {
            "medication": given.medication,
            "checkup": given.checkup,
            "operation": given.operation,
            "limit": given.limit,
            "subsidies": given.subsidies,
        }
        self.confirmation.prescription_issue = given.prescription
        return True

    async def _asked(self) -> ConsentsGiven:
        """The consents, 公費 and 処方箋 as the patient answers them."""
        given = self.early_consents  # the 居宅同意取得型 route asked first
        if given is None and self.records_shared:
            given = await self.ask(self._consents_question())
        given = given or ConsentsGiven()
        if self.rules.consent_flow is ConsentFlow.CURRENT:
            # since 2024-10-07 限度額 information is provided by law, without a question
            given = dataclasses.replace(given, limit=True)
        # 公費 by card where the area runs it — not after 目視 nor on the 居宅同意取得型
        # route (design.md §6.9: no source opens it there; the paper 受給者証 stays)
        if self.rules.public_expense_pilot and "subsidies" in self.flow.open_items():
            use = await self.ask(YesNo(YesNoKind.SUBSIDY))
            given = dataclasses.replace(given, subsidies=bool(use))
        if self.rules.prescriptions.asked:  # off: not asked, nothing sent
            chosen = await self.ask(ChoosePrescription(self.rules.prescriptions))
            given = dataclasses.replace(given, prescription=chosen)
        return given

    def _consents_question(self) -> GiveConsents:
        return GiveConsents(self.flow.open_items(), self.rules.consent_flow)

    async def confirm(self) -> bool:
        """One call to the service, by where the check-in stands: the card's standing right
        after identity (:meth:`OqsClient.check_card`), 保険証利用登録 if the patient agreed,
        or the consents for the first step's offer (:meth:`OqsClient.give_consents`).
        A standing that offers consents moves on to them; any other answer is the result."""
        assert self.confirmation is not None
        flow = self.flow
        t = time.perf_counter()
        answer: CardStanding | QualificationResult
        if flow.registering and not self.registered:
            assert flow.result is not None and flow.result.registration_offer is not None
            self.progress("register")
            answer = await self.client.register(flow.result.registration_offer)
            self.registered = True
            self.store.audit(
                self.request.staff,
                "registration",
                "保険証利用登録（カードリーダー）",
                self.reception_id,
            )
        elif self.consent_offer is not None:
            self.progress("confirm")
            offer, self.consent_offer = self.consent_offer, None
            answer = await self.client.give_consents(
                offer, self.confirmation.consents or {}, self.confirmation.prescription_issue
            )
        else:
            self.progress("standing")
            # the route goes with the proof: what it opens (registration, consent items)
            self.confirmation.route = flow.route.value
            answer = await self.client.check_card(self.confirmation)
        self._timed("oqs", t)
        if isinstance(answer, CardStanding) and answer.consent_offer is not None:
            self.consent_offer = answer.consent_offer
            # in the grace period the service shares the qualification only (mock_oqs
            # rules; hinokenpo FAQ): a consent question would ask what cannot apply
            self.records_shared = "certificate-grace" not in answer.result.notice_codes()
            flow.apply(ConsentsOffered())
            return True
        flow.apply(ResultReceived(answer.result if isinstance(answer, CardStanding) else answer))
        return True

    async def registration(self) -> bool:
        """The card lacks 保険証利用登録: the patient may register it now (the answer None
        or False: not now, the reception goes to the ladder)."""
        agreed = await self.ask(YesNo(YesNoKind.REGISTER))
        self.flow.apply(RegistrationAnswered(bool(agreed)))
        return True
