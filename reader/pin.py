"""The user-authentication PIN, held as briefly and as invisibly as Python allows."""

from __future__ import annotations

import getpass
import sys


class InvalidPin(ValueError):
    """The PIN is not exactly 4 ASCII digits. The message never repeats the input."""

    title = "暗証番号の形式が違います"


class Pin:
    """A 4-digit JPKI user-authentication PIN.

    Validated on construction (exactly four ASCII digits; the message never
    echoes what was typed). ``repr``/``str`` never show the digits, and
    :meth:`wipe` overwrites the buffer once the card has it.
    """

    __slots__ = ("_digits",)

    def __init__(self, text: str | bytes | bytearray) -> None:
        raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
        raw = raw.rstrip(b"\r\n")
        if len(raw) != 4 or not all(0x30 <= b <= 0x39 for b in raw):
            count = len(raw)
            raise InvalidPin(
                "the PIN must be exactly 4 digits (0-9); "
                f"got {count} character{'s' if count != 1 else ''}"
                + ("" if count != 4 else " that are not all digits")
            )
        self._digits = bytearray(raw)

    def command_data(self) -> bytes:
        """The VERIFY command data. Only the card channel should call this."""
        if not self._digits:
            raise InvalidPin("this PIN was already used and wiped")
        return bytes(self._digits)

    def wipe(self) -> None:
        for i in range(len(self._digits)):
            self._digits[i] = 0
        self._digits = bytearray()

    def __repr__(self) -> str:
        return "Pin(****)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a PIN is never pickled")


class PinEntryUnavailable(Exception):
    """No way to ask the PIN: standard input is empty, or there is no terminal."""


def ask_pin(tries_left: int, *, from_stdin: bool) -> str:
    """The PIN as typed — the first line of standard input, or a hidden prompt on the
    terminal; the prompt shows the tries left first (design.md §6.4). The one PIN prompt
    of every command-line tool; the text is validated by :class:`Pin`, never echoed."""
    tries = f"{tries_left} {'try' if tries_left == 1 else 'tries'} left"
    prompt = f"暗証番号（4桁、残り{tries_left}回）/ PIN (4 digits), {tries}: "
    if from_stdin:
        sys.stderr.write(prompt + "(from stdin)\n")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise PinEntryUnavailable("--pin-stdin: standard input is empty")
        return line.rstrip("\r\n")
    try:
        with open("/dev/tty"):
            pass
    except OSError:
        raise PinEntryUnavailable(
            "no terminal for the hidden PIN prompt; use --pin-stdin"
        ) from None
    return getpass.getpass(prompt)
