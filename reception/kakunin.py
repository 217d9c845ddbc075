"""The 資格確認書 as the terminal reads it from a result (issue 24 §2, oqs.md §8): its
validity shown to staff, and whether it was valid on the rules' day.

A 資格確認書 states its 有効期限 (``InsuredCardExpirationDate``); a 後期高齢者's runs 8/1 →
7/31 and is renewed every year (静岡県後期高齢者医療広域連合
https://www.shizuoka-ki.jp/insured/person/card/ : 「有効期限が1年間で、毎年8月1日に更新」),
so on 8/1 the one of the year before is expired. The ladder's 資格確認書 rung
(:func:`reception.ladder.confirm_by_number`) refuses a document past its 有効期限 on the
rules' day: ``reception --today`` (the setting ``today``) where one is set, else the day
the service answered for.
"""

from __future__ import annotations

import datetime as dt

from reception.results import QualificationEntry, QualificationResult


def expired_on(result: QualificationResult, day: dt.date | None) -> str | None:
    """The 有効期限 (YYYYMMDD) of a 資格確認書 in ``result`` that has passed on ``day``
    (None: the service's day of the query), else None."""
    if day is None:
        return result.expired_document
    today = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    for entry in result.entries:
        until = entry.insured_card_expiration_date
        if until and until < today:
            return until
    return None


def refusal(until: str) -> str:
    """What staff read when the 資格確認書 has expired (``until``: YYYYMMDD)."""
    return (
        f"資格確認書の有効期限切れ（{until[:4]}/{until[4:6]}/{until[6:]}）"
        "：新しい資格確認書（毎年8/1更新など）かマイナ保険証をご確認ください"
    )


def card_line(entry: QualificationEntry) -> str | None:
    """The 資格確認書's validity as staff read it (「資格確認書 交付 2025/08/01  有効期限
    2026/07/31」), where the entry carries one; else None."""
    until = entry.insured_card_expiration_date
    if not until:
        return None
    issued = entry.insured_certificate_issuance_date
    since = f"交付 {_day(issued)}  " if issued else ""
    return f"資格確認書 {since}有効期限 {_day(until)}"


def _day(text: str) -> str:
    return f"{text[:4]}/{text[4:6]}/{text[6:]}" if len(text) == 8 and text.isdigit() else text
