"""一括照会: many queries by number at once, answered later under a ReceptionNumber."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mock_oqs.api.deps import ServiceDep, TerminalDep
from mock_oqs.api.errors import ERROR_RESPONSES
from mock_oqs.models import BulkConfirmationRequest

router = APIRouter(prefix="/v1/bulk-confirmations", responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=202,
    summary="一括照会: upload queries by number; the ReceptionNumber comes back at once "
    "(each entry counts against the facility's lookups; jobs per facility are capped)",
)
async def bulk_start(
    body: BulkConfirmationRequest, asking: TerminalDep, use: ServiceDep
) -> dict[str, Any]:
    number = use.lookups.start_bulk(body.queries, asking.facility)
    return {"ReceptionNumber": number, "total": len(body.queries)}


@router.get(
    "/{number}",
    summary="一括照会: SegmentOfResult 2 while it runs, 1 with every answer when done",
)
async def bulk_fetch(number: str, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    return use.lookups.bulk(number, asking.facility)
