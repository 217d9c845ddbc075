"""The virtual My Number card: an ISO 7816 state machine faithful to card.md.

It carries the JPKI AP (what the terminal uses) and, as a honeypot, the text
AP and the card-face AP with a synthetic 個人番号. Every access to a
number-bearing object (or to a key our terminal never uses) is recorded in
:class:`Honeypot`; the test suite asserts the record is empty after every flow.

:meth:`VirtualCard.process` is total: any bytes in, a response APDU out.

What it does, and where each fact comes from (card.md keeps the list; there is no
public J-LIS specification, so the sources are public clients and their authors'
measurements on issued cards):

- Applications by AID (reader/aids.py; OpenSC ``jpki.h`` ``AID_JPKI``, jpki/myna
  ``src/text.rs``/``visual.rs``, soltia48/myna-card ``src/ap/*.rs``). A DF is found by a
  *prefix* of its name (JICSAP 4.2 (1), quoted by soltia48/myna-card ``Card::select_df``
  and IPA's JICSAP summary: "DFは正確なDF名および名の上位桁からの部分桁からでも参照できる"):
  the honeypot applications come first, so a careless partial AID lands where the honeypot
  sees it. An unknown AID answers ``6A82``, an unknown instruction ``6D00``, another class
  ``6E00`` (card.md §5: OpenSC 0.23 run against an emulator — a card answering 9000 to
  every SELECT is claimed by other drivers first).
- JPKI AP files (card.md §2): EF 0006 the token label (32 bytes read by jpki/myna
  ``jpki_ap``; JPKIAPICCTOKEN2 card, JPKIAPGPSETOKEN Android — jpki/myna's old Go
  ``libmyna/api.go`` checks both and calls JPKIAPICCTOKEN a 住基カード), 000A/000B the auth
  certificate and its CA, 0002 the signing CA (:meth:`MockJpkiCa.signing_ca_certificate`
  for why anyone may read it), 0017/0018 the auth key and PIN, 001A/001B the signing key
  and password. Certificates are followed by ``FF`` filler (soltia48/myna-card
  ``TlvFields``: "a file read straight off the card carries filler"); the Android token's
  certificate is read only after the PIN (jpki/myna ``run_jpki_cert`` verifies first for
  JPKIAPGPSETOKEN, and its issue #6).
- READ BINARY (:meth:`VirtualCard._read`), VERIFY (:meth:`VirtualCard._verify_auth_pin`),
  the signature (:meth:`VirtualCard._sign`), GET CHALLENGE, SELECT and the verified state
  (:meth:`VirtualCard._select`): each says its sources.
- The text AP's and card-face AP's keys: :meth:`VirtualCard._surface_keys`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from reader.aids import (
    CARD_FACE_AID,
    COMMON_AID,
    EF_AUTH_CA_CERT,
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_FACE_COLLATION_A,
    EF_FACE_COLLATION_B,
    EF_FACE_IMAGE,
    EF_FACE_NUMBER_IMAGE,
    EF_SIGN_CA_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PASSWORD,
    EF_TEXT_BASIC_INFO,
    EF_TEXT_BLOCKED_KEY,
    EF_TEXT_COLLATION_A,
    EF_TEXT_COLLATION_B,
    EF_TEXT_MY_NUMBER,
    EF_TEXT_NUMBER_HASH,
    EF_TEXT_PIN,
    EF_TOKEN_INFO,
    JPKI_AID,
    JUKI_AID,
    TEXT_AID,
)
from reader.apdu import (
    INS_PSO,
    INS_READ_BINARY,
    INS_SELECT,
    INS_VERIFY,
    CommandApdu,
)
from reader.errors import MalformedApdu
from reader.sw import StatusWord, tries_left_sw
from reader.terminal_auth import (
    INS_EXTERNAL_AUTHENTICATE,
    INS_GET_CHALLENGE,
    TerminalAuthError,
    check_authentication,
    face_object,
)
from reader.virtual.profile import CardAtr, CardProfile, KeyCounter, Variant, save_profile

log = logging.getLogger(__name__)

ATR = CardAtr.CONTACTLESS.atr
"""The ATR a profile presents unless it chooses another (:class:`CardAtr`)."""
CERT_FILE_SIZE = 2048

SW_OK = StatusWord.OK
SW_WRONG_LENGTH = StatusWord.WRONG_LENGTH
SW_AUTH_FAILED = StatusWord.AUTH_FAILED
SW_CONDITIONS = StatusWord.CONDITIONS_NOT_SATISFIED
SW_SECURITY = StatusWord.SECURITY_NOT_SATISFIED
SW_BLOCKED = StatusWord.PIN_BLOCKED
SW_NO_CURRENT_EF = StatusWord.NO_CURRENT_EF
SW_NOT_FOUND = StatusWord.NOT_FOUND
SW_WRONG_P1P2 = StatusWord.WRONG_P1P2
SW_REF_NOT_FOUND = StatusWord.REFERENCE_NOT_FOUND
SW_OFFSET = StatusWord.OFFSET_BEYOND_FILE
SW_INS = StatusWord.INS_NOT_SUPPORTED
SW_CLA = StatusWord.CLA_NOT_SUPPORTED
SW_TECHNICAL = StatusWord.TECHNICAL_PROBLEM


@dataclass(frozen=True, slots=True)
class NumberAccess:
    """One access to a number-bearing object, as the honeypot saw it."""

    at: str
    application: str
    operation: str

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at, "application": self.application, "operation": self.operation}


class Honeypot:
    """Records every access to the 個人番号-bearing parts of the card.

    ``sink`` (a path) gets one JSON line per access as it happens.
    ``deliberate`` marks a honeypot that a test pokes on purpose to prove it
    records; the suite-wide check skips those.
    """

    def __init__(self, sink: Path | None = None, *, deliberate: bool = False) -> None:
        self.accesses: list[NumberAccess] = []
        self.sink = sink
        self.deliberate = deliberate
        self._lock = threading.Lock()

    def record(self, application: str, operation: str) -> None:
        access = NumberAccess(
            dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), application, operation
        )
        log.warning("honeypot: number-bearing access: %s: %s", application, operation)
        with self._lock:
            self.accesses.append(access)
            if self.sink is not None:
                with self.sink.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(access.as_dict(), ensure_ascii=False) + "\n")

    @property
    def empty(self) -> bool:
        return not self.accesses


@dataclass
class ElementaryFile:
    """``recorded``: the honeypot records every SELECT, READ and VERIFY of it — a
    number-bearing object, or a key reference our terminal never uses (card.md §8)."""

    fid: int
    content: bytes = b""
    readable: Callable[[], bool] = lambda: True
    recorded: bool = False


@dataclass(frozen=True)
class SurfaceKey:
    """A key reference of the text AP or the card-face AP (behind the honeypot): which
    counter of :class:`~reader.virtual.profile.SurfaceKeys` it uses and what it takes."""

    name: str
    value: Callable[[], str | None]
    length: int


@dataclass
class Application:
    aid: bytes
    label: str
    files: dict[int, ElementaryFile] = field(default_factory=dict)
    honeypot: bool = False  # the whole application is off limits


def _padded(der: bytes, size: int = CERT_FILE_SIZE) -> bytes:
    if len(der) >= size:
        size = (len(der) // 256 + 1) * 256
    return der + b"\xff" * (size - len(der))


def _leaves_application(apdu: CommandApdu) -> bool:
    """SELECT by a non-empty AID or of the MF: it touches no file of the current DF (a
    SELECT of a number-bearing application is recorded by the selection itself)."""
    return apdu.ins == INS_SELECT and (
        (apdu.p1 == 0x04 and bool(apdu.data))
        or (apdu.p1 == 0x00 and apdu.data in (b"", b"\x3f\x00"))
    )


def _pkcs1_type1(data: bytes, k: int) -> bytes:
    return b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data


class VirtualCard:
    """A My Number card in memory, loaded from a :class:`CardProfile`.

    ``path``: where PIN counter changes are persisted (atomically). Without it
    the counters live in memory only.
    """

    def __init__(
        self,
        profile: CardProfile,
        *,
        path: Path | None = None,
        honeypot: Honeypot | None = None,
    ) -> None:
        self.profile = profile
        self.atr = profile.atr.atr
        self.path = path
        self.honeypot = honeypot or Honeypot()
        self._key = profile.private_key()
        self._lock = threading.Lock()
        self.powered = True
        self.current_app: Application | None = None
        self.current_ef: int | None = None
        self.auth_verified = False
        self.terminal_authenticated = False
        self._challenge: bytes | None = None
        self.apdu_count = 0
        self.last_error: str | None = None
        self.surface_verified: set[str] = set()  # SurfaceKey names verified in this AP
        self.surface_keys = self._surface_keys()
        self.apps = self._build_applications()

    # -- construction -----------------------------------------------------------

    def _build_applications(self) -> list[Application]:
        p = self.profile
        cert_der = p.certificate().public_bytes(Encoding.DER)
        ca_der = p.ca_certificate().public_bytes(Encoding.DER)
        sign_ca = p.sign_ca_certificate()
        label = p.token_label.encode("ascii").ljust(32, b" ")
        android = p.variant is Variant.ANDROID

        def cert_readable() -> bool:
            return not android or self.auth_verified

        jpki = Application(JPKI_AID, "JPKI AP")
        for ef in (
            ElementaryFile(EF_TOKEN_INFO, label),
            ElementaryFile(EF_AUTH_CERT, _padded(cert_der), cert_readable),
            ElementaryFile(EF_AUTH_CA_CERT, _padded(ca_der)),
            ElementaryFile(EF_AUTH_KEY, b"", lambda: False),
            ElementaryFile(EF_AUTH_PIN, b"", lambda: False),
            ElementaryFile(EF_SIGN_KEY, b"", lambda: False),
            ElementaryFile(EF_SIGN_PASSWORD, b"", lambda: False),
        ):
            jpki.files[ef.fid] = ef
        if sign_ca is not None:  # readable by anyone (MockJpkiCa.signing_ca_certificate)
            jpki.files[EF_SIGN_CA_CERT] = ElementaryFile(
                EF_SIGN_CA_CERT, _padded(sign_ca.public_bytes(Encoding.DER))
            )

        number = p.my_number.encode("ascii")
        text = Application(TEXT_AID, "券面事項入力補助AP", honeypot=True)
        basic = "氏名 テスト 太郎 / 住所 東京都千代田区 / 生年月日 / 性別 (synthetic)".encode()

        def opened_by(*keys: str) -> Callable[[], bool]:
            return lambda: bool(self.surface_verified.intersection(keys))

        # What opens what (soltia48/myna-card src/ap/text.rs and surface.rs, measured):
        # in the text AP the PIN opens everything, 照合番号A the 個人番号 (0001) and its
        # hash record (0003), 照合番号B the 基本4情報 (0002); in the card-face AP either
        # 照合番号 opens the card face (0002), only 照合番号A the number image (0005).
        for ef in (
            ElementaryFile(
                EF_TEXT_MY_NUMBER, b"\xff\x40\x0c" + number, opened_by("text-pin", "text-a"), True
            ),
            ElementaryFile(EF_TEXT_BASIC_INFO, basic, opened_by("text-pin", "text-b"), True),
            ElementaryFile(
                EF_TEXT_NUMBER_HASH,
                hashlib.sha256(number).digest(),
                opened_by("text-pin", "text-a"),
                True,
            ),
            ElementaryFile(EF_TEXT_PIN, b"", lambda: False, True),
            ElementaryFile(EF_TEXT_BLOCKED_KEY, b"", lambda: False, True),
            ElementaryFile(EF_TEXT_COLLATION_A, b"", lambda: False, True),
            ElementaryFile(EF_TEXT_COLLATION_B, b"", lambda: False, True),
        ):
            text.files[ef.fid] = ef

        card_face = Application(CARD_FACE_AID, "券面事項確認AP")
        face_opened = opened_by("face-a", "face-b")
        for ef in (
            ElementaryFile(
                EF_FACE_IMAGE,
                face_object(p.face_template),
                lambda: self.terminal_authenticated or face_opened(),
            ),
            ElementaryFile(EF_FACE_NUMBER_IMAGE, b"\x30\x00" + number, opened_by("face-a"), True),
            ElementaryFile(EF_FACE_COLLATION_B, b"", lambda: False, True),
            ElementaryFile(EF_FACE_COLLATION_A, b"", lambda: False, True),
        ):
            card_face.files[ef.fid] = ef

        juki = Application(JUKI_AID, "住基AP", honeypot=True)
        common = Application(COMMON_AID, "共通カードAP", honeypot=True)
        # Order matters for selection by AID prefix: the honeypot APs come first,
        # so a careless partial AID lands where the honeypot sees it.
        return [text, card_face, juki, common, jpki]

    def _surface_keys(self) -> dict[tuple[bytes, int], SurfaceKey]:
        """The key references of the text AP and the card-face AP, each with its own
        counter (:class:`~reader.virtual.profile.SurfaceKeys`: tries and sources).

        What each takes: the 券面事項入力補助用暗証番号 is 4 digits — this test card sets it to
        the 利用者証明用 PIN (citizens may choose the same number for both; a card without
        that PIN has none set); 照合番号A is the 12-digit 個人番号 (soltia48/myna-card
        ``MyNumber::as_verification_code_a``, confirmed on a card; jpki/myna's ``visual``
        command verifies the card-face AP's with it); 照合番号B is 14 digits
        (:func:`~reader.virtual.keys.collation_number_b`). File ids: text AP 0011 / 0014 /
        0015, card-face AP 0013 / 0012 (jpki/myna ``pin status``, @aokiapp/mynacard's
        constants, soltia48/myna-card). Our terminal touches none of them (the guard
        refuses every VERIFY outside the JPKI AP); the honeypot records every touch.
        """
        p = self.profile
        text_pin = SurfaceKey("text-pin", lambda: p.auth_pin.pin, 4)
        a_text = SurfaceKey("text-a", lambda: p.my_number, 12)
        b_text = SurfaceKey("text-b", p.collation_number_b, 14)
        a_face = SurfaceKey("face-a", lambda: p.my_number, 12)
        b_face = SurfaceKey("face-b", p.collation_number_b, 14)
        return {
            (TEXT_AID, EF_TEXT_PIN): text_pin,
            (TEXT_AID, EF_TEXT_COLLATION_A): a_text,
            (TEXT_AID, EF_TEXT_COLLATION_B): b_text,
            (CARD_FACE_AID, EF_FACE_COLLATION_A): a_face,
            (CARD_FACE_AID, EF_FACE_COLLATION_B): b_face,
        }

    def _surface_counter(self, key: SurfaceKey) -> KeyCounter:
        keys = self.profile.surface_keys
        return {
            "text-pin": keys.text_pin,
            "text-a": keys.text_collation_a,
            "text-b": keys.text_collation_b,
            "face-a": keys.face_collation_a,
            "face-b": keys.face_collation_b,
        }[key.name]

    # -- power ---------------------------------------------------------------------

    def power_on(self) -> None:
        with self._lock:
            self.powered = True
            self._clear_state()

    def power_off(self) -> None:
        with self._lock:
            self.powered = False
            self._clear_state()

    def reset(self) -> None:
        with self._lock:
            self.powered = True
            self._clear_state()

    def _clear_state(self) -> None:
        self.current_app = None
        self.current_ef = None
        self.auth_verified = False
        self.terminal_authenticated = False
        self.surface_verified.clear()
        self._challenge = None

    # -- processing ----------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """One command APDU in, one response APDU out. Never raises."""
        with self._lock:
            self.apdu_count += 1
            try:
                data, sw = self._dispatch(raw)
            except Exception as exc:  # a bug or a failed write: the card answers 6F00
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("virtual card: internal error")
                data, sw = b"", SW_TECHNICAL
            return data + sw.to_bytes(2, "big")

    def _dispatch(self, raw: bytes) -> tuple[bytes, int]:
        try:
            apdu = CommandApdu.parse(raw)
        except MalformedApdu:
            return b"", SW_WRONG_LENGTH
        if apdu.is_extended and not self.profile.extended_length:
            return b"", SW_WRONG_LENGTH
        if apdu.cla not in (0x00, 0x80):
            return b"", SW_CLA
        if (
            self.current_app is not None
            and self.current_app.honeypot
            and not _leaves_application(apdu)
        ):
            # any command inside a number-bearing application, except the SELECT that
            # leaves it (another program may have left the card there: card.md §8 is
            # about what reaches the number, not about selecting away from it)
            self.honeypot.record(self.current_app.label, f"command {raw[:4].hex().upper()}")
        if apdu.ins == INS_SELECT:
            return b"", self._select(apdu)
        if apdu.ins == INS_READ_BINARY:
            return self._read(apdu)
        if apdu.ins == INS_VERIFY:
            return b"", self._verify(apdu)
        if apdu.ins == INS_PSO:
            return self._sign(apdu)
        if apdu.ins == INS_GET_CHALLENGE:
            return self._get_challenge(apdu)
        if apdu.ins == INS_EXTERNAL_AUTHENTICATE:
            return b"", self._external_authenticate(apdu)
        return b"", SW_INS

    # -- the simulated terminal authentication (reader/terminal_auth.py) ----------------------

    def _get_challenge(self, apdu: CommandApdu) -> tuple[bytes, int]:
        """GET CHALLENGE (``00 84 00 00 Le``): Le random bytes, 1 to 256, with any
        application selected or none.

        As the real card answers it (soltia48/myna-card ``src/card.rs``,
        ``Card::get_challenge``, measured on issued cards): every length from 1 to 256 is
        honoured exactly, the extended form is refused with ``6985`` (so 256 is the
        ceiling), P1-P2 must be ``00 00``, and the card answers at the MF level as well as
        inside an application. OpenSC's PKCS#11 ``C_GenerateRandom`` sends it
        (``iso7816_get_challenge``): ``pkcs11-tool -t`` tests it first. The challenge is
        kept for the next EXTERNAL AUTHENTICATE of the simulated terminal authentication
        (reader/terminal_auth.py), which only the card-face AP accepts; any SELECT of an
        application drops it.
        """
        if apdu.p1 or apdu.p2:
            return b"", SW_WRONG_P1P2
        if apdu.data or apdu.le is None:
            return b"", SW_WRONG_LENGTH
        if apdu.is_extended:
            return b"", SW_CONDITIONS
        self._challenge = os.urandom(apdu.le)
        return self._challenge, SW_OK

    def _external_authenticate(self, apdu: CommandApdu) -> int:
        if self.current_app is None or self.current_app.aid != CARD_FACE_AID:
            return SW_CONDITIONS
        challenge, self._challenge = self._challenge, None  # one try per challenge
        if challenge is None:
            return SW_CONDITIONS
        if self.profile.terminal_ca_key is None:
            return SW_SECURITY  # this card trusts no terminal CA
        ca_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), bytes.fromhex(self.profile.terminal_ca_key)
        )
        try:
            check_authentication(apdu.data, challenge, ca_key)
        except TerminalAuthError:
            return SW_AUTH_FAILED
        self.terminal_authenticated = True
        return SW_OK

    def _select(self, apdu: CommandApdu) -> int:
        """SELECT: an application by (a prefix of) its AID, an EF of the current one, the MF.

        What a selection does to a verified PIN — the evidence found for issue 20:

        - **Re-selecting the JPKI AP clears it** (so does selecting any other application).
          OpenSC relies on exactly this: since 0.24 (PR #2807 "Implemented logout for some
          card drivers", merged 2023-08-01) ``card-jpki.c`` implements PKCS#11 ``C_Logout``
          as ``jpki_logout`` → ``jpki_select_ap``, a re-SELECT of the JPKI AP; were the PIN
          to survive it, OpenSC's logout would leave the card open. Against it stands only
          meowkawaiijp/pyjpki, whose ``sign_data`` verifies, re-selects the JPKI AP and
          then signs (``pyjpki/card.py``), with no record of having run on a card (its
          history shows no test against one). Every client known to work with real cards
          verifies and signs without re-selecting in between: OpenSC's ``jpki_pin_cmd`` then
          ``jpki_set_security_env``, jpki/myna (``src/jpki.rs`` ``verify`` then
          ``pkey_sign``), gebogebogebo/JPKIReader, siketyan/jpki-rs, soltia48/myna-card,
          an Android NFC client (``signDataUsingAuthKey``). No trace from a real card of a
          sign after a re-SELECT was found; one would settle it.
        - **Selecting an EF keeps it**, and signing does not use it up: jpki/myna's CMS
          signature verifies the password, selects and reads EF 0001, selects EF 001A and
          signs (``src/jpki.rs`` ``cms_sign``), and its マイナポータル helper signs several
          digests after one VERIFY and then reads the certificate (``mpa/src/main.rs``
          ``sign``); OpenSC selects 0018 to verify and 0017 to sign.
        - **A SELECT that fails** (``6A82``: another driver probing for its own AID, as
          OpenSC's card matching does) leaves the current application and its state as
          they were — ISO 7816-4's rule; not observed on this card either way.
        - **Reset or power-off** clears it (card.md §4).
        """
        if apdu.p2 not in (0x00, 0x0C):
            return SW_WRONG_P1P2
        if apdu.p1 == 0x04:
            if not apdu.data:
                self._clear_state()
                return SW_OK
            for app in self.apps:
                if app.aid.startswith(apdu.data):
                    if app.honeypot:
                        self.honeypot.record(app.label, f"SELECT by AID {apdu.data.hex().upper()}")
                    self.current_app = app
                    self.current_ef = None
                    self.auth_verified = False  # re-selecting the AP too (see above)
                    self.terminal_authenticated = False
                    self.surface_verified.clear()
                    self._challenge = None
                    return SW_OK
            return SW_NOT_FOUND
        if apdu.p1 == 0x00:
            if apdu.data in (b"", b"\x3f\x00"):
                self._clear_state()
                return SW_OK
            return SW_NOT_FOUND
        if apdu.p1 == 0x02:
            if len(apdu.data) != 2:
                return SW_WRONG_LENGTH
            if self.current_app is None:
                return SW_NOT_FOUND
            fid = int.from_bytes(apdu.data, "big")
            ef = self.current_app.files.get(fid)
            if ef is None:
                return SW_NOT_FOUND
            if ef.recorded:
                self.honeypot.record(self.current_app.label, f"SELECT EF {fid:04X}")
            self.current_ef = fid
            return SW_OK
        return SW_WRONG_P1P2

    def _read(self, apdu: CommandApdu) -> tuple[bytes, int]:
        """READ BINARY: offset ``(P1 & 7F) << 8 | P2`` of the current EF, or with P1 ``8x``
        the EF of short id ``x`` (it becomes current) at the 8-bit offset P2 (JICSAP Table 5,
        quoted by soltia48/myna-card ``read_binary_chunk_sfi``). Le ``00`` is 256; extended
        Le passes through pcscd + vpcd unchanged (card.md §3). A read that runs past the end
        returns what is left with ``9000`` (JICSAP 6.4.1 (4): "the card reads to the end of
        the file within that limit"); one that starts past it answers ``6B00`` (JICSAP 7.3.1,
        soltia48/myna-card ``is_end_of_file``; pyjpki's ``read_certificate`` stops on it).
        The known clients size a certificate each their own way and all are served:
        OpenSC 4 bytes then 256-byte chunks (``jpki_select_file``), jpki/myna 7 bytes then
        the rest (``read_binary_all``), pyjpki 255-byte chunks until ``6B00``.
        """
        app = self.current_app
        if apdu.p1 & 0x80:
            if apdu.p1 & 0x60:
                return b"", SW_WRONG_P1P2
            if app is None:
                return b"", SW_NOT_FOUND
            fid = apdu.p1 & 0x1F
            ef = app.files.get(fid)
            if ef is None:
                return b"", SW_NOT_FOUND
            self.current_ef = fid
            offset = apdu.p2
        else:
            if app is None or self.current_ef is None:
                return b"", SW_NO_CURRENT_EF
            ef = app.files[self.current_ef]
            offset = ((apdu.p1 & 0x7F) << 8) | apdu.p2
        if ef.recorded:
            self.honeypot.record(app.label, f"READ BINARY EF {ef.fid:04X}")
        if apdu.data:
            return b"", SW_WRONG_P1P2
        if apdu.le is None:
            return b"", SW_WRONG_LENGTH
        if not ef.readable():
            return b"", SW_SECURITY
        if offset >= len(ef.content):
            return b"", SW_OFFSET
        return ef.content[offset : offset + apdu.le], SW_OK

    def _pin_target(self, apdu: CommandApdu) -> int | None:
        if apdu.p2 == 0x80:
            return self.current_ef
        if apdu.p2 & 0x80 and not apdu.p2 & 0x60:
            return apdu.p2 & 0x1F
        return None

    def _verify(self, apdu: CommandApdu) -> int:
        if apdu.p1 != 0x00:
            return SW_WRONG_P1P2
        app = self.current_app
        if app is None:
            return SW_REF_NOT_FOUND
        target = self._pin_target(apdu)
        if target is None:
            return SW_NO_CURRENT_EF if apdu.p2 == 0x80 else SW_WRONG_P1P2
        if app.aid == JPKI_AID:
            if target == EF_AUTH_PIN:
                return self._verify_auth_pin(apdu.data)
            if target == EF_SIGN_PASSWORD:
                return self._verify_signing_password(apdu.data)
            return SW_REF_NOT_FOUND
        if app.aid == TEXT_AID and target == EF_TEXT_BLOCKED_KEY:
            # blocked on every card examined, never presented to (soltia48/myna-card
            # src/ap/text.rs BLOCKED_0012): empty VERIFY 63C0, any value 6984
            self.honeypot.record(app.label, f"VERIFY EF {target:04X}")
            return tries_left_sw(0) if not apdu.data else SW_BLOCKED
        key = self.surface_keys.get((app.aid, target))
        if key is None:
            return SW_REF_NOT_FOUND
        self.honeypot.record(app.label, f"VERIFY EF {target:04X}")
        return self._verify_surface_key(key, apdu.data)

    def _verify_surface_key(self, key: SurfaceKey, data: bytes) -> int:
        """As the JPKI PINs: an empty VERIFY answers 63Cx, a wrong value counts down to
        63C0, then 6984; the right one resets the counter and opens the AP's files until
        the next SELECT of an application; a value of the wrong length is refused (6700)
        without counting, as for the 利用者証明用 PIN."""
        value = key.value()
        if value is None:
            return SW_REF_NOT_FOUND  # no such PIN set on this card
        counter = self._surface_counter(key)
        if not data:
            return tries_left_sw(counter.tries_left)
        if counter.tries_left == 0:
            return SW_BLOCKED
        if len(data) != key.length:
            return SW_WRONG_LENGTH
        if hmac.compare_digest(data, value.encode("ascii")):
            self.surface_verified.add(key.name)
            if counter.tries_left != counter.max_tries:
                counter.tries_left = counter.max_tries
                self._persist()
            return SW_OK
        self.surface_verified.discard(key.name)
        counter.tries_left -= 1
        self._persist()
        return tries_left_sw(counter.tries_left)

    def _verify_auth_pin(self, data: bytes) -> int:
        """VERIFY of the 利用者証明用 PIN (4 ASCII digits, 3 tries: OpenSC ``jpki.h``
        ``JPKI_AUTH_PIN_MAX_TRIES``, municipal pages).

        An empty VERIFY answers ``63Cx`` with the tries left — also after a successful
        VERIFY: a real card's trace in OpenSC PR #959 (hamano: correct PIN → ``90 00``,
        then ``00 20 00 80`` → ``63 C3``); OpenSC's ``jpki_pin_cmd`` refuses any other
        answer (``sw1 != 0x63``), so a card answering ``9000`` there is unusable. The
        attempt that exhausts the counter answers ``63C0``, every VERIFY with data after it
        ``6984`` (soltia48/myna-card README, "Retry counters"). The right PIN resets the
        counter. A PIN of another length is refused (``6700``) without counting — this
        model's rule, not observed on a card. A card with no PIN set (顔認証マイナンバーカード,
        iPhone) answers ``6A88``.
        """
        state = self.profile.auth_pin
        if state.pin is None:
            return SW_REF_NOT_FOUND  # no PIN set: 顔認証マイナンバーカード / iPhone
        if not data:
            return tries_left_sw(state.tries_left)  # card.md §5: always 63Cx, also when verified
        if state.tries_left == 0:
            return SW_BLOCKED
        if len(data) != 4:
            return SW_WRONG_LENGTH
        if hmac.compare_digest(data, state.pin.encode("ascii")):
            self.auth_verified = True
            if state.tries_left != state.max_tries:
                state.tries_left = state.max_tries
                self._persist()
            return SW_OK
        self.auth_verified = False
        state.tries_left -= 1
        self._persist()
        return tries_left_sw(state.tries_left)

    def _verify_signing_password(self, data: bytes) -> int:
        state = self.profile.signing_password
        if not data:
            return tries_left_sw(state.tries_left)
        if state.tries_left == 0:
            return SW_BLOCKED
        if not 6 <= len(data) <= 16:
            return SW_WRONG_LENGTH
        if hmac.compare_digest(data, state.password.encode("ascii")):
            if state.tries_left != state.max_tries:
                state.tries_left = state.max_tries
                self._persist()
            return SW_OK
        state.tries_left -= 1
        self._persist()
        return tries_left_sw(state.tries_left)

    def _sign(self, apdu: CommandApdu) -> tuple[bytes, int]:
        """COMPUTE DIGITAL SIGNATURE, the card's own ``80 2A 00 P2``: P2 ``80`` signs with
        the current EF's key, ``8x`` with the key of short id ``x`` (0017: ``97``). The card
        pads the data as given with PKCS#1 v1.5 type 1 and returns 256 bytes — P1 ``00``,
        "PKCS #1 v1.5 over data exactly as supplied, 1 to 245 bytes" (soltia48/myna-card
        ``SignatureScheme::Verbatim``, every P1 exercised on a card); clients hand it a
        DigestInfo (OpenSC ``jpki_compute_signature``, jpki/myna ``signature``). The other
        P1 values soltia48 found (the card hashing, PSS) are not simulated: ``6A86``.
        """
        if apdu.cla != 0x80:
            return b"", SW_CLA
        if apdu.p1 != 0x00:
            return b"", SW_WRONG_P1P2
        app = self.current_app
        if app is None or app.aid != JPKI_AID:
            return b"", SW_SECURITY
        target = self._pin_target(apdu)
        if target is None:
            return b"", SW_NO_CURRENT_EF if apdu.p2 == 0x80 else SW_WRONG_P1P2
        if target == EF_SIGN_KEY:
            return b"", SW_SECURITY  # signing certificate: out of scope, never usable
        if target != EF_AUTH_KEY:
            return b"", SW_REF_NOT_FOUND
        phone_checked = self.profile.variant is Variant.IPHONE
        if not (self.auth_verified or phone_checked):
            # 6982, security status not satisfied: what this card answers for a key or
            # file behind a PIN not presented — soltia48/myna-card src/card.rs (INTERNAL
            # AUTHENTICATE of a PIN-protected key: 6982) and src/ap/text.rs, OpenSC issue
            # #3169's trace (READ BINARY of EF 0001 without the signing password: 69 82)
            return b"", SW_SECURITY
        k = self._key.key_size // 8
        if not apdu.data or len(apdu.data) > k - 11:
            return b"", SW_WRONG_LENGTH
        known = _known_digest(apdu.data)
        if known is not None:  # the usual case: OpenSSL, the same signature in 0.3 ms
            algorithm, digest = known
            signature = self._key.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))
            return signature, SW_OK
        return _raw_sign(self._key, apdu.data, k), SW_OK

    def _persist(self) -> None:
        if self.path is not None:
            save_profile(self.profile, self.path)


# DigestInfo prefixes (RFC 8017 §9.2 note 1) of the hashes OpenSSL signs for us
_DIGEST_INFOS: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),  # noqa: S303 (clients send it)
    bytes.fromhex("302d300d06096086480165030402040500041c"): hashes.SHA224(),
    bytes.fromhex("3031300d060960864801650304020105000420"): hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


def _known_digest(data: bytes) -> tuple[hashes.HashAlgorithm, bytes] | None:
    """(hash, digest) when ``data`` is exactly a DigestInfo OpenSSL knows, else None."""
    for prefix, algorithm in _DIGEST_INFOS.items():
        if data.startswith(prefix) and len(data) == len(prefix) + algorithm.digest_size:
            return algorithm, data[len(prefix) :]
    return None


def _raw_sign(key: rsa.RSAPrivateKey, data: bytes, k: int) -> bytes:
    """What the card does with anything else: type-1 padding of the data as given, then
    RSA with the CRT (as the card's hardware does)."""
    numbers = key.private_numbers()
    m = int.from_bytes(_pkcs1_type1(data, k), "big")
    s1 = pow(m, numbers.dmp1, numbers.p)
    s2 = pow(m, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    return (s2 + h * numbers.q).to_bytes(k, "big")
