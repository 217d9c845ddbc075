"""The shared records: lookups by number of a patient who consented here (照会番号:
:mod:`mock_oqs.api.routes.reference`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from mock_oqs.api.deps import ServiceDep, TerminalDep
from mock_oqs.api.errors import ERROR_RESPONSES
from mock_oqs.models import PatientNumbers

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.post(
    "/records/{kind}",
    summary="薬剤情報 (medications, 3 years), 診療情報 (diagnoses), 手術情報 (operations) "
    "or 特定健診情報 (checkups; 5 years) of a patient, named by a qualification's numbers: "
    "only with their consent at this facility (24 h); with the patient they are of "
    "(`patient`: name, name_kana, birth_date, sex)",
)
async def records(
    kind: Literal["medications", "diagnoses", "operations", "checkups"],
    body: PatientNumbers,
    request: Request,
    asking: TerminalDep,
    use: ServiceDep,
) -> dict[str, Any]:
    use.charge_lookup(asking.facility)  # numbers (and a birth date, if given) name the patient
    found, request.state.persona = use.lookups.records(body, asking.facility, kind)
    return found
