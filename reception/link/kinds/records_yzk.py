"""The XML answer of 薬剤情報 (``YZKsiquc01res``) as YUKI-ENT/OQSDrug2 reads it
(``OQSDrug/Form1.cs`` ``ProcessDrugInfoAsync2``, ``ProcessSinryoInfoAsync``).

``MessageHeader/QuaInf``: ``Name``, ``KanaName``, ``Birth`` (yyyyMMdd), ``AdmGendCode``
(1 男, 2 女). ``MessageBody``: one month block per month, dispensing institution and
prescriber — ``MeTrMonthInf`` (from the レセプト), ``CzDiInf/CzDiMonthInf`` (the pharmacy's
調剤結果 of the 電子処方箋管理サービス, which arrive before the claims; OQSDrug2 lets a
レセプト row supersede them) and ``ShPrInf/ShPrMonthInf`` (処方情報, which the service's
records do not hold: never written). In each block, in the names of its source (``Cz…``
for 調剤結果): ``DiOrg`` (our choice: 1 医科, 3 調剤), ``MeTrDiHCd`` / ``MeTrDiHNm`` (the
institution that dispensed or treated), ``PrlsHCd`` / ``PrlsHNm`` (the prescriber; OQSDrug2
shows it before the pharmacy), ``MeTrMonth`` (yyyyMM), ``PrIsOrg`` (1 this clinic, 2 another:
OQSDrug2 derives the same from the codes when it is missing), ``InOut`` (our choice: 2 院外);
``DiDateInfs/DiDateInf`` per day: ``DiDate``, ``PrDate`` (yyyyMMdd, as OQSDrug2 parses
them), ``DrugInfs/DrugInf`` per drug — ``MeTrIdCl`` (診療識別: 21 内服), ``DrugC`` (9 digits),
``DrugN``, ``IngreN`` (一般名), ``Qua1`` (a day's quantity), ``Unit``, ``UsageN``, ``Times``
(days) — and, for 薬剤・診療情報 (``FileCategory`` 3/4), ``MeTrInfs/MeTrInf`` per treatment
in the block of the institution that treated: ``MeTrIdCl`` (11 初診, 12 再診, 40 処置),
``SinInfCd``, ``SinInfN``, ``Qua1``, ``Times``. The ``Cz…`` codes are on the same scales as
their レセプト twins: OQSDrug2 files both in one column. Element order within a block is
ours (OQSDrug2 reads by name).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

RECEIPT = {
    "month": "MeTrMonthInf",
    "org": "DiOrg",
    "at_code": "MeTrDiHCd",
    "at_name": "MeTrDiHNm",
    "by_code": "PrlsHCd",
    "by_name": "PrlsHNm",
    "when": "MeTrMonth",
    "is_org": "PrIsOrg",
    "in_out": "InOut",
    "days": "DiDateInfs",
    "day": "DiDateInf",
    "dispensed": "DiDate",
    "prescribed": "PrDate",
    "drugs": "DrugInfs",
    "drug": "DrugInf",
    "class": "MeTrIdCl",
    "code": "DrugC",
    "name": "DrugN",
    "ingredient": "IngreN",
    "quantity": "Qua1",
    "unit": "Unit",
    "usage": "UsageN",
    "times": "Times",
}
DISPENSING = {
    "month": "CzDiMonthInf",
    "org": "CzDiOrg",
    "at_code": "CzMeTrDiHCd",
    "at_name": "CzMeTrDiHNm",
    "by_code": "CzPrlsHCd",
    "by_name": "CzPrlsHNm",
    "when": "CzDiMonth",
    "is_org": "CzPrIsOrg",
    "in_out": "CzPrCl",
    "days": "CzDiDateInfs",
    "day": "CzDiDateInf",
    "dispensed": "CzDiDate",
    "prescribed": "CzPrDate",
    "drugs": "CzDrugInfs",
    "drug": "CzDrugInf",
    "class": "CzUsageCl",
    "code": "CzDrugC",
    "name": "CzDrugN",
    "ingredient": "CzIngreN",
    "quantity": "CzQua1",
    "unit": "CzUnit",
    "usage": "CzUsageN",
    "times": "CzTimes",
}
PHARMACY, CLINIC = "3", "1"  # DiOrg
OUT_OF_HOUSE = "2"  # InOut: dispensed at a pharmacy
ORAL = "21"  # 診療識別 内服


def _compact(day: str) -> str:
    return day.replace("-", "")


def _drug(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        names["class"]: ORAL,
        names["code"]: row.get("drug_code") or None,
        names["name"]: row["drug"],
        names["ingredient"]: row.get("ingredient") or None,
        names["quantity"]: row.get("quantity") or None,
        names["unit"]: row.get("unit") or None,
        names["usage"]: row.get("usage") or row["dose"],
        names["times"]: str(row["days"]),
    }


def _dispensing_months(
    rows: list[dict[str, Any]], names: dict[str, str], clinic: str
) -> list[dict[str, Any]]:
    """One block per month, pharmacy and prescriber; days and drugs in order."""
    blocks: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    where: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["dispensed_on"], r["drug"])):
        key = (row["dispensed_on"][:7], row["institution"], row.get("prescribed_by", ""))
        blocks[key][row["dispensed_on"]].append(row)
        where[key] = row
    months = []
    for key, days in blocks.items():
        first = where[key]
        by_code = first.get("prescriber_code") or ""
        months.append(
            {
                names["org"]: PHARMACY,
                names["at_code"]: first.get("institution_code") or None,
                names["at_name"]: first["institution"],
                names["by_code"]: by_code or None,
                names["by_name"]: first.get("prescribed_by") or None,
                names["when"]: _compact(key[0]),
                names["is_org"]: "1" if by_code and by_code == clinic else "2",
                names["in_out"]: OUT_OF_HOUSE,
                names["days"]: {
                    names["day"]: [
                        {
                            names["dispensed"]: _compact(day),
                            names["prescribed"]: _compact(day),
                            names["drugs"]: {names["drug"]: [_drug(r, names) for r in drugs]},
                        }
                        for day, drugs in days.items()
                    ]
                },
            }
        )
    return months


def _treatment_months(rows: list[dict[str, Any]], clinic: str) -> list[dict[str, Any]]:
    """診療情報: one ``MeTrMonthInf`` per month and institution that treated."""
    blocks: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in sorted(rows, key=lambda r: r["treated_on"]):
        blocks[(row["treated_on"][:7], row["institution"])][row["treated_on"]].append(row)
    months = []
    for (month, institution), days in blocks.items():
        code = next(iter(days.values()))[0].get("institution_code") or ""
        treated = [
            {
                "DiDate": _compact(day),
                "MeTrInfs": {
                    "MeTrInf": [
                        {
                            "MeTrIdCl": r.get("treatment_class") or None,
                            "SinInfCd": r.get("treatment_code") or None,
                            "SinInfN": r["treatment"],
                            "Qua1": "1",
                            "Times": "1",
                        }
                        for r in rows
                    ]
                },
            }
            for day, rows in days.items()
        ]
        months.append(
            {
                "DiOrg": CLINIC,
                "MeTrDiHCd": code or None,
                "MeTrDiHNm": institution,
                "MeTrMonth": _compact(month),
                "PrIsOrg": "1" if code and code == clinic else "2",
                "DiDateInfs": {"DiDateInf": treated},
            }
        )
    return months


def qua_inf(person: dict[str, str]) -> dict[str, Any]:
    return {
        "QuaInf": {
            "Name": person.get("name"),
            "KanaName": person.get("name_kana"),
            "Birth": person.get("birth_date"),
            "AdmGendCode": person.get("sex"),
        }
    }


def answer(
    person: dict[str, str],
    rows: list[dict[str, Any]],
    treatments: list[dict[str, Any]],
    clinic: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header's ``QuaInf`` and the body of month blocks."""
    claimed = [r for r in rows if r.get("source") != "dispensing"]
    dispensed = [r for r in rows if r.get("source") == "dispensing"]
    months = _dispensing_months(claimed, RECEIPT, clinic) + _treatment_months(treatments, clinic)
    months.sort(key=lambda m: m["MeTrMonth"])
    body: dict[str, Any] = {"MeTrMonthInf": months}
    if dispensed:
        body["CzDiInf"] = {"CzDiMonthInf": _dispensing_months(dispensed, DISPENSING, clinic)}
    return qua_inf(person), body
