"""照会番号: ``OQSsiimm01req`` (one), ``OQSmuimm01/02`` (bulk). (To be made as the public
clinic programs write them: issue 23.)"""

from __future__ import annotations

from typing import Any

from reception.link.request import patient, text
from reception.link.terms import Handler, LinkError
from reception.oqs_client import OqsClient


async def _register_reference(client: OqsClient, request: dict[str, Any]) -> dict[str, Any]:
    """OQSsiimm01: 照会番号 (``MessageBody/ReferenceNumber``, ≤ 50 characters)."""
    body = request.get("MessageBody")
    number = text(body, "ReferenceNumber") if isinstance(body, dict) else None
    if number is None or len(number) > 50:
        raise LinkError("LINK-E003", "MessageBody/ReferenceNumber（50文字まで）がありません")
    registered = await client.register_reference_number(patient(request), number)
    return {"ProcessingResultStatus": "1", "ReferenceNumber": registered}


HANDLERS: dict[str, Handler] = {"OQSsiimm01req": _register_reference}
