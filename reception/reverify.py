"""Re-verification of declarations (被保険者資格申立書) by number, when OQS answers.

Each queued declaration with 保険者番号・記号・番号 is queried by number and marked
``confirmed`` (the service agrees), ``differing`` (it knows the person but the
負担割合 or the insurer differ — what differs is recorded) or stays ``unknown`` (no
match yet: the time lag, or nothing to query by). A service failure stops the run:
the queue stays as it is and is tried again when the service is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from reception.declaration import SelfDeclaration
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.results import QualificationResult
from reception.store import Store
from reception.target import name_key

log = logging.getLogger(__name__)


@dataclass
class ReverifySummary:
    confirmed: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def checked(self) -> int:
        return len(self.confirmed) + len(self.differing) + len(self.unknown)


def number_query(declaration: SelfDeclaration) -> NumberQuery:
    """The query by the numbers the patient declared (queryable declarations only)."""
    return NumberQuery(
        insurer_number=declaration.insurer_number or "",
        symbol=declaration.symbol or "",
        number=declaration.number or "",
        branch=declaration.branch or "",
        birth_date=declaration.birth_date,
    )


def compare(
    declaration: SelfDeclaration, result: QualificationResult
) -> tuple[str, dict[str, list[str | None]]]:
    """``confirmed`` / ``differing`` / ``unknown`` and what differs (label → [申立て, 照会])."""
    if result.has_newer_qualification:
        return "differing", {"資格": ["申立ての資格", "無効（新しい資格あり）"]}
    if not result.confirmed:
        return "unknown", {}
    entry = result.entries[0]
    difference: dict[str, list[str | None]] = {}
    declared_ratio = f"{declaration.declared_ratio // 10}割"
    if entry.ratio != declared_ratio:
        difference["負担割合"] = [declared_ratio, entry.ratio]
    found_insurer = (entry.insurer_number or "").strip()
    if declaration.insurer_number and found_insurer != declaration.insurer_number:
        difference["保険者番号"] = [declaration.insurer_number, found_insurer]
    if entry.name and name_key(entry.name) != name_key(declaration.name):
        difference["氏名"] = [declaration.name, entry.name]
    declared_birth = declaration.birth_date.strftime("%Y%m%d")
    if entry.birthdate and entry.birthdate != declared_birth:
        difference["生年月日"] = [declared_birth, entry.birthdate]
    return ("differing" if difference else "confirmed"), difference


async def reverify_pending(client: OqsClient, store: Store) -> ReverifySummary:
    summary = ReverifySummary()
    for item in store.pending():
        declaration = item.declaration
        if not declaration.queryable:
            store.settle(item.declaration_id, "unknown")
            summary.unknown.append(item.declaration_id)
            continue
        try:
            result = await client.confirm_number(number_query(declaration))
        except OqsError as exc:
            store.queue_error(item.declaration_id, f"{exc.title}: {exc}")  # developer detail
            if exc.fallback:  # the service is down: stop, keep the queue
                summary.error = exc.staff_message
                break
            summary.unknown.append(item.declaration_id)
            continue
        state, difference = compare(declaration, result)
        store.settle(item.declaration_id, state, difference=difference, result=result)
        getattr(summary, state).append(item.declaration_id)
    if summary.checked or summary.error:
        log.info(
            "re-verification: %d confirmed, %d differing, %d unknown%s",
            len(summary.confirmed),
            len(summary.differing),
            len(summary.unknown),
            f"; stopped: {summary.error}" if summary.error else "",
        )
    return summary


async def reverify_when_back(
    client: OqsClient, store: Store, *, wait_seconds: float, poll: float = 2.0
) -> ReverifySummary:
    """Poll the service's health until it answers (or ``wait_seconds`` pass), then
    re-verify the queue."""
    deadline = time.monotonic() + wait_seconds
    while not await client.health():
        if time.monotonic() >= deadline:
            return ReverifySummary(error="資格確認サービスが応答しません（キューはそのまま）")
        await asyncio.sleep(poll)
    return await reverify_pending(client, store)


def describe(summary: ReverifySummary) -> str:
    parts = [
        f"一致 {len(summary.confirmed)}",
        f"相違 {len(summary.differing)}",
        f"未確認 {len(summary.unknown)}",
    ]
    text = "再確認: " + "、".join(parts)
    return text + (f"（中断: {summary.error}）" if summary.error else "")
