"""One check-in, end to end: card → authentication → consents → OQS → store.

:func:`check_in` drives the pure :class:`~reception.flow.CheckinFlow` with real I/O:
card commands (blocking, so in a worker thread) through the guarded channel, the OQS
client (async), and the store. It is what ``reception checkin`` runs headless and what
the TUI runs interactively.

The order follows the card: the service's nonce first (the card signs it), then the
card is identified and the tries left are read and handed to whoever supplies the PIN
*before* the one attempt (design.md §6.4); a wrong PIN ends this attempt — the machine
never sends a PIN again by itself.

Here: the request and outcome, the headless answers (:class:`FixedInteraction`), and how
a check-in is recorded. The steps are :class:`reception.visit.Visit`'s; the questions
they ask, and the one ``ask`` every front end implements, are in
:mod:`reception.questions`; what is checked of the card, in :mod:`reception.card_checks`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reader.clock import JST
from reader.errors import CardRemoved as CardRemovedError
from reader.errors import (
    NoCard,
    ReaderError,
    ReaderUnavailable,
    TransportError,
)
from reader.jpki import ReadMode
from reader.pin import InvalidPin
from reader.terminal_auth import TerminalCertificate
from reader.transport import DEFAULT_DEADLINE_SECONDS, Transport
from reception.camera import FaceScenario
from reception.card_checks import CardFailedError, WrongCard
from reception.card_checks import ExpectedCard as ExpectedCard  # also imported from here
from reception.card_checks import open_card as open_card  # also imported from here
from reception.declaration import LadderStep
from reception.error_screens import ErrorScreen, screen_for, with_number
from reception.errors import InputError
from reception.flow import (
    CheckinFlow,
    ConsentsGiven,
    CounterRules,
    Method,
    Prescription,
    Route,
    State,
)
from reception.oqs_client import OqsClient, OqsError
from reception.questions import (
    CaptureFace,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    ShowErrorScreen,
    YesNo,
    YesNoKind,
    checked,
)
from reception.questions import Interaction as Interaction  # also imported from here
from reception.results import QualificationResult
from reception.settings import FaceSettings
from reception.shared_folder import FilePrivacy
from reception.store import ReceptionStatus, Store
from reception.visit import Visit

log = logging.getLogger(__name__)

A = TypeVar("A")

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
    screen: ErrorScreen | None = None
    """The numbered error screen the reader showed (reception/error_screens.py); None
    when confirmed."""

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


class CheckinCancelled(InputError):
    """Raised by an :class:`Interaction` (or a PIN source) to stop the check-in on
    purpose: the reception ends as ``cancelled`` with this message as the reason."""


class FixedInteraction:
    """Headless answers from a :class:`CheckinRequest`: one method, one PIN attempt (a
    wrong PIN ends the check-in), face retried up to the limit, fixed consents."""

    def __init__(self, request: CheckinRequest) -> None:
        self.request = request
        self._chosen = False
        self._pin_asked = False

    async def ask(self, question: Question[A]) -> A | None:
        return checked(question, self.answer(question))

    def answer(self, question: Question[Any]) -> object:
        """The request's answer to ``question`` (None: not this way)."""
        request = self.request
        match question:
            case ChooseMethod():
                return self._method(question)
            case EnterPin():
                return self._pin(question.tries_left)
            case CaptureFace():
                return request.face
            case ConfirmVisually():
                return request.staff
            case GiveConsents():
                return request.consents
            case ChoosePrescription():
                return request.prescription
            case YesNo(kind=YesNoKind.REGISTER):
                return request.register
            case YesNo(kind=YesNoKind.SUBSIDY):
                return request.subsidies
            case ShowErrorScreen():
                return True  # closed at once: nobody reads it headless
        return None

    def _method(self, question: ChooseMethod) -> Method | None:
        if not self._chosen:
            self._chosen = True
            return self.request.method
        if question.state is State.FACE_NOT_MATCHED and Method.FACE in question.methods:
            return Method.FACE  # the patient looks into the camera again
        return None

    def _pin(self, tries_left: int) -> str | None:
        if self._pin_asked:
            return None  # never a second attempt on its own (design.md §6.4)
        self._pin_asked = True
        if self.request.pin_source is None:
            raise CardFailedError("暗証番号が入力されていません")
        return self.request.pin_source(tries_left)

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        log.debug("check-in: %s (%s)", doing, flow.state.value)


STOPS = (
    CardRemovedError,
    ReaderUnavailable,
    NoCard,
    TransportError,
    OqsError,
    WrongCard,
    ReaderError,
    CardFailedError,
)
"""What ends a check-in as the flow knows it (:meth:`Visit.stopped_by`), not as an error."""


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
    visit = Visit(
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
    store_id = visit.reception_id
    try:
        try:
            await visit.run()
        finally:
            visit.drop_prefetched()
    except STOPS as exc:
        visit.stopped_by(exc)
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
    outcome = _record(visit)
    if face_folder is not None and outcome.result is not None:
        outcome.face_file = write_face_result(
            face_folder, outcome.reception_id, outcome.result, face_privacy
        )
    if outcome.screen is not None:
        await _show_screen(visit, outcome.screen)
    return outcome


async def _show_screen(visit: Visit, screen: ErrorScreen) -> None:
    """The numbered error screen, until closed or the card leaves. The reception is
    recorded already: a card taken away (or the screen abandoned) only closes it."""
    with contextlib.suppress(ReaderError, CheckinCancelled):
        await visit.ask(ShowErrorScreen(screen))


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


MALFORMED_PIN_REASON = (
    "暗証番号の形式が違います（4桁の半角数字）: "
    "カードには送っていません（試行回数は減っていません）"
)


def _record(visit: Visit) -> CheckinOutcome:
    """Record how the check-in ended (one transaction) and return the outcome."""
    flow, der = visit.flow, visit.certificate_der
    visit.timings["total"] = round((time.perf_counter() - visit.started) * 1000, 3)
    apdus = visit.channel.stats.apdus
    screen = screen_for(flow.state, flow.fallback_reason, visit.cause)
    outcome = CheckinOutcome(
        visit.reception_id,
        flow,
        apdus,
        visit.timings,
        visit.detail,
        card_error=visit.card_error,
        wrong_card=visit.wrong_card,
        screen=screen,
    )
    if flow.state is State.WRONG_CARD:
        # another's card: nothing of it is kept with this reception, which is cancelled
        # (a pending one settled at the counter stays pending, the attempt a rung)
        _abandon(
            visit.store,
            visit.reception_id,
            ReceptionStatus.CANCELLED,
            with_number(screen, flow.message or State.WRONG_CARD.value),
            visit.request,
        )
        return outcome
    visit.store.finish_reception(
        visit.reception_id,
        status=store_status(flow.state),
        reason=None
        if flow.state is State.CONFIRMED
        else with_number(screen, flow.message or flow.state.value),
        fallback_reason=flow.fallback_reason,
        method=flow.method,  # none chosen (a reader fault before the question): none recorded
        variant=flow.variant,
        certificate_sha256=hashlib.sha256(der).hexdigest().upper() if der else None,
        result=flow.result,
        apdu_count=apdus,
        timings=visit.timings,
        actor=visit.request.staff,
        route=flow.route,
    )
    return outcome


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
