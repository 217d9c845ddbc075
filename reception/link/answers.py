"""The answers of the folder interface, per kind of request (oqs.md §7): each asks the
service and says what it answered; a request that cannot be answered gets a result with
``SegmentOfResult`` 9 and a ``LINK-E…`` code all the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reader.clock import now_jst
from reception.export import xml_document, xml_message
from reception.link.kinds import HANDLERS
from reception.link.request import character_code, file_identifier, text
from reception.link.terms import (
    MAX_FILE_IDENTIFIER,
    Answer,
    LinkError,
    Reply,
    answer_name,
    excerpt,
    service_error,
)
from reception.oqs_client import OqsClient, OqsError
from reception.results import QualificationResult

# what an answer says on the staff console: ``(kind, file name, detail)``
EventSink = Callable[[str, str, str], None]


async def compose(
    client: OqsClient,
    institution_code: str,
    name: str,
    request: dict[str, Any] | None,
    error: LinkError | None,
    event: EventSink,
) -> Reply:
    """The answer to request ``name`` (its parsed message, or the ``error`` found in it)
    as a file's content and suffix; ``event`` is told what was answered."""
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
        return Reply(xml_message(_error(institution_code, header, exc)))
    except OqsError as exc:
        failure = service_error(exc)
        event("error", name, f"{failure.code} {type(exc).__name__}: {exc}")
        return Reply(xml_message(_error(institution_code, header, failure)))
    if isinstance(result, QualificationResult):
        result.message_header.character_code_identifier = character_code(header)
        event("answer", answer, result.validity_label)
        return Reply(xml_message(result))
    if isinstance(result, Reply):  # a document of the kind's own (a PDF …)
        event("answer", answer_name(name, result.suffix), result.summary)
        return result
    reply = result if isinstance(result, Answer) else Answer(result)
    head = reply.header(_header(institution_code, header, reply.segment))
    document = {"MessageHeader": head, "MessageBody": reply.body}
    if reply.segment == "9":  # refused in the kind's own shape (YZK / TKK): an error still
        event("error", name, reply.summary)
    else:
        event("answer", answer, reply.summary or ("処理中" if reply.segment == "2" else ""))
    return Reply(xml_document(document), summary=reply.summary)


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
