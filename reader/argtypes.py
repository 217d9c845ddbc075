"""argparse value types shared by the command-line tools: each rejects garbage with a
message that says what was expected."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable


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


port = whole_number(0, 65535, "a port")
