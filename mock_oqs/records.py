"""The shared records of the seeded personas: 薬剤情報, 診療情報, 手術情報 and 特定健診 results.

What a doctor sees after the patient's consent at the reader (oqs.md §5). Every persona
gets a history that fits its story, made from the seed: a few have long ones (dialysis,
the elderly on long-term prescriptions), some have none (young people who have not seen
a doctor), the rest a couple of short illnesses. 特定健診 are for ages 40–74 only. Some
entries are older than the service shows (薬剤情報 3 years, the others 5 years), so that
the window is tested. All names of institutions are fictitious.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from dataclasses import dataclass

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


@dataclass(frozen=True)
class CheckupItem:
    item: str
    unit: str
    reference: str
    low: float
    high: float
    digits: int


CHECKUP_ITEMS = [
    CheckupItem("BMI", "kg/m2", "18.5〜24.9", 19.0, 29.0, 1),
    CheckupItem("腹囲", "cm", "85未満（女性90未満）", 72.0, 98.0, 1),
    CheckupItem("収縮期血圧", "mmHg", "130未満", 108.0, 152.0, 0),
    CheckupItem("拡張期血圧", "mmHg", "85未満", 62.0, 96.0, 0),
    CheckupItem("中性脂肪", "mg/dL", "150未満", 60.0, 230.0, 0),
    CheckupItem("HDLコレステロール", "mg/dL", "40以上", 36.0, 78.0, 0),
    CheckupItem("LDLコレステロール", "mg/dL", "120未満", 82.0, 168.0, 0),
    CheckupItem("空腹時血糖", "mg/dL", "100未満", 84.0, 128.0, 0),
    CheckupItem("HbA1c", "%", "5.6未満", 5.0, 7.2, 1),
    CheckupItem("AST", "U/L", "30以下", 14.0, 42.0, 0),
    CheckupItem("ALT", "U/L", "30以下", 10.0, 48.0, 0),
    CheckupItem("γ-GT", "U/L", "50以下", 12.0, 88.0, 0),
]


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
