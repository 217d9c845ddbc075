"""The 資格確認書 a persona holds on the world's day (issue 24 §1–2, oqs.md §8).

後期高齢者医療 (the 広域連合's 資格確認書 runs 8/1 → 7/31, renewed every year):

- until **2026-07-31** every member received one without asking, whether they had a マイナ
  保険証 or not — the 暫定運用 of the ministry's notice of 2025-04-03, extended to the annual
  renewal of 2026-08 (京都府医師会 京都医報 2025-09-15; 東京都後期高齢者医療広域連合,
  quoted by 保団連 https://hodanren.doc-net.or.jp/?p=27171: 「令和6年12月2日から令和8年7月31日
  まで、マイナ保険証の保有状況にかかわらず…資格確認書を交付」; 静岡県後期高齢者医療広域連合
  https://www.shizuoka-ki.jp/insured/person/card/ : 「有効期限が1年間で、毎年8月1日に更新」);
- from **2026-08-01** only those without a マイナ保険証 (and anyone who applies): 魚沼市
  https://www.city.uonuma.lg.jp/page/1027242.html (2026-01-15): 「令和8年8月1日以降は、
  マイナ保険証をお持ちでない方等に資格確認書を交付」. One 広域連合 (埼玉県,
  https://www.saitama-koukikourei.org/seido/taisho/hokensho-2-2-2-2-2) still sends one to
  every member 85 or over on 2026-08-01 — a single source, and not the rule of our
  広域連合 (東京都): not modelled.
- before 2025-08-01 the members still held the 被保険者証 valid until 2025-07-31
  (南房総市 https://www.city.minamiboso.chiba.jp/0000021464.html): no 資格確認書 here.

A cancelled 保険証利用登録 (:mod:`mock_oqs.deregistration`): the insurer issues a 資格確認書
with the cancellation (いわき市 https://www.city.iwaki.lg.jp/www/contents/1734573194820/
index.html: 「解除申請と同時に資格確認書を交付します」); a 国保's runs to the next 7/31 and is
renewed on 8/1 (知立市 https://www.city.chiryu.aichi.jp/kenko_fukushi/kokuho/hokenseido/
17903.html: 資格確認書 有効期限 令和8年7月31日; 益田市: 8月1日以降の新しい「資格確認書」).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace

from mock_oqs import deregistration
from mock_oqs.persona_days import Held
from mock_oqs.personas import KOKI

KOKI_ISSUED_TO_ALL_UNTIL = dt.date(2026, 7, 31)
"""The last day of the 暫定運用: every 後期 member holds a 資格確認書."""
KOKI_FIRST_CARD_YEAR = dt.date(2025, 8, 1)
"""The first 8/1 → 7/31 year of the 後期 資格確認書 (the 被保険者証 ran until 2025-07-31)."""
UNREGISTERED = frozenset({"none", "deregistered"})
"""A persona's ``certificate`` values without a マイナ保険証 (no 保険証利用登録)."""


def card_year(day: dt.date) -> tuple[dt.date, dt.date]:
    """The 8/1 → 7/31 year ``day`` falls in: a 資格確認書's first and last day."""
    start = dt.date(day.year if day >= dt.date(day.year, 8, 1) else day.year - 1, 8, 1)
    return start, dt.date(start.year + 1, 7, 31)


def koki_holds(day: dt.date, *, registered: bool) -> bool:
    """Whether a 後期 member holds a 資格確認書 on ``day`` (none asked for one): everyone
    from 2025-08-01 to 2026-07-31, then only those without a マイナ保険証."""
    if day < KOKI_FIRST_CARD_YEAR:
        return False
    return day <= KOKI_ISSUED_TO_ALL_UNTIL or not registered


def seeded(held: Held, day: dt.date, certificate: str) -> Held:
    """``held`` with the 資格確認書 its holder has on the world's ``day``: a 後期 member's
    (:func:`held_card`), or the one issued with a cancelled registration
    (``certificate`` ``deregistered``: :func:`insurer_card`)."""
    if certificate == "deregistered" and held.insurer_number != KOKI and _current(held, day):
        cancelled = day - dt.timedelta(days=deregistration.CANCELLED_DAYS_AGO)
        return insurer_card(held, day, cancelled)
    return held_card(held, day, certificate)


def _current(held: Held, day: dt.date) -> bool:
    return held.qualification_date <= day and (
        held.disqualification_date is None or held.disqualification_date > day
    )


def held_card(held: Held, day: dt.date, certificate: str) -> Held:
    """``held`` with the 後期 資格確認書 its member has on ``day`` (issued on the year's 8/1,
    or on joining later that year; ends 7/31) — unchanged for any other qualification,
    one not held on ``day``, or one whose 資格確認書 the persona states itself."""
    if held.insurer_number != KOKI or not _current(held, day) or held.expires_on is not None:
        return held
    if not koki_holds(day, registered=certificate not in UNREGISTERED):
        return held
    start, end = card_year(day)
    return replace(held, issued_on=max(start, held.qualification_date), expires_on=end)


def insurer_card(held: Held, day: dt.date, cancelled_on: dt.date) -> Held:
    """The 資格確認書 of a cancelled 保険証利用登録: issued with the cancellation (or on the
    last renewal, 8/1), ending on the next 7/31."""
    if held.expires_on is not None:
        return held
    start, end = card_year(day)
    return replace(held, issued_on=max(start, cancelled_on), expires_on=end)


def promised(conn: sqlite3.Connection, person_id: str, day: dt.date) -> dict[str, str] | None:
    """What ``world.json`` promises of the person's 資格確認書 on ``day``: the insurer and
    the document's issue and end (ISO), or None when they hold none."""
    row = conn.execute(
        "SELECT insurer_number, issued_on, expires_on FROM qualifications WHERE person_id = ? "
        "AND expires_on IS NOT NULL AND qualification_date <= ? AND (disqualification_date "
        "IS NULL OR disqualification_date > ?) ORDER BY qualification_date DESC LIMIT 1",
        (person_id, day.isoformat(), day.isoformat()),
    ).fetchone()
    if row is None:
        return None
    return {"insurer_number": row[0], "issued": row[1], "expires": row[2]}
