"""Bulk by period: ``OQSmuhvq`` (訪問診療: the patients who consented on the 居宅同意取得型
app between two days), ``OQSmuonq`` (オンライン診療: examined, or consented, between two
days) and ``OQSmutic`` (医療扶助: the 医療券 of a month entrusting this institution) —
each in two phases like 一括照会 (:mod:`~reception.link.kinds.bulk`), answered from the
service (``POST /v1/bulk-visits`` | ``-online`` | ``-medical-aid``, then a GET of that
kind: a ReceptionNumber of one kind is never fetched as another's).

What the shapes rest on — YUKI-ENT/OQSDrug2 ``OQSDrug/BulkQualificationService.cs``, the
one public program that writes and reads these files:

- Requests (``CreateRequestAsync``): Shift_JIS with ``standalone="no"``, named
  ``<prefix><yyyyMMdd><4-digit number of the day>.xml`` (``BuildFileName``,
  ``GetPrefix``: ``OQSmuhvq01req_`` …); ``MessageHeader`` {``MedicalInstitutionCode``,
  ``ArbitraryFileIdentifier``} and ``MessageBody/QualificationConfirmSearchInfo`` with
  ``MedicalTreatmentMonth`` (yyyyMM; OQSmutic), or ``ConsentDateFrom``/``ConsentDateTo``
  (yyyyMMdd; OQSmuhvq, and OQSmuonq by consent) or ``ExaminationDateFrom``/
  ``ExaminationDateTo`` (OQSmuonq), and ``MedicalTreatmentFlag`` (2 訪問診療, 3 オンライン
  診療; none for OQSmutic). We also read UTF-8 (``CharacterCodeIdentifier`` 0).
- Phase 01's answer: as 一括照会's (``bulk.accepted``); OQSDrug2's
  ``ReadUploadResultAsync`` reads ``//ReceptionNumber`` (and ``//SegmentOfResult``,
  ``//ProcessingResult…``) wherever they are.
- Phase 02 (``CreateDownloadRequestAsync``): ``MedicalInstitutionCode`` and
  ``MessageBody/ReceptionNumber``; its answer one ``MessageBody/BulkConfirmUnit`` per
  patient, as 一括照会's (``bulk.unit``, ``bulk.results_header``) — what OQSDrug2's
  ``QualificationImportParser`` reads (``OQSDrug/QualificationImportModels.cs``): each
  unit's ``ReferenceNumber``, ``QualificationValidity``, ``ProcessingResult…`` and every
  ``ResultOfQualificationConfirmation`` below it, 医療扶助 by ``InsuredCardClassification``
  A1 with the 医療券 in ``MedicalTicketInfo``. A unit has no
  ``QualificationConfirmSearchInfo``: nobody was asked for by number.

Where we chose: a period with From after To, a month that is not yyyyMM, an OQSmuonq with
both pairs of dates or neither, a flag that is not the kind's are refused with LINK-E003
before anything is asked; ``MedicalTreatmentFlag`` is required where OQSDrug2 writes one.
The real service's longest period is not public: none is enforced.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from reception.link.kinds import bulk
from reception.link.request import text
from reception.link.terms import Answer, Handler, LinkError
from reception.oqs_client import OqsClient

MONTH = re.compile(r"[0-9]{4}(0[1-9]|1[0-2])")
# kind → (prefix, the MedicalTreatmentFlag its requests carry, what staff read)
KINDS = {
    "visit": ("OQSmuhvq", "2", "訪問診療"),
    "online": ("OQSmuonq", "3", "オンライン診療"),
    "aid": ("OQSmutic", None, "医療扶助"),
}


def _info(request: dict[str, Any]) -> dict[str, Any]:
    body = request.get("MessageBody")
    info = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    if isinstance(info, list):
        raise LinkError("LINK-E003", "QualificationConfirmSearchInfo は1件です（期間はひとつ）")
    if not isinstance(info, dict):
        raise LinkError("LINK-E003", "MessageBody/QualificationConfirmSearchInfo がありません")
    return info


def _day(info: dict[str, Any], name: str) -> str:
    value = text(info, name)
    if value is None:
        raise LinkError("LINK-E003", f"QualificationConfirmSearchInfo/{name} がありません")
    try:
        dt.datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise LinkError("LINK-E003", f"{name} は YYYYMMDD の日付です（{value!r}）") from None
    return value


def _span(info: dict[str, Any], what: str) -> dict[str, str]:
    """``<what>From`` and ``<what>To``, From on or before To, as the service's spec."""
    first, last = _day(info, f"{what}From"), _day(info, f"{what}To")
    if first > last:
        raise LinkError("LINK-E003", f"{what}From（{first}）が {what}To（{last}）より後です")
    snake = "consent_date" if what == "ConsentDate" else "examination_date"
    return {f"{snake}_from": first, f"{snake}_to": last}


def _flag(info: dict[str, Any], wanted: str, label: str) -> None:
    flag = text(info, "MedicalTreatmentFlag")
    if flag is None:
        raise LinkError(
            "LINK-E003",
            f"QualificationConfirmSearchInfo/MedicalTreatmentFlag がありません"
            f"（{label}は {wanted}）",
        )
    if flag != wanted:
        raise LinkError(
            "LINK-E003", f"MedicalTreatmentFlag は{label}では {wanted} です（{flag!r}）"
        )


def spec(kind: str, request: dict[str, Any]) -> dict[str, str]:
    """What a phase-01 request asks, checked: the service's spec of that kind."""
    info = _info(request)
    _, flag, label = KINDS[kind]
    if kind == "aid":
        month = text(info, "MedicalTreatmentMonth")
        if month is None:
            raise LinkError(
                "LINK-E003", "QualificationConfirmSearchInfo/MedicalTreatmentMonth がありません"
            )
        if not MONTH.fullmatch(month):
            raise LinkError(
                "LINK-E003", f"MedicalTreatmentMonth は YYYYMM の診療年月です（{month!r}）"
            )
        return {"medical_treatment_month": month}
    assert flag is not None
    _flag(info, flag, label)
    if kind == "visit":
        return _span(info, "ConsentDate")
    exam = any(text(info, n) for n in ("ExaminationDateFrom", "ExaminationDateTo"))
    consent = any(text(info, n) for n in ("ConsentDateFrom", "ConsentDateTo"))
    if exam == consent:
        raise LinkError(
            "LINK-E003",
            "オンライン診療は ExaminationDateFrom/To か ConsentDateFrom/To のどちらか一方です",
        )
    return _span(info, "ExaminationDate" if exam else "ConsentDate")


def _upload(kind: str) -> Handler:
    async def upload(client: OqsClient, request: dict[str, Any]) -> Answer:
        asked = spec(kind, request)
        number = await client.start_period_bulk(kind, asked)
        shown = "〜".join(asked.values())
        return bulk.accepted(number, f"{KINDS[kind][2]} {shown}: 受付 {number}")

    return upload


def _fetch(kind: str) -> Handler:
    return bulk.fetcher(
        lambda client, number: client.fetch_period_bulk(kind, number), KINDS[kind][2]
    )


HANDLERS: dict[str, Handler] = {
    f"{prefix}{phase}req": make(kind)
    for kind, (prefix, _, _) in KINDS.items()
    for phase, make in (("01", _upload), ("02", _fetch))
}
