"""The bulk kinds by period (oqs.md §7; :mod:`mock_oqs.period`): 訪問診療, オンライン診療,
医療扶助 — each uploaded for a ReceptionNumber and fetched by it as its own kind — and the
patient's phone confirming for an オンライン診療 (what the patient's app does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mock_oqs.api.deps import ServiceDep, TerminalDep
from mock_oqs.api.errors import ERROR_RESPONSES
from mock_oqs.period import AidBulk, OnlineBulk, OnlineExamination, VisitBulk

router = APIRouter(responses=ERROR_RESPONSES)
LIMITS = " (every patient listed counts against the facility's lookups per day; jobs per "
LIMITS += "facility are capped as 一括照会's)"


@router.post(
    "/v1/bulk-visits",
    status_code=202,
    summary="訪問診療 (OQSmuhvq): the patients who consented on the 居宅同意取得型 app "
    "between two days; the ReceptionNumber comes back at once" + LIMITS,
)
async def visits_start(body: VisitBulk, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    number, total = use.periods.start("visit", body, asking.facility)
    return {"ReceptionNumber": number, "total": total}


@router.post(
    "/v1/bulk-online",
    status_code=202,
    summary="オンライン診療 (OQSmuonq): the patients examined (or who consented) between two "
    "days; the ReceptionNumber comes back at once" + LIMITS,
)
async def online_start(body: OnlineBulk, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    number, total = use.periods.start("online", body, asking.facility)
    return {"ReceptionNumber": number, "total": total}


@router.post(
    "/v1/bulk-medical-aid",
    status_code=202,
    summary="医療扶助 (OQSmutic): the recipients whose 医療券 of a month entrust this "
    "institution; the ReceptionNumber comes back at once" + LIMITS,
)
async def aid_start(body: AidBulk, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    number, total = use.periods.start("aid", body, asking.facility)
    return {"ReceptionNumber": number, "total": total}


@router.get("/v1/bulk-visits/{number}", summary="訪問診療: 2 running, 1 with the results")
async def visits_fetch(number: str, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    return use.periods.fetch("visit", number, asking.facility)


@router.get("/v1/bulk-online/{number}", summary="オンライン診療: 2 running, 1 with the results")
async def online_fetch(number: str, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    return use.periods.fetch("online", number, asking.facility)


@router.get("/v1/bulk-medical-aid/{number}", summary="医療扶助: 2 running, 1 with the results")
async def aid_fetch(number: str, asking: TerminalDep, use: ServiceDep) -> dict[str, Any]:
    return use.periods.fetch("aid", number, asking.facility)


@router.post(
    "/v1/online-examinations",
    status_code=201,
    summary="Simulate the patient's phone: they confirmed their qualification for an "
    "オンライン診療 at this facility (on examination_date, default today); OQSmuonq lists "
    "them (MOCK-E007 unless the numbers name one person)",
)
async def online_examination(
    body: OnlineExamination, asking: TerminalDep, use: ServiceDep
) -> dict[str, str]:
    return use.periods.record_online(body, asking.facility)
