"""ISO 7816-4 command and response APDUs, short and extended, and status words.

Every parser here is total: any byte string gives either a value or a
:class:`~reader.errors.ReaderError` subclass, never an ``IndexError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reader.errors import (
    CardStatusError,
    ClassNotSupported,
    FileNotFound,
    InstructionNotSupported,
    MalformedApdu,
    MalformedCardData,
    MalformedResponse,
    NoCurrentEf,
    OffsetBeyondFile,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    SecurityStatusNotSatisfied,
    WrongLength,
    WrongParameters,
)
from reader.sw import StatusWord

SW_OK = StatusWord.OK

INS_VERIFY = 0x20
INS_PSO = 0x2A
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_GET_RESPONSE = 0xC0


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A command APDU.

    ``le`` is the number of bytes expected (``None``: no Le field). In short
    form Le goes up to 256 (encoded ``00``), in extended form up to 65536
    (encoded ``0000``). ``extended`` forces the extended encoding; it is chosen
    automatically when the data or Le does not fit the short form.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise MalformedApdu(f"{name.upper()} must be one byte, got {value}")
        if len(self.data) > 65535:
            raise MalformedApdu(f"command data too long: {len(self.data)} bytes (max 65535)")
        if self.le is not None and not 1 <= self.le <= 65536:
            raise MalformedApdu(f"Le must be 1..65536, got {self.le}")

    @property
    def is_extended(self) -> bool:
        return self.extended or len(self.data) > 255 or (self.le is not None and self.le > 256)

    def to_bytes(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        if not self.is_extended:
            body = b""
            if self.data:
                body += bytes((len(self.data),)) + self.data
            if self.le is not None:
                body += bytes((self.le & 0xFF,))  # 256 -> 00
            return header + body
        body = b""
        if self.data:
            body += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = (self.le & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
            body += le if self.data else b"\x00" + le
        if not body:
            return header
        return header + body

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse the four ISO 7816-4 cases in short and extended form."""
        n = len(raw)
        if n < 4:
            raise MalformedApdu(f"a command APDU has at least 4 bytes, got {n}")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        b = len(body)
        if b == 0:  # case 1
            return cls(cla, ins, p1, p2)
        if b == 1:  # case 2S
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:  # short, with Lc
            lc = body[0]
            if b == 1 + lc:  # case 3S
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if b == 2 + lc:  # case 4S
                return cls(cla, ins, p1, p2, data=bytes(body[1 : 1 + lc]), le=body[-1] or 256)
            raise MalformedApdu(
                f"Lc says {lc} data bytes but {b - 1} bytes follow it (expected {lc} or {lc + 1})"
            )
        # body[0] == 0 and b >= 2: extended form
        if b == 3:  # case 2E
            return cls(
                cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536, extended=True
            )
        if b < 3:
            raise MalformedApdu(f"extended length field needs 3 bytes, got {b}")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise MalformedApdu("extended Lc of 0 is not allowed")
        if b == 3 + lc:  # case 3E
            return cls(cla, ins, p1, p2, data=bytes(body[3:]), extended=True)
        if b == 5 + lc:  # case 4E
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, data=bytes(body[3 : 3 + lc]), le=le, extended=True)
        raise MalformedApdu(
            f"extended Lc says {lc} data bytes but {b - 3} bytes follow (expected {lc} or {lc + 2})"
        )

    @classmethod
    def from_hex(cls, text: str) -> CommandApdu:
        """Parse hex as typed by a person: spaces, colons and dashes are ignored."""
        cleaned = re.sub(r"[\s:\-]", "", text)
        if cleaned.lower().startswith("0x"):
            cleaned = cleaned[2:]
        if not cleaned:
            raise MalformedApdu("empty APDU")
        if not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
            bad = next(ch for ch in cleaned if ch not in "0123456789abcdefABCDEF")
            raise MalformedApdu(f"not hexadecimal: {bad!r} in {text!r}")
        if len(cleaned) % 2:
            raise MalformedApdu(f"odd number of hex digits ({len(cleaned)}) in {text!r}")
        return cls.parse(bytes.fromhex(cleaned))

    def __repr__(self) -> str:  # never shows VERIFY data (it is a PIN)
        return f"CommandApdu({redacted_hex(self.to_bytes())})"


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise MalformedResponse(
                f"a response APDU has at least 2 bytes (the status word), got {len(raw)}"
            )
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")


def tries_from_sw(sw: int) -> int | None:
    """``63Cx`` → x, anything else → None."""
    if sw & 0xFFF0 == StatusWord.TRIES_LEFT:
        return sw & 0x0F
    return None


def error_for_sw(sw: int) -> CardStatusError:
    """The typed exception for a non-success status word."""
    tries = tries_from_sw(sw)
    if tries is not None:
        return PinIncorrect(sw, tries)
    simple: dict[int, type[CardStatusError]] = {
        StatusWord.PIN_BLOCKED: PinBlocked,
        StatusWord.AUTH_METHOD_BLOCKED: PinBlocked,
        StatusWord.REFERENCE_NOT_FOUND: PinNotSet,
        StatusWord.SECURITY_NOT_SATISFIED: SecurityStatusNotSatisfied,
        StatusWord.NOT_FOUND: FileNotFound,
        StatusWord.WRONG_P1P2: WrongParameters,
        StatusWord.OFFSET_BEYOND_FILE: OffsetBeyondFile,
        StatusWord.WRONG_LENGTH: WrongLength,
        StatusWord.NO_CURRENT_EF: NoCurrentEf,
        StatusWord.INS_NOT_SUPPORTED: InstructionNotSupported,
        StatusWord.CLA_NOT_SUPPORTED: ClassNotSupported,
    }
    kind = simple.get(sw)
    if kind is not None:
        return kind(sw)
    return CardStatusError(sw)


def check(response: ResponseApdu) -> bytes:
    """Return the data of a successful response or raise the typed error."""
    if response.sw == SW_OK:
        return response.data
    raise error_for_sw(response.sw)


def redacted_hex(raw: bytes) -> str:
    """Hex of a command APDU with the data of any VERIFY replaced.

    The length of the redaction is shown but not a single digit of the PIN.
    """
    if len(raw) > 5 and raw[1] == INS_VERIFY:
        try:
            apdu = CommandApdu.parse(raw)
        except MalformedApdu:
            return raw[:4].hex().upper() + f" [{len(raw) - 4} bytes redacted]"
        lc = raw[4:5].hex().upper() if not apdu.is_extended else raw[4:7].hex().upper()
        return raw[:4].hex().upper() + lc + f" [{len(apdu.data)} bytes redacted]"
    return raw.hex().upper()


def der_total_length(header: bytes) -> int:
    """Length of a whole DER object (header included) from its first bytes.

    Used to size a certificate from a short first read. Accepts a SEQUENCE
    with a short or long (1–3 byte) length.
    """
    if len(header) < 2:
        raise MalformedCardData(f"DER header needs at least 2 bytes, got {len(header)}")
    if header[0] != 0x30:
        raise MalformedCardData(
            f"expected a DER SEQUENCE (30), found {header[0]:02X}: the file holds no certificate"
        )
    first = header[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3:
        raise MalformedCardData(f"unsupported DER length form {first:02X}")
    if len(header) < 2 + count:
        raise MalformedCardData(f"DER length needs {2 + count} header bytes, got {len(header)}")
    return 2 + count + int.from_bytes(header[2 : 2 + count], "big")
