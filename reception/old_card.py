"""The rung 「有効期限切れの保険証」 (oqs.md §8; the rules and their sources:
:mod:`reception.ladder_rules`): staff enter the numbers printed on the old card (or on a
資格情報のお知らせ brought alone), the terminal queries the service by them as it does a
資格確認書's (:func:`reception.ladder.confirm_by_number`), and a confirmed qualification
settles the reception at the usual ratio — only on the days of the interim rule.

The status is ``confirmed-certificate`` (確認済（資格確認書）), the rung recorded as
「有効期限切れの保険証」: the visit was confirmed exactly as a 資格確認書's is (a query by
number answered 有効, billed with the numbers queried), and a status of its own would
need a new store layout (older programs refuse statuses they do not know) for a rule
that lasted four months; the ladder's history says which document it was.
"""

from __future__ import annotations

import datetime as dt

from reception.declaration import LadderStep
from reception.ladder import NumberAnswer, query_by_number, record_number_answer
from reception.ladder_rules import (
    INTERIM_UNTIL,
    NEXT_TIME,
    NoticeRefused,
    NoticeSeen,
    OldCardRefused,
    OldDocument,
    check_printed_expiry,
    notice_problem,
    old_card_refusal,
)
from reception.oqs_client import NumberQuery, OqsClient
from reception.store import Store


def check_old_card(
    day: dt.date, document: OldDocument, printed_until: dt.date | None, birth: dt.date
) -> None:
    """Everything refused before the service is asked: the day outside the interim rule,
    a 有効期限 no 保険証 had, an expired 70+ お知らせ."""
    why = old_card_refusal(day, document)
    if why is not None:
        raise OldCardRefused(why)
    if document is OldDocument.HOKENSHO:
        check_printed_expiry(printed_until, day)
    else:
        problem = notice_problem(birth, NoticeSeen(until=printed_until), day)
        if problem is not None:
            raise NoticeRefused(problem)


async def confirm_old_card(
    client: OqsClient,
    store: Store,
    query: NumberQuery,
    *,
    day: dt.date,
    document: OldDocument = OldDocument.HOKENSHO,
    printed_until: dt.date | None = None,
    reception_id: str | None = None,
    actor: str = "staff",
) -> NumberAnswer:
    """Query by the printed numbers and record the rung on the reception (or a new one).

    Refused (:class:`OldCardRefused`, nothing sent) outside 2025-12-02..2026-03-31 of the
    rules' ``day``. Accepted when the qualification is confirmed (有効, one entry): the
    reception becomes ``confirmed-certificate`` with the rung 「有効期限切れの保険証」. A
    有効期限 the service gives for the card itself is not a refusal here — an expired card
    is what the interim rule is for. Not confirmed: a given reception stays as it was, a
    new one ends as ``fallback``."""
    check_old_card(day, document, printed_until, query.birth_date)
    rid, result = await query_by_number(client, store, query, reception_id, actor)
    accepted = result.confirmed
    printed = f"、記載の有効期限 {printed_until:%Y-%m-%d}" if printed_until else ""
    verdict = result.validity_label
    if accepted:
        verdict += f"（暫定取扱い {INTERIM_UNTIL:%Y-%m-%d} まで。{NEXT_TIME}）"
    detail = f"{document.value}の番号で照会{printed}: {result.validity_label}"
    why = None if accepted else result.validity_label
    record_number_answer(
        store,
        rid,
        LadderStep.OLD_CARD,
        detail,
        result,
        accepted=accepted,
        why=why,
        new=reception_id is None,
        actor=actor,
    )
    return NumberAnswer(rid, result, accepted, verdict)
