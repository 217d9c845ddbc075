"""The shared records of the seeded personas: 薬剤情報, 診療情報, 手術情報 and 特定健診 results.

What a doctor sees after the patient's consent at the reader (oqs.md §5). Every persona
gets a history that fits its story, made from the seed: a few have long ones (dialysis,
the elderly on long-term prescriptions), some have none (young people who have not seen
a doctor), the rest a couple of short illnesses. 特定健診 are for ages 40–74 only. Some
entries are older than the service shows (薬剤情報 3 years, the others 5 years), so that
the window is tested. All names of institutions are fictitious.

What the folder interface's 薬剤情報 / 特定健診情報 files carry beyond a row
(:func:`medication_detail`, :func:`checkup_detail`; reception/link/kinds/records.py says
what reads them): each institution's 10-digit code (都道府県 13, 点数表 1 医科 / 4 調剤,
then 99…: fictitious, like the names); each drug's 9-digit code (``699…``: the
simulator's own, never a real レセプト電算コード — a clinic's drug master will not know
it) and 一般名; each checkup item's 17-character 特定健診 code (JLAC10): those of the blood
pressure and blood tests as the reference table of YUKI-ENT/OQSDrug2 (``Form1.cs``
``setInitialReferenceAsync``) has them, BMI's and 腹囲's from the 特定健診 code table as
we know it [uncertain].
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from mock_oqs.format import result_kana, result_name

CLINIC = "さくら内科クリニック"
PHARMACY = "みなと調剤薬局"
HOSPITAL = "市立中央病院"
KIDNEY = "ひかり腎クリニック"
ORTHOPEDIC = "あおば整形外科"
PEDIATRIC = "そら小児科"
EYE = "しらかば眼科"

LONG_HISTORY = {
    "dialysis",
    "elderly-70-active",
    "elderly-70-2wari",
    "late-elderly-1wari",
    "late-elderly-2wari",
    "face-only",
    "limit-u",
}
NO_HISTORY = {"android", "cert-renewal-due", "new-employee", "iphone"}

# (drug, dose) as dispensing records print them
CHRONIC = [
    ("アムロジピン錠5mg", "1日1回 1錠 朝食後"),
    ("アトルバスタチン錠10mg", "1日1回 1錠 夕食後"),
    ("メトホルミン塩酸塩錠250mg", "1日2回 1錠 朝夕食後"),
    ("ランソプラゾールOD錠15mg", "1日1回 1錠 朝食後"),
]
DIALYSIS = [
    ("沈降炭酸カルシウム錠500mg", "1日3回 2錠 毎食直後"),
    ("フェブキソスタット錠20mg", "1日1回 1錠 朝食後"),
]
ACUTE = [
    ("急性上気道炎", CLINIC, ("カルボシステイン錠500mg", "1日3回 1錠 毎食後"), 5),
    ("急性胃炎", CLINIC, ("レバミピド錠100mg", "1日3回 1錠 毎食後"), 7),
    ("腰痛症", ORTHOPEDIC, ("ロキソプロフェンナトリウム錠60mg", "1日3回 1錠 毎食後"), 7),
    ("アレルギー性鼻炎", CLINIC, ("モンテルカスト錠10mg", "1日1回 1錠 就寝前"), 28),
]
CHILD = [
    ("急性中耳炎", PEDIATRIC, ("アモキシシリン細粒10%", "1日3回 0.6g 毎食後"), 5),
    ("急性気管支炎", PEDIATRIC, ("カルボシステインシロップ5%", "1日3回 3mL 毎食後"), 5),
]


# institution → its 10-digit code (fictitious): the third digit 1 医科, 4 調剤
INSTITUTION_CODES = {
    CLINIC: "1319900010",
    HOSPITAL: "1319900028",
    KIDNEY: "1319900036",
    ORTHOPEDIC: "1319900044",
    PEDIATRIC: "1319900051",
    EYE: "1319900069",
    PHARMACY: "1349900017",
}
# drug → (code, 一般名): the simulator's own codes (see the module's text)
DRUG_CODES = {
    "アムロジピン錠5mg": ("699000011", "アムロジピンベシル酸塩"),
    "アトルバスタチン錠10mg": ("699000029", "アトルバスタチンカルシウム水和物"),
    "メトホルミン塩酸塩錠250mg": ("699000037", "メトホルミン塩酸塩"),
    "ランソプラゾールOD錠15mg": ("699000045", "ランソプラゾール"),
    "沈降炭酸カルシウム錠500mg": ("699000053", "沈降炭酸カルシウム"),
    "フェブキソスタット錠20mg": ("699000061", "フェブキソスタット"),
    "カルボシステイン錠500mg": ("699000079", "カルボシステイン"),
    "レバミピド錠100mg": ("699000087", "レバミピド"),
    "ロキソプロフェンナトリウム錠60mg": ("699000095", "ロキソプロフェンナトリウム水和物"),
    "モンテルカスト錠10mg": ("699000100", "モンテルカストナトリウム"),
    "アモキシシリン細粒10%": ("699000118", "アモキシシリン水和物"),
    "カルボシステインシロップ5%": ("699000126", "カルボシステイン"),
}
# a dose as dispensing records print it: 「1日3回 2錠 毎食直後」
DOSE = re.compile(r"1日(?P<times>\d+)回 (?P<amount>[\d.]+)(?P<unit>\D+?) (?P<when>.+)")


@dataclass(frozen=True)
class CheckupItem:
    item: str
    unit: str
    reference: str
    low: float
    high: float
    digits: int
    code: str  # 特定健診 item code (JLAC10, 17 characters)


CHECKUP_ITEMS = [
    CheckupItem("BMI", "kg/m2", "18.5〜24.9", 19.0, 29.0, 1, "9N011000000000001"),
    CheckupItem("腹囲", "cm", "85未満（女性90未満）", 72.0, 98.0, 1, "9N016160100000001"),
    CheckupItem("収縮期血圧", "mmHg", "130未満", 108.0, 152.0, 0, "9A755000000000001"),
    CheckupItem("拡張期血圧", "mmHg", "85未満", 62.0, 96.0, 0, "9A765000000000001"),
    CheckupItem("中性脂肪", "mg/dL", "150未満", 60.0, 230.0, 0, "3F015000002327101"),
    CheckupItem("HDLコレステロール", "mg/dL", "40以上", 36.0, 78.0, 0, "3F070000002327101"),
    CheckupItem("LDLコレステロール", "mg/dL", "120未満", 82.0, 168.0, 0, "3F077000002327101"),
    CheckupItem("空腹時血糖", "mg/dL", "100未満", 84.0, 128.0, 0, "3D010000001927201"),
    CheckupItem("HbA1c", "%", "5.6未満", 5.0, 7.2, 1, "3D046000001920402"),
    CheckupItem("AST", "U/L", "30以下", 14.0, 42.0, 0, "3B035000002327201"),
    CheckupItem("ALT", "U/L", "30以下", 10.0, 48.0, 0, "3B045000002327201"),
    CheckupItem("γ-GT", "U/L", "50以下", 12.0, 88.0, 0, "3B090000002327101"),
]
ITEM_CODES = {item.item: item.code for item in CHECKUP_ITEMS}


def medication_detail(row: dict[str, Any], prescribed_by: str | None) -> dict[str, Any]:
    """What a dispensing record carries beyond the row: the institutions' codes (the
    prescriber is where the patient was seen that day), the drug's code and 一般名, and
    the dose read as a day's quantity, its unit and the usage."""
    code, ingredient = DRUG_CODES.get(row["drug"], ("", ""))
    dose = DOSE.fullmatch(row["dose"])
    per_day = float(dose["times"]) * float(dose["amount"]) if dose else None
    return {
        "institution_code": INSTITUTION_CODES.get(row["institution"], ""),
        "prescribed_by": prescribed_by or "",
        "prescriber_code": INSTITUTION_CODES.get(prescribed_by or "", ""),
        "drug_code": code,
        "ingredient": ingredient,
        "quantity": f"{per_day:g}" if per_day is not None else "",  # a day's quantity
        "unit": dose["unit"] if dose else "",
        "usage": f"1日{dose['times']}回{dose['when']}" if dose else row["dose"],
    }


# 診療行為 → its code (the simulator's own, like the drugs') and 診療識別 (11 初診, 12 再診,
# 40 処置)
TREATMENT_CODES = {
    "初診・投薬": ("199000019", "11"),
    "外来診療・投薬": ("199000027", "12"),
    "外来診療・生活習慣病管理": ("199000035", "12"),
    "人工腎臓（血液透析） 月13回": ("199000043", "40"),
}


def diagnosis_detail(row: dict[str, Any]) -> dict[str, Any]:
    """What a 診療情報 record carries beyond the row: the institution's and the
    treatment's codes."""
    code, treatment_class = TREATMENT_CODES.get(row["treatment"], ("", ""))
    return {
        "institution_code": INSTITUTION_CODES.get(row["institution"], ""),
        "treatment_code": code,
        "treatment_class": treatment_class,
    }


def checkup_detail(row: dict[str, Any]) -> dict[str, Any]:
    """What a checkup result carries beyond the row: the item's code."""
    return {"item_code": ITEM_CODES.get(row["item"], "")}


def dispensing_source(day: dt.date, today: dt.date) -> str:
    """Where the service has a dispensing from: the pharmacy's 調剤結果 (電子処方箋管理サービス,
    at once) for this month and the last, the レセプト (claims, a month or two later)
    before: ``dispensing`` or ``receipt``."""
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return "dispensing" if day >= last_month else "receipt"


def record_detail(
    conn: sqlite3.Connection, kind: str, row: dict[str, Any], today: dt.date
) -> dict[str, Any]:
    """One record as the service answers it: the row (as the staff console's 診療情報 tab
    reads it) and what the folder interface's files carry beyond it."""
    person_id = row.pop("person_id")
    if kind == "medications":
        found = conn.execute(
            "SELECT institution FROM diagnoses WHERE person_id = ? AND treated_on = ? "
            "ORDER BY rowid LIMIT 1",
            (person_id, row["dispensed_on"]),
        ).fetchone()
        day = dt.date.fromisoformat(row["dispensed_on"])
        return (
            row
            | medication_detail(row, found[0] if found else None)
            | {"source": dispensing_source(day, today)}
        )
    if kind == "diagnoses":
        return row | diagnosis_detail(row)
    if kind == "checkups":
        return row | checkup_detail(row)
    return row | {"institution_code": INSTITUTION_CODES.get(row["institution"], "")}


def patient_of(conn: sqlite3.Connection, person_id: str) -> dict[str, str]:
    """The person the records are of, as result files write them: 氏名 (U+3000 between
    family and given name), カナ (half-width), birth date YYYYMMDD, sex (1 男, 2 女)."""
    name, kana, birth, sex = conn.execute(
        "SELECT name, name_kana, birth_date, sex FROM persons WHERE person_id = ?", (person_id,)
    ).fetchone()
    return {
        "name": result_name(name),
        "name_kana": result_kana(kana),
        "birth_date": birth.replace("-", ""),
        "sex": sex,
    }


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class _Writer:
    def __init__(self, conn: sqlite3.Connection, person_id: str) -> None:
        self.conn, self.person_id = conn, person_id

    def medication(self, day: dt.date, where: str, drug: tuple[str, str], days: int) -> None:
        self.conn.execute(
            "INSERT INTO medications VALUES (?, ?, ?, ?, ?, ?)",
            (self.person_id, day.isoformat(), where, drug[0], drug[1], days),
        )

    def diagnosis(self, day: dt.date, where: str, name: str, treatment: str) -> None:
        self.conn.execute(
            "INSERT INTO diagnoses VALUES (?, ?, ?, ?, ?)",
            (self.person_id, day.isoformat(), where, name, treatment),
        )

    def operation(self, day: dt.date, where: str, name: str) -> None:
        self.conn.execute(
            "INSERT INTO operations VALUES (?, ?, ?, ?)",
            (self.person_id, day.isoformat(), where, name),
        )


def seed_records(
    conn: sqlite3.Connection,
    person_id: str,
    persona: str,
    birth: dt.date,
    today: dt.date,
    rng: random.Random,
) -> None:
    """The persona's history (see the module's text)."""
    if persona in NO_HISTORY:
        return
    out = _Writer(conn, person_id)
    day = dt.timedelta(days=1)
    age = _age(birth, today)
    if age < 7:
        for months in (2, 9):
            name, where, drug, days = rng.choice(CHILD)
            visit = today - (30 * months + rng.randrange(10)) * day
            out.diagnosis(visit, where, name, "初診・投薬")
            out.medication(visit, PHARMACY, drug, days)
        return
    for _ in range(rng.randrange(1, 3)):  # a short illness or two in the last two years
        name, where, drug, days = rng.choice(ACUTE)
        visit = today - rng.randrange(20, 700) * day
        out.diagnosis(visit, where, name, "外来診療・投薬")
        out.medication(visit, PHARMACY, drug, days)
    if persona in LONG_HISTORY:
        _long_history(out, persona, today, rng)
    if age >= 40:
        _checkups(conn, person_id, birth, today, rng)


def _long_history(out: _Writer, persona: str, today: dt.date, rng: random.Random) -> None:
    day = dt.timedelta(days=1)
    if persona == "dialysis":
        # three sessions a week at the kidney clinic; monthly records of the last 5 years
        for month in range(0, 62, 1):
            visit = today - (30 * month + 3) * day
            out.diagnosis(visit, KIDNEY, "慢性腎不全", "人工腎臓（血液透析） 月13回")
            if month < 40:  # some older than the 3 years the service shows
                for drug in DIALYSIS:
                    out.medication(visit, PHARMACY, drug, 28)
        out.operation(today - 1700 * day, HOSPITAL, "末梢動静脈瘻造設術（内シャント設置術）")
        return
    # the elderly and the chronically ill: a prescription every 8 weeks for 4 years
    drugs = CHRONIC[: 2 + rng.randrange(2)]
    for week in range(0, 4 * 52, 8):
        visit = today - (7 * week + rng.randrange(4)) * day
        out.diagnosis(visit, CLINIC, "高血圧症、脂質異常症", "外来診療・生活習慣病管理")
        for drug in drugs:
            out.medication(visit, PHARMACY, drug, 56)
    if persona in ("late-elderly-1wari", "face-only", "elderly-70-2wari"):
        out.operation(today - (700 + rng.randrange(300)) * day, EYE, "水晶体再建術（白内障手術）")
    if persona == "late-elderly-2wari":
        out.operation(today - 2100 * day, HOSPITAL, "腹腔鏡下胆嚢摘出術")  # over 5 years


def _checkups(
    conn: sqlite3.Connection, person_id: str, birth: dt.date, today: dt.date, rng: random.Random
) -> None:
    """特定健診 once a year at ages 40–74; the last six (the oldest beyond 5 years)."""
    for years in range(6):
        examined = today - dt.timedelta(days=365 * years + 40 + rng.randrange(30))
        if not 40 <= _age(birth, examined) <= 74:
            continue
        for item in CHECKUP_ITEMS:
            value = rng.uniform(item.low, item.high)
            text = f"{value:.{item.digits}f}"
            conn.execute(
                "INSERT INTO checkups VALUES (?, ?, ?, ?, ?, ?)",
                (person_id, examined.isoformat(), item.item, text, item.unit, item.reference),
            )
