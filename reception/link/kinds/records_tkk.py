"""The XML answer of 特定健診情報 (``TKKsiquc01res``) as YUKI-ENT/OQSDrug2 reads it
(``OQSDrug/Form1.cs`` ``ProcessTKKAsync``; ``FormTKK.cs`` shows it).

``MessageHeader/QualificationsInfo``: ``Name``, ``KanasName`` (so spelt where OQSDrug2
reads it; we write what the reader reads), ``Birthday`` (yyyyMMdd), ``AdministrativeGenderCode``
(1 男, 2 女: its reference ranges are keyed by it). Then, per checkup, a
``SpecificHealthCheckupInfo`` (found anywhere: ``//``; we put them under ``MessageBody``,
oldest first) with ``EffectiveTime`` (the day, yyyyMMdd: OQSDrug2 compares it as such and
cuts it into the PDF's file name) and ``HealthCheckupResultAndQuestionInfos/
HealthCheckupResultAndQuestionInfo`` per item: ``ItemCode`` (the 17-character 特定健診 code:
OQSDrug2 groups by its first 4), ``ItemName``, ``DataType`` (PQ: a number with a unit),
``DataValue``, ``Unit``, ``DataValueName`` (what OQSDrug2 shows and compares with its
reference ranges: the number). ``Oid`` (the code system of a coded value) is left out: the
service's results are all numbers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def answer(
    person: dict[str, str], rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header's ``QualificationsInfo`` and the body of checkups."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["examined_on"]):
        by_day[row["examined_on"]].append(row)
    checkups = [
        {
            "EffectiveTime": day.replace("-", ""),
            "HealthCheckupResultAndQuestionInfos": {
                "HealthCheckupResultAndQuestionInfo": [
                    {
                        "ItemCode": item.get("item_code") or None,
                        "ItemName": item["item"],
                        "DataType": "PQ",
                        "DataValue": item["value"],
                        "Unit": item["unit"],
                        "DataValueName": item["value"],
                    }
                    for item in items
                ]
            },
        }
        for day, items in by_day.items()
    ]
    head = {
        "QualificationsInfo": {
            "Name": person.get("name"),
            "KanasName": person.get("name_kana"),
            "Birthday": person.get("birth_date"),
            "AdministrativeGenderCode": person.get("sex"),
        }
    }
    return head, {"SpecificHealthCheckupInfo": checkups}
