"""Cards that are not My Number cards, for the reader's error screens (issue 24): what a
patient puts on the reader by mistake.

- ``transit`` — a FeliCa transit IC card (Suica, PASMO, ICOCA …). A PC/SC reader
  presents a FeliCa card with the ATR of PC/SC part 3; pcsc-tools' list names this one
  (``/usr/share/pcsc/smartcard_list.txt``, Debian 12's pcsc-tools): ``3B 8F 80 01 80 4F 0C
  A0 00 00 03 06 11 00 3B 00 00 00 00 42`` "RFID - FeliCa (generic) (as per PCSC std
  part3) / Suica public transit card (Japan IC system)". No ISO 7816-4 application:
  SELECT of any AID answers ``6A82``.
- ``credit`` — a contactless EMV card: ``3B 8E 80 01 80 31 80 66 B1 84 0C 01 6E 01 83 00 90
  00 1C`` ("UK Lloyds Bank Gold Visa Debit (Contact & Contactless)", the same list). Its
  payment applications are not the JPKI AP: SELECT of the JPKI AID answers ``6A82``.
- ``juki`` — the old 住民基本台帳カード: ATR ``3B E0 00 FF 81 31 FE 45 14`` ("JUKICARD", the
  same list; reader/virtual/profile.py ``CardAtr.JUKI``). It has a JPKI AP, whose token
  (EF 0006) says ``JPKIAPICCTOKEN`` (reader/jpki.py, ``TokenKind.JUKI_CARD``); nothing
  more of it is simulated — no certificate, no PIN: the terminal stops at the token.

A card file (``myna-sim/other-card/1``) names the kind; ``vcard serve --kind`` serves one
without a file. These cards answer; they never send anything (card.md §8 is about what
the terminal sends, and nothing here needs more than SELECT and one READ BINARY).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path

from reader.aids import EF_TOKEN_INFO, JPKI_AID
from reader.apdu import INS_READ_BINARY, INS_SELECT
from reader.sw import StatusWord

OTHER_CARD_FORMAT = "myna-sim/other-card/1"
JUKI_TOKEN_LABEL = "JPKIAPICCTOKEN"  # noqa: S105 (a token label, no password)


def _sw(word: StatusWord) -> bytes:
    return int(word).to_bytes(2, "big")


class OtherKind(enum.StrEnum):
    TRANSIT = "transit"
    CREDIT = "credit"
    JUKI = "juki"

    @property
    def atr(self) -> bytes:
        return _ATRS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_ATRS = {
    OtherKind.TRANSIT: bytes.fromhex("3B8F8001804F0CA00000030611003B0000000042"),
    OtherKind.CREDIT: bytes.fromhex("3B8E800180318066B1840C016E01830090001C"),
    OtherKind.JUKI: bytes.fromhex("3BE000FF8131FE4514"),
}
_LABELS = {
    OtherKind.TRANSIT: "交通系ICカード（FeliCa）",
    OtherKind.CREDIT: "クレジットカード（非接触 EMV）",
    OtherKind.JUKI: "住民基本台帳カード（旧）",
}


class OtherCardError(ValueError):
    """A card file that is not a usable other-card file: says which and why."""


class OtherCard:
    """A card that is not a My Number card, as :class:`~reader.virtual.vpcd.ServedCard`
    (served into vpcd, or in process through the loopback reader)."""

    def __init__(self, kind: OtherKind) -> None:
        self.kind = kind
        self.jpki_selected = False
        self.commands: list[bytes] = []  # what the terminal sent (tests read it)

    @property
    def atr(self) -> bytes:
        return self.kind.atr

    def power_on(self) -> None:
        self.jpki_selected = False

    def power_off(self) -> None:
        self.jpki_selected = False

    def reset(self) -> None:
        self.jpki_selected = False

    def process(self, apdu: bytes) -> bytes:
        self.commands.append(bytes(apdu))
        if len(apdu) < 4:
            return _sw(StatusWord.WRONG_LENGTH)
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == INS_SELECT:
            aid = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
            if self.kind is OtherKind.JUKI and p1 == 0x04 and aid == JPKI_AID:
                self.jpki_selected = True
                return _sw(StatusWord.OK)
            self.jpki_selected = False
            return _sw(StatusWord.NOT_FOUND)  # 6A82: no such application here
        if ins == INS_READ_BINARY and self.jpki_selected and p1 == 0x80 | EF_TOKEN_INFO:
            wanted = apdu[4] if len(apdu) > 4 and apdu[4] else 256
            label = JUKI_TOKEN_LABEL.encode().ljust(32, b" ")
            return label[p2 : p2 + wanted] + _sw(StatusWord.OK)
        if self.kind is OtherKind.JUKI:
            return _sw(StatusWord.CONDITIONS_NOT_SATISFIED)  # nothing more is simulated
        return _sw(StatusWord.INS_NOT_SUPPORTED)


def is_other_card(path: Path) -> bool:
    """Whether ``path`` is an other-card file (cheap: the file is tiny or a profile)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == OTHER_CARD_FORMAT


def load_other_card(path: Path) -> OtherCard:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OtherCardError(f"{path}: unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != OTHER_CARD_FORMAT:
        raise OtherCardError(f"{path}: not a {OTHER_CARD_FORMAT} file")
    try:
        kind = OtherKind(str(data.get("kind")))
    except ValueError:
        known = ", ".join(k.value for k in OtherKind)
        said = data.get("kind")
        raise OtherCardError(f"{path}: unknown kind {said!r} (known: {known})") from None
    return OtherCard(kind)


def write_other_card(path: Path, kind: OtherKind) -> None:
    """An other-card file for ``kind`` (no secret in it: written readable)."""
    text = json.dumps({"format": OTHER_CARD_FORMAT, "kind": kind.value, "label": kind.label})
    path.write_text(text + "\n", encoding="utf-8")
