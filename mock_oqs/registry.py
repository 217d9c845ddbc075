"""The registry of the mock service: one SQLite file in WAL mode.

Insurers, persons, their qualification history, the link from a user-auth
certificate to a person (no link: not registered for 保険証 use), revocations,
and mock medication / checkup history. This is the insurers' side and the
service only reads it; the consent records a patient gives at a terminal (24 h)
are written by the service into its own state file (mock_oqs.service).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS insurers (
    insurer_number TEXT PRIMARY KEY,      -- 8 digits, or 6 for 国保
    name TEXT NOT NULL,
    kind TEXT NOT NULL                    -- kyokai, kumiai, kyosai, kokuho, koki
);
CREATE TABLE IF NOT EXISTS persons (
    person_id TEXT PRIMARY KEY,
    persona TEXT,                         -- persona id, NULL for generated persons
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('1', '2', '3')),
    birth_date TEXT NOT NULL,
    address TEXT NOT NULL,
    post_number TEXT NOT NULL,
    public_expense_note TEXT,             -- a paper 公費 certificate is still needed
    name_of_other TEXT,                   -- 通称名 reported to the insurer (NameOfOther)
    name_of_other_kana TEXT,
    sex2 TEXT CHECK (sex2 IN ('1', '2', '3'))  -- the sex as the card shows it, where it differs
);
CREATE TABLE IF NOT EXISTS qualifications (
    qualification_id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    insurer_number TEXT NOT NULL REFERENCES insurers(insurer_number),
    symbol TEXT NOT NULL,                 -- 記号
    number TEXT NOT NULL,                 -- 番号
    branch TEXT NOT NULL,                 -- 枝番, 2 digits
    personal_family TEXT NOT NULL CHECK (personal_family IN ('1', '2')),
    insured_name TEXT NOT NULL,           -- 世帯主/被保険者
    card_classification TEXT NOT NULL,
    qualification_date TEXT NOT NULL,     -- 取得
    disqualification_date TEXT,           -- 喪失
    reason_of_loss TEXT,
    registered_on TEXT NOT NULL,          -- visible to queries from this day (time lag)
    ratio_percent INTEGER,                -- stated by the insurer, else by age
    active_income INTEGER NOT NULL DEFAULT 0,
    limit_certificate_class TEXT,
    limit_application_class TEXT,
    specific_disease TEXT,
    issued_on TEXT NOT NULL,              -- 交付 (InsuredCertificateIssuanceDate)
    valid_from TEXT NOT NULL,             -- 有効開始 (InsuredCardValidDate)
    expires_on TEXT,                      -- 有効期限 (a 資格確認書's; InsuredCardExpirationDate)
    limit_from TEXT,                      -- 限度額適用認定証: 有効開始 (交付 the same day)
    limit_until TEXT,
    limit_long_term TEXT,                 -- 長期入院該当年月日 (低所得 only)
    specific_disease_from TEXT,           -- 特定疾病療養受療証: 有効開始 (交付 the same day)
    specific_disease_until TEXT,
    specific_disease_self_pay INTEGER     -- 月の自己負担上限, yen
);
CREATE INDEX IF NOT EXISTS qualifications_person ON qualifications(person_id);
CREATE INDEX IF NOT EXISTS qualifications_card
    ON qualifications(insurer_number, symbol, number, branch);
-- every card's user-auth certificate and its holder (J-LIS knows them all); a card is
-- usable as 保険証 once registered for it (保険証利用登録: registered_at)
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,              -- hex, upper case
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    fingerprint TEXT NOT NULL UNIQUE,     -- SHA-256 of the DER
    not_after TEXT NOT NULL,
    revoked_at TEXT,
    registered_at TEXT                    -- NULL: not registered for 保険証 use
);
-- the shared records a patient may consent to (oqs.md §5): 薬剤情報 (3 years shown),
-- 診療情報 and 手術情報 (5 years), 特定健診 results (5 years)
CREATE TABLE IF NOT EXISTS medications (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    dispensed_on TEXT NOT NULL,
    institution TEXT NOT NULL,
    drug TEXT NOT NULL,
    dose TEXT NOT NULL,
    days INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS medications_person ON medications(person_id, dispensed_on);
CREATE TABLE IF NOT EXISTS diagnoses (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    treated_on TEXT NOT NULL,
    institution TEXT NOT NULL,
    diagnosis TEXT NOT NULL,
    treatment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS diagnoses_person ON diagnoses(person_id, treated_on);
CREATE TABLE IF NOT EXISTS operations (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    operated_on TEXT NOT NULL,
    institution TEXT NOT NULL,
    operation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_person ON operations(person_id, operated_on);
CREATE TABLE IF NOT EXISTS checkups (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    examined_on TEXT NOT NULL,
    item TEXT NOT NULL,
    value TEXT NOT NULL,
    unit TEXT NOT NULL,
    reference TEXT NOT NULL              -- the reference range, as printed on results
);
CREATE INDEX IF NOT EXISTS checkups_person ON checkups(person_id, examined_on);
-- 医療費助成 受給者証 a municipality registered for use by card (the PMH pilot): the
-- reader brings them with the result only where the pilot runs and the patient says yes
CREATE TABLE IF NOT EXISTS medical_subsidies (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    insurer_number TEXT NOT NULL,         -- 公費負担者番号 (8 digits)
    recipient_number TEXT NOT NULL,       -- 公費受給者番号
    certificate_name TEXT NOT NULL,       -- 受給者証名
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    copayment_cap INTEGER,                -- 自己負担上限額 (yen a month; NULL: none)
    always_reimbursed TEXT NOT NULL       -- 常に償還払い: 0 no, 1 yes
);
CREATE INDEX IF NOT EXISTS medical_subsidies_person ON medical_subsidies(person_id);
-- 医療扶助 (生活保護): the 福祉事務所's 医療券 / 調剤券 of a recipient, one per month and
-- institution it entrusts with the care (指定医療機関); only that institution sees them
CREATE TABLE IF NOT EXISTS medical_tickets (
    person_id TEXT NOT NULL REFERENCES persons(person_id),
    ticket_type TEXT NOT NULL,            -- 1 医療券, 2 調剤券
    treatment_month TEXT NOT NULL,        -- YYYY-MM
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    issue_number TEXT NOT NULL,           -- 交付番号
    institution_code TEXT NOT NULL,       -- the 指定医療機関 entrusted with the care
    institution_name TEXT NOT NULL,
    injury TEXT NOT NULL,                 -- 傷病名
    treatment_type TEXT NOT NULL,         -- 診療別: 1 入院外, 2 入院
    self_pay INTEGER NOT NULL,            -- 本人支払額 (yen)
    district_contact TEXT NOT NULL,       -- 地区担当員
    handling_contact TEXT NOT NULL,       -- 取扱担当者
    single_or_combined TEXT NOT NULL      -- 1 単独, 2 併用
);
CREATE INDEX IF NOT EXISTS medical_tickets_person ON medical_tickets(person_id, treatment_month);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the registry (WAL mode, foreign keys on)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    return conn


def create(path: Path) -> sqlite3.Connection:
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    conn = connect(path)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    conn.commit()
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@dataclass(frozen=True, slots=True)
class Insurer:
    insurer_number: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    persona: str | None
    name: str
    name_kana: str
    sex: str
    birth_date: dt.date
    address: str
    post_number: str
    public_expense_note: str | None = None
    name_of_other: str | None = None  # 通称名, family and given name (ASCII space)
    name_of_other_kana: str | None = None
    sex2: str | None = None  # the card's sex where it differs from ``sex``


@dataclass(frozen=True, slots=True)
class Qualification:
    person_id: str
    insurer_number: str
    symbol: str
    number: str
    branch: str
    personal_family: str
    insured_name: str
    card_classification: str
    qualification_date: dt.date
    registered_on: dt.date
    disqualification_date: dt.date | None = None
    reason_of_loss: str | None = None
    ratio_percent: int | None = None
    active_income: bool = False
    limit_certificate_class: str | None = None
    limit_application_class: str | None = None
    specific_disease: str | None = None
    issued_on: dt.date | None = None  # default: the qualification date
    valid_from: dt.date | None = None  # default: the qualification date
    expires_on: dt.date | None = None
    limit_from: dt.date | None = None
    limit_until: dt.date | None = None
    limit_long_term: dt.date | None = None
    specific_disease_from: dt.date | None = None
    specific_disease_until: dt.date | None = None
    specific_disease_self_pay: int | None = None


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def add_insurer(conn: sqlite3.Connection, insurer: Insurer) -> None:
    conn.execute(
        "INSERT INTO insurers(insurer_number, name, kind) VALUES (?, ?, ?)",
        (insurer.insurer_number, insurer.name, insurer.kind),
    )


def add_person(conn: sqlite3.Connection, p: Person) -> None:
    conn.execute(
        "INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            p.person_id,
            p.persona,
            p.name,
            p.name_kana,
            p.sex,
            p.birth_date.isoformat(),
            p.address,
            p.post_number,
            p.public_expense_note,
            p.name_of_other,
            p.name_of_other_kana,
            p.sex2,
        ),
    )


def qualification_row(q: Qualification) -> tuple[object, ...]:
    return (
        q.person_id,
        q.insurer_number,
        q.symbol,
        q.number,
        q.branch,
        q.personal_family,
        q.insured_name,
        q.card_classification,
        q.qualification_date.isoformat(),
        _iso(q.disqualification_date),
        q.reason_of_loss,
        q.registered_on.isoformat(),
        q.ratio_percent,
        int(q.active_income),
        q.limit_certificate_class,
        q.limit_application_class,
        q.specific_disease,
        (q.issued_on or q.qualification_date).isoformat(),
        (q.valid_from or q.qualification_date).isoformat(),
        _iso(q.expires_on),
        _iso(q.limit_from),
        _iso(q.limit_until),
        _iso(q.limit_long_term),
        _iso(q.specific_disease_from),
        _iso(q.specific_disease_until),
        q.specific_disease_self_pay,
    )


QUALIFICATION_INSERT = (
    "INSERT INTO qualifications(person_id, insurer_number, symbol, number, branch, "
    "personal_family, insured_name, card_classification, qualification_date, "
    "disqualification_date, reason_of_loss, registered_on, ratio_percent, active_income, "
    "limit_certificate_class, limit_application_class, specific_disease, issued_on, "
    "valid_from, expires_on, limit_from, limit_until, limit_long_term, "
    "specific_disease_from, specific_disease_until, specific_disease_self_pay) "
    "VALUES (" + ", ".join(["?"] * 26) + ")"
)


def plain_qualification_row(
    person_id: str,
    insurer_number: str,
    symbol: str,
    number: str,
    branch: str,
    since: str,
    registered_on: str,
    *,
    lost: str | None = None,
    reason_of_loss: str | None = None,
    ratio_percent: int | None = None,
) -> tuple[object, ...]:
    """A 本人 qualification without certificates, as :data:`QUALIFICATION_INSERT` orders
    it (dates ISO; issued and valid from ``since``) — the generated persons' rows, made by
    the million for bench-oqs without building a :class:`Qualification` each."""
    return (
        person_id,
        insurer_number,
        symbol,
        number,
        branch,
        "1",
        "",
        "01",
        since,
        lost,
        reason_of_loss,
        registered_on,
        ratio_percent,
        0,
        None,
        None,
        None,
        since,
        since,
        *([None] * 7),
    )


def add_qualification(conn: sqlite3.Connection, q: Qualification) -> None:
    conn.execute(QUALIFICATION_INSERT, qualification_row(q))


def link_certificate(
    conn: sqlite3.Connection,
    *,
    serial: int,
    person_id: str,
    fingerprint: str,
    not_after: dt.date,
    registered_on: dt.date | None,
) -> None:
    """A card's certificate and its holder; ``registered_on``: 保険証利用登録 (None: the
    card is not registered for 保険証 use)."""
    conn.execute(
        "INSERT INTO certificates(serial, person_id, fingerprint, not_after, registered_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            format(serial, "X"),
            person_id,
            fingerprint,
            not_after.isoformat(),
            registered_on.isoformat() if registered_on else None,
        ),
    )


def register_certificate(conn: sqlite3.Connection, fingerprint: str, when: dt.datetime) -> bool:
    """保険証利用登録 of one card (its certificate); False if it was registered already,
    revoked, or unknown."""
    cur = conn.execute(
        "UPDATE certificates SET registered_at = ? WHERE fingerprint = ? "
        "AND registered_at IS NULL AND revoked_at IS NULL",
        (when.isoformat(timespec="seconds"), fingerprint),
    )
    return cur.rowcount == 1


def unregister_person(conn: sqlite3.Connection, person_id: str) -> int:
    """Undo the 保険証利用登録 of a person's cards (a trainer resetting a persona); returns
    how many certificates were registered."""
    cur = conn.execute(
        "UPDATE certificates SET registered_at = NULL WHERE person_id = ? "
        "AND registered_at IS NOT NULL",
        (person_id,),
    )
    return cur.rowcount


def revoke_serial(conn: sqlite3.Connection, serial: int, when: dt.datetime) -> None:
    """Revoke one certificate (a reissued card's predecessor)."""
    conn.execute(
        "UPDATE certificates SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL",
        (when.isoformat(timespec="seconds"), format(serial, "X")),
    )


def revoke_certificate(conn: sqlite3.Connection, person_id: str, when: dt.datetime) -> int:
    """Revoke every certificate of a person; returns how many were newly revoked."""
    cur = conn.execute(
        "UPDATE certificates SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL",
        (when.isoformat(timespec="seconds"), person_id),
    )
    return cur.rowcount
