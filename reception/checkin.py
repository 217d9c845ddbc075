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
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reader.errors import (
    CardRemoved as CardRemovedError,
)
from reader.errors import (
    NoCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    ReaderError,
    ReaderUnavailable,
    TransportError,
)
from reader.face import TerminalCertificate, face_path, read_face_template
from reader.jpki import JpkiClient, ReadMode, TokenKind
from reader.pin import Pin
from reader.transport import CardChannel, Transport
from reception import redaction
from reception.camera import FaceMatcher, FaceScenario, SimulatedCamera
from reception.flow import (
    CardFailed,
    CardPlaced,
    CardRemoved,
    CheckinFlow,
    ConsentsGiven,
    FaceCompared,
    InvalidTransition,
    Method,
    MethodChosen,
    OqsFailed,
    PinAccepted,
    PinRejected,
    PinTriesRead,
    ReaderLost,
    ResultReceived,
    State,
    Variant,
    VisualConfirmed,
)
from reception.oqs_client import OqsClient, OqsError
from reception.results import QualificationResult
from reception.settings import FaceSettings
from reception.store import Store

log = logging.getLogger(__name__)
JST = dt.timezone(dt.timedelta(hours=9), "JST")

PinSource = Callable[[int], str]
"""Asked once per attempt with the tries left (shown to the patient first); returns the PIN."""


class TerminalError(Exception):
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
                if face_certificate is not None and face_certificate.exists()
                else None
            )
        except (OSError, ValueError) as exc:
            raise TerminalError(f"cannot load the terminal certificate or key: {exc}") from None
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
    staff: str = "staff"
    seed: int | None = None  # the simulated camera's, for reproducible runs


@dataclass
class CheckinOutcome:
    reception_id: str
    flow: CheckinFlow
    apdus: int
    timings: dict[str, float]

    @property
    def state(self) -> State:
        return self.flow.state

    @property
    def result(self) -> QualificationResult | None:
        return self.flow.result

    @property
    def status(self) -> str:
        return store_status(self.flow.state)


def store_status(state: State) -> str:
    if state is State.CONFIRMED:
        return "confirmed"
    if state is State.FALLBACK:
        return "fallback"
    if state is State.OQS_UNAVAILABLE:
        return "pending"
    return "error"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def identify(jpki: JpkiClient) -> tuple[Variant, int | None]:
    """The card's variant and, for a reader PIN, the tries left (one exclusive transaction)."""
    with jpki.channel.transaction():
        jpki.select()
        token = jpki.token_info()
        if token.kind is TokenKind.IPHONE:
            return Variant.IPHONE, None
        if token.kind is TokenKind.ANDROID:
            return Variant.ANDROID, jpki.pin_tries_left()
        if token.kind is not TokenKind.PHYSICAL_CARD:
            raise CardFailedError(f"unsupported JPKI token {token.label!r} ({token.kind.value})")
        try:
            return Variant.PHYSICAL, jpki.pin_tries_left()
        except PinNotSet:
            return Variant.FACE_ONLY, None


class CardFailedError(Exception):
    pass


async def check_in(
    transport: Transport,
    client: OqsClient,
    store: Store,
    terminal: Terminal,
    request: CheckinRequest,
    *,
    face: FaceSettings | None = None,
    read_mode: ReadMode = ReadMode.SHORT,
) -> CheckinOutcome:
    """Run one check-in and record it; never raises for card, reader or service trouble."""
    face = face or FaceSettings()
    flow = CheckinFlow(face_tries=face.tries)
    reception_id = store.begin_reception(actor=request.staff)
    channel = CardChannel(transport)
    jpki = JpkiClient(channel, read_mode=read_mode)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    certificate_der: bytes | None = None

    def timed(name: str, since: float) -> None:
        timings[name] = round(timings.get(name, 0.0) + (time.perf_counter() - since) * 1000, 3)

    try:
        t = time.perf_counter()
        variant, tries = await asyncio.to_thread(identify, jpki)
        timed("card", t)
        flow.apply(CardPlaced(variant))
        if tries is not None:
            flow.pin_tries_left = tries
        try:
            flow.apply(MethodChosen(request.method))
        except InvalidTransition:
            open_methods = "・".join(m.label for m in flow.methods()) or "なし"
            raise CardFailedError(
                f"{variant.label}では{request.method.label}を使えません"
                f"（使えるもの: {open_methods}）"
            ) from None
        t = time.perf_counter()
        nonce = await client.nonce()
        timed("oqs", t)
        body: dict[str, Any] = {"method": request.method.value, "nonce": nonce}
        t = time.perf_counter()
        if request.method is Method.PIN:
            body |= await _pin(jpki, flow, request, nonce, variant, tries)
        else:
            certificate_der = await asyncio.to_thread(_certificate, jpki)
            if request.method is Method.FACE:
                await _face(channel, flow, request, terminal, face)
                if flow.state is not State.CONSENTS:
                    return _finish(store, reception_id, flow, channel, timings,
                                   started, certificate_der, request)  # fmt: skip
            else:
                flow.apply(VisualConfirmed(request.staff))
            body["certificate"] = _b64(certificate_der)
            body |= terminal.sign_statement(request.method, nonce, certificate_der)
        timed("card", t)
        if flow.state is not State.CONSENTS:  # wrong PIN / blocked: this attempt ends
            return _finish(store, reception_id, flow, channel, timings, started,
                           certificate_der, request)  # fmt: skip
        certificate_der = certificate_der or base64.b64decode(body["certificate"])
        flow.apply(request.consents)
        body["consents"] = {
            "medication": request.consents.medication,
            "checkup": request.consents.checkup,
            "operation": request.consents.operation,
            "limit": request.consents.limit,
        }
        t = time.perf_counter()
        result = await client.confirm_card(body)
        timed("oqs", t)
        flow.apply(ResultReceived(result))
    except CardRemovedError:
        flow.apply(CardRemoved())
    except (ReaderUnavailable, NoCard, TransportError) as exc:
        flow.apply(ReaderLost(str(exc)))
    except OqsError as exc:
        log.warning("OQS: %s", exc)
        flow.apply(OqsFailed(f"{exc.title}: {exc}", exc.fallback))
    except (ReaderError, CardFailedError) as exc:
        flow.apply(CardFailed(str(exc)))
    return _finish(store, reception_id, flow, channel, timings, started,
                   certificate_der, request)  # fmt: skip


async def _pin(
    jpki: JpkiClient,
    flow: CheckinFlow,
    request: CheckinRequest,
    nonce: str,
    variant: Variant,
    tries: int | None,
) -> dict[str, str]:
    pin: Pin | None = None
    if flow.state is State.PIN_BLOCKED:  # known blocked when the card was identified
        return {}
    if variant is not Variant.IPHONE:
        assert tries is not None
        if flow.apply(PinTriesRead(tries)) is State.PIN_BLOCKED:
            return {}
        if request.pin_source is None:
            raise CardFailedError("暗証番号が入力されていません")
        text = request.pin_source(tries)
        with redaction.secret(text):
            pin = Pin(text)
    try:
        auth = await asyncio.to_thread(jpki.authenticate, pin, bytes.fromhex(nonce))
    except PinIncorrect as exc:
        flow.apply(PinRejected(exc.tries_left))
        return {}
    except PinBlocked:
        flow.apply(PinRejected(0))
        return {}
    flow.apply(PinAccepted())
    return {"certificate": _b64(auth.certificate_der), "signature": _b64(auth.signature)}


def _certificate(jpki: JpkiClient) -> bytes:
    with jpki.channel.transaction():
        jpki.select()
        return jpki.auth_certificate_der()


async def _face(
    channel: CardChannel,
    flow: CheckinFlow,
    request: CheckinRequest,
    terminal: Terminal,
    settings: FaceSettings,
) -> None:
    if terminal.face_certificate is None:
        raise CardFailedError("この端末には顔認証用の端末証明書がありません")
    cvc = terminal.face_certificate

    def read() -> list[float]:
        with channel.transaction(), face_path(channel):
            return read_face_template(channel, cvc, terminal.key)

    template = await asyncio.to_thread(read)
    camera = SimulatedCamera(request.face, request.seed)
    matcher = FaceMatcher(settings.threshold)
    state = flow.state
    while state is State.FACE_CAPTURE:
        match = matcher.compare(template, camera.capture(template))
        state = flow.apply(FaceCompared(match.matched, match.score))
        if state is State.FACE_NOT_MATCHED and Method.FACE in flow.methods():
            state = flow.apply(MethodChosen(Method.FACE))  # headless: the patient tries again


def _finish(
    store: Store,
    reception_id: str,
    flow: CheckinFlow,
    channel: CardChannel,
    timings: dict[str, float],
    started: float,
    certificate_der: bytes | None,
    request: CheckinRequest,
) -> CheckinOutcome:
    timings["total"] = round((time.perf_counter() - started) * 1000, 3)
    apdus = channel.stats.apdus
    reason = None if flow.state is State.CONFIRMED else (flow.message or flow.state.value)
    store.finish_reception(
        reception_id,
        status=store_status(flow.state),
        reason=reason,
        method=flow.method.value if flow.method else request.method.value,
        variant=flow.variant.value if flow.variant else None,
        certificate_sha256=hashlib.sha256(certificate_der).hexdigest().upper()
        if certificate_der
        else None,
        result=flow.result,
        apdu_count=apdus,
        timings=timings,
        actor=request.staff,
    )
    return CheckinOutcome(reception_id, flow, apdus, timings)
