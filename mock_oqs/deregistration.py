"""保険証利用登録の解除 (since 2024-11-01; issue 24 §1, oqs.md §8): a person may cancel the
registration of their card with their insurer; the insurer then issues a 資格確認書 (with
the cancellation: いわき市 https://www.city.iwaki.lg.jp/www/contents/1734573194820/index.html;
益田市 https://www.city.masuda.lg.jp/soshikikarasagasu/fukushikankyobu/hokenka/3/10942.html
lists 「マイナ保険証の利用登録解除の申請をした方」 among those who receive one; 倉吉市
https://www.city.kurayoshi.lg.jp/10255.htm likewise, without application).

The card is then a card without 保険証利用登録: at the reader it switches to the
registration screen by itself, and the holder may register it there again (SCSK健保 Q&A
https://www.kenpo.gr.jp/SCSK-kenpo/contents/05qa/04myna_shikaku_syo.html: 「利用登録して
いない方は、自動的に利用登録画面に切り替わりますので、その場でマイナ保険証の利用登録が可能」 —
said of any unregistered card; that a cancelled one behaves the same is our reading).
The service answers MOCK-R003 as for any unregistered card (with a ``RegistrationOffer``
after PIN or face), its message saying when the registration was cancelled, and the
notice ``registration-cancelled`` beside it, so that staff know a 資格確認書 was issued.

The registry keeps the day of the cancellation in a table of its own
(``registration_cancellations``), made by :func:`record`; a world seeded before it has no
such table and no cancellations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

from mock_oqs.results import Message

CANCELLED_DAYS_AGO = 120
"""The ``deregistered`` persona cancelled its registration this many days before the
world's day (its 資格確認書 issued then)."""
NOTICE = "registration-cancelled"
NOT_REGISTERED = "保険証利用登録がありません"

SCHEMA = """
CREATE TABLE IF NOT EXISTS registration_cancellations (
    person_id TEXT PRIMARY KEY REFERENCES persons(person_id),
    cancelled_on TEXT NOT NULL            -- the insurer's day of the 利用登録解除
)
"""


def record(conn: sqlite3.Connection, person_id: str, cancelled_on: dt.date) -> None:
    """The person's 保険証利用登録 was cancelled on ``cancelled_on`` (their card's link stays
    unregistered: ``certificates.registered_at`` NULL)."""
    conn.execute(SCHEMA)
    conn.execute(
        "INSERT OR REPLACE INTO registration_cancellations VALUES (?, ?)",
        (person_id, cancelled_on.isoformat()),
    )


def cancelled_on(conn: sqlite3.Connection, person_id: str) -> dt.date | None:
    """The day the person's registration was cancelled, or None (never; or a world made
    before the table existed)."""
    try:
        row = conn.execute(
            "SELECT cancelled_on FROM registration_cancellations WHERE person_id = ?",
            (person_id,),
        ).fetchone()
    except sqlite3.OperationalError:  # no such table: an older world
        return None
    return None if row is None else dt.date.fromisoformat(row[0])


def message(day: dt.date) -> str:
    said = f"保険証利用登録は{day:%Y/%m/%d}に解除されています"
    return said + "（利用登録解除済み・資格確認書を交付済み）"


def explained(answer: Message, conn: sqlite3.Connection, person_id: str) -> Message:
    """A MOCK-R003 answer for a person whose registration was cancelled: its message says
    so (why registering cannot be done here — 目視, the route — follows), with the notice
    beside it."""
    if answer.body.processing_result_code != "MOCK-R003":
        return answer
    day = cancelled_on(conn, person_id)
    if day is None:
        return answer
    said = answer.body.processing_result_message or NOT_REGISTERED
    text = message(day) + said.removeprefix(NOT_REGISTERED)  # why it cannot be done here
    body = dataclasses.replace(answer.body, processing_result_message=text)
    notices = tuple(sorted({*answer.notices, NOTICE}))
    return dataclasses.replace(answer, body=body, notices=notices)
