"""One check-in, end to end: card → authentication → consents → OQS → store.

:func:`check_in` drives the pure :class:`~reception.flow.CheckinFlow` with real I/O:
card commands (blocking, so in a worker thread) through the guarded channel, the OQS
client (async), and the store. It is what ``reception checkin`` runs headless and what
the TUI runs interactively.

The order follows the card: the service's nonce first (the card signs it), then the
card is identified and the tries left are read and handed to whoever supplies the PIN
*before* the one attempt (design.md §6.4); a wrong PIN ends this attempt — the machine
never sends a PIN again by itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reader.clock import JST
from reader.errors import (
    CardRemoved as CardRemovedError,
)
from reader.errors import (
    CardStatusError,
    CardUnresponsive,
    ClassNotSupported,
    FileNotFound,
    InstructionNotSupported,
    MalformedCardData,
    MalformedResponse,
    NoCard,
    NotAMyNumberCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    ReaderError,
    ReaderUnavailable,
    TransportError,
)
from reader.face import face_path, read_face_template
from reader.jpki import JpkiClient, ReadMode, TokenKind
from reader.pin import InvalidPin, Pin
from reader.terminal_auth import TerminalCertificate
from reader.transport import DEFAULT_DEADLINE_SECONDS, CardChannel, Transport
from reception import redaction
from reception.camera import FaceMatcher, FaceScenario, SimulatedCamera
from reception.declaration import LadderStep
from reception.errors import InputError
from reception.flow import (
    CardFailed,
    CardPlaced,
    CardRemoved,
    CheckinFlow,
    ConsentFlow,
    ConsentsGiven,
    CounterRules,
    FaceCompared,
    InvalidTransition,
    Method,
    MethodChosen,
    OqsFailed,
    PinAccepted,
    PinRejected,
    PinTriesRead,
    Prescription,
    ReaderLost,
    RegistrationAnswered,
    ResultReceived,
    Route,
    State,
    Variant,
    VisualConfirmed,
    WrongCardPlaced,
)
from reception.oqs_client import CardConfirmation, OqsClient, OqsError
from reception.results import QualificationResult
from reception.settings import FaceSettings
from reception.shared_folder import FilePrivacy
from reception.store import ReceptionStatus, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

PinSource = Callable[[int], str]
"""Asked once per attempt with the tries left (shown to the patient first); returns the PIN."""


class TerminalError(InputError):
    title = "端末の設定エラー"


@dataclass(frozen=True)
class Terminal:
    """This terminal: 医療機関コード, the facility key (signs statements), face-auth cert."""

    institution_code: str
    key: ec.EllipticCurvePrivateKey
    face_certificate: TerminalCertificate | None

    @classmethod
    def load(cls, cert: Path, key: Path, face_certificate: Path | None = None) -> Terminal:
        try:
            certificate = x509.load_pem_x509_certificate(cert.read_bytes())
            private = serialization.load_pem_private_key(key.read_bytes(), password=None)
            codes = certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
            cvc = (
                TerminalCertificate.parse(face_certificate.read_bytes())[0]
                if face_certificate is not None
                else None
            )
        except (OSError, ValueError) as exc:
            raise TerminalError(
                f"cannot load the terminal certificate, key or face-path certificate "
                f"(face.terminal_certificate): {exc}"
            ) from None
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise TerminalError("the terminal key must be an EC (P-256) key")
        if not codes:
            raise TerminalError("the terminal certificate carries no 医療機関コード")
        return cls(str(codes[0].value), private, cvc)

    def sign_statement(self, method: Method, nonce: str, certificate_der: bytes) -> dict[str, str]:
        statement = json.dumps(
            {
                "method": method.value,
                "nonce": nonce,
                "certificate_sha256": hashlib.sha256(certificate_der).hexdigest().upper(),
                "checked_at": dt.datetime.now(JST).isoformat(timespec="seconds"),
            },
            separators=(",", ":"),
        )
        signature = self.key.sign(statement.encode(), ec.ECDSA(hashes.SHA256()))
        return {"statement": statement, "statement_signature": _b64(signature)}


@dataclass(frozen=True)
class ExpectedCard:
    """The card the terminal was told to expect — where it knows (the simulator's persona:
    ``reception checkin --persona``, the demo's placed card): the SHA-256 fingerprint of
    the card's user-authentication certificate (JPKI AP EF 000A, free to read on a card,
    card.md §3), and whose card it is, as staff know it (``holder``: the persona's id)."""

    certificate_sha256: str
    holder: str

    @staticmethod
    def fingerprint(certificate_der: bytes) -> str:
        """The SHA-256 fingerprint as the store keeps it (upper-case hex)."""
        return hashlib.sha256(certificate_der).hexdigest().upper()

    def matches(self, certificate_der: bytes) -> bool:
        return self.fingerprint(certificate_der) == self.certificate_sha256.upper()


@dataclass
class CheckinRequest:
    method: Method
    pin_source: PinSource | None = None
    face: FaceScenario = FaceScenario.SAME
    consents: ConsentsGiven = field(default_factory=ConsentsGiven)
    prescription: Prescription | None = None  # where the clinic asks (CounterRules)
    route: Route = Route.READER
    resume: str | None = None  # a pending reception this check-in settles (the counter route)
    staff: str = "staff"
    seed: int | None = None  # the simulated camera's, for reproducible runs
    register: bool = False  # agree to 保険証利用登録 when the card lacks it (headless)
    subsidies: bool = False  # use the 医療費助成 受給者証 by card, where the area's pilot runs
    expected: ExpectedCard | None = None  # the card it must be (the simulator knows)


@dataclass
class CheckinOutcome:
    reception_id: str
    flow: CheckinFlow
    apdus: int
    timings: dict[str, float]
    detail: str | None = None
    """For developers (logs, the developer view): what failed, with codes — never shown
    to staff, who read ``flow.message`` in Japanese."""
    face_file: Path | None = None  # the result as written to the link's face/ folder
    card_error: str | None = None
    """A card fault as the command-line tools print errors — its Japanese title, then
    what happened, naming the reader (「カードが応答しません: 'Reader 0': … take it out」):
    what staff at a headless terminal need beyond ``flow.message``."""
    wrong_card: WrongCard | None = None
    """The card was not the one expected: whose was expected, both fingerprints."""

    @property
    def state(self) -> State:
        return self.flow.state

    @property
    def result(self) -> QualificationResult | None:
        return self.flow.result

    @property
    def status(self) -> ReceptionStatus:
        return store_status(self.flow.state)


def store_status(state: State) -> ReceptionStatus:
    if state is State.CONFIRMED:
        return ReceptionStatus.CONFIRMED
    if state is State.FALLBACK:
        return ReceptionStatus.FALLBACK
    if state in (State.OQS_UNAVAILABLE, State.READER_LOST, State.CARD_UNREADABLE):
        return ReceptionStatus.PENDING  # the ladder: staff take it from here
    if state is State.WRONG_CARD:
        return ReceptionStatus.CANCELLED  # not this patient's card: nothing was checked
    return ReceptionStatus.ERROR


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Identified:
    """What :func:`identify` found: the variant, the tries left of a reader PIN, and the
    user-authentication certificate where it was read to check the card expected."""

    variant: Variant
    tries_left: int | None
    certificate_der: bytes | None = None


def identify(jpki: JpkiClient, expected: ExpectedCard | None = None) -> Identified:
    """The card's variant and, for a reader PIN, the tries left (one exclusive transaction).

    With ``expected``, the card must be that one, and this is found out before any
    VERIFY — also before the empty VERIFY that asks the tries left: the certificate is
    read first (free on a card and an iPhone token, card.md §3) and compared.
    :class:`WrongCard` otherwise. An Android token releases its certificate only after
    the PIN (reader/jpki.py, ``certificate_needs_pin``): it is checked then
    (:meth:`_Visit.pin`), before anything is signed for the service."""
    with jpki.channel.transaction():
        jpki.select()
        token = jpki.token_info()
        der: bytes | None = None
        if expected is not None and not token.certificate_needs_pin:
            der = jpki.auth_certificate_der()
            if not expected.matches(der):
                raise WrongCard(expected, der, jpki.channel.reader_name, pin_sent=False)
        if token.kind is TokenKind.IPHONE:
            return Identified(Variant.IPHONE, None, der)
        if token.kind is TokenKind.ANDROID:
            return Identified(Variant.ANDROID, jpki.pin_tries_left(), der)
        if token.kind is not TokenKind.PHYSICAL_CARD:
            raise CardDefect(f"unsupported JPKI token {token.label!r} ({token.kind.value})")
        try:
            return Identified(Variant.PHYSICAL, jpki.pin_tries_left(), der)
        except PinNotSet:
            return Identified(Variant.FACE_ONLY, None, der)


class CardFailedError(Exception):
    """The check-in cannot go on (e.g. no PIN given to a headless run)."""


class CardDefect(CardFailedError):
    """The card cannot be used for 保険証 confirmation at this reader: a ladder case."""


class WrongCard(CardFailedError):
    """The card in the reader is not the one expected (:class:`ExpectedCard`): its
    certificate's fingerprint differs. The check-in stops there (no PIN is sent when it
    is found out before the PIN, ``pin_sent`` False)."""

    def __init__(
        self, expected: ExpectedCard, certificate_der: bytes, reader: str, *, pin_sent: bool
    ) -> None:
        self.expected = expected
        self.found_sha256 = ExpectedCard.fingerprint(certificate_der)
        self.pin_sent = pin_sent
        super().__init__(
            f"the card in {reader!r} is not the expected one ({expected.holder}'s): its "
            f"authentication certificate's SHA-256 is {self.found_sha256}, expected "
            f"{expected.certificate_sha256.upper()}; "
            + (
                "a PIN was verified first (a smartphone shows its certificate only then), "
                "nothing was sent to the service"
                if pin_sent
                else "no PIN was sent"
            )
            + "; take it out and place the expected card"
        )


UNREADABLE_CARD = (
    CardDefect,
    NotAMyNumberCard,
    CardUnresponsive,  # silent or too slow: this card, not the reader (another works)
    MalformedResponse,  # EndlessResponse too: 61xx past any genuine answer; no status word
    MalformedCardData,
    FileNotFound,
    InstructionNotSupported,
    ClassNotSupported,
)

PIN_STATES = (PinIncorrect, PinBlocked, PinNotSet)
"""Status words about the PIN: the flow's business (tries, blocked, no PIN), never a
defect of the card."""


def card_fault(exc: BaseException) -> bool:
    """Whether ``exc`` ends a check-in as a card that cannot be read here (pending, for
    the ladder) rather than as an error of the terminal. Every status word the check-in
    did not expect is one: a genuine card answers our commands as card.md says, so a card
    that answers ``6Cxx`` to the Le it asked for, ``6F00``, or ``6A86`` to a command that
    never has wrong parameters is a defective card — as is one that answers no status word
    at all. A guard refusal or a terminal problem stays an error."""
    if isinstance(exc, UNREADABLE_CARD):
        return True
    return isinstance(exc, CardStatusError) and not isinstance(exc, PIN_STATES)


class UnopenedCard:
    """The card of a check-in whose connection could not be opened in time — the
    transport's constructor raised :class:`~reader.errors.CardUnresponsive` (a card that
    went silent in the middle of an exchange keeps pcscd's lock on the reader until it
    leaves). Every operation raises that error, so the check-in ends as it does for a
    card that goes silent at its first command: recorded, pending, card-defect."""

    def __init__(self, error: CardUnresponsive) -> None:
        self.error = error

    @property
    def name(self) -> str:
        return "(not connected)"

    @property
    def atr(self) -> bytes:
        return b""

    def transmit(self, command: bytes) -> bytes:
        raise self.error

    def reset(self) -> None:
        raise self.error

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise self.error

    def close(self) -> None:
        pass


def open_card(connect: Callable[[], Transport]) -> Transport:
    """``connect()``, or an :class:`UnopenedCard` when the card does not let itself be
    connected within the deadline: the check-in then runs, and ends as a card fault."""
    try:
        return connect()
    except CardUnresponsive as exc:
        return UnopenedCard(exc)


class CheckinCancelled(InputError):
    """Raised by an :class:`Interaction` (or a PIN source) to stop the check-in on
    purpose: the reception ends as ``cancelled`` with this message as the reason."""


class Interaction(Protocol):
    """What the check-in asks of the patient and staff. ``None`` from a method means
    "not this way": back to the choice of method, or (from the choice itself) stop."""

    async def choose_method(self, flow: CheckinFlow) -> Method | None: ...

    async def enter_pin(self, flow: CheckinFlow, tries_left: int) -> str | None: ...

    async def capture_face(self, flow: CheckinFlow) -> FaceScenario | None: ...

    async def confirm_visually(self, flow: CheckinFlow) -> str | None: ...

    async def give_consents(self, flow: CheckinFlow) -> ConsentsGiven | None: ...

    async def choose_prescription(self, flow: CheckinFlow) -> Prescription | None: ...

    async def offer_registration(self, flow: CheckinFlow) -> bool | None: ...

    async def use_subsidies(self, flow: CheckinFlow) -> bool | None: ...

    def progress(self, flow: CheckinFlow, doing: str) -> None: ...


class FixedInteraction:
    """Headless answers from a :class:`CheckinRequest`: one method, one PIN attempt (a
    wrong PIN ends the check-in), face retried up to the limit, fixed consents."""

    def __init__(self, request: CheckinRequest) -> None:
        self.request = request
        self._chosen = False
        self._pin_asked = False

    async def choose_method(self, flow: CheckinFlow) -> Method | None:
        if not self._chosen:
            self._chosen = True
            return self.request.method
        if flow.state is State.FACE_NOT_MATCHED and Method.FACE in flow.methods():
            return Method.FACE  # the patient looks into the camera again
        return None

    async def enter_pin(self, flow: CheckinFlow, tries_left: int) -> str | None:
        if self._pin_asked:
            return None  # never a second attempt on its own (design.md §6.4)
        self._pin_asked = True
        if self.request.pin_source is None:
            raise CardFailedError("暗証番号が入力されていません")
        return self.request.pin_source(tries_left)

    async def capture_face(self, flow: CheckinFlow) -> FaceScenario | None:
        return self.request.face

    async def confirm_visually(self, flow: CheckinFlow) -> str | None:
        return self.request.staff

    async def give_consents(self, flow: CheckinFlow) -> ConsentsGiven | None:
        return self.request.consents

    async def choose_prescription(self, flow: CheckinFlow) -> Prescription | None:
        return self.request.prescription

    async def offer_registration(self, flow: CheckinFlow) -> bool | None:
        return self.request.register

    async def use_subsidies(self, flow: CheckinFlow) -> bool | None:
        return self.request.subsidies

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        log.debug("check-in: %s (%s)", doing, flow.state.value)


async def check_in(
    transport: Transport,
    client: OqsClient,
    store: Store,
    terminal: Terminal,
    request: CheckinRequest,
    *,
    face: FaceSettings | None = None,
    read_mode: ReadMode = ReadMode.SHORT,
    interaction: Interaction | None = None,
    rules: CounterRules | None = None,
    face_folder: Path | None = None,
    face_privacy: FilePrivacy | None = None,
    deadline: float = DEFAULT_DEADLINE_SECONDS,
) -> CheckinOutcome:
    """Run one check-in and record it; never raises for card, reader or service trouble.

    ``interaction`` asks the patient and staff (the TUI); without it the answers come
    from ``request`` (headless). ``deadline``: seconds to wait for one answer of the
    card; a card silent for longer (or one that never ends its answer) ends the
    check-in as a card that cannot be read — pending, for the ladder.
    """
    visit = _Visit(
        transport,
        client,
        store,
        terminal,
        request,
        face or FaceSettings(),
        read_mode,
        interaction or FixedInteraction(request),
        rules or CounterRules(),
        deadline,
    )
    flow, store_id = visit.flow, visit.reception_id
    try:
        try:
            await visit.run()
        finally:
            visit.drop_prefetched()
    except CardRemovedError as exc:
        visit.detail = f"{type(exc).__name__}: {exc}"
        flow.apply(CardRemoved())
    except (ReaderUnavailable, NoCard, TransportError) as exc:
        visit.detail = f"{type(exc).__name__}: {exc}"
        flow.apply(ReaderLost(str(exc)))
    except OqsError as exc:
        visit.detail = f"OQS {type(exc).__name__}: {exc}"
        log.warning("%s", visit.detail)  # staff read Japanese only (the flow's message)
        flow.apply(OqsFailed(exc.staff_message, exc.fallback))
    except WrongCard as exc:
        visit.detail = f"WrongCard: {exc}"
        visit.wrong_card = exc
        log.warning("%s", visit.detail)  # staff read the flow's message, in Japanese
        flow.apply(WrongCardPlaced(exc.expected.holder, pin_sent=exc.pin_sent))
    except (ReaderError, CardFailedError) as exc:
        visit.detail = f"{type(exc).__name__}: {exc}"
        # a card that answers what a JPKI card never does cannot be read here (a ladder
        # case); a guard refusal or a terminal problem stays an error (card_fault)
        defect = card_fault(exc)
        if defect and isinstance(exc, ReaderError):
            visit.card_error = f"{exc.title}: {exc}"
        flow.apply(CardFailed(str(exc), defect=defect))
    except InvalidPin:
        # typed wrong (3 digits, full-width, empty): nothing reached the card, no try spent
        _abandon(store, store_id, ReceptionStatus.CANCELLED, MALFORMED_PIN_REASON, request)
        raise
    except (CheckinCancelled, KeyboardInterrupt, asyncio.CancelledError) as exc:
        reason = f"中止: {exc or type(exc).__name__}"
        _abandon(store, store_id, ReceptionStatus.CANCELLED, reason, request)
        raise
    except BaseException as exc:  # a bug or the store itself: never left in progress
        reason = f"内部エラー: {type(exc).__name__}: {exc}"
        _abandon(store, store_id, ReceptionStatus.ERROR, reason, request)
        raise
    outcome = visit.finish()
    if face_folder is not None and outcome.result is not None:
        outcome.face_file = write_face_result(
            face_folder, outcome.reception_id, outcome.result, face_privacy
        )
    return outcome


def write_face_result(
    folder: Path,
    reception_id: str,
    result: QualificationResult,
    privacy: FilePrivacy | None = None,
) -> Path | None:
    """A card confirmation into the link's face/ folder, whole, private (0600, or 0640
    with the link's group) and never through a symlink planted there (oqs.md §2, §7;
    design.md §6.8). A folder that cannot be written loses the file, never the check-in
    (it is in the store)."""
    from reception.export import result_file_name, write_atomically, xml_message

    path = folder / Path(result_file_name(result, reception_id)).name
    try:
        write_atomically(path, xml_message(result), privacy)
    except OSError:
        log.exception("the face/ result of %s could not be written", reception_id)
        return None
    return path


# a prefetched nonce older than this is not used (the service keeps one 120 s): a patient
# who took long over the PIN or the face gets a fresh one
PREFETCH_FRESH_SECONDS = 60.0


class _Visit:
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
        ask: Interaction,
        rules: CounterRules,
        deadline: float,
    ) -> None:
        self.client, self.store, self.terminal, self.request = client, store, terminal, request
        self.ask = ask
        self.rules = rules
        self.flow = CheckinFlow(face_tries=face.tries, route=request.route)
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
        self._nonce_task: asyncio.Task[str] | None = None
        self._nonce_asked = 0.0

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
        self.ask.progress(self.flow, "nonce")
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
        self.ask.progress(flow, "identify")
        self.prefetch_nonce()
        identified = await self.card(identify, self.jpki, self.request.expected)
        variant, tries = identified.variant, identified.tries_left
        self.certificate_der = identified.certificate_der
        self.variant = variant
        flow.apply(CardPlaced(variant))
        if flow.route is Route.COUNTER:
            # 居宅同意取得型: the consent question comes first, then identity (PIN or 目視)
            self.early_consents = await self.ask.give_consents(flow) or ConsentsGiven()
        flow.pin_tries_left = tries
        if tries == 0:
            flow.message = "暗証番号がロックされています。顔認証か目視確認で続けられます"
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
        """Ask for a method; False: the check-in stops where it is."""
        method = await self.ask.choose_method(self.flow)
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
            text = await self.ask.enter_pin(flow, left)
            if text is None:
                return await self.choose()
            with redaction.secret(text):
                pin = Pin(text)
        value = await self.nonce()
        self.ask.progress(flow, "authenticate")
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
            self.ask.progress(self.flow, "face-object")
            await self.certificate()
            self.template = await self.card(_face_template, self.channel, self.terminal)
        scenario = await self.ask.capture_face(self.flow)
        if scenario is None:
            return await self.choose()
        self.camera = self.camera or SimulatedCamera(scenario, self.request.seed)
        self.camera.scenario = scenario
        match = self.matcher.compare(self.template, self.camera.capture(self.template))
        if self.flow.apply(FaceCompared(match.matched, match.score)) is State.CONSENTS:
            self.confirmation = await self._statement(Method.FACE)
        return True

    async def visual(self) -> bool:
        staff = await self.ask.confirm_visually(self.flow)
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
        given = self.early_consents or await self.ask.give_consents(self.flow) or ConsentsGiven()
        if self.rules.consent_flow is ConsentFlow.CURRENT:
            # since 2024-10-07 限度額 information is provided by law, without a question
            given = dataclasses.replace(given, limit=True)
        # 公費 by card where the area runs it — not after 目視 nor on the 居宅同意取得型
        # route (design.md §6.9: no source opens it there; the paper 受給者証 stays)
        if self.rules.public_expense_pilot and "subsidies" in self.flow.open_items():
            use = await self.ask.use_subsidies(self.flow)
            given = dataclasses.replace(given, subsidies=bool(use))
        if self.rules.electronic_prescriptions:
            chosen = await self.ask.choose_prescription(self.flow)
            given = dataclasses.replace(given, prescription=chosen)
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

    async def confirm(self) -> bool:
        assert self.confirmation is not None
        flow = self.flow
        t = time.perf_counter()
        if flow.registering:
            assert flow.result is not None and flow.result.registration_offer is not None
            self.ask.progress(flow, "register")
            result = await self.client.register(flow.result.registration_offer)
            self.store.audit(
                self.request.staff,
                "registration",
                "保険証利用登録（カードリーダー）",
                self.reception_id,
            )
        else:
            self.ask.progress(flow, "confirm")
            result = await self.client.confirm_card(self.confirmation)
        self._timed("oqs", t)
        flow.apply(ResultReceived(result))
        return True

    async def registration(self) -> bool:
        """The card lacks 保険証利用登録: the patient may register it now (the answer None
        or False: not now, the reception goes to the ladder)."""
        agreed = await self.ask.offer_registration(self.flow)
        self.flow.apply(RegistrationAnswered(bool(agreed)))
        return True

    def finish(self) -> CheckinOutcome:
        """Record how the check-in ended (one transaction) and return the outcome."""
        flow, der = self.flow, self.certificate_der
        self.timings["total"] = round((time.perf_counter() - self.started) * 1000, 3)
        apdus = self.channel.stats.apdus
        outcome = CheckinOutcome(
            self.reception_id,
            flow,
            apdus,
            self.timings,
            self.detail,
            card_error=self.card_error,
            wrong_card=self.wrong_card,
        )
        if flow.state is State.WRONG_CARD:
            # another's card: nothing of it is kept with this reception, which is cancelled
            # (a pending one settled at the counter stays pending, the attempt a rung)
            _abandon(
                self.store,
                self.reception_id,
                ReceptionStatus.CANCELLED,
                flow.message or State.WRONG_CARD.value,
                self.request,
            )
            return outcome
        self.store.finish_reception(
            self.reception_id,
            status=store_status(flow.state),
            reason=None if flow.state is State.CONFIRMED else (flow.message or flow.state.value),
            fallback_reason=flow.fallback_reason,
            method=flow.method or self.request.method,
            variant=flow.variant,
            certificate_sha256=hashlib.sha256(der).hexdigest().upper() if der else None,
            result=flow.result,
            apdu_count=apdus,
            timings=self.timings,
            actor=self.request.staff,
            route=flow.route,
        )
        return outcome


MALFORMED_PIN_REASON = (
    "暗証番号の形式が違います（4桁の半角数字）: "
    "カードには送っていません（試行回数は減っていません）"
)


def _abandon(
    store: Store,
    reception_id: str,
    status: ReceptionStatus,
    reason: str,
    request: CheckinRequest,
) -> None:
    """End a check-in that stops by an exception: the reception is ended with the reason
    (and an audit entry) before the exception goes on. A failing store does not hide
    the original exception. A check-in that was to settle a pending reception (the
    counter route) leaves it pending, with the reason as a rung."""
    try:
        if request.resume is not None:
            store.record_step(request.resume, LadderStep.COUNTER, reason[:300], actor=request.staff)
            return
        store.finish_reception(
            reception_id,
            status=status,
            reason=reason[:300],
            method=request.method,
            actor=request.staff,
        )
    except Exception:
        log.exception("could not record the end of reception %s", reception_id)


def _face_template(channel: CardChannel, terminal: Terminal) -> list[float]:
    if terminal.face_certificate is None:
        raise CardFailedError("この端末には顔認証用の端末証明書がありません")
    with channel.transaction(), face_path(channel):
        return read_face_template(channel, terminal.face_certificate, terminal.key)
