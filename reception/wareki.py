"""Dates as staff type them from a 資格確認書 or a 申立書: 和暦 or 西暦.

A 資格確認書 prints the birth date in 和暦 (「昭和61年12月7日」), and staff type it as
they read it or as they are used to abbreviate it:

- 「昭和61年12月7日」, 「昭和元年12月25日」, with or without spaces;
- 「S61.12.7」, 「S61/12/7」, 「S61-12-7」, 「s61.12.7」, 「R8.12.6」 (an era letter M, T, S,
  H, R, as Japanese forms abbreviate the eras);
- 「1986-12-07」, 「1986/12/7」, 「19861207」;
- any of them in full-width characters (「Ｓ６１．１２．７」, 「１９８６１２０７」).

Each era runs from the day of its 改元 (the new era's first day) to the day before the
next one begins — except that 明治45年7月30日 is also 大正元年7月30日 and 大正15年12月25日
also 昭和元年12月25日: the 改元 took effect on the day of the accession, so that day has
two names, and both are accepted. The days, Gregorian:

| era | first day | last day |
|---|---|---|
| 明治 M | 1868-10-23 (明治元年9月8日, old calendar) | 1912-07-30 |
| 大正 T | 1912-07-30 | 1926-12-25 |
| 昭和 S | 1926-12-25 | 1989-01-07 |
| 平成 H | 1989-01-08 | 2019-04-30 |
| 令和 R | 2019-05-01 | — |

Sources: the National Archives of Japan (国立公文書館) pages on 大正 and 昭和 改元
(archives.go.jp/ayumi/kobetsu/m45_1912_01.html, t15_1926_01.html) and on the 平成 改元
(archives.go.jp/naj_news/16/anohi.html), the House of Councillors' legislative bureau on 令和
(houseikyoku.sangiin.go.jp/column/column104.htm), as listed by a public Go ``wareki``
package's README (found with the search tool); the same days are in public era tables
(e.g. tk1024/gen5 gengou.js, and Java's JapaneseCalendarTest of 平成31年4月30日 / 令和元年).
Japan adopted the Gregorian calendar on 明治6年1月1日 (1873-01-01: the day after 明治5年
12月2日 of the old calendar), so 明治5年 and before are old-calendar dates this module
refuses rather than misconverts.

Rejections say what is wrong: 「令和0年」 (no year 0: the first year is 元年), 「平成32年」 /
「平成31年5月1日」 (平成 ended on 31年4月30日: the date is in 令和), a day that does not
exist (「令和7年2月29日」), a day in the future for a birth date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass


class WarekiError(ValueError):
    """A date that cannot be read, with what staff should fix (in Japanese)."""


@dataclass(frozen=True)
class Era:
    name: str
    letter: str
    first: dt.date
    last: dt.date | None  # None: the current era

    def year_of(self, year: int) -> int:
        """The Gregorian year of this era's ``year`` (元年 = 1)."""
        return self.first.year + year - 1

    @property
    def last_year(self) -> int | None:
        return None if self.last is None else self.last.year - self.first.year + 1


ERAS = (
    Era("明治", "M", dt.date(1868, 10, 23), dt.date(1912, 7, 30)),
    Era("大正", "T", dt.date(1912, 7, 30), dt.date(1926, 12, 25)),
    Era("昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("令和", "R", dt.date(2019, 5, 1), None),
)
_BY_NAME = {era.name: era for era in ERAS} | {era.letter: era for era in ERAS}
GREGORIAN_FROM = dt.date(1873, 1, 1)  # 明治6年1月1日

_ERA_DATE = re.compile(
    r"^(?P<era>明治|大正|昭和|平成|令和|[MTSHR])\s*(?P<year>元|\d{1,3})\s*"
    r"(?:年\s*(?P<month1>\d{1,2})\s*月\s*(?P<day1>\d{1,2})\s*日?"
    r"|[./\-]\s*(?P<month2>\d{1,2})\s*[./\-]\s*(?P<day2>\d{1,2}))$"
)
_ERA_YEAR = re.compile(r"^(?P<era>明治|大正|昭和|平成|令和|[MTSHR])\s*(?P<year>元|\d{1,3})(?!\d)")
_WESTERN = re.compile(
    r"^(?P<year>\d{4})\s*[./\-年]\s*(?P<month>\d{1,2})\s*[./\-月]\s*(?P<day>\d{1,2})\s*日?$"
)
_COMPACT = re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$")


def _normal(text: str) -> str:
    """Full-width digits, letters and punctuation as ASCII (NFKC), letters upper-case,
    the full-width space and the 「．」 of Japanese input as their plain forms."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def _day(year: int, month: int, day: int, said: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise WarekiError(f"「{said}」はありえない日付です（{month}月{day}日）") from None


def _era_year(era: Era, year_text: str, said: str) -> int:
    """The year of the era as typed; an error for a year the era does not have."""
    year = 1 if year_text == "元" else int(year_text)
    if year == 0:
        raise WarekiError(f"「{said}」: {era.name}0年はありません（最初の年は{era.name}元年です）")
    last_year = era.last_year
    if last_year is not None and year > last_year:
        assert era.last is not None
        raise WarekiError(
            f"「{said}」: {era.name}は{last_year}年{era.last.month}月{era.last.day}日までです"
            f"（{era.name}{year}年はありません）"
        )
    return year


def _era_date(era: Era, year_text: str, month: int, day: int, said: str) -> dt.date:
    year = _era_year(era, year_text, said)
    if era is ERAS[0] and era.year_of(year) < GREGORIAN_FROM.year:
        raise WarekiError(f"「{said}」: 明治5年以前は旧暦の日付です（西暦に直せません）")
    date = _day(era.year_of(year), month, day, said)
    if date < era.first:
        raise WarekiError(
            f"「{said}」: {era.name}は{_era_day(era, era.first)}からです（その日は{_before(era)}）"
        )
    if era.last is not None and date > era.last:
        following = ERAS[ERAS.index(era) + 1]
        raise WarekiError(
            f"「{said}」: {era.name}は{_era_day(era, era.last)}までです"
            f"（その日は{following.name}: {format_wareki(date)}）"
        )
    return date


def _era_day(era: Era, date: dt.date) -> str:
    year = date.year - era.first.year + 1
    return f"{'元' if year == 1 else year}年{date.month}月{date.day}日"


def _before(era: Era) -> str:
    index = ERAS.index(era)
    return f"{ERAS[index - 1].name}です" if index else "明治より前です"


def parse_date(text: str, *, today: dt.date | None = None) -> dt.date:
    """A date typed by staff (和暦 or 西暦, full- or half-width); :class:`WarekiError`
    saying what is wrong otherwise. With ``today``, a date after it is refused (a birth
    date cannot be in the future)."""
    said = text.strip()
    if not said:
        raise WarekiError("日付を入力してください（例: 昭和61年12月7日、S61.12.7、1986-12-07）")
    normal = _normal(said)
    date: dt.date | None = None
    if match := _ERA_DATE.match(normal):
        era = _BY_NAME[match["era"]]
        month = int(match["month1"] or match["month2"])
        day = int(match["day1"] or match["day2"])
        date = _era_date(era, match["year"], month, day, said)
    elif match := (_WESTERN.match(normal) or _COMPACT.match(normal)):
        date = _day(int(match["year"]), int(match["month"]), int(match["day"]), said)
    elif match := _ERA_YEAR.match(normal):  # the year is read even if the rest is not
        _era_year(_BY_NAME[match["era"]], match["year"], said)
    if date is None:
        raise WarekiError(
            f"「{said}」は日付として読めません（例: 昭和61年12月7日、S61.12.7、"
            "R8.12.6、1986-12-07、19861207）"
        )
    if today is not None and date > today:
        raise WarekiError(f"「{said}」は今日より後の日付です（{format_wareki(date)}）")
    return date


def era_of(date: dt.date) -> Era:
    """The era of ``date`` (the new era on a day that has two names)."""
    for era in reversed(ERAS):
        if date >= era.first:
            return era
    raise WarekiError(f"{date.isoformat()} は明治より前の日付です")


def format_wareki(date: dt.date) -> str:
    """1986-12-07 → 「昭和61年12月7日」."""
    era = era_of(date)
    return f"{era.name}{_era_day(era, date)}"
