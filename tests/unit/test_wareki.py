"""和暦 as staff type it from a 資格確認書 (issue 22 §2): every form read to the same day,
each era's first and last day, and rejections that say what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reception.wareki import WarekiError, format_wareki, parse_date

BORN = dt.date(1986, 12, 7)


@pytest.mark.parametrize(
    "typed",
    [
        "昭和61年12月7日",
        "昭和６１年１２月７日",
        "昭和 61年 12月 7日",
        "S61.12.7",
        "s61.12.7",
        "S61/12/07",
        "S61-12-7",
        "Ｓ６１．１２．７",
        "1986-12-07",
        "1986/12/7",
        "1986年12月7日",
        "19861207",
        "１９８６１２０７",
    ],
)
def test_every_way_staff_type_a_birth_date_reads_the_same_day(typed: str) -> None:
    assert parse_date(typed) == BORN


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("R8.12.6", dt.date(2026, 12, 6)),
        ("令和8年12月6日", dt.date(2026, 12, 6)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("R1.5.1", dt.date(2019, 5, 1)),
        ("H31.4.30", dt.date(2019, 4, 30)),
        ("平成元年1月8日", dt.date(1989, 1, 8)),
        ("S64.1.7", dt.date(1989, 1, 7)),
        ("昭和元年12月25日", dt.date(1926, 12, 25)),
        ("大正15年12月25日", dt.date(1926, 12, 25)),  # the day has both names
        ("大正元年7月30日", dt.date(1912, 7, 30)),
        ("明治45年7月30日", dt.date(1912, 7, 30)),
        ("T1.7.30", dt.date(1912, 7, 30)),
        ("M6.1.1", dt.date(1873, 1, 1)),
    ],
)
def test_each_eras_first_and_last_day(typed: str, day: dt.date) -> None:
    assert parse_date(typed) == day


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("令和0年1月1日", "令和0年はありません（最初の年は令和元年です）"),
        ("令和0年", "令和0年はありません"),
        ("平成32年1月1日", "平成は31年4月30日までです（平成32年はありません）"),
        ("H32", "平成は31年4月30日まで"),
        ("平成31年5月1日", "その日は令和: 令和元年5月1日"),
        ("S64.1.8", "昭和は64年1月7日までです（その日は平成: 平成元年1月8日）"),
        ("大正1年7月29日", "大正は元年7月30日からです（その日は明治です）"),
        ("T16.1.1", "大正は15年12月25日まで"),
        ("M5.12.2", "明治5年以前は旧暦の日付です"),
        ("令和7年2月29日", "ありえない日付です（2月29日）"),
        ("1986-13-01", "ありえない日付です（13月1日）"),
        ("S61年12", "日付として読めません"),
        ("昭和", "日付として読めません"),
        ("X61.12.7", "日付として読めません"),
        ("", "日付を入力してください"),
    ],
)
def test_a_date_that_cannot_be_says_why(typed: str, said: str) -> None:
    with pytest.raises(WarekiError) as caught:
        parse_date(typed)
    assert said in str(caught.value)


def test_a_birth_date_after_today_is_refused() -> None:
    with pytest.raises(WarekiError, match="今日より後の日付です（令和8年12月7日）"):
        parse_date("R8.12.7", today=dt.date(2026, 12, 6))
    assert parse_date("R8.12.6", today=dt.date(2026, 12, 6)) == dt.date(2026, 12, 6)


def test_a_day_is_written_in_its_era() -> None:
    assert format_wareki(BORN) == "昭和61年12月7日"
    assert format_wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert format_wareki(dt.date(1926, 12, 25)) == "昭和元年12月25日"


@given(st.dates(min_value=dt.date(1873, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_a_day_written_in_its_era_reads_back(day: dt.date) -> None:
    assert parse_date(format_wareki(day)) == day


@given(st.text(max_size=30))
def test_any_text_is_a_date_or_a_reason(text: str) -> None:
    try:
        parse_date(text)
    except WarekiError as exc:
        assert str(exc)
