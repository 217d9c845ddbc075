"""What proves the holder, and what that proof opens (design.md §5, §6.9).

Card confirmation proves possession: the service issues a single-use nonce, the card
signs it (PIN path: RSA PKCS#1 v1.5 with SHA-256 over the 16 raw nonce bytes), or the
terminal signs a statement with its facility key (face and visual paths). The card's
certificate chains to the mock JPKI CA (parsed once per certificate:
:class:`CardCertificates`); revocation, validity and the registry link are the
registry's (:mod:`mock_oqs.qualifications`), checked on every request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mock_oqs.clock import JST
from mock_oqs.models import CardConfirmationRequest, Method, Route
from mock_oqs.refusal import Refusal

STATEMENT_MAX_AGE = dt.timedelta(minutes=5)
TerminalKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# What a holder proven this way may agree to, and whether 保険証利用登録 is offered
# (design.md §6.9: "Registration for 保険証 use rests on the holder's proof (PIN or face),
# never on 目視 alone; what a patient may consent to under 目視 follows what real readers
# allow"). Anything else is refused with MOCK-E017 — whatever the terminal's flow did.
#
# Sources (searched 2026-12 for issue 19; the ministry's reader manual is not public):
# 1. 目視 at the face-recognition reader (目視モード) opens the consents as PIN and face do:
#    - 社会保障審議会 医療保険部会 第200回 (2025-10-16), 資料2「マイナ保険証の利用促進等
#      について」p.12 (https://www.mhlw.go.jp/stf/newpage_64752.html; read through
#      https://www.wic-net.com/material/document/22095/12): 目視モード, improved from
#      2025-04 (switched at the reader with a 4-digit passcode; 134,736 facilities, about
#      1.6 million uses by 2025-09); a facility reports that in 目視モード the patient
#      enters the 薬剤情報等 consent themselves, or staff confirm it orally and help.
#    - the ministry's description of the 顔認証マイナンバーカード as municipalities relay it
#      (e.g. https://www.city.higashine.yamagata.jp/section_list/section007/2201):
#      「顔認証または目視により確実な本人確認を行った上で、オンライン資格確認のほか、本人の
#      同意により特定健診等の情報や診療、薬剤情報の閲覧が可能」.
# 2. The 居宅同意取得型 route (マイナ資格確認アプリ; oqs.md §6 rung 0) proves the holder by
#    PIN or 目視 and takes the consent to 薬剤情報・診療情報・特定健診情報 and the 処方箋
#    form: https://ijnethp.com/news/ (「訪問診療等におけるオンライン資格確認（居宅同意取得
#    型）について」); 京都府保険医協会 2025-03-01 (https://kyotoihou.t-reader.jp/?p=26483,
#    the ministry's Q&A 問2: 目視, no PIN, because the app runs only on the clinic's own
#    registered device); the portal's FAQ (https://iryohokenjyoho.service-now.com/csm?
#    id=kb_article_view&sys_kb_id=091c338dc37b06d0a66d9c777a0131e2: 薬剤情報等 after
#    identity by the card and the patient's consent).
# 3. That route needs the card registered beforehand: 「本サービスのご利用にはマイナンバー
#    カードの健康保険証利用の登録が必要です…マイナポータルサイトで登録」 (the portal's FAQ,
#    sys_kb_id=011701188335d65852d354e0deaad374; https://myna-kango.com/guides/
#    ons_smartphone): no registration offer on it.
# Silent or conflicting, read conservatively:
# - 手術情報 on the 居宅同意取得型 route: every source names 薬剤・診療・特定健診 only → not
#   open there.
# - the 医療費助成 受給者証 by card (the PMH pilot) after 目視 or on that route: no source
#   → not open (the paper 受給者証 stays the rule).
# - registration after 目視: one municipality's page (https://www.town.mikata-kami.lg.jp/
#   www/contents/1704953676982/index.html) tells holders of a 顔認証マイナンバーカード to
#   apply at a reader 「顔認証または目視確認により」; the ministry's own material found says
#   nothing of it → design.md §6.9 holds: PIN or face only.
_ALL = frozenset({"medication", "checkup", "operation", "limit", "subsidies", "registration"})
_COUNTER = frozenset({"medication", "checkup", "limit"})
OPEN_AT: dict[tuple[Route, Method], frozenset[str]] = {
    (Route.READER, Method.PIN): _ALL,
    (Route.READER, Method.FACE): _ALL,
    (Route.READER, Method.VISUAL): _ALL - {"subsidies", "registration"},
    (Route.COUNTER, Method.PIN): _COUNTER,  # a staff-held reader has no camera
    (Route.COUNTER, Method.VISUAL): _COUNTER,
}
_CONSENT_ITEMS = tuple(sorted(_ALL - {"registration"}))  # the fields of Consents
REGISTRATION_CLOSED = {
    Method.VISUAL: "保険証利用登録がありません（目視確認では登録できません。暗証番号か顔認証で"
    "本人確認すると登録できます）",
    Route.COUNTER: "保険証利用登録がありません（居宅同意取得型では登録できません。顔認証付き"
    "カードリーダーかマイナポータルで登録してください）",
}


def check_open(request: CardConfirmationRequest) -> None:
    """MOCK-E017 for what this route and method do not open (:data:`OPEN_AT`)."""
    opened = OPEN_AT.get((request.route, request.method))
    if opened is None:
        raise Refusal(
            "MOCK-E017",
            403,
            f"method {request.method.value} on the {request.route.value} route: the "
            "居宅同意取得型 route proves the holder by pin or visual",
        )
    consents = request.consents
    asked = [item for item in _CONSENT_ITEMS if getattr(consents, item)]
    closed = [item for item in asked if item not in opened]
    if closed:
        raise Refusal(
            "MOCK-E017",
            403,
            f"consents {', '.join(closed)}: not open to a holder proven by "
            f"{request.method.value} on the {request.route.value} route",
        )


def registration_open(request: CardConfirmationRequest) -> bool:
    """保険証利用登録 may follow this proof (PIN or face at the reader)."""
    return "registration" in OPEN_AT.get((request.route, request.method), frozenset())


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A card certificate the mock JPKI CA issued, with what each request needs of it."""

    der: bytes
    certificate: x509.Certificate
    fingerprint: str  # SHA-256 of the DER, upper-case hex: the registry's key
    not_before: dt.datetime
    expiry: dt.date  # the last day, in Japan
    key: rsa.RSAPublicKey | None  # None: not an RSA key (the PIN path refuses it)


class CardCertificates:
    """Card certificates parsed and chained to the mock JPKI CA once each (refusals are
    exceptions, never cached)."""

    def __init__(self, jpki_ca: x509.Certificate, cache_size: int = 4096) -> None:
        self.jpki_ca = jpki_ca
        self.issued = functools.lru_cache(maxsize=cache_size)(self._load)

    def _load(self, der: bytes) -> IssuedCard:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise Refusal("MOCK-E004", 403, "certificate: not an X.509 certificate") from None
        try:
            cert.verify_directly_issued_by(self.jpki_ca)
        except (ValueError, TypeError, InvalidSignature):
            raise Refusal(
                "MOCK-E004", 403, "certificate was not issued by the mock JPKI CA"
            ) from None
        key = cert.public_key()
        return IssuedCard(
            der=der,
            certificate=cert,
            fingerprint=hashlib.sha256(der).hexdigest().upper(),
            not_before=cert.not_valid_before_utc,
            expiry=cert.not_valid_after_utc.astimezone(JST).date(),
            key=key if isinstance(key, rsa.RSAPublicKey) else None,
        )


def b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("MOCK-E006", 422, f"{what}: not valid base64") from None


def verify_card_signature(card: IssuedCard, req: CardConfirmationRequest) -> None:
    """PIN path: the card signed the nonce (RSA PKCS#1 v1.5, SHA-256; card.md)."""
    if req.signature is None:
        raise Refusal("MOCK-E003", 403, "method pin needs the card's signature over the nonce")
    if card.key is None:
        raise Refusal("MOCK-E004", 403, "certificate key is not RSA")
    try:
        card.key.verify(
            b64(req.signature, "signature"),
            bytes.fromhex(req.nonce),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        raise Refusal(
            "MOCK-E003", 403, "the card's signature over the nonce does not verify"
        ) from None


def verify_statement(
    card: IssuedCard, req: CardConfirmationRequest, terminal_key: TerminalKey | None
) -> None:
    """Face and visual paths: the terminal's statement, signed with its facility key,
    names this method, nonce and card, and is fresh."""
    if req.statement is None or req.statement_signature is None:
        raise Refusal(
            "MOCK-E005", 403, f"method {req.method.value} needs a statement and its signature"
        )
    if terminal_key is None:
        raise Refusal("MOCK-E001", 401, "a statement needs the terminal's client certificate")
    signature = b64(req.statement_signature, "statement_signature")
    try:
        if isinstance(terminal_key, ec.EllipticCurvePublicKey):
            terminal_key.verify(signature, req.statement.encode(), ec.ECDSA(hashes.SHA256()))
        else:
            terminal_key.verify(
                signature, req.statement.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
    except InvalidSignature:
        raise Refusal(
            "MOCK-E005", 403, "the statement is not signed by this terminal's facility key"
        ) from None
    _check_statement(card, req, req.statement)


def _check_statement(card: IssuedCard, req: CardConfirmationRequest, statement: str) -> None:
    try:
        data = json.loads(statement)
        checked_at = dt.datetime.fromisoformat(data["checked_at"])
        ok = (
            data["method"] == req.method.value
            and data["nonce"] == req.nonce
            and data["certificate_sha256"] == card.fingerprint
        )
    except (ValueError, KeyError, TypeError):
        raise Refusal(
            "MOCK-E005",
            403,
            "statement must be JSON with method, nonce, certificate_sha256, checked_at",
        ) from None
    if not ok:
        raise Refusal(
            "MOCK-E005", 403, "statement does not match this request (method/nonce/certificate)"
        )
    # freshness is real elapsed time: a pinned service day shifts only the rules
    real_now = dt.datetime.now(JST)
    if checked_at.tzinfo is None or abs(real_now - checked_at) > STATEMENT_MAX_AGE:
        raise Refusal("MOCK-E005", 403, "statement time is missing a zone or is stale")
