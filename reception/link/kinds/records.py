"""薬剤情報 (``YZKsiquc01req``) and 特定健診情報 (``TKKsiquc01req``) of a consenting patient.
(To be made as the public clinic programs write and read them: issue 23.)"""

from __future__ import annotations

from typing import Any

from reception.link.request import patient
from reception.link.terms import Handler
from reception.oqs_client import OqsClient


def _records(kind: str, element: str) -> Handler:
    """YZK / TKK: the records of a patient who consented at this clinic (24 h)."""

    async def fetch(client: OqsClient, request: dict[str, Any]) -> dict[str, Any]:
        rows = await client.records(patient(request), kind)
        items = [{_pascal(k): v for k, v in row.items()} for row in rows]
        return {"ProcessingResultStatus": "1", f"{element}List": {element: items}}

    return fetch


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


HANDLERS: dict[str, Handler] = {
    "YZKsiquc01req": _records("medications", "MedicationInfo"),
    "TKKsiquc01req": _records("checkups", "SpecificHealthCheckupInfo"),
}
