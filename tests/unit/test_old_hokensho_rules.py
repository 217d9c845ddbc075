"""The rules of the day of the expired 保険証 and of the 70+ お知らせ (reception/ladder_rules.py):
their windows at the edges, and the お知らせ rung refusing an expired one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reception.declaration import LadderStep
from reception.errors import InputError
from reception.ladder import record_rung
from reception.ladder_rules import (
    NoticeRefused,
    NoticeSeen,
    OldCardRefused,
    OldDocument,
    check_printed_expiry,
    interim_open,
    is_elderly,
    last_notice_day,
    notice_problem,
    old_card_refusal,
)
from reception.old_card import check_old_card
from reception.store import ReceptionStatus, Store

D = dt.date


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (D(2025, 12, 1), False),  # every 保険証 was still valid at most until this day
        (D(2025, 12, 2), True),
        (D(2026, 1, 15), True),
        (D(2026, 3, 31), True),
        (D(2026, 4, 1), False),
        (D(2026, 12, 7), False),
    ],
)
def test_the_interim_rule_runs_from_12_02_to_03_31(day: dt.date, open_: bool) -> None:
    assert interim_open(day) is open_
    assert (old_card_refusal(day) is None) is open_


def test_after_the_window_the_refusal_says_why_and_what_instead() -> None:
    said = old_card_refusal(D(2026, 4, 1)) or ""
    assert "2026-03-31 で終わりました" in said and "2026-04-01" in said
    assert "マイナ保険証" in said and "資格確認書" in said and "10割" in said
    assert "申立書" in said
    alone = old_card_refusal(D(2026, 4, 1), OldDocument.NOTICE_ALONE) or ""
    assert alone.startswith("資格情報のお知らせのみ")
    before = old_card_refusal(D(2025, 12, 1)) or ""
    assert "2025-12-02〜2026-03-31" in before and "有効期限内の保険証" in before


def test_a_printed_expiry_no_hokensho_had_is_refused() -> None:
    check_printed_expiry(None, D(2026, 1, 5))
    check_printed_expiry(D(2025, 12, 1), D(2026, 1, 5))
    check_printed_expiry(D(2025, 7, 31), D(2026, 1, 5))
    with pytest.raises(InputError, match="最長 2025-12-01"):
        check_printed_expiry(D(2025, 12, 2), D(2026, 1, 5))
    with pytest.raises(InputError, match="古すぎ"):
        check_printed_expiry(D(1999, 12, 31), D(2026, 1, 5))


def test_check_old_card_refuses_outside_the_window_before_anything() -> None:
    born = D(1962, 3, 3)
    check_old_card(D(2026, 3, 31), OldDocument.HOKENSHO, D(2025, 7, 31), born)
    with pytest.raises(OldCardRefused):
        check_old_card(D(2026, 4, 1), OldDocument.HOKENSHO, None, born)
    # the お知らせ alone of a 70+ person: its own 有効期限 counts too
    elderly = D(1950, 1, 10)
    check_old_card(D(2026, 3, 1), OldDocument.NOTICE_ALONE, D(2026, 7, 31), elderly)
    with pytest.raises(NoticeRefused, match="切れています"):
        check_old_card(D(2026, 3, 1), OldDocument.NOTICE_ALONE, D(2025, 7, 31), elderly)


def test_70_and_over_follows_the_month_after_reaching_70() -> None:
    birth = D(1956, 6, 15)  # reaches 70 on 2026-06-14: 高齢受給者 from 2026-07-01
    assert not is_elderly(birth, D(2026, 6, 30))
    assert is_elderly(birth, D(2026, 7, 1))
    assert is_elderly(D(1940, 1, 1), D(2026, 7, 1))  # 後期高齢者


def test_the_last_notice_day_is_the_next_7_31() -> None:
    assert last_notice_day(D(2026, 7, 31)) == D(2026, 7, 31)
    assert last_notice_day(D(2026, 8, 1)) == D(2027, 7, 31)
    assert last_notice_day(D(2026, 1, 1)) == D(2026, 7, 31)


ELDER = D(1950, 4, 2)
YOUNG = D(1990, 4, 2)


@pytest.mark.parametrize(
    ("birth", "seen", "day", "said"),
    [
        (YOUNG, NoticeSeen(), D(2026, 8, 5), None),  # under 70: no 有効期限 asked
        (YOUNG, NoticeSeen(until=D(2020, 7, 31)), D(2026, 8, 5), None),
        (ELDER, NoticeSeen(until=D(2026, 7, 31)), D(2026, 7, 31), None),  # its last day
        (ELDER, NoticeSeen(until=D(2026, 7, 31)), D(2026, 8, 1), "切れています"),
        (ELDER, NoticeSeen(), D(2026, 8, 1), "有効期限を入力"),
        (ELDER, NoticeSeen(until=D(2028, 7, 31)), D(2026, 8, 1), "最長で次の7月31日"),
        (None, NoticeSeen(), D(2026, 8, 1), "生年月日を入力"),
        (None, NoticeSeen(birth_date=YOUNG), D(2026, 8, 1), None),
        (None, NoticeSeen(birth_date=D(2030, 1, 1)), D(2026, 8, 1), "未来"),
    ],
)
def test_the_notice_problem(
    birth: dt.date | None, seen: NoticeSeen, day: dt.date, said: str | None
) -> None:
    problem = notice_problem(birth, seen, day)
    if said is None:
        assert problem is None
    else:
        assert problem is not None and said in problem


def test_the_notice_rung_refuses_an_expired_70_plus_notice(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    rid = store.begin_reception()
    store.finish_reception(rid, status=ReceptionStatus.FALLBACK, reason="該当資格なし")
    seen = NoticeSeen(until=D(2026, 7, 31), birth_date=ELDER)
    with pytest.raises(NoticeRefused, match="2026-07-31"):
        record_rung(store, rid, LadderStep.NOTICE, "お知らせ 2割", seen=seen, day=D(2026, 8, 3))
    assert store.steps_of(rid) == [] and store.reception(rid).status == "fallback"
    with pytest.raises(NoticeRefused, match="生年月日"):
        record_rung(store, rid, LadderStep.NOTICE, "お知らせ 3割", day=D(2026, 8, 3))
    settled = record_rung(
        store, rid, LadderStep.NOTICE, "お知らせ 2割", seen=seen, day=D(2026, 7, 30)
    )
    assert settled is ReceptionStatus.CONFIRMED_NOTICE
