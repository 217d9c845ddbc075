"""APDU codec: the four ISO cases, short and extended, status words, total parsers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reader.apdu import (
    CommandApdu,
    ResponseApdu,
    check,
    der_total_length,
    error_for_sw,
    redacted_hex,
    tries_from_sw,
)
from reader.errors import (
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
    ReaderError,
    SecurityStatusNotSatisfied,
    WrongLength,
    WrongParameters,
)
from reader.jpki import TokenInfo, TokenKind


@pytest.mark.parametrize(
    ("apdu", "hex_"),
    [
        (CommandApdu(0x00, 0x20, 0x00, 0x98), "00200098"),  # case 1
        (CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=4), "00B08A0004"),  # case 2S
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), "00B0000000"),  # Le 256 -> 00
        (
            CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001")),
            "00A4040C0AD392F000260100000001",
        ),  # case 3S
        (CommandApdu(0x80, 0x2A, 0x00, 0x97, b"\x01\x02", le=256), "802A0097020102" + "00"),
        (CommandApdu(0x00, 0xB0, 0x00, 0x04, le=0x350, extended=True), "00B00004000350"),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536), "00B00000000000"),  # case 2E
        (CommandApdu(0x00, 0xD6, 0, 0, b"\xaa" * 300), "00D6000000012C" + "AA" * 300),
        (
            CommandApdu(0x00, 0x2A, 0, 0, b"\xaa" * 300, le=512),
            "002A000000012C" + "AA" * 300 + "0200",
        ),
    ],
)
def test_encode_and_parse_round_trip(apdu: CommandApdu, hex_: str) -> None:
    assert apdu.to_bytes().hex().upper() == hex_
    parsed = CommandApdu.parse(bytes.fromhex(hex_))
    assert parsed.to_bytes() == apdu.to_bytes()
    assert parsed.data == apdu.data and parsed.le == apdu.le


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("00A404", "at least 4 bytes"),
        ("00A4040C05D392", "Lc says 5"),
        ("00D600000000", "extended length field needs 3 bytes"),
        ("00D60000000003AABB", "extended Lc says 3"),
        ("00D600000000000000", "extended Lc of 0"),
    ],
)
def test_malformed_commands_say_why(raw: str, why: str) -> None:
    with pytest.raises(MalformedApdu, match=why):
        CommandApdu.parse(bytes.fromhex(raw))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("00A4zz", "not hexadecimal: 'z'"),
        ("00A40", "odd number of hex digits"),
        ("   ", "empty"),
    ],
)
def test_from_hex_rejects_garbage(text: str, why: str) -> None:
    with pytest.raises(MalformedApdu, match=why):
        CommandApdu.from_hex(text)


def test_from_hex_accepts_spaces_and_colons() -> None:
    a = CommandApdu.from_hex("00 A4:04-0C 0A D392F000260100000001")
    assert a.data == bytes.fromhex("D392F000260100000001")


def test_field_ranges_are_checked() -> None:
    with pytest.raises(MalformedApdu, match="CLA must be one byte"):
        CommandApdu(0x100, 0, 0, 0)
    with pytest.raises(MalformedApdu, match="Le must be"):
        CommandApdu(0, 0xB0, 0, 0, le=0)
    with pytest.raises(MalformedApdu, match="too long"):
        CommandApdu(0, 0xD6, 0, 0, b"\x00" * 65536)


@pytest.mark.parametrize(
    ("sw", "kind"),
    [
        (0x63C2, PinIncorrect),
        (0x6984, PinBlocked),
        (0x6982, SecurityStatusNotSatisfied),
        (0x6A82, FileNotFound),
        (0x6A86, WrongParameters),
        (0x6B00, OffsetBeyondFile),
        (0x6700, WrongLength),
        (0x6986, NoCurrentEf),
        (0x6D00, InstructionNotSupported),
        (0x6E00, ClassNotSupported),
    ],
)
def test_status_words_map_to_typed_errors(sw: int, kind: type[Exception]) -> None:
    err = error_for_sw(sw)
    assert isinstance(err, kind)
    with pytest.raises(kind):
        check(ResponseApdu(b"", sw))


def test_tries_left_from_63cx() -> None:
    assert tries_from_sw(0x63C3) == 3
    assert tries_from_sw(0x63C0) == 0
    assert tries_from_sw(0x9000) is None
    err = error_for_sw(0x63C1)
    assert isinstance(err, PinIncorrect) and err.tries_left == 1
    assert "1 try left" in str(err)


def test_response_parse() -> None:
    r = ResponseApdu.parse(b"\x01\x02\x90\x00")
    assert r.ok and r.data == b"\x01\x02"
    with pytest.raises(MalformedResponse, match="at least 2 bytes"):
        ResponseApdu.parse(b"\x90")


def test_der_total_length() -> None:
    assert der_total_length(bytes.fromhex("30820350")) == 0x350 + 4
    assert der_total_length(bytes.fromhex("3005")) == 7
    assert der_total_length(bytes.fromhex("3081FF")) == 0xFF + 3
    with pytest.raises(MalformedCardData, match="expected a DER SEQUENCE"):
        der_total_length(b"\xff\xff\xff\xff")
    with pytest.raises(MalformedCardData, match="needs 4 header bytes"):
        der_total_length(b"\x30\x82\x03")


def test_redaction_hides_verify_data() -> None:
    verify = CommandApdu(0x00, 0x20, 0x00, 0x98, b"4711").to_bytes()
    shown = redacted_hex(verify)
    assert shown == "0020009804 [4 bytes redacted]"
    assert b"4711".hex() not in shown.lower()
    assert repr(CommandApdu(0x00, 0x20, 0x00, 0x98, b"4711")).count("34373131") == 0


# --- totality, by property -------------------------------------------------------------


@given(st.binary(max_size=600))
def test_command_parse_is_total(raw: bytes) -> None:
    try:
        apdu = CommandApdu.parse(raw)
    except MalformedApdu:
        return
    assert apdu.to_bytes() == raw or (apdu.extended and len(apdu.to_bytes()) == len(raw))


@given(st.binary(max_size=600))
def test_response_parse_is_total(raw: bytes) -> None:
    try:
        r = ResponseApdu.parse(raw)
    except MalformedResponse:
        assert len(raw) < 2
        return
    assert r.to_bytes() == raw


@given(st.text(max_size=80))
def test_from_hex_is_total(text: str) -> None:
    with contextlib.suppress(MalformedApdu):
        CommandApdu.from_hex(text)


@given(st.binary(max_size=10))
def test_der_header_parse_is_total(raw: bytes) -> None:
    try:
        n = der_total_length(raw)
    except MalformedCardData:
        return
    assert n >= 2


@given(st.binary(max_size=64))
def test_token_label_parse_is_total(raw: bytes) -> None:
    try:
        info = TokenInfo.parse(raw)
    except MalformedCardData:
        return
    assert isinstance(info.kind, TokenKind)


@given(st.binary(min_size=6, max_size=40))
def test_redaction_never_shows_verify_data(raw: bytes) -> None:
    raw = raw[:1] + b"\x20" + raw[2:]
    shown = redacted_hex(raw)
    visible, _, rest = shown.partition(" [")
    # only the header and the length field stay visible, whatever the bytes
    assert len(visible) <= 2 * 7
    assert rest.endswith("bytes redacted]")


@given(st.integers(0, 0xFFFF))
def test_every_status_word_gives_a_reader_error(sw: int) -> None:
    assert isinstance(error_for_sw(sw), ReaderError)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        (b"JPKIAPICCTOKEN2" + b" " * 17, TokenKind.PHYSICAL_CARD),
        (b"JPKIAPICCTOKEN" + b"\x00" * 18, TokenKind.JUKI_CARD),
        (b"JPKIAPGPSETOKEN" + b"\x00" * 17, TokenKind.ANDROID),
        (b"JPKIAPIOSTOKEN  \x00\x00", TokenKind.IPHONE),
        (b"SOMETHINGELSE", TokenKind.UNKNOWN),
    ],
)
def test_token_labels(label: bytes, kind: TokenKind) -> None:
    assert TokenInfo.parse(label).kind is kind


def test_token_label_garbage() -> None:
    with pytest.raises(MalformedCardData, match="not ASCII"):
        TokenInfo.parse(b"\xff\xfe")
    with pytest.raises(MalformedCardData, match="control characters"):
        TokenInfo.parse(b"JPKI\x07")
