"""The answers of the folder interface, per kind of request (oqs.md §7): each asks the
service and says what it answered; a request that cannot be answered gets a result with
``SegmentOfResult`` 9 and a ``LINK-E…`` code all the same."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reader.clock import now_jst
from reception.export import xml_document, xml_message
from reception.link.request import character_code, file_identifier, patient, text
from reception.link.terms import (
    BULK_MAX,
    MAX_FILE_IDENTIFIER,
    MAX_RECEPTION_NUMBER,
    Answer,
    LinkError,
    answer_name,
    excerpt,
)
from reception.oqs_client import OqsClient, OqsError, OqsRateLimited, OqsRefused
from reception.results import QualificationResult
from reception.verdict import Refusal

# what an answer says on the staff console: ``(kind, file name, detail)``
EventSink = Callable[[str, str, str], None]
Handler = Callable[[OqsClient, dict[str, Any]], Awaitable[Any]]


async def compose(
    client: OqsClient,
    institution_code: str,
    name: str,
    request: dict[str, Any] | None,
    error: LinkError | None,
    event: EventSink,
) -> bytes:
    """The answer to request ``name`` (its parsed message, or the ``error`` found in it)
    as a document; ``event`` is told what was answered."""
    header = (request or {}).get("MessageHeader")
    header = header if isinstance(header, dict) else {}
    answer = answer_name(name)
    identifier = text(header, "ArbitraryFileIdentifier") or ""
    if error is None and len(identifier) > MAX_FILE_IDENTIFIER:
        error = LinkError(
            "LINK-E003",
            f"MessageHeader/ArbitraryFileIdentifier は{MAX_FILE_IDENTIFIER}文字までです"
            f"（{len(identifier)}文字）",
        )
    try:
        if error is not None:
            raise error
        assert request is not None
        result = await HANDLERS[name.split("_", 1)[0]](client, request)
    except LinkError as exc:
        event("error", name, f"{exc.code} {exc.message}")
        return xml_message(_error(institution_code, header, exc))
    except OqsRefused as exc:
        failure = _refusal(exc)
        event("error", name, f"{failure.code} {type(exc).__name__}: {exc}")
        return xml_message(_error(institution_code, header, failure))
    except OqsError as exc:
        # a refusal names what was wrong in the request; an outage says to try later
        failure = LinkError("LINK-E005", exc.staff_message if exc.fallback else str(exc))
        event("error", name, f"LINK-E005 {type(exc).__name__}: {exc}")
        return xml_message(_error(institution_code, header, failure))
    if isinstance(result, QualificationResult):
        result.message_header.character_code_identifier = character_code(header)
        event("answer", answer, result.validity_label)
        return xml_message(result)
    reply = result if isinstance(result, Answer) else Answer(result)
    document = {
        "MessageHeader": _header(institution_code, header, reply.segment),
        "MessageBody": reply.body,
    }
    event("answer", answer, "処理中" if reply.segment == "2" else "")
    return xml_document(document)


def _header(institution_code: str, request: dict[str, Any], segment: str) -> dict[str, Any]:
    """The answer's header: this terminal, the request's identifier and encoding."""
    now = now_jst()
    return {
        "ProcessExecutionTime": now.strftime("%Y%m%d%H%M%S"),
        "QualificationConfirmationDate": now.strftime("%Y%m%d"),
        "MedicalInstitutionCode": institution_code,
        "ArbitraryFileIdentifier": file_identifier(request),
        "ReferenceClassification": "2",
        "SegmentOfResult": segment,
        "CharacterCodeIdentifier": character_code(request),
    }


def _error(institution_code: str, header: dict[str, Any], error: LinkError) -> QualificationResult:
    answer = _header(institution_code, header, "9")
    answer |= {"ErrorCode": error.code, "ErrorMessage": excerpt(error.message)}
    return QualificationResult.parse(
        {"MessageHeader": answer, "MessageBody": {"ProcessingResultStatus": "2"}}
    )


def _refusal(exc: OqsRefused) -> LinkError:
    """What the service refused, said to the clinic software."""
    if isinstance(exc, OqsRateLimited):  # held back (429): what to do, in Japanese
        return LinkError("LINK-E005", exc.staff_message)
    if exc.reason is Refusal.NO_CONSENT:
        return LinkError("LINK-E006", "この医療機関での同意がありません")
    if exc.reason is Refusal.CONSENT_EXPIRED:
        return LinkError("LINK-E006", "同意の有効期限（24時間）が過ぎました")
    if exc.reason is Refusal.NO_SUCH_BULK:
        return LinkError("LINK-E003", "この ReceptionNumber の一括照会はありません")
    if exc.reason in (Refusal.MALFORMED_REQUEST, Refusal.NO_SUCH_QUALIFICATION):
        return LinkError("LINK-E003", f"要求の内容で確認できません: {exc.detail}")
    # anything else: the service's own code, as the clinic software has always read it
    return LinkError("LINK-E005", f"資格確認サービスが要求を拒否しました: {exc.code}")


async def _single_query(client: OqsClient, request: dict[str, Any]) -> QualificationResult:
    return await client.confirm_number(patient(request))


async def _register_reference(client: OqsClient, request: dict[str, Any]) -> dict[str, Any]:
    """OQSsiimm01: 照会番号 (``MessageBody/ReferenceNumber``, ≤ 50 characters)."""
    body = request.get("MessageBody")
    number = text(body, "ReferenceNumber") if isinstance(body, dict) else None
    if number is None or len(number) > 50:
        raise LinkError("LINK-E003", "MessageBody/ReferenceNumber（50文字まで）がありません")
    registered = await client.register_reference_number(patient(request), number)
    return {"ProcessingResultStatus": "1", "ReferenceNumber": registered}


def _records(kind: str, element: str) -> Handler:
    """YZK / TKK: the records of a patient who consented at this clinic (24 h)."""

    async def fetch(client: OqsClient, request: dict[str, Any]) -> dict[str, Any]:
        rows = await client.records(patient(request), kind)
        items = [{_pascal(k): v for k, v in row.items()} for row in rows]
        return {"ProcessingResultStatus": "1", f"{element}List": {element: items}}

    return fetch


async def _bulk_upload(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSmuquc01: many QualificationConfirmSearchInfo → a ReceptionNumber at once, 2 (処理中)."""
    body = request.get("MessageBody")
    infos = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    infos = infos if isinstance(infos, list) else [infos]
    queries = []
    for position, info in enumerate(infos, start=1):
        try:
            queries.append(patient(request, info))
        except LinkError as exc:
            raise LinkError(exc.code, f"{position}件目: {exc.message}") from None
    if len(queries) > BULK_MAX:
        raise LinkError("LINK-E003", f"一括照会は{BULK_MAX}件までです（{len(queries)}件）")
    number = await client.start_bulk(queries)
    return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")


async def _bulk_fetch(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSmuquc02: 2 while the 一括照会 runs; 1 with every patient's result when done."""
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
    results = await client.fetch_bulk(number)
    if results is None:
        return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")
    # each patient's answer: its MessageBody (the search echoed, validity, qualifications)
    each = [r.message_body.model_dump(by_alias=True, exclude_none=True) for r in results]
    return Answer(
        {
            "ProcessingResultStatus": "1",
            "ReceptionNumber": number,
            "QualificationConfirmationResultList": {"QualificationConfirmationResult": each},
        }
    )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


HANDLERS: dict[str, Handler] = {
    "OQSsiquc01req": _single_query,
    "OQSsiimm01req": _register_reference,
    "YZKsiquc01req": _records("medications", "MedicationInfo"),
    "TKKsiquc01req": _records("checkups", "SpecificHealthCheckupInfo"),
    "OQSmuquc01req": _bulk_upload,
    "OQSmuquc02req": _bulk_fetch,
}
