"""The exit codes of the command-line tools, one table: a code means the same in
``myna-reader``, ``reception`` and ``vcard`` (8 to 11 exist only where a command can end
so)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # done (reception checkin: the qualification is confirmed)
    ERROR = 1  # a card or other error
    USAGE = 2  # bad arguments or input (a malformed PIN: no try is spent)
    NO_READER = 3  # no reader, no card, pcscd not running — or the card/reader left mid-way
    FORBIDDEN = 4  # refused by the My Number guard
    PIN_WRONG = 5
    PIN_BLOCKED = 6
    NO_PIN = 7  # this card has no reader PIN (顔認証マイナンバーカード)
    FACE_NOT_MATCHED = 8  # reception checkin
    FALLBACK = 9  # reception: not confirmed, or the service unreachable — the ladder is next
    WRONG_CARD = 10  # reception checkin: not the card it was told to expect (no PIN sent)
    SLOT_TAKEN = 11  # vcard serve, reception checkin --persona: vpcd's slot holds a card


EPILOG = (
    "exit codes: 0 ok; 1 error; 2 bad usage or input; 3 no reader, no card or pcscd not "
    "running (or the card/reader left mid-way); 4 refused by the My Number guard; 5 wrong "
    "PIN; 6 PIN blocked; 7 no PIN on this card (顔認証マイナンバーカード); 8 face not "
    "matched; 9 not confirmed: the fallback ladder is next; 10 not the card expected "
    "(checkin --persona: no PIN was sent); 11 the virtual reader's slot already holds "
    "another card (vcard serve, checkin --persona)."
)
