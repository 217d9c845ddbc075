"""The JPKI client: everything the reception terminal does with the JPKI AP.

It identifies the card by selecting the JPKI AID (never by the ATR), reads the
token label and the user-authentication certificate, asks the PIN tries left,
verifies the PIN exactly once per call (never retried by itself) and signs.

Every command goes through a :class:`~reader.transport.CardChannel` and so
through the My Number guard.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from reader.aids import (
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_TOKEN_INFO,
    JPKI_AID,
)
from reader.apdu import (
    INS_PSO,
    INS_READ_BINARY,
    INS_SELECT,
    INS_VERIFY,
    CommandApdu,
    check,
    der_total_length,
    error_for_sw,
    tries_from_sw,
)
from reader.errors import (
    CardStatusError,
    MalformedCardData,
    NotAMyNumberCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    PinRequired,
    TransportError,
    WrongLength,
)
from reader.files import write_private
from reader.pin import Pin
from reader.sw import StatusWord
from reader.transport import CardChannel

log = logging.getLogger(__name__)

# what a card without the JPKI AP answers to its SELECT
NO_APPLICATION = frozenset(
    {
        StatusWord.NOT_FOUND,
        StatusWord.WRONG_P1P2,
        StatusWord.INS_NOT_SUPPORTED,
        StatusWord.CLA_NOT_SUPPORTED,
    }
)
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300D060960864801650304020105000420")
CERT_HEADER_BYTES = 4
MAX_CERT_SIZE = 8192


class TokenKind(enum.Enum):
    PHYSICAL_CARD = "physical card"
    JUKI_CARD = "住基カード (old)"
    ANDROID = "Android smartphone"
    IPHONE = "iPhone"
    UNKNOWN = "unknown JPKI token"


_LABELS = {
    "JPKIAPICCTOKEN2": TokenKind.PHYSICAL_CARD,
    "JPKIAPICCTOKEN": TokenKind.JUKI_CARD,
    "JPKIAPGPSETOKEN": TokenKind.ANDROID,
    "JPKIAPIOSTOKEN": TokenKind.IPHONE,
}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    label: str
    kind: TokenKind

    @classmethod
    def parse(cls, raw: bytes) -> TokenInfo:
        """The first 32 bytes are the label, padded with spaces or NULs (trim both)."""
        field = raw[:32].rstrip(b" \x00")
        try:
            label = field.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedCardData(
                f"token label is not ASCII: {field[:32].hex().upper()}"
            ) from None
        if not label.isprintable():
            raise MalformedCardData(f"token label has control characters: {label!r}")
        return cls(label, _LABELS.get(label, TokenKind.UNKNOWN))

    @property
    def pin_on_reader(self) -> bool:
        """iPhone holders authenticate on the phone, not with the reader's PIN pad."""
        return self.kind is not TokenKind.IPHONE

    @property
    def certificate_needs_pin(self) -> bool:
        """The Android token releases the auth certificate only after the PIN."""
        return self.kind is TokenKind.ANDROID


class ReadMode(enum.Enum):
    SHORT = "short"
    EXTENDED = "extended"


class ExtendedLengthMemory:
    """Remembers, per reader name, whether extended APDUs get through.

    With a ``path`` the knowledge survives the process (a small JSON file).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._known: dict[str, bool] = {}
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._known = {str(k): bool(v) for k, v in loaded.items()}

    @classmethod
    def default(cls) -> ExtendedLengthMemory:
        from platformdirs import user_cache_path

        return cls(user_cache_path("myna-sim") / "extended-length.json")

    def supports(self, reader: str) -> bool | None:
        return self._known.get(reader)

    def remember(self, reader: str, supported: bool) -> None:
        if self._known.get(reader) == supported:
            return
        self._known[reader] = supported
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_private(self.path, json.dumps(self._known, indent=1).encode())
        except OSError as exc:
            log.warning("cannot remember the reader's extended-length support: %s", exc)


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome of a PIN authentication: the certificate and a signature."""

    token: TokenInfo
    certificate_der: bytes
    challenge: bytes
    signature: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)


def digest_info_sha256(message: bytes) -> bytes:
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


class JpkiClient:
    """Operations on the JPKI AP of a My Number card (or a smartphone token)."""

    def __init__(
        self,
        channel: CardChannel,
        *,
        read_mode: ReadMode = ReadMode.SHORT,
        memory: ExtendedLengthMemory | None = None,
    ) -> None:
        self.channel = channel
        self.read_mode = read_mode
        self.memory = memory or ExtendedLengthMemory()

    # -- application and token ------------------------------------------------

    def select(self) -> None:
        """Select the JPKI AP; :class:`NotAMyNumberCard` if the card has none."""
        response = self.channel.transmit(CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, JPKI_AID))
        if response.sw in (
            StatusWord.NOT_FOUND,
            StatusWord.WRONG_P1P2,
            StatusWord.INS_NOT_SUPPORTED,
            StatusWord.CLA_NOT_SUPPORTED,
        ):
            raise NotAMyNumberCard(
                f"this card has no JPKI application (SELECT answered {response.sw:04X}); "
                "it is not a My Number card"
            )
        check(response)

    def token_info(self) -> TokenInfo:
        """Read the token label (EF 0006, by short file id)."""
        data = check(
            self.channel.transmit(
                CommandApdu(0x00, INS_READ_BINARY, 0x80 | EF_TOKEN_INFO, 0x00, le=32)
            )
        )
        return TokenInfo.parse(data)

    # -- certificates ---------------------------------------------------------------

    def read_certificate_der(self, ef: int = EF_AUTH_CERT) -> bytes:
        """Read a certificate file: the DER header first, then exactly the rest."""
        header = check(
            self.channel.transmit(
                CommandApdu(0x00, INS_READ_BINARY, 0x80 | ef, 0x00, le=CERT_HEADER_BYTES)
            )
        )
        total = der_total_length(header)
        if not CERT_HEADER_BYTES < total <= MAX_CERT_SIZE:
            raise MalformedCardData(
                f"certificate length {total} out of range (expected {CERT_HEADER_BYTES + 1}.."
                f"{MAX_CERT_SIZE})"
            )
        data = bytearray(header[:total])
        if self.read_mode is ReadMode.EXTENDED and self._extended_ok():
            rest = self._read_extended(len(data), total - len(data))
            if rest is not None:
                data += rest
        while len(data) < total:
            chunk = min(256, total - len(data))
            part = check(
                self.channel.transmit(
                    CommandApdu(0x00, INS_READ_BINARY, len(data) >> 8, len(data) & 0xFF, le=chunk)
                )
            )
            if not part:
                raise MalformedCardData(
                    f"the card returned no data at offset {len(data)} of a {total}-byte file"
                )
            data += part[: total - len(data)]
        return bytes(data)

    def _extended_ok(self) -> bool:
        return self.memory.supports(self.channel.reader_name) is not False

    def _read_extended(self, offset: int, length: int) -> bytes | None:
        """One extended-Le read; ``None`` (and remembered) when the reader can't pass it."""
        reader = self.channel.reader_name
        command = CommandApdu(
            0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=length, extended=True
        )
        try:
            response = self.channel.transmit(command)
        except TransportError as exc:  # not CardRemoved/NoCard/ReaderUnavailable: those propagate
            log.info("reader %r refused an extended APDU (%s): using short APDUs", reader, exc)
            self.memory.remember(reader, False)
            return None
        if response.sw == StatusWord.WRONG_LENGTH:
            log.info("reader %r answered 6700 to an extended APDU: using short APDUs", reader)
            self.memory.remember(reader, False)
            return None
        data = check(response)
        self.memory.remember(reader, True)
        return data[:length]

    def auth_certificate_der(self) -> bytes:
        return self.read_certificate_der(EF_AUTH_CERT)

    def fetch_auth_certificate_der(self) -> bytes:
        """Select the JPKI AP and read the user-auth certificate, in one transaction."""
        with self.channel.transaction():
            self.select()
            return self.auth_certificate_der()

    def auth_certificate(self) -> x509.Certificate:
        return _parse_certificate(self.read_certificate_der(EF_AUTH_CERT))

    # -- PIN --------------------------------------------------------------------------

    def fetch_pin_tries_left(self) -> int:
        """Select the JPKI AP and ask the tries left, in one transaction."""
        with self.channel.transaction():
            self.select()
            return self.pin_tries_left()

    def pin_tries_left(self) -> int:
        """Tries left of the auth PIN (empty VERIFY); 0 means blocked.

        Raises :class:`PinNotSet` for cards without a reader PIN.
        """
        response = self.channel.transmit(CommandApdu(0x00, INS_VERIFY, 0x00, 0x80 | EF_AUTH_PIN))
        tries = tries_from_sw(response.sw)
        if tries is not None:
            return tries
        if response.sw == StatusWord.PIN_BLOCKED:
            return 0
        if response.sw == StatusWord.REFERENCE_NOT_FOUND:
            raise PinNotSet(response.sw)
        if response.sw == StatusWord.OK:
            raise CardStatusError(
                response.sw, "the card answered 9000 to an empty VERIFY (expected 63Cx)"
            )
        raise error_for_sw(response.sw)

    def verify_pin(self, pin: Pin) -> None:
        """VERIFY the auth PIN once. Wipes ``pin`` afterwards, whatever happens.

        Raises :class:`PinIncorrect` (with tries left), :class:`PinBlocked`,
        :class:`PinNotSet`. Never retries: a new attempt needs a new :class:`Pin`.
        """
        try:
            command = CommandApdu(0x00, INS_VERIFY, 0x00, 0x80 | EF_AUTH_PIN, pin.command_data())
            response = self.channel.transmit(command)
        finally:
            pin.wipe()
        if response.sw == StatusWord.OK:
            return
        tries = tries_from_sw(response.sw)
        if tries is not None:
            raise PinIncorrect(response.sw, tries)
        if response.sw == StatusWord.PIN_BLOCKED:
            raise PinBlocked(response.sw)
        if response.sw == StatusWord.REFERENCE_NOT_FOUND:
            raise PinNotSet(response.sw)
        raise error_for_sw(response.sw)

    # -- signing ------------------------------------------------------------------

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        """Sign a DigestInfo with the auth key (the card pads with PKCS#1 v1.5 type 1)."""
        if not 0 < len(digest_info) <= 245:
            raise WrongLength(StatusWord.WRONG_LENGTH)
        return check(
            self.channel.transmit(
                CommandApdu(0x80, INS_PSO, 0x00, 0x80 | EF_AUTH_KEY, digest_info, le=256)
            )
        )

    def sign_challenge(self, challenge: bytes) -> bytes:
        """RSA PKCS#1 v1.5 signature with SHA-256 over ``challenge``."""
        return self.sign_digest_info(digest_info_sha256(challenge))

    def authenticate(self, pin: Pin | None, challenge: bytes) -> Authentication:
        """Select, token label, certificate, VERIFY (once), sign ``challenge``.

        In one exclusive transaction. For an Android token the PIN comes before
        the certificate; an iPhone token needs no PIN (the phone checks the
        holder). At most 6 APDUs with extended reads.
        """
        try:
            with self.channel.transaction():
                self.select()
                token = self.token_info()
                if token.pin_on_reader and pin is None:
                    raise PinRequired(
                        f"this {token.kind.value} needs the 4-digit PIN on the reader; "
                        "none was given"
                    )
                if token.certificate_needs_pin and pin is not None:
                    self.verify_pin(pin)
                    cert = self.auth_certificate_der()
                else:
                    cert = self.auth_certificate_der()
                    if token.pin_on_reader and pin is not None:
                        self.verify_pin(pin)
                signature = self.sign_challenge(challenge)
        finally:
            if pin is not None:
                pin.wipe()
        return Authentication(token, cert, challenge, signature)


def _parse_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MalformedCardData(f"the certificate on the card does not parse: {exc}") from None
