"""What a request names, read from its parsed XmlMsg (oqs.md §7): the patient
(``QualificationConfirmSearchInfo``), the header's identifier and encoding; a missing
or malformed element is a :class:`LinkError` LINK-E003 that names it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reception.link.terms import MAX_FILE_IDENTIFIER, LinkError
from reception.oqs_client import NumberQuery


def text(element: dict[str, Any], name: str) -> str | None:
    value = element.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def file_identifier(header: dict[str, Any]) -> str | None:
    """The request's ``ArbitraryFileIdentifier``, to echo: None when too long to."""
    identifier = text(header, "ArbitraryFileIdentifier")
    return identifier if identifier is None or len(identifier) <= MAX_FILE_IDENTIFIER else None


def character_code(header: dict[str, Any]) -> str:
    return "1" if text(header, "CharacterCodeIdentifier") == "1" else "0"


def _search(request: dict[str, Any], *required: str) -> dict[str, Any]:
    body = request.get("MessageBody")
    info = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    if isinstance(info, list):
        raise LinkError(
            "LINK-E003", "QualificationConfirmSearchInfo は1件です（一括照会は OQSmuquc01）"
        )
    return _checked(info, *required)


def _checked(info: Any, *required: str) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise LinkError("LINK-E003", "MessageBody/QualificationConfirmSearchInfo がありません")
    for name in required:
        if text(info, name) is None:
            raise LinkError("LINK-E003", f"QualificationConfirmSearchInfo/{name} がありません")
    return info


def patient(request: dict[str, Any], info: Any = None) -> NumberQuery:
    """The patient a request names: 保険者番号 (国保 padded to 8), 記号, 番号, 枝番, 生年月日."""
    needed = ("InsurerNumber", "InsuredIdentificationNumber", "Birthdate")
    info = _search(request, *needed) if info is None else _checked(info, *needed)
    birth = text(info, "Birthdate") or ""
    try:
        day = dt.datetime.strptime(birth, "%Y%m%d").date()
    except ValueError:
        raise LinkError("LINK-E003", f"Birthdate は YYYYMMDD です（{birth!r}）") from None
    header = request.get("MessageHeader")
    return NumberQuery(
        insurer_number=text(info, "InsurerNumber") or "",
        symbol=text(info, "InsuredCardSymbol") or "",
        number=text(info, "InsuredIdentificationNumber") or "",
        branch=text(info, "InsuredBranchNumber") or "",
        birth_date=day,
        limit_consent=text(info, "LimitApplicationCertificateRelatedConsFlg") == "1",
        arbitrary_file_identifier=text(header, "ArbitraryFileIdentifier")
        if isinstance(header, dict)
        else None,
    )
