"""一括照会 (``OQSmuquc01req`` / ``OQSmuquc02req``), and the answer of phase 02 of every bulk
kind of qualifications (``BulkConfirmUnit``).

What the shapes rest on:

- ``OQSmuquc01req``: many ``MessageBody/QualificationConfirmSearchInfo`` (as
  ``OQSsiquc01req``'s), oqs.md §7. Its answer ``OQSmuquc01res``: ``MessageHeader``
  {``ProcessExecutionTime``, ``MedicalInstitutionCode``, ``ArbitraryFileIdentifier``,
  ``CharacterCodeIdentifier``} and ``MessageBody`` {``ReceptionNumber``,
  ``ReceptionDateTime``} — the element list of a public clinic system's DTO of that answer
  (C#, ``UseCase.XmlDTD.QCBIXmlMsgResponse``); YUKI-ENT/OQSDrug2's
  ``BulkQualificationService.ReadUploadResultAsync`` reads ``//ReceptionNumber`` from it,
  wherever it is.
- ``OQSmuquc02req``: ``MessageHeader/MedicalInstitutionCode`` and
  ``MessageBody/ReceptionNumber`` only (that DTO's ``QCBIDXmlMsgRequest``; OQSDrug2's
  ``CreateDownloadRequestAsync`` writes the same for every bulk kind).
- ``OQSmuquc02res``: ``MessageHeader`` {…, ``ReceptionNumber``, ``SegmentOfResult``,
  ``NumberOfProcessingResult``, ``NumberOfNormalProcessing``, ``NumberOfError``,
  ``CharacterCodeIdentifier``} and one ``MessageBody/BulkConfirmUnit`` per entry, in the
  order uploaded: {``QualificationConfirmSearchInfo`` (the entry as asked),
  ``ProcessingResultStatus``, ``ProcessingResultCode``, ``ProcessingResultMessage``,
  ``QualificationValidity``, ``ResultOfQualificationConfirmation``, ``ReferenceNumber``}
  (the DTO ``QCBIDXmlMsgResponse``). OQSDrug2's importer of the other bulk kinds
  (``QualificationImportParser``) reads the same unit: ``ReferenceNumber``,
  ``QualificationValidity`` and ``ProcessingResult…`` children of each
  ``BulkConfirmUnit``, and every ``ResultOfQualificationConfirmation`` below it — so one
  shape serves every bulk kind, and a unit with several qualifications repeats
  ``ResultOfQualificationConfirmation``. Where the two sources differ (the DTO has one
  result a unit) the unit follows the DTO for one qualification.
- While the bulk job still runs, phase 02 answers ``SegmentOfResult`` 2 with the
  ``ReceptionNumber`` and no unit (oqs.md §7: results come later); the clinic software asks
  again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reader.clock import now_jst
from reception.link.request import patient, text
from reception.link.terms import BULK_MAX, MAX_RECEPTION_NUMBER, Answer, Handler, LinkError
from reception.oqs_client import OqsClient
from reception.results import QualificationResult


def upload_header(usual: dict[str, Any]) -> dict[str, Any]:
    """Phase 01's answer header: the elements of a real ``…01res`` (module docstring)."""
    keep = (
        "ProcessExecutionTime",
        "MedicalInstitutionCode",
        "ArbitraryFileIdentifier",
        "CharacterCodeIdentifier",
    )
    return {name: usual.get(name) for name in keep}


def accepted(number: str, summary: str) -> Answer:
    """Phase 01's answer: the ``ReceptionNumber`` and when it was taken; ``summary``: what
    the staff console says of it."""
    when = now_jst().strftime("%Y%m%d%H%M%S")
    return Answer(
        {"ReceptionNumber": number, "ReceptionDateTime": when},
        shape=upload_header,
        summary=summary,
    )


async def _upload(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSmuquc01: many QualificationConfirmSearchInfo → a ReceptionNumber at once."""
    body = request.get("MessageBody")
    infos = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    infos = infos if isinstance(infos, list) else [infos]
    if len(infos) > BULK_MAX:
        raise LinkError("LINK-E003", f"一括照会は{BULK_MAX}件までです（{len(infos)}件）")
    queries = []
    for position, info in enumerate(infos, start=1):
        try:
            queries.append(patient(request, info))
        except LinkError as exc:
            raise LinkError(exc.code, f"{position}件目: {exc.message}") from None
    number = await client.start_bulk(queries)
    return accepted(number, f"受付 {number}（{len(queries)}件）")


def reception_number(request: dict[str, Any]) -> str:
    """Phase 02's ``MessageBody/ReceptionNumber``; LINK-E003 when missing or not one."""
    body = request.get("MessageBody")
    number = text(body, "ReceptionNumber") if isinstance(body, dict) else None
    if number is None:
        raise LinkError("LINK-E003", "MessageBody/ReceptionNumber がありません")
    if not (number.isascii() and number.isalnum()) or len(number) > MAX_RECEPTION_NUMBER:
        # (a 3 MB one made a URL too long to send: never answered, retried every second)
        raise LinkError(
            "LINK-E003",
            f"MessageBody/ReceptionNumber は{MAX_RECEPTION_NUMBER}文字までの英数字です"
            f"（{len(number)}文字: {number}）",
        )
    return number


def unit(result: QualificationResult) -> dict[str, Any]:
    """One entry's ``BulkConfirmUnit`` (module docstring)."""
    body = result.message_body
    entries = [
        e.model_dump(by_alias=True, exclude_none=True, exclude={"reference_number"})
        for e in body.result_list.result_of_qualification_confirmation
    ]
    numbers = [
        e.reference_number
        for e in body.result_list.result_of_qualification_confirmation
        if e.reference_number
    ]
    search = body.qualification_confirm_search_info
    return {
        "QualificationConfirmSearchInfo": search.model_dump(by_alias=True, exclude_none=True)
        if search is not None
        else None,
        "ProcessingResultStatus": body.processing_result_status,
        "ProcessingResultCode": body.processing_result_code,
        "ProcessingResultMessage": body.processing_result_message,
        "QualificationValidity": body.qualification_validity,
        "ResultOfQualificationConfirmation": entries or None,
        "ReferenceNumber": numbers[0] if numbers else None,
    }


def results_header(
    number: str, units: list[dict[str, Any]] | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Phase 02's answer header: the usual one with the ``ReceptionNumber`` and, once
    done, the counts (module docstring)."""

    def shape(usual: dict[str, Any]) -> dict[str, Any]:
        head = {k: v for k, v in usual.items() if k not in ("CharacterCodeIdentifier",)}
        head.pop("ReferenceClassification", None)
        segment = head.pop("SegmentOfResult")
        head["ReceptionNumber"] = number
        head["SegmentOfResult"] = segment
        if units is not None:
            normal = sum(1 for u in units if u.get("ProcessingResultStatus") == "1")
            head["NumberOfProcessingResult"] = str(len(units))
            head["NumberOfNormalProcessing"] = str(normal)
            head["NumberOfError"] = str(len(units) - normal)
        head["CharacterCodeIdentifier"] = usual.get("CharacterCodeIdentifier")
        return head

    return shape


def fetcher(
    results_of: Callable[[OqsClient, str], Awaitable[list[QualificationResult] | None]],
    label: str = "",
) -> Handler:
    """Phase 02 of a bulk kind of qualifications, its results fetched by ``results_of``
    (the client and the ReceptionNumber): 2 while the job runs; 1 with one
    ``BulkConfirmUnit`` per entry when done (``label``: the kind, as staff read it)."""

    async def fetch(client: OqsClient, request: dict[str, Any]) -> Answer:
        number = reception_number(request)
        results = await results_of(client, number)
        if results is None:
            return Answer({}, segment="2", shape=results_header(number, None), summary="処理中")
        units = [unit(r) for r in results]
        return Answer(
            {"BulkConfirmUnit": units},
            shape=results_header(number, units),
            summary=f"{label} {len(units)}件".lstrip(),
        )

    return fetch


HANDLERS: dict[str, Handler] = {
    "OQSmuquc01req": _upload,
    "OQSmuquc02req": fetcher(lambda client, number: client.fetch_bulk(number)),
}
