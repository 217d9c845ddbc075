"""The status words the card layer knows (card.md §4), shared by the codec, the client
and the virtual card: one name per value, no bare 0x6A82 anywhere."""

from __future__ import annotations

import enum


class StatusWord(enum.IntEnum):
    OK = 0x9000
    AUTH_FAILED = 0x6300  # the simulated terminal authentication did not hold
    TRIES_LEFT = 0x63C0  # | x: wrong PIN (or an empty VERIFY), x tries left
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    PIN_BLOCKED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6A86
    REFERENCE_NOT_FOUND = 0x6A88  # here: no PIN on this card (顔認証マイナンバーカード)
    OFFSET_BEYOND_FILE = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    TECHNICAL_PROBLEM = 0x6F00


def tries_left_sw(tries: int) -> int:
    """``63Cx``: x tries left (at most 15)."""
    return StatusWord.TRIES_LEFT | min(tries, 15)


def is_status_word(sw: int) -> bool:
    """Whether ``sw`` can be a card's status word at all: ISO/IEC 7816-3 allows SW1
    ``61``..``6F`` and ``90``..``9F`` only (``60`` is a procedure byte). Anything else is
    a card answering nonsense."""
    sw1 = sw >> 8
    return 0x61 <= sw1 <= 0x6F or 0x90 <= sw1 <= 0x9F
