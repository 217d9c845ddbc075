"""The clinic's clock: Japan Standard Time, the one clock of every layer.

Receptions, their day list and exports, a 申立書's 申立日, the card confirmation's
statement and the mock service's "today" are all in JST (UTC+9, no daylight saving
since 1951): a terminal abroad or a server on UTC still counts the clinic's day. A
fixed offset rather than ``zoneinfo.ZoneInfo("Asia/Tokyo")``: it needs no tz database on
the machine, and the two agree for every date this program handles.

Only the standard library: ``reader`` is the lowest layer, so ``reception`` and
``mock_oqs`` both take the clock from here (pyproject.toml's import-linter contracts).
Tests pin the time by replacing ``now_jst`` where it is imported (e.g.
``reception.store.now_jst``).
"""

from __future__ import annotations

import datetime as dt

JST = dt.timezone(dt.timedelta(hours=9), "JST")


def now_jst() -> dt.datetime:
    """The time now, in JST."""
    return dt.datetime.now(JST)


def today_jst() -> dt.date:
    """The clinic's day today."""
    return now_jst().date()
