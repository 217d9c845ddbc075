"""The rules of the day for two rungs of the ladder (oqs.md §6, §8): the expired 保険証
(and a 資格情報のお知らせ brought alone) of the interim rule, and the 有効期限 of a 70+
patient's 資格情報のお知らせ.

**The expired 保険証.** Every 健康保険証 expired on 2025-12-01 at the latest. Until
2026-03-31 a patient who still brought one (or who brought only the 資格情報のお知らせ)
was seen at the usual ratio when the clinic queried the service by the printed numbers
(被保険者番号等) and the qualification was confirmed; neither is valid alone, and the
patient is asked to bring the マイナ保険証 or the 資格確認書 next time. Sources (looked up
again 2026-12): 厚生労働省保険局 事務連絡 2025-06-27 (国保の有効期限切れ保険証, until
2026-03 — as reported by news.livedoor.com/article/detail/29745302), 事務連絡 2025-08-04
(named in oqs.md §8; its text was not found again), 事務連絡 2025-11-12 「マイナ保険証を
基本とする仕組みへの移行について（周知）」 (every insurer's 保険証 and the お知らせ alone,
「令和8年3月末までの暫定的な対応」, quoted by 保団連
https://hodanren.doc-net.or.jp/info/news/2025-11-12-4). Nothing found extends it past
2026-03-31 (news of 2026-02-22/23 say it ends then): from 2026-04-01 the rung is refused.

The window this terminal plays is 2025-12-02..2026-03-31 (the 11-12 notice, all
insurers). Before it, an unexpired 保険証 is not this rung (it was itself valid); the
06-27 notice's earlier grace for 国保 cards that expired on 2025-07-31 is not modelled.

**The お知らせ's 有効期限.** A 70+ person's お知らせ (70–74 高齢受給者, 後期高齢者) carries
the 負担割合, which changes each 8/1, so it expires at the latest on the next 7/31; under
70 it has none (平川市「国民健康保険の資格確認書等の有効期限」: 「70歳以上の方は最長で次の
7月31日、70歳未満の方は有効期限がありません」, https://www.city.hirakawa.lg.jp/fukushi/
kokuho/yuukoukigen.html; 知立市 on the 2025 renewal, https://www.city.chiryu.aichi.jp/
kenko_fukushi/kokuho/hokenseido/17903.html).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from reception.declaration import allowed_ratios
from reception.errors import InputError
from reception.store import Store

CARDS_EXPIRED_BY = dt.date(2025, 12, 1)
"""The last day any 健康保険証 was valid (改正法の経過措置: 最長 2025-12-01)."""
INTERIM_FROM = dt.date(2025, 12, 2)
INTERIM_UNTIL = dt.date(2026, 3, 31)
"""The interim rule of the 事務連絡 of 2025-11-12: an expired 保険証, or the お知らせ
alone, queried by number, at the usual ratio — 「令和8年3月末までの暫定的な対応」."""

NEXT_TIME = "次回からはマイナ保険証か資格確認書を必ずお持ちいただくよう伝えてください"
INSTEAD = (
    "マイナ保険証（読めなければお知らせ・マイナポータルと）か資格確認書で確認してください。"
    "どちらもお持ちでなければ10割負担（後日、保険者に療養費を請求）、"
    "マイナ保険証で確認できないときは被保険者資格申立書です"
)


class OldDocument(enum.StrEnum):
    """What the patient brought instead of the マイナ保険証 or the 資格確認書."""

    HOKENSHO = "有効期限切れの保険証"
    NOTICE_ALONE = "資格情報のお知らせのみ"


def interim_open(day: dt.date) -> bool:
    """The interim rule applies on ``day`` (2025-12-02..2026-03-31)."""
    return INTERIM_FROM <= day <= INTERIM_UNTIL


class OldCardRefused(InputError):
    """The expired-保険証 rung outside the days of the interim rule."""

    title = "有効期限切れの保険証では確認できません"


def old_card_refusal(day: dt.date, document: OldDocument = OldDocument.HOKENSHO) -> str | None:
    """Why the rung cannot be used on ``day`` and what to do instead (None: it can)."""
    if day > INTERIM_UNTIL:
        return (
            f"{document.value}で受け付ける暫定取扱いは {INTERIM_UNTIL:%Y-%m-%d} で終わりました"
            f"（この日 {day:%Y-%m-%d}）: {INSTEAD}"
        )
    if day < INTERIM_FROM:
        return (
            f"{day:%Y-%m-%d} は暫定取扱い（{INTERIM_FROM:%Y-%m-%d}〜{INTERIM_UNTIL:%Y-%m-%d}）の"
            f"前です: 保険証は最長 {CARDS_EXPIRED_BY:%Y-%m-%d} まで有効でした。"
            "有効期限内の保険証ならその記号・番号で照会してください（お知らせは単独では使えません）"
        )
    return None


def check_printed_expiry(printed: dt.date | None, day: dt.date) -> None:
    """The 有効期限 printed on an old 保険証 (None: none printed — most 被用者保険's cards
    print none; they ended on 2025-12-01 by law). InputError for a date no 保険証 had."""
    if printed is None:
        return
    if printed > CARDS_EXPIRED_BY:
        raise InputError(
            f"保険証の有効期限は最長 {CARDS_EXPIRED_BY:%Y-%m-%d} です（入力 {printed:%Y-%m-%d}）:"
            " 資格確認書なら資格確認書の照会を使ってください"
        )
    if printed < dt.date(2000, 1, 1):
        raise InputError(f"保険証の有効期限が古すぎます（{printed:%Y-%m-%d}）")


def is_elderly(birth: dt.date, day: dt.date) -> bool:
    """70 or over in the sense of the 負担割合 (高齢受給者 from the month after reaching 70,
    then 後期高齢者): the ages whose お知らせ says a ratio that changes each 8/1. The same
    boundary as the 申立書's ratios (:func:`reception.declaration.allowed_ratios`: more
    than one ratio allowed only from then on)."""
    return len(allowed_ratios(birth, day)) > 1


def last_notice_day(day: dt.date) -> dt.date:
    """The latest 有効期限 a 70+ お知らせ in use on ``day`` can have: the next 7/31."""
    july = dt.date(day.year, 7, 31)
    return july if day <= july else dt.date(day.year + 1, 7, 31)


@dataclass(frozen=True)
class NoticeSeen:
    """What staff read on the お知らせ beside the 負担割合: the printed 有効期限 (asked for a
    70+ patient) and the birth date (asked only when the reception does not know it)."""

    until: dt.date | None = None
    birth_date: dt.date | None = None


def notice_problem(birth: dt.date | None, seen: NoticeSeen, day: dt.date) -> str | None:
    """Why this お知らせ is not accepted on ``day`` (None: it is). ``birth``: the patient's
    birth date as the reception knows it, else as staff entered it."""
    birth = birth or seen.birth_date
    if birth is None:
        return (
            "生年月日を入力してください: 70歳以上の方の資格情報のお知らせには有効期限"
            "（7月31日）があります"
        )
    if birth > day:
        return f"生年月日が未来の日付です（{birth:%Y-%m-%d}）"
    if not is_elderly(birth, day):
        return None  # under 70: the お知らせ has no 有効期限
    if seen.until is None:
        return (
            "70歳以上の方の資格情報のお知らせには有効期限があります（最長 7月31日）:"
            " 記載の有効期限を入力してください"
        )
    if seen.until > last_notice_day(day):
        return (
            f"70歳以上の方のお知らせの有効期限は最長で次の7月31日（{last_notice_day(day):%Y-%m-%d}）"
            f"です（入力 {seen.until:%Y-%m-%d}）: 記載を確かめてください"
        )
    if seen.until < day:
        return (
            f"資格情報のお知らせの有効期限（{seen.until:%Y-%m-%d}）が切れています: 8月1日からの"
            "新しいお知らせか、マイナポータルの資格情報で確認してください（負担割合は毎年8月1日に"
            "変わります）"
        )
    return None


class NoticeRefused(InputError):
    """A 資格情報のお知らせ that does not prove the qualification on the day."""

    title = "資格情報のお知らせを確認できません"


def patient_birth(store: Store, reception_id: str) -> dt.date | None:
    """The patient's birth date as the reception's results give it (None: unknown)."""
    for result in reversed(store.results_of(reception_id)):
        births = {e.birthdate for e in result.entries if e.birthdate}
        if len(births) == 1:
            try:
                return dt.datetime.strptime(births.pop(), "%Y%m%d").date()
            except ValueError:
                return None
    return None


def check_notice(store: Store, reception_id: str, seen: NoticeSeen, day: dt.date) -> None:
    """:class:`NoticeRefused` when the お知らせ seen on this reception does not count."""
    problem = notice_problem(patient_birth(store, reception_id), seen, day)
    if problem is not None:
        raise NoticeRefused(problem)
