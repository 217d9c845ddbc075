"""The service's time: its day (pinned for a world), and the result's forms of dates and
times (``YYYYMMDD``, ``YYYYMMDDhhmmss``; Japan time)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reader.clock import JST as JST  # the one clinic clock (reader/clock.py)


@dataclass(frozen=True, slots=True)
class Clock:
    """The service's notion of now; ``today`` pins the date (worlds are relative to it)."""

    today_override: dt.date | None = None

    def now(self) -> dt.datetime:
        now = dt.datetime.now(JST)
        if self.today_override is None:
            return now
        return dt.datetime.combine(self.today_override, now.timetz())

    def today(self) -> dt.date:
        return self.now().date()


def ymd(day: dt.date) -> str:
    """YYYYMMDD."""
    # formatted by hand: strftime costs ~2 µs a call, and a result has a dozen dates
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def ymd_text(iso: str | None) -> str | None:
    """A registry date (ISO text) as the result writes it (YYYYMMDD)."""
    return None if iso is None else ymd(dt.date.fromisoformat(iso))


def stamp(moment: dt.datetime) -> str:
    """YYYYMMDDhhmmss."""
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )


def date_of(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)
