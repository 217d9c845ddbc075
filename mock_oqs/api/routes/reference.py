"""照会番号: registrations one at a time, and many at once under a ReceptionNumber
(:mod:`mock_oqs.references`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mock_oqs.api.deps import ServiceDep, TerminalDep
from mock_oqs.api.errors import ERROR_RESPONSES
from mock_oqs.models import BulkReferenceRequest, ReferenceRegistration
from mock_oqs.references import References

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.post(
    "/reference-numbers",
    summary="register 照会番号 (the clinic's own patient id, ≤ 50 characters) for a "
    "patient named by a qualification's numbers (no birth date needed); later results of "
    "that person at this facility carry it. The outcome as the result file carries it: "
    "ReferenceNumberRegistrationInfo and ProcessingResultStatus 1, or 2 with "
    "ProcessingResultCode / ProcessingResultMessage (MOCK-R004 no one, MOCK-R005 several "
    "persons: give the 枝番)",
)
async def reference_numbers(
    body: ReferenceRegistration, request: Request, asking: TerminalDep, use: ServiceDep
) -> dict[str, Any]:
    use.charge_lookup(asking.facility)
    answer, request.state.persona = References(use).register(body, asking.facility)
    return answer


@router.post(
    "/bulk-reference-numbers",
    status_code=202,
    summary="照会番号一括登録: upload registrations; the ReceptionNumber comes back at once "
    "(each entry counts against the facility's lookups; jobs per facility are capped)",
)
async def bulk_reference_start(
    body: BulkReferenceRequest, asking: TerminalDep, use: ServiceDep
) -> dict[str, Any]:
    number = References(use).start_bulk(
        body.registrations, asking.facility, body.arbitrary_file_identifier
    )
    return {"ReceptionNumber": number, "total": len(body.registrations)}


@router.get(
    "/bulk-reference-numbers/{number}",
    summary="照会番号一括登録: SegmentOfResult 2 while it runs, 1 with every outcome in "
    "order when done (a 一括照会's ReceptionNumber is not one: MOCK-E014)",
)
async def bulk_reference_fetch(number: str, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    return References(use).bulk(number, asking.facility)
