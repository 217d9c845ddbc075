"""Virtual card profiles: one JSON file per card.

A profile holds everything the virtual card needs: the auth certificate and
key (PEM), its CA certificate, the PIN and its counter, the token label, the
variant, the synthetic 個人番号 (honeypot bait) and a face template for the
simulated face path. Counter changes are written back atomically
(:mod:`reader.files`: temporary file, fsync, rename, directory fsync), so a
blocked card stays blocked across restarts.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reader.files import write_private
from reader.virtual.keys import (
    MockJpkiCa,
    SeededStream,
    card_expiry,
    collation_number_b,
    generate_rsa_key,
    my_number_check_digit,
    opaque_cn,
    private_key_pem,
    synthetic_my_number,
)

PROFILE_FORMAT = "myna-sim/vcard-profile/1"
FACE_TEMPLATE_SIZE = 64


class Variant(enum.StrEnum):
    PHYSICAL = "physical"
    FACE_ONLY = "face-only"  # 顔認証マイナンバーカード: no PIN
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def token_label(self) -> str:
        return {
            Variant.PHYSICAL: "JPKIAPICCTOKEN2",
            Variant.FACE_ONLY: "JPKIAPICCTOKEN2",
            Variant.ANDROID: "JPKIAPGPSETOKEN",
            Variant.IPHONE: "JPKIAPIOSTOKEN",
        }[self]

    @property
    def is_smartphone(self) -> bool:
        """スマホ用電子証明書: no card-face AP, so no face recognition at the reader."""
        return self in (Variant.ANDROID, Variant.IPHONE)

    @property
    def has_reader_pin(self) -> bool:
        """Whether the 4-digit PIN is entered on the reader."""
        return self in (Variant.PHYSICAL, Variant.ANDROID)


class CardAtr(enum.StrEnum):
    """Which Answer-to-Reset the card presents: what card tools (pcsc-tools' ``pcsc_scan``,
    OpenSC) see before they send anything.

    The bytes are the entries of pcsc-tools' ``smartcard_list.txt`` (LudovicRousseau/pcsc-tools;
    checked in Debian 12's pcsc-tools 1.6.2, ``/usr/share/pcsc/smartcard_list.txt``, and in the
    upstream list of 2026-06), which names them:

    - ``contactless`` — ``3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B``: the ATR a PC/SC reader
      constructs for the card over its contactless (type B) interface, as the
      顔認証付きカードリーダー and NFC readers present it — the usual case, so the default.
      Debian's list: "ID card issued by Japan government (eID)",
      ``https://www.kojinbango-card.go.jp/mynumber/index.html``; upstream: "Japanese Public Key
      Infrastructure (PKI) … Japanese Individual Number Card (My Number Card) (eID)".
    - ``contact`` — ``3B C5 FF 81 31 FB 45 80 73 C6 01 00 00``, one of the contact ATRs (they
      vary by manufacturer): "Japanese Individual Number Card (eID)". T=1 only.
    - ``juki`` — ``3B E0 00 FF 81 31 FE 45 14``, the old 住基カード's: "JUKICARD", digitally
      sign tax documents in Japan. It was this simulator's only ATR before issue 20; it stays
      for tests of old cards. OpenSC's JPKI driver lists it in its ATR table
      (``card-jpki.c``), but OpenSC identifies the My Number card by selecting the JPKI AID
      (``jpki_match_card``), so every choice here is claimed by its JPKI driver.

    Software must identify the card by selecting the JPKI AID, not by the ATR (card.md §5).
    """

    CONTACTLESS = "contactless"
    CONTACT = "contact"
    JUKI = "juki"

    @property
    def atr(self) -> bytes:
        return _ATRS[self]

    @property
    def label(self) -> str:
        return {
            CardAtr.CONTACTLESS: "My Number card through a contactless (NFC) reader",
            CardAtr.CONTACT: "My Number card in a contact reader",
            CardAtr.JUKI: "old 住基カード",
        }[self]


_ATRS: dict[CardAtr, bytes] = {
    CardAtr.CONTACTLESS: bytes.fromhex("3B888001000041E0B381A1003B"),
    CardAtr.CONTACT: bytes.fromhex("3BC5FF8131FB458073C6010000"),
    CardAtr.JUKI: bytes.fromhex("3BE000FF8131FE4514"),
}


class ProfileError(ValueError):
    """A profile file is missing, unreadable or inconsistent. Says which and why."""


Digits4 = Annotated[str, Field(pattern=r"^[0-9]{4}$")]


class AuthPinState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: Digits4 | None = Field(description="None: no PIN set (顔認証マイナンバーカード, iPhone)")
    tries_left: int = Field(ge=0, le=3)
    max_tries: int = Field(default=3, ge=1, le=15)


class KeyCounter(BaseModel):
    """The try counter of one key reference of the 券面 applications."""

    model_config = ConfigDict(extra="forbid")

    tries_left: int = Field(ge=0, le=15)
    max_tries: int = Field(ge=1, le=15)


def _counter(tries: int) -> KeyCounter:
    return KeyCounter(tries_left=tries, max_tries=tries)


class SurfaceKeys(BaseModel):
    """The try counters of the 券面事項入力補助AP's (text AP) and 券面事項確認AP's
    (card-face AP) key references — each its own, as on a real card (card.md §4).

    - 券面事項入力補助用暗証番号 (text AP EF 0011): 3 tries — municipal pages list it with
      the two JPKI passwords (八代市 "マイナンバーカード用電子証明書の暗証番号の初期化・
      再設定について": 券面事項入力補助用暗証番号, 4桁, ロックまでの回数 3回); AokiApp's card
      dump tool checks for 3 tries left before it verifies it.
    - 照合番号A (text AP EF 0014, card-face AP EF 0013) and 照合番号B (text AP EF 0015,
      card-face AP EF 0012): 10 tries each — soltia48/myna-card ``src/data.rs`` ("a counter
      of ten attempts"), AokiApp's dump tool (checks for 10 before verifying A or B), a
      vendor's eKYC guide quoted in public notes (ロック回数「10回」 for the 14-digit
      照合番号B).

    Profiles made before issue 20 have none: they load with full counters.
    """

    model_config = ConfigDict(extra="forbid")

    text_pin: KeyCounter = Field(default_factory=lambda: _counter(3))
    text_collation_a: KeyCounter = Field(default_factory=lambda: _counter(10))
    text_collation_b: KeyCounter = Field(default_factory=lambda: _counter(10))
    face_collation_a: KeyCounter = Field(default_factory=lambda: _counter(10))
    face_collation_b: KeyCounter = Field(default_factory=lambda: _counter(10))


class SigningPasswordState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(pattern=r"^[A-Z0-9]{6,16}$")
    tries_left: int = Field(ge=0, le=5)
    max_tries: int = Field(default=5, ge=1, le=15)


class CardProfile(BaseModel):
    """The content of one virtual card."""

    model_config = ConfigDict(extra="forbid")

    format: str = PROFILE_FORMAT
    variant: Variant
    token_label: str = Field(max_length=32)
    holder_birth_date: dt.date
    certificate_pem: str
    key_pem: str
    ca_certificate_pem: str
    sign_ca_certificate_pem: str | None = Field(
        default=None,
        description="the 署名用CA証明書 in JPKI AP EF 0002 (readable by anyone); none: the "
        "card has no EF 0002 (6A82), as a 顔認証マイナンバーカード and profiles made before "
        "issue 20",
    )
    auth_pin: AuthPinState
    signing_password: SigningPasswordState
    my_number: str = Field(pattern=r"^[0-9]{12}$", description="synthetic; honeypot bait")
    surface_keys: SurfaceKeys = Field(default_factory=SurfaceKeys)
    security_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}$",
        description="the 4-digit セキュリティコード printed on the card (part of 照合番号B); "
        "none: derived from the synthetic 個人番号",
    )
    card_expires: dt.date | None = Field(
        default=None,
        description="the card's own 有効期限 (part of 照合番号B); none: from the certificate's "
        "issue date and the birth date (keys.card_expiry)",
    )
    face_template: list[float] = Field(min_length=FACE_TEMPLATE_SIZE, max_length=FACE_TEMPLATE_SIZE)
    atr: CardAtr = Field(
        default=CardAtr.CONTACTLESS,
        description="the ATR the card presents (profiles made before it existed: the usual "
        "contactless one)",
    )
    extended_length: bool = Field(
        default=True, description="whether the card answers extended APDUs (else 6700)"
    )
    terminal_ca_key: str | None = Field(
        default=None,
        pattern=r"^04[0-9A-F]{128}$",
        description="the facility CA's P-256 point (hex) whose terminals may read the face "
        "object (the simulated 特定機関認証, reader/terminal_auth.py); none: no terminal may",
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != PROFILE_FORMAT:
            raise ValueError(f"unknown profile format {value!r} (expected {PROFILE_FORMAT!r})")
        return value

    @field_validator("my_number")
    @classmethod
    def _check_digit(cls, value: str) -> str:
        if my_number_check_digit(value[:11]) != int(value[11]):
            raise ValueError("the synthetic 個人番号 has a wrong check digit")
        return value

    # -- derived objects --------------------------------------------------------

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_certificate_pem.encode())

    def sign_ca_certificate(self) -> x509.Certificate | None:
        if self.sign_ca_certificate_pem is None:
            return None
        return x509.load_pem_x509_certificate(self.sign_ca_certificate_pem.encode())

    def card_expiry(self) -> dt.date:
        if self.card_expires is not None:
            return self.card_expires
        return card_expiry(self.certificate().not_valid_before_utc.date(), self.holder_birth_date)

    def collation_number_b(self) -> str:
        """照合番号B of this card (keys.collation_number_b). A profile without a security
        code takes one derived from its synthetic 個人番号: stable, never shown."""
        code = self.security_code
        if code is None:
            digest = hashlib.sha256(b"security-code\x00" + self.my_number.encode()).digest()
            code = f"{int.from_bytes(digest[:4], 'big') % 10_000:04d}"
        return collation_number_b(self.holder_birth_date, self.card_expiry(), code)

    def private_key(self) -> rsa.RSAPrivateKey:
        # OpenSSL's RSA key check costs ~35 ms with the GIL held (a visible stall in the
        # TUI whenever a card is placed); a broken key is still caught: it does not match
        # the certificate (check_consistency) or its signatures do not verify
        key = serialization.load_pem_private_key(
            self.key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ProfileError("the profile's key is not an RSA key")
        return key

    def check_consistency(self) -> None:
        """Certificate and key belong together and parse; raise ProfileError if not."""
        try:
            cert = self.certificate()
            key = self.private_key()
            self.ca_certificate()
            self.sign_ca_certificate()
        except ValueError as exc:
            raise ProfileError(f"the profile's certificate or key does not parse: {exc}") from exc
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey) or (
            public.public_numbers() != key.public_key().public_numbers()
        ):
            raise ProfileError("the profile's key does not belong to its certificate")


def new_profile(
    *,
    variant: Variant = Variant.PHYSICAL,
    pin: str | None = None,
    seed: int | None = None,
    ca: MockJpkiCa | None = None,
    birth_date: dt.date | None = None,
    issued: dt.date | None = None,
    tries_left: int = 3,
    expires: dt.date | None = None,
    terminal_ca_key: str | None = None,
    atr: CardAtr = CardAtr.CONTACTLESS,
) -> tuple[CardProfile, MockJpkiCa]:
    """Make a new card (and a throw-away CA when none is given).

    With a seed everything is reproducible (keys, CN, number, PIN, template).
    """
    stream = SeededStream(seed, "vcard") if seed is not None else None
    if ca is None:
        ca = MockJpkiCa.generate(stream.child("ca") if stream else None)

    def rnd(n: int) -> bytes:
        return stream(n) if stream else os.urandom(n)

    def below(upper: int) -> int:
        return stream.integer(upper) if stream else int.from_bytes(os.urandom(8), "big") % upper

    if birth_date is None:
        birth_date = dt.date(1950, 1, 1) + dt.timedelta(days=below(365 * 55))
    if issued is None:
        issued = dt.date.today() if stream is None else dt.date(2025, 4, 1)
    key = generate_rsa_key(stream.child("card-key") if stream else None)
    cn = opaque_cn(stream.child("cn") if stream else None)
    serial = below(2**62) + 1
    cert = ca.issue_auth_certificate(
        key.public_key(),
        cn=cn,
        issued=issued,
        birth_date=birth_date,
        serial=serial,
        expires=expires,
    )
    # the draws keep their order (a seed makes the same card as before)
    auth = _auth_pin(variant, pin, tries_left, below)
    signing = _signing_password(variant, rnd(8))
    face_template = _face_template(rnd(FACE_TEMPLATE_SIZE * 2))
    my_number = synthetic_my_number(stream.child("number") if stream else None)
    security_code = f"{below(10_000):04d}"  # drawn last: earlier draws stay as they were
    profile = CardProfile(
        variant=variant,
        token_label=variant.token_label,
        holder_birth_date=birth_date,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=private_key_pem(key).decode(),
        ca_certificate_pem=ca.certificate_pem().decode(),
        # 顔認証マイナンバーカード: no 署名用電子証明書 (card.md §6), so no CA certificate
        # for it either — not observed on a card either way
        sign_ca_certificate_pem=None
        if variant is Variant.FACE_ONLY
        else ca.signing_ca_certificate().public_bytes(serialization.Encoding.PEM).decode(),
        auth_pin=auth,
        signing_password=signing,
        my_number=my_number,
        security_code=security_code,
        card_expires=card_expiry(issued, birth_date),
        face_template=face_template,
        terminal_ca_key=terminal_ca_key,
        atr=atr,
    )
    return profile, ca


def _auth_pin(
    variant: Variant, pin: str | None, tries_left: int, below: Callable[[int], int]
) -> AuthPinState:
    """The user-authentication PIN: given, or drawn (none on a card without one)."""
    if variant.has_reader_pin:
        if pin is None:
            pin = f"{below(10_000):04d}"
        return AuthPinState(pin=pin, tries_left=tries_left)
    if pin is not None:
        raise ProfileError(f"a {variant.value} card has no PIN on the reader; drop --pin")
    return AuthPinState(pin=None, tries_left=0)


def _signing_password(variant: Variant, raw: bytes) -> SigningPasswordState:
    """The signing password from random bytes (5 tries on a physical card, else none)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    password = "".join(alphabet[b % len(alphabet)] for b in raw)
    return SigningPasswordState(
        password=password, tries_left=5 if variant is Variant.PHYSICAL else 0
    )


def _face_template(raw: bytes) -> list[float]:
    """A unit-length face template from random bytes (two a value)."""
    template = [
        (int.from_bytes(raw[i : i + 2], "big") / 32767.5) - 1.0 for i in range(0, len(raw), 2)
    ]
    norm = sum(v * v for v in template) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in template]


def load_profile(path: Path) -> CardProfile:
    """Read and validate a profile file; errors say which file and which field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a text file (expected a JSON profile)") from None
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    try:
        profile = CardProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ProfileError(f"{path}: invalid profile: {problems}") from None
    try:
        profile.check_consistency()
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    return profile


def save_profile(profile: CardProfile, path: Path) -> None:
    """Write atomically: a reader of the file sees the old or the new content, never half."""
    write_private(path, (profile.model_dump_json(indent=2) + "\n").encode())
