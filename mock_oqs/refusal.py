"""A request the service refuses: its mock code (:mod:`mock_oqs.service` lists them), HTTP
status and message — raised anywhere below the routers, answered in the service's error
envelope by :mod:`mock_oqs.app`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mock_oqs.limits import DAY


class Refusal(Exception):
    """A request the service refuses, with its mock code, HTTP status and message;
    ``retry_after``: seconds until the same request could succeed (rate limits)."""

    def __init__(
        self, code: str, status: int, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after


def _per(period: float) -> str:
    return {60.0: "minute", DAY: "day"}.get(period, f"{period:g} s")


def lookup_refusal(wait: float, cost: int, windows: Sequence[tuple[str, int, float]]) -> Refusal:
    """MOCK-E018: the facility's lookups by number are over a limit."""
    limits = ", ".join(f"{limit} per {_per(period)}" for _, limit, period in windows)
    what = f"{cost} lookups" if cost > 1 else "a lookup"
    if math.isinf(wait):
        return Refusal(
            "MOCK-E018", 429, f"{what} by number: more than this facility may make ({limits})"
        )
    return Refusal(
        "MOCK-E018",
        429,
        f"{what} by number over this facility's limit ({limits}): try again in {math.ceil(wait)} s",
        retry_after=wait,
    )
