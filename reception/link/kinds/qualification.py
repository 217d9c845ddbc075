"""``OQSsiquc01req``: one query by 保険者番号・記号・番号・枝番 and birth date, answered
with the qualification result as the card route's (oqs.md §2, §7). The shape rests on the
public clinic programs that write it (YUKI-ENT/OQSDrug2, YUKI-ENT/MynaReception) and on
an independent clinic reader that registers our answers."""

from __future__ import annotations

from typing import Any

from reception.link.request import patient
from reception.link.terms import Handler
from reception.oqs_client import OqsClient
from reception.results import QualificationResult


async def _single_query(client: OqsClient, request: dict[str, Any]) -> QualificationResult:
    return await client.confirm_number(patient(request))


HANDLERS: dict[str, Handler] = {"OQSsiquc01req": _single_query}
