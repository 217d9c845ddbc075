"""What the bulk kinds by period list (oqs.md §7, §8): the 居宅同意取得型 consents of
訪問診療 (``OQSmuhvq``), the オンライン診療 examinations (``OQSmuonq``) and the 医療券 of a
month (``OQSmutic``) — where they are kept, seeded and found.

- ``visit_consents``: a card confirmed on the 居宅同意取得型 route (the staff-held app,
  :attr:`mock_oqs.models.Route.COUNTER`) at a facility: the patient consented there then.
- ``online_examinations``: an オンライン診療 the patient confirmed their qualification for
  on their phone (オンライン資格確認 of the patient's own app; the simulator has no
  terminal route for it): the examination's day and when the patient consented.
- 医療扶助: the registry's ``medical_tickets`` (:mod:`mock_oqs.registry`), those of a month
  that entrust the facility.

The first two exist twice: in the world's registry (seeded: the personas' promises,
``Expectation.period``, and bench-link's thousands) and in the service's state file
(recorded as it serves: a counter-route confirmation, ``POST /v1/online-examinations``).
A query reads both. Times are ISO 8601 in JST (the clinic's day); a period compares days.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterable

from mock_oqs import registry
from mock_oqs.clock import JST, ymd_text
from mock_oqs.results import MedicalTicket

SCHEMA = """
CREATE TABLE IF NOT EXISTS visit_consents (
    person_id TEXT NOT NULL, facility TEXT NOT NULL, route TEXT NOT NULL,
    consented_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS visit_consents_facility ON visit_consents(facility, consented_at);
CREATE TABLE IF NOT EXISTS online_examinations (
    person_id TEXT NOT NULL, facility TEXT NOT NULL, examination_date TEXT NOT NULL,
    consented_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS online_examinations_facility
    ON online_examinations(facility, examination_date);
"""
PLACE = ("東京都千代田区霞が関1-2-2", "1008916", None, None, None, None)  # bench persons
TICKET = ("高血圧症", "1", 0, "保護 一郎", "医療 花子", "1")  # a bench 医療券's remaining fields
COUNTER = "counter"  # mock_oqs.models.Route.COUNTER: the 居宅同意取得型 app


def ensure(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def _has_tables(conn: sqlite3.Connection) -> bool:
    """A world seeded before these cases existed has none (nothing seeded, no error)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visit_consents'"
    ).fetchone()
    return row is not None


def at(day: dt.date, hour: int) -> str:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=JST).isoformat()


# -- seeding ---------------------------------------------------------------------------------


def seed_promise(
    conn: sqlite3.Connection,
    person_id: str,
    period: dict[str, list[int]],
    today: dt.date,
    facility: str,
) -> None:
    """A persona's promise (``Expectation.period``) in the registry: ``visit`` — days
    (relative to the world's day) of a 居宅同意取得型 consent at ``facility``; ``online``
    — days of an オンライン診療 there, the patient's consent on the phone the day before.
    (``aid``, the months of the 医療券, is seeded with the tickets: mock_oqs/world.py.)"""
    ensure(conn)
    conn.executemany(
        "INSERT INTO visit_consents VALUES (?, ?, ?, ?)",
        [
            (person_id, facility, COUNTER, at(today + dt.timedelta(days=d), 10))
            for d in period.get("visit", [])
        ],
    )
    conn.executemany(
        "INSERT INTO online_examinations VALUES (?, ?, ?, ?)",
        [
            (
                person_id,
                facility,
                (today + dt.timedelta(days=d)).isoformat(),
                at(today + dt.timedelta(days=d - 1), 19),
            )
            for d in period.get("online", [])
        ],
    )


def month_of(today: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` away from ``today``'s."""
    index = today.year * 12 + today.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def seed_bench(
    conn: sqlite3.Connection, count: int, today: dt.date, facility: str, welfare_office: str
) -> None:
    """bench-link's world: ``count`` of each — the first ``count`` generated persons
    (``X…``, mock_oqs/world.py) consented on the counter route yesterday and had an
    オンライン診療 today; ``count`` more persons receive 医療扶助 from ``welfare_office``
    with this month's 医療券 entrusting ``facility``."""
    ensure(conn)
    rng = random.Random(f"bench:{count}")
    generated = [r[0] for r in conn.execute("SELECT person_id FROM persons WHERE persona IS NULL")]
    people = generated[:count]
    yesterday = at(today - dt.timedelta(days=1), 10)
    with registry.transaction(conn):
        conn.executemany(
            "INSERT INTO visit_consents VALUES (?, ?, ?, ?)",
            [(p, facility, COUNTER, yesterday) for p in people],
        )
        conn.executemany(
            "INSERT INTO online_examinations VALUES (?, ?, ?, ?)",
            [(p, facility, today.isoformat(), yesterday) for p in people],
        )
        first = month_of(today, 0)
        last = month_of(today, 1) - dt.timedelta(days=1)
        since = (today - dt.timedelta(days=400)).isoformat()
        persons, quals, tickets = [], [], []
        for i in range(count):
            person_id = f"A{i:08d}"
            birth = today - dt.timedelta(days=rng.randrange(20 * 365, 90 * 365))
            persons.append(
                (person_id, None, "保護 太郎", "ホゴ タロウ", "1", birth.isoformat(), *PLACE)
            )
            row = registry.plain_qualification_row(
                person_id, welfare_office, "", f"{i:07d}", "", since, since
            )
            quals.append((*row[:7], "A1", *row[8:]))  # 被保険者証区分 A1: 医療扶助
            tickets.append(
                (
                    person_id,
                    "1",
                    first.strftime("%Y-%m"),
                    first.isoformat(),
                    last.isoformat(),
                    f"{rng.randrange(10**7, 10**8)}",
                    facility,
                    "ベンチ診療所",
                    *TICKET,
                )
            )
        conn.executemany("INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", persons)
        conn.executemany(registry.QUALIFICATION_INSERT, quals)
        conn.executemany(
            "INSERT INTO medical_tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tickets,
        )


# -- finding ---------------------------------------------------------------------------------


def _earliest(rows: Iterable[tuple[str, str]]) -> list[str]:
    """Each person once, in the order of their first row's time."""
    first: dict[str, str] = {}
    for person_id, when in rows:
        if person_id not in first or when < first[person_id]:
            first[person_id] = when
    return sorted(first, key=lambda p: (first[p], p))


def visits(
    conns: Iterable[sqlite3.Connection], facility: str, start: dt.date, end: dt.date
) -> list[str]:
    """The persons who consented on the 居宅同意取得型 route at ``facility`` between
    ``start`` and ``end`` (days, both included)."""
    rows: list[tuple[str, str]] = []
    for conn in conns:
        if _has_tables(conn):
            rows += conn.execute(
                "SELECT person_id, consented_at FROM visit_consents WHERE facility = ? "
                "AND route = ? AND substr(consented_at, 1, 10) BETWEEN ? AND ?",
                (facility, COUNTER, start.isoformat(), end.isoformat()),
            ).fetchall()
    return _earliest(rows)


def online(
    conns: Iterable[sqlite3.Connection],
    facility: str,
    start: dt.date,
    end: dt.date,
    *,
    by_consent: bool,
) -> list[str]:
    """The persons of an オンライン診療 at ``facility`` whose examination (or, with
    ``by_consent``, whose consent) falls between ``start`` and ``end``."""
    day = "substr(consented_at, 1, 10)" if by_consent else "examination_date"
    rows: list[tuple[str, str]] = []
    for conn in conns:
        if _has_tables(conn):
            rows += conn.execute(
                f"SELECT person_id, {day} FROM online_examinations "  # noqa: S608 (two constants)
                f"WHERE facility = ? AND {day} BETWEEN ? AND ?",
                (facility, start.isoformat(), end.isoformat()),
            ).fetchall()
    return _earliest(rows)


def aid(conn: sqlite3.Connection, facility: str, month: dt.date) -> list[str]:
    """The persons whose 医療券 (or 調剤券) of ``month`` entrusts ``facility``."""
    rows = conn.execute(
        "SELECT DISTINCT person_id FROM medical_tickets WHERE treatment_month = ? "
        "AND institution_code = ? ORDER BY person_id",
        (month.strftime("%Y-%m"), facility),
    )
    return [r[0] for r in rows]


def tickets(
    conn: sqlite3.Connection, person_id: str, facility: str, month: dt.date
) -> tuple[MedicalTicket, ...]:
    """The person's tickets of ``month`` that entrust ``facility``, as the result has them."""
    rows = conn.execute(
        "SELECT * FROM medical_tickets WHERE person_id = ? AND treatment_month = ? "
        "AND institution_code = ? ORDER BY ticket_type",
        (person_id, month.strftime("%Y-%m"), facility),
    )
    return tuple(ticket(t) for t in rows)


def ticket(t: sqlite3.Row) -> MedicalTicket:
    """One registry row of ``medical_tickets`` as an entrusted institution sees it."""
    return MedicalTicket(
        ticket_type=t["ticket_type"],
        medical_ticket_valid_date=ymd_text(t["valid_from"]),
        medical_ticket_expiration_date=ymd_text(t["valid_until"]),
        issue_number=t["issue_number"],
        medical_treatment_month=t["treatment_month"].replace("-", ""),
        designated_medical_institution_code=t["institution_code"],
        designated_medical_institution_flag="1",
        designated_medical_institution_name=t["institution_name"],
        injury_name1=t["injury"],
        medical_treatment_type=t["treatment_type"],
        self_pay_amount=str(t["self_pay"]),
        district_contact_name=t["district_contact"],
        handling_contact_name=t["handling_contact"],
        single_or_combined_use=t["single_or_combined"],
    )
