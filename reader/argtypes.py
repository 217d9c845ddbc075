"""argparse value types shared by the command-line tools: each rejects garbage with a
message that says what was expected."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def whole_number(low: int, high: int, what: str = "a value") -> Callable[[str], int]:
    """A whole number in ``low..high`` (underscores allowed: 1_000_000)."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low:,}..{high:,}, got {value:,}")
        return value

    return parse


def fraction(text: str) -> float:
    """A rate between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is 0..1, got {value}")
    return value


def seconds(text: str) -> float:
    """A time-out: more than 0, at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(
            f"seconds must be more than 0 and at most 3600, got {text}"
        )
    return value


port = whole_number(0, 65535, "a port")


_PIN_LIKE = re.compile(r"[0-9\uff10-\uff19]{3,8}")


class QuietArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors never repeat an argument that looks like a PIN
    (3 to 8 digits, half- or full-width, alone or after ``=``): someone who typed the PIN
    on the command line must not see it echoed on the screen or in a terminal log."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._seen = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        for token in getattr(self, "_seen", []) + sys.argv[1:]:
            for value in (token, token.partition("=")[2]):
                if _PIN_LIKE.fullmatch(value):
                    message = message.replace(value, "****")
        super().error(message)
