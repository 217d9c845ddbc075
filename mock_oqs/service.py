"""The rules engine of the mock service, without HTTP.

Card confirmation proves possession: the service issues a single-use nonce, the
card signs it (PIN path: RSA PKCS#1 v1.5 with SHA-256 over the 16 raw nonce
bytes), or the terminal signs a statement with its facility key (face and
visual paths, design.md §5). Then: chain to the mock JPKI CA, the registry link
(保険証利用登録), revocation, validity with the grace period, and the
qualification as the registry has it on the service's day.

Mock codes (there is no public list of the real ones; oqs.md §3):

======================  ====  ==========================================================
code                    HTTP  meaning
======================  ====  ==========================================================
MOCK-E001               401   a client certificate from the facility CA is required
MOCK-E002               409   nonce unknown, expired, already used, or another facility's
MOCK-E003               403   the card's signature over the nonce does not verify
MOCK-E004               403   the certificate is not a mock JPKI certificate (or unusable)
MOCK-E005               403   the face/visual statement is malformed, stale or unsigned
MOCK-E006               422   the request is malformed (field errors in the message)
MOCK-E007               404   no one person has a qualification with these numbers
MOCK-E008               403   no valid consent for these records (or grace period)
MOCK-E009               429   too many outstanding nonces for this facility
MOCK-E010               404   no such endpoint (405: not with this method)
MOCK-E011               413   request body over 64 KiB (431: headers over 16 KiB)
MOCK-E012               408   the request did not arrive in time (slow or stalled sender)
MOCK-E013               503   too many open connections to this worker
MOCK-E014               404   no 一括照会 with this ReceptionNumber for this facility
MOCK-E015               409   no such 保険証利用登録 offer for this facility (unknown, used,
                              or older than 5 minutes)
MOCK-E016               403   the patient's consent for these records has expired (24 h)
MOCK-E017               403   not open to a holder proven this way: 保険証利用登録 after 目視,
                              or on the 居宅同意取得型 route; a consent item the method or
                              route does not offer (:data:`OPEN_AT`)
MOCK-E018               429   lookups by number over this facility's limit (per minute,
                              per day; a 一括照会's entries count, and a job over the
                              per-job cap): ``Retry-After`` says when, if waiting helps
MOCK-E019               429   一括照会 jobs over this facility's cap (running or stored)
MOCK-E020               429   too many different birth dates tried with one patient's
                              numbers at this facility (a rolling day; a 一括照会 holding
                              more is refused whole): ``Retry-After`` says when
MOCK-R001               200   ProcessingResultStatus 2: the certificate is revoked
MOCK-R002               200   ProcessingResultStatus 2: certificate expired, grace period over
MOCK-R003               200   ProcessingResultStatus 2: not registered for 保険証 use (when
                              the holder was proven by PIN or face at the reader, the answer
                              carries ``RegistrationOffer`` beside the message: POST
                              /v1/registrations registers the card; after 目視 or on the
                              居宅同意取得型 route there is none, and the message says why)
======================  ====  ==========================================================

Notices: the simulator's own facts, never inside ``XmlMsg`` (oqs.md §2). The JSON
answer carries them beside the message (``"MockNotices"``, next to ``MessageHeader``
and ``MessageBody``); every answer also in the ``X-Mock-Notices`` header:
``certificate-grace``, ``certificate-renewal-due``, ``public-expense-paper``,
``preschool-ratio``, ``elderly-recipient``, ``limit-<区分>``, ``specific-disease-<code>``,
``medical-aid`` (医療扶助: the 福祉事務所 is the contact, not an insurer),
``medical-aid-not-designated`` (no 医療券 entrusts this institution this month),
``public-expense-card`` (the patient's 医療費助成 受給者証 came by card: the pilot).

公費 by card (the PMH pilot): the result-file element names are not public; the block
``MedicalSubsidyList/MedicalSubsidyInfo`` takes the names of the PMH registration API the
municipalities use (digital.go.jp, 2024: medicalSubsidyInsurerNumber,
medicalSubsidyRecipientNumber, certificationName, validFrom/To, maxCopaymentAmount,
isAlwaysReimbursement), PascalCase as the rest of the format.

医療扶助 codes the public material leaves open (the element names are the real ones —
``PublicExpenseResultList/MedicalTicketInfo``, as published clinic software reads them —
the values are this simulator's): ``TicketType`` 1 医療券, 2 調剤券;
``DesignatedMedicalInstitutionFlag`` 1 entrusted (this institution), 0 未委託・未登録;
``MedicalTreatmentType`` 1 入院外, 2 入院; ``SingleOrCombinedUse`` 1 単独, 2 併用.

Limits per facility (design.md §6.9, :class:`ServiceLimits`): lookups by number — a
confirmation by number, the shared records, a 照会番号 registration, each entry of a
一括照会 — are rate-limited per facility; 一括照会 jobs are capped (running and stored) and
their results purged. Every 429 is kept in the state file (table ``refusals``, one row per
facility, code and minute; ``mock-oqs refusals`` prints them) and in the access log.

Consent flags (oqs.md §5): since 2024-10-07 the 限度額適用認定証 information — and
with it the 特定疾病療養受療証's — is provided without asking, so a reader in today's
flow sends ``limit`` true and both ``…RelatedConsFlg`` are 1; the service still
honours false (the pre-2024 flow of old training material).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mock_oqs import registry
from mock_oqs.codes import QualificationValidity
from mock_oqs.format import result_kana, result_name, result_post_number
from mock_oqs.limits import DAY, REFUSALS_KEEP_DAYS, STATE_FILE, ServiceLimits
from mock_oqs.models import (
    CardConfirmationRequest,
    Consents,
    Method,
    NumberConfirmationRequest,
    PatientNumbers,
    ReferenceRegistration,
    Route,
)
from mock_oqs.rules import (
    AgeBracket,
    CertificateState,
    InsurerNumber,
    RuleInputError,
    certificate_state,
    copayment_ratio,
    elderly_recipient_from,
    late_elderly_from,
)
from mock_oqs.world import World
from reader.clock import JST

log = logging.getLogger(__name__)
CONSENT_SECONDS = 24 * 3600
STATEMENT_MAX_AGE = dt.timedelta(minutes=5)
BULK_BATCH = 100  # answers stored per write of a 一括照会
# the serving run: the worker processes of one `mock-oqs serve` share it (the parent sets
# it in their environment); a 一括照会 left unfinished by another run has no thread any more
ENV_RUN = "MOCK_OQS_RUN"
RUN_ID = os.environ.get(ENV_RUN) or secrets.token_hex(8)


class Refusal(Exception):
    """A request the service refuses, with its mock code, HTTP status and message;
    ``retry_after``: seconds until the same request could succeed (rate limits)."""

    def __init__(
        self, code: str, status: int, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Clock:
    """The service's notion of now; ``today`` pins the date (worlds are relative to it)."""

    today_override: dt.date | None = None

    def now(self) -> dt.datetime:
        now = dt.datetime.now(JST)
        if self.today_override is None:
            return now
        return dt.datetime.combine(self.today_override, now.timetz())

    def today(self) -> dt.date:
        return self.now().date()


STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY, facility TEXT NOT NULL, expires_at REAL NOT NULL);
-- one index only: every index is another page written per nonce issued and used; the
-- sweep of expired ones (every 128 issued) scans the table
DROP INDEX IF EXISTS nonces_expiry;
CREATE INDEX IF NOT EXISTS nonces_facility ON nonces(facility, expires_at);
-- one consent record per item a patient agreed to at a facility's reader, valid 24 h:
-- the key to the shared records (oqs.md §5, §7)
CREATE TABLE IF NOT EXISTS consent_records (
    person_id TEXT NOT NULL, facility TEXT NOT NULL, item TEXT NOT NULL,
    given_at REAL NOT NULL, valid_until REAL NOT NULL,
    PRIMARY KEY (person_id, facility, item));
-- 一括照会: a job per upload (run and pid: the serving run and worker whose thread makes
-- its answers), and each query's answer as it is made; purged after ServiceLimits'
-- bulk_keep_hours, and at start-up when its run is over
CREATE TABLE IF NOT EXISTS bulk_jobs (
    reception_number TEXT PRIMARY KEY, facility TEXT NOT NULL, total INTEGER NOT NULL,
    created_at REAL NOT NULL, run TEXT NOT NULL, pid INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bulk_results (
    reception_number TEXT NOT NULL, position INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (reception_number, position));
-- 保険証利用登録 offered at a reader: the holder was proven (PIN or face), the card is
-- not registered; the terminal may register it within minutes with the token
CREATE TABLE IF NOT EXISTS registration_offers (
    token TEXT PRIMARY KEY, facility TEXT NOT NULL, fingerprint TEXT NOT NULL,
    request TEXT NOT NULL, expires_at REAL NOT NULL);
-- 照会番号: the clinic's own patient id (診察券番号), registered against a person
CREATE TABLE IF NOT EXISTS reference_numbers (
    person_id TEXT NOT NULL, facility TEXT NOT NULL, reference_number TEXT NOT NULL,
    registered_at REAL NOT NULL, PRIMARY KEY (person_id, facility));
-- lookups by number per facility: one row per window (GCRA's theoretical arrival time)
CREATE TABLE IF NOT EXISTS lookup_budget (
    facility TEXT NOT NULL, window TEXT NOT NULL, tat REAL NOT NULL,
    PRIMARY KEY (facility, window));
-- the refusal audit (every 429): per facility, code and minute, how many and the last why
CREATE TABLE IF NOT EXISTS refusals (
    facility TEXT NOT NULL, code TEXT NOT NULL, minute INTEGER NOT NULL,
    count INTEGER NOT NULL, last_at REAL NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (facility, code, minute));
-- the birth dates a facility tried with one patient's numbers (a digest of them) in the
-- last day: a guesser varies the date, a clinic does not (ServiceLimits)
CREATE TABLE IF NOT EXISTS tried_birth_dates (
    facility TEXT NOT NULL, patient TEXT NOT NULL, birth TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (facility, patient, birth));
"""
STATE_VERSION = 2  # 2: bulk_jobs with run, pid and done (older jobs are dropped)

CONSENT_ITEMS = ("medication", "checkup", "operation", "limit")

# What a holder proven this way may agree to, and whether 保険証利用登録 is offered
# (design.md §6.9: "Registration for 保険証 use rests on the holder's proof (PIN or face),
# never on 目視 alone; what a patient may consent to under 目視 follows what real readers
# allow"). Anything else is refused with MOCK-E017 — whatever the terminal's flow did.
#
# Sources (searched 2026-12 for issue 19; the ministry's reader manual is not public):
# 1. 目視 at the face-recognition reader (目視モード) opens the consents as PIN and face do:
#    - 社会保障審議会 医療保険部会 第200回 (2025-10-16), 資料2「マイナ保険証の利用促進等
#      について」p.12 (https://www.mhlw.go.jp/stf/newpage_64752.html; read through
#      https://www.wic-net.com/material/document/22095/12): 目視モード, improved from
#      2025-04 (switched at the reader with a 4-digit passcode; 134,736 facilities, about
#      1.6 million uses by 2025-09); a facility reports that in 目視モード the patient
#      enters the 薬剤情報等 consent themselves, or staff confirm it orally and help.
#    - the ministry's description of the 顔認証マイナンバーカード as municipalities relay it
#      (e.g. https://www.city.higashine.yamagata.jp/section_list/section007/2201):
#      「顔認証または目視により確実な本人確認を行った上で、オンライン資格確認のほか、本人の
#      同意により特定健診等の情報や診療、薬剤情報の閲覧が可能」.
# 2. The 居宅同意取得型 route (マイナ資格確認アプリ; oqs.md §6 rung 0) proves the holder by
#    PIN or 目視 and takes the consent to 薬剤情報・診療情報・特定健診情報 and the 処方箋
#    form: https://ijnethp.com/news/ (「訪問診療等におけるオンライン資格確認（居宅同意取得
#    型）について」); 京都府保険医協会 2025-03-01 (https://kyotoihou.t-reader.jp/?p=26483,
#    the ministry's Q&A 問2: 目視, no PIN, because the app runs only on the clinic's own
#    registered device); the portal's FAQ (https://iryohokenjyoho.service-now.com/csm?
#    id=kb_article_view&sys_kb_id=091c338dc37b06d0a66d9c777a0131e2: 薬剤情報等 after
#    identity by the card and the patient's consent).
# 3. That route needs the card registered beforehand: 「本サービスのご利用にはマイナンバー
#    カードの健康保険証利用の登録が必要です…マイナポータルサイトで登録」 (the portal's FAQ,
#    sys_kb_id=011701188335d65852d354e0deaad374; https://myna-kango.com/guides/
#    ons_smartphone): no registration offer on it.
# Silent or conflicting, read conservatively:
# - 手術情報 on the 居宅同意取得型 route: every source names 薬剤・診療・特定健診 only → not
#   open there.
# - the 医療費助成 受給者証 by card (the PMH pilot) after 目視 or on that route: no source
#   → not open (the paper 受給者証 stays the rule).
# - registration after 目視: one municipality's page (https://www.town.mikata-kami.lg.jp/
#   www/contents/1704953676982/index.html) tells holders of a 顔認証マイナンバーカード to
#   apply at a reader 「顔認証または目視確認により」; the ministry's own material found says
#   nothing of it → design.md §6.9 holds: PIN or face only.
_ALL = frozenset({"medication", "checkup", "operation", "limit", "subsidies", "registration"})
_COUNTER = frozenset({"medication", "checkup", "limit"})
OPEN_AT: dict[tuple[Route, Method], frozenset[str]] = {
    (Route.READER, Method.PIN): _ALL,
    (Route.READER, Method.FACE): _ALL,
    (Route.READER, Method.VISUAL): _ALL - {"subsidies", "registration"},
    (Route.COUNTER, Method.PIN): _COUNTER,  # a staff-held reader has no camera
    (Route.COUNTER, Method.VISUAL): _COUNTER,
}
REGISTRATION_CLOSED = {
    Method.VISUAL: "保険証利用登録がありません（目視確認では登録できません。暗証番号か顔認証で"
    "本人確認すると登録できます）",
    Route.COUNTER: "保険証利用登録がありません（居宅同意取得型では登録できません。顔認証付き"
    "カードリーダーかマイナポータルで登録してください）",
}


@dataclass(frozen=True, slots=True)
class RecordKind:
    table: str
    date: str
    consent: str  # the consent item that opens it
    years: int  # how far back the service shows


RECORDS = {
    # 診療情報・薬剤情報 are one consent; 薬剤情報 3 years, the others 5 (oqs.md §5)
    "medications": RecordKind("medications", "dispensed_on", "medication", 3),
    "diagnoses": RecordKind("diagnoses", "treated_on", "medication", 5),
    "operations": RecordKind("operations", "operated_on", "operation", 5),
    "checkups": RecordKind("checkups", "examined_on", "checkup", 5),
}
REGISTRATION_OFFER_SECONDS = 300.0
MMAP_BYTES = 256 * 1024 * 1024  # address space, not memory: pages are the OS's cache


class ServiceState:
    """Nonces and reference numbers, in a SQLite file shared by all workers."""

    def __init__(self, path: Path, *, bulk_keep_seconds: float = DAY) -> None:
        self._local = threading.local()
        self._issued = 0
        self.path = path
        self.bulk_keep_seconds = bulk_keep_seconds
        conn = self._conn()
        with self._transaction(conn):
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < STATE_VERSION:  # jobs are short-lived: an old layout is dropped
                conn.execute("DROP TABLE IF EXISTS bulk_results")
                conn.execute("DROP TABLE IF EXISTS bulk_jobs")
        conn.executescript(STATE_SCHEMA)
        conn.execute(f"PRAGMA user_version = {STATE_VERSION}")
        with self._transaction(conn):
            # at start-up: 一括照会 jobs past their time or of a run that is over, and
            # refusal rows older than the audit keeps
            self._purge_bulk(conn)
            conn.execute(
                "DELETE FROM refusals WHERE last_at < ?",
                (time.time() - REFUSALS_KEEP_DAYS * DAY,),
            )

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """One write transaction (the connection is in autocommit mode): taken at once, so
        workers checking and charging the same facility's budget do it one after another."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # short-lived state (nonces live minutes): no fsync at WAL checkpoints, which
            # would stall the worker's event loop; a power cut loses the last moments' nonces
            # and consents, which a mock can afford
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # reads without a syscall each
            self._local.conn = conn
        return conn

    def issue_nonce(
        self, facility: str, ttl_seconds: float, limit: int | None = None
    ) -> tuple[str, float]:
        """A new nonce, unless ``limit`` unused, unexpired ones are out for the facility (a
        terminal asking in a loop would fill the state file: MOCK-E009)."""
        nonce = secrets.token_hex(16)
        now = time.time()
        expires = now + ttl_seconds
        conn = self._conn()
        self._issued += 1
        if self._issued % 128 == 1:  # sweep unused expired nonces now and then
            conn.execute("DELETE FROM nonces WHERE expires_at < ?", (now - 60,))
        if limit is not None:
            (outstanding,) = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM nonces WHERE facility = ? "
                "AND expires_at >= ? LIMIT ?)",
                (facility, now, limit),
            ).fetchone()
            if outstanding >= limit:
                raise Refusal(
                    "MOCK-E009",
                    429,
                    f"{limit} nonces are already out for this facility and unused: use them "
                    "or let them expire",
                )
        conn.execute("INSERT INTO nonces VALUES (?, ?, ?)", (nonce, facility, expires))
        return nonce, expires

    def offer_registration(self, facility: str, fingerprint: str, request: str) -> str:
        token = secrets.token_hex(16)
        conn = self._conn()
        conn.execute("DELETE FROM registration_offers WHERE expires_at < ?", (time.time(),))
        conn.execute(
            "INSERT INTO registration_offers VALUES (?, ?, ?, ?, ?)",
            (token, facility, fingerprint, request, time.time() + REGISTRATION_OFFER_SECONDS),
        )
        return token

    def take_registration_offer(self, token: str, facility: str) -> tuple[str, str]:
        """The offer's certificate fingerprint and original request (single use)."""
        row = (
            self._conn()
            .execute(
                # another facility's attempt neither sees nor spends the offer
                "DELETE FROM registration_offers WHERE token = ? AND facility = ? "
                "RETURNING facility, fingerprint, request, expires_at",
                (token, facility),
            )
            .fetchone()
        )
        if row is None or row[3] < time.time():
            raise Refusal(
                "MOCK-E015",
                409,
                "no such 保険証利用登録 offer for this facility (unknown, used or expired): "
                "confirm by card again",
            )
        return row[1], row[2]

    def consume_nonce(self, nonce: str, facility: str) -> None:
        """Single use: the facility's row goes whatever follows; refusals say why. Another
        facility's attempt neither spends nor learns more than that the nonce is not its
        own (the facility is part of the key of the delete)."""
        conn = self._conn()
        row = conn.execute(
            "DELETE FROM nonces WHERE nonce = ? AND facility = ? RETURNING expires_at",
            (nonce, facility),
        ).fetchone()
        if row is None:
            elsewhere = conn.execute("SELECT 1 FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
            if elsewhere is not None:
                raise Refusal("MOCK-E002", 409, "nonce was issued to another facility")
            raise Refusal("MOCK-E002", 409, "nonce unknown or already used (a replay?)")
        if row[0] < time.time():
            raise Refusal("MOCK-E002", 409, "nonce expired: ask for a new one")

    def record_consents(self, person_id: str, facility: str, consents: Consents) -> float:
        """A consent record per agreed item (a new consent renews the 24 h); its end."""
        now = time.time()
        until = now + CONSENT_SECONDS
        records = [
            (person_id, facility, item, now, until)
            for item in CONSENT_ITEMS
            if getattr(consents, item)
        ]
        self._conn().executemany(
            "INSERT OR REPLACE INTO consent_records VALUES (?, ?, ?, ?, ?)", records
        )
        return until

    def consent_state(self, person_id: str, facility: str, item: str) -> str:
        """``valid``, ``expired`` (given here, more than 24 h ago) or ``none``."""
        row = (
            self._conn()
            .execute(
                "SELECT valid_until FROM consent_records WHERE person_id = ? AND facility = ? "
                "AND item = ?",
                (person_id, facility, item),
            )
            .fetchone()
        )
        if row is None:
            return "none"
        return "valid" if row[0] >= time.time() else "expired"

    # -- lookups by number: a budget per facility ----------------------------------------

    def charge(
        self, facility: str, cost: int, windows: Sequence[tuple[str, int, float]]
    ) -> float | None:
        """Charge ``cost`` lookups to each of the facility's windows ``(name, limit,
        period)``; None when every window has room (then all are charged), else the
        seconds until they would have (``math.inf``: never — more than a window holds).

        Each window is a bucket of ``limit`` that refills evenly over ``period`` (GCRA: one
        row per window holds the time at which the bucket would be full again), so a
        clinic's burst is served at once and a flood is held to the refill rate."""
        with self._transaction(self._conn()) as conn:
            return self._charge(conn, facility, cost, windows)

    @staticmethod
    def _charge(
        conn: sqlite3.Connection,
        facility: str,
        cost: int,
        windows: Sequence[tuple[str, int, float]],
    ) -> float | None:
        now = time.time()
        wait = 0.0
        charged = []
        for name, limit, period in windows:
            row = conn.execute(
                "SELECT tat FROM lookup_budget WHERE facility = ? AND window = ?",
                (facility, name),
            ).fetchone()
            tat = max(now, row[0]) if row is not None else now
            new = tat + cost * period / limit
            if cost > limit:
                wait = math.inf
            elif new - now > period:
                wait = max(wait, new - now - period)
            charged.append((facility, name, new))
        if wait > 0:
            return wait
        conn.executemany(
            "INSERT INTO lookup_budget VALUES (?, ?, ?) "
            "ON CONFLICT (facility, window) DO UPDATE SET tat = excluded.tat",
            charged,
        )
        return None

    def try_birth_date(self, facility: str, patient: str, birth: str, limit: int) -> float | None:
        """Note that ``facility`` named ``patient`` (a digest of the numbers) with
        ``birth``; None when that is within ``limit`` different dates in a day (a date
        tried before is always free), else the seconds until the oldest is forgotten."""
        now = time.time()
        with self._transaction(self._conn()) as conn:
            conn.execute(
                "DELETE FROM tried_birth_dates WHERE facility = ? AND patient = ? AND at < ?",
                (facility, patient, now - DAY),
            )
            tried: dict[str, float] = dict(
                conn.execute(
                    "SELECT birth, at FROM tried_birth_dates WHERE facility = ? AND patient = ?",
                    (facility, patient),
                ).fetchall()
            )
            if birth in tried:
                return None
            if len(tried) >= limit:
                return min(tried.values()) + DAY - now
            conn.execute(
                "INSERT INTO tried_birth_dates VALUES (?, ?, ?, ?)", (facility, patient, birth, now)
            )
        return None

    def record_refusal(self, facility: str, code: str, detail: str) -> None:
        """The refusal audit: one row per facility, code and minute counts them."""
        now = time.time()
        self._conn().execute(
            "INSERT INTO refusals VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (facility, code, "
            "minute) DO UPDATE SET count = count + 1, last_at = excluded.last_at, "
            "detail = excluded.detail",
            (facility, code, int(now // 60), now, detail[:300]),
        )

    # -- 一括照会 ------------------------------------------------------------------------

    def start_bulk(
        self,
        facility: str,
        total: int,
        limits: ServiceLimits,
        windows: Sequence[tuple[str, int, float]],
    ) -> str:
        """A new job for the facility, within its caps (MOCK-E019) and with its entries
        charged to its lookup budget (MOCK-E018) — checked, charged and made in one
        transaction."""
        number = secrets.token_hex(8).upper()
        with self._transaction(self._conn()) as conn:
            self._purge_bulk(conn)
            jobs = conn.execute(
                "SELECT created_at, done, run, pid FROM bulk_jobs WHERE facility = ? "
                "ORDER BY created_at",
                (facility,),
            ).fetchall()
            running = sum(1 for _, done, run, pid in jobs if not done and _alive(run, pid))
            if running >= limits.bulk_running:
                raise Refusal(
                    "MOCK-E019",
                    429,
                    f"{running} 一括照会 jobs of this facility are still running (at most "
                    f"{limits.bulk_running}): fetch their results first",
                    retry_after=10.0,
                )
            if len(jobs) >= limits.bulk_stored:
                oldest = jobs[0][0]
                raise Refusal(
                    "MOCK-E019",
                    429,
                    f"{len(jobs)} 一括照会 jobs of this facility are kept (at most "
                    f"{limits.bulk_stored}, each {self.bulk_keep_seconds / 3600:g} h)",
                    retry_after=max(1.0, oldest + self.bulk_keep_seconds - time.time()),
                )
            wait = self._charge(conn, facility, total, windows)
            if wait is not None:
                raise lookup_refusal(wait, total, windows)
            conn.execute(
                "INSERT INTO bulk_jobs VALUES (?, ?, ?, ?, ?, ?, 0)",
                (number, facility, total, time.time(), RUN_ID, os.getpid()),
            )
        return number

    def add_bulk_results(self, number: str, first: int, messages: list[dict[str, Any]]) -> None:
        rows = [
            (number, first + i, json.dumps(m, ensure_ascii=False)) for i, m in enumerate(messages)
        ]
        self._conn().executemany("INSERT INTO bulk_results VALUES (?, ?, ?)", rows)

    def finish_bulk(self, number: str, *, failed: bool = False) -> None:
        """The job's answers are all made (or it failed: then it goes, answers and all)."""
        conn = self._conn()
        if failed:
            with self._transaction(conn):
                conn.execute("DELETE FROM bulk_results WHERE reception_number = ?", (number,))
                conn.execute("DELETE FROM bulk_jobs WHERE reception_number = ?", (number,))
            return
        conn.execute("UPDATE bulk_jobs SET done = 1 WHERE reception_number = ?", (number,))

    def _purge_bulk(self, conn: sqlite3.Connection) -> None:
        """Jobs past their keeping time, and unfinished jobs of a run or worker that is
        gone (no thread will finish them), with their answers."""
        before = time.time() - self.bulk_keep_seconds
        gone = [
            (number,)
            for number, created, done, run, pid in conn.execute(
                "SELECT reception_number, created_at, done, run, pid FROM bulk_jobs"
            )
            if created < before or (not done and not _alive(run, pid))
        ]
        if gone:
            conn.executemany("DELETE FROM bulk_results WHERE reception_number = ?", gone)
            conn.executemany("DELETE FROM bulk_jobs WHERE reception_number = ?", gone)
            log.info("一括照会: %d job(s) purged", len(gone))

    def bulk(self, number: str, facility: str) -> tuple[int, list[dict[str, Any]]] | None:
        """The job's size and the answers made so far (None: no such job here)."""
        conn = self._conn()
        job = conn.execute(
            "SELECT total FROM bulk_jobs WHERE reception_number = ? AND facility = ?",
            (number, facility),
        ).fetchone()
        if job is None:
            return None
        rows = conn.execute(
            "SELECT message FROM bulk_results WHERE reception_number = ? ORDER BY position",
            (number,),
        )
        return int(job[0]), [json.loads(r[0]) for r in rows]

    def register_reference_number(self, person_id: str, facility: str, number: str) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO reference_numbers VALUES (?, ?, ?, ?)",
            (person_id, facility, number, time.time()),
        )

    def reference_number(self, person_id: str, facility: str) -> str | None:
        row = (
            self._conn()
            .execute(
                "SELECT reference_number FROM reference_numbers "
                "WHERE person_id = ? AND facility = ?",
                (person_id, facility),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])


def _alive(run: str, pid: int) -> bool:
    """A job's thread can still be running: this serving run, a worker that lives."""
    if run != RUN_ID:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not our worker
        return False
    return True


def _per(period: float) -> str:
    return {60.0: "minute", DAY: "day"}.get(period, f"{period:g} s")


def lookup_refusal(wait: float, cost: int, windows: Sequence[tuple[str, int, float]]) -> Refusal:
    """MOCK-E018: the facility's lookups by number are over a limit."""
    limits = ", ".join(f"{limit} per {_per(period)}" for _, limit, period in windows)
    what = f"{cost} lookups" if cost > 1 else "a lookup"
    if math.isinf(wait):
        return Refusal(
            "MOCK-E018", 429, f"{what} by number: more than this facility may make ({limits})"
        )
    return Refusal(
        "MOCK-E018",
        429,
        f"{what} by number over this facility's limit ({limits}): try again in {math.ceil(wait)} s",
        retry_after=wait,
    )


def _patient_digest(request: PatientNumbers) -> str:
    """One patient's numbers as the birth-date limit keys them: 保険者番号 (国保's padding
    ignored), 記号 and 番号 — not the 枝番, which a guesser could vary as well."""
    numbers = "|".join(
        (request.insurer_number.strip(), request.symbol.strip(), request.number.strip())
    )
    return hashlib.sha256(numbers.encode()).hexdigest()[:32]


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("MOCK-E006", 422, f"{what}: not valid base64") from None


def _ymd(day: dt.date | None) -> str | None:
    # formatted by hand: strftime costs ~2 µs a call, and a result has a dozen dates
    return None if day is None else f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _ymd_text(iso: str | None) -> str | None:
    """A registry date (ISO text) as the result writes it (YYYYMMDD)."""
    return None if iso is None else _ymd(dt.date.fromisoformat(iso))


def _stamp(moment: dt.datetime) -> str:
    """YYYYMMDDhhmmss."""
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _message(header: dict[str, Any], body: dict[str, Any], notices: list[str]) -> dict[str, Any]:
    """The answer: the two parts of ``XmlMsg`` and, beside them, the simulator's notices."""
    return {"MessageHeader": header, "MessageBody": body, "MockNotices": sorted(set(notices))}


def _refused(header: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ProcessingResultStatus": "2",
        "ProcessingResultCode": code,
        "ProcessingResultMessage": message,
        "QualificationValidity": None,
        "ResultList": {"ResultOfQualificationConfirmation": []},
    }
    return _message(header, body, [])


def _elderly_info(row: sqlite3.Row, birth: dt.date, ratio_code: str) -> dict[str, Any]:
    """高齢受給者証: from the 1st after reaching 70 (or joining) to the day before 75."""
    start = max(elderly_recipient_from(birth), dt.date.fromisoformat(row["qualification_date"]))
    return {
        "ElderlyRecipientCertificateDate": _ymd(start),
        "ElderlyRecipientValidStartDate": _ymd(start),
        "ElderlyRecipientValidEndDate": _ymd(late_elderly_from(birth) - dt.timedelta(days=1)),
        "ElderlyRecipientContributionRatio": ratio_code,
    }


def _limit_and_disease_info(row: sqlite3.Row, notices: list[str]) -> dict[str, Any]:
    """限度額適用認定証 and 特定疾病療養受療証 information, where the insurer has one."""
    info: dict[str, Any] = {}
    if row["limit_application_class"]:
        notices.append(f"limit-{row['limit_application_class']}")
        info["LimitApplicationCertificateRelatedInfo"] = {
            "LimitApplicationCertificateClassification": row["limit_certificate_class"],
            "LimitApplicationCertificateClassificationFlag": row["limit_application_class"],
            "LimitApplicationCertificateDate": _ymd_text(row["limit_from"]),
            "LimitApplicationCertificateValidStartDate": _ymd_text(row["limit_from"]),
            "LimitApplicationCertificateValidEndDate": _ymd_text(row["limit_until"]),
            "LimitApplicationCertificateLongTermDate": _ymd_text(row["limit_long_term"]),
        }
    if row["specific_disease"]:
        notices.append(f"specific-disease-{row['specific_disease']}")
        info["SpecificDiseasesCertificateList"] = {
            "SpecificDiseasesCertificateInfo": [
                {
                    "SpecificDiseasesDiseaseCategory": row["specific_disease"],
                    "SpecificDiseasesCertificateDate": _ymd_text(row["specific_disease_from"]),
                    "SpecificDiseasesValidStartDate": _ymd_text(row["specific_disease_from"]),
                    "SpecificDiseasesValidEndDate": _ymd_text(row["specific_disease_until"]),
                    "SpecificDiseasesSelfPay": str(row["specific_disease_self_pay"]),
                }
            ]
        }
    return info


def _loss(row: sqlite3.Row, today: dt.date) -> dict[str, Any]:
    """喪失日 and its 事由, once the qualification is lost (on or before ``today``).

    The registry keeps what insurers have planned too — every open non-後期 qualification
    ends on the holder's 75th birthday (事由 03) — but a result carries a loss only once it
    happened: a 有効 qualification has no ``DisqualificationDate``. Clinic software reads the
    element as the qualification's end (OQSDrug2's importer maps it so), so a planned date
    there would end every patient's insurance in its records."""
    lost = _date(row["disqualification_date"])
    if lost is None or lost > today:
        return {}
    return {"DisqualificationDate": _ymd(lost), "ReasonOfLoss": row["reason_of_loss"]}


class QualificationService:
    """Confirmations against one world's registry."""

    def __init__(
        self,
        world: World,
        *,
        clock: Clock | None = None,
        nonce_ttl_seconds: float = 120.0,
        state_path: Path | None = None,
        max_outstanding_nonces: int | None = 256,
        limits: ServiceLimits | None = None,
    ) -> None:
        self.world = world
        self.clock = clock or Clock()
        self.nonce_ttl_seconds = nonce_ttl_seconds
        self.max_outstanding_nonces = max_outstanding_nonces
        self.limits = limits or ServiceLimits()
        self.jpki_ca = x509.load_pem_x509_certificate(
            (world.directory / "jpki-ca" / "cert.pem").read_bytes()
        )
        self.state = ServiceState(
            state_path or world.directory / STATE_FILE,
            bulk_keep_seconds=self.limits.bulk_keep_hours * 3600,
        )
        self._local = threading.local()
        # refusals are exceptions and so never cached
        self._issued_certificate = functools.lru_cache(maxsize=4096)(self._load_issued_certificate)
        self._insurer_names: dict[str, str] = {
            row["insurer_number"]: row["name"]
            for row in self._db().execute("SELECT insurer_number, name FROM insurers")
        }

    def _writer(self) -> sqlite3.Connection:
        """The registry, writable: 保険証利用登録 at a reader changes it."""
        conn: sqlite3.Connection | None = getattr(self._local, "writer", None)
        if conn is None:
            conn = registry.connect(self.world.registry_path)
            conn.isolation_level = None  # transactions by registry.transaction
            self._local.writer = conn
        return conn

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "db", None)
        if conn is None:
            conn = registry.connect(self.world.registry_path, readonly=True)
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.db = conn
        return conn

    # -- nonces -------------------------------------------------------------------------

    def issue_nonce(self, facility: str) -> tuple[str, dt.datetime]:
        nonce, expires = self.state.issue_nonce(
            facility, self.nonce_ttl_seconds, self.max_outstanding_nonces
        )
        return nonce, dt.datetime.fromtimestamp(expires, dt.UTC)

    # -- limits per facility -------------------------------------------------------------

    def _windows(self, *, bulk: bool) -> list[tuple[str, int, float]]:
        """The lookup windows that apply: a single lookup counts per minute and per day, a
        一括照会's entries per day (a job of a few hundred is one upload, not a burst)."""
        windows: list[tuple[str, int, float]] = []
        if self.limits.lookups_per_minute is not None and not bulk:
            windows.append(("minute", self.limits.lookups_per_minute, 60.0))
        if self.limits.lookups_per_day is not None:
            windows.append(("day", self.limits.lookups_per_day, DAY))
        return windows

    def charge_lookup(self, facility: str) -> None:
        """One lookup by number (a confirmation, the records, a 照会番号): MOCK-E018 past
        the facility's limit."""
        windows = self._windows(bulk=False)
        if windows:
            wait = self.state.charge(facility, 1, windows)
            if wait is not None:
                raise lookup_refusal(wait, 1, windows)

    def check_birth_date(self, request: PatientNumbers, facility: str) -> None:
        """MOCK-E020 when ``facility`` has tried too many different birth dates with these
        numbers today (:class:`ServiceLimits` ``birth_dates_per_patient``)."""
        limit = self.limits.birth_dates_per_patient
        if limit is None:
            return
        wait = self.state.try_birth_date(
            facility, _patient_digest(request), request.birth_date, limit
        )
        if wait is not None:
            raise Refusal(
                "MOCK-E020",
                429,
                f"more than {limit} different birth dates tried with these numbers at this "
                f"facility within a day: try again in {math.ceil(wait)} s",
                retry_after=wait,
            )

    def _check_bulk_birth_dates(self, queries: Sequence[PatientNumbers]) -> None:
        """A 一括照会 that alone tries more birth dates with one patient's numbers than a
        day allows is refused whole (MOCK-E020), before any entry is charged or run."""
        limit = self.limits.birth_dates_per_patient
        if limit is None:
            return
        dates: dict[str, set[str]] = {}
        for query in queries:
            dates.setdefault(_patient_digest(query), set()).add(query.birth_date)
        most = max((len(tried) for tried in dates.values()), default=0)
        if most > limit:
            raise Refusal(
                "MOCK-E020",
                429,
                f"a 一括照会 naming one patient's numbers with {most} different birth dates: "
                f"at most {limit} a day at this facility",
            )

    def record_refusal(self, facility: str | None, code: str, message: str) -> None:
        """The audit of a refusal that a trainer or developer should see (every 429)."""
        try:
            self.state.record_refusal(facility or "-", code, message)
        except sqlite3.Error:  # the audit failing never turns a 429 into a 500
            log.exception("could not record the refusal %s of %s", code, facility)

    # -- by card ------------------------------------------------------------------------

    def confirm_card(
        self,
        request: CardConfirmationRequest,
        facility: str,
        terminal_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None,
    ) -> tuple[dict[str, Any], str | None]:
        """The result message, and the persona id (for the access log) if known."""
        self._check_open(request)
        self.state.consume_nonce(request.nonce, facility)
        der = _b64(request.certificate, "certificate")
        cert = self._issued_certificate(der)
        now = self.clock.now()
        if cert.not_valid_before_utc > now:
            raise Refusal("MOCK-E004", 403, "certificate is not valid yet")
        if request.method is Method.PIN:
            self._verify_card_signature(cert, request)
        else:
            self._verify_statement(cert, der, request, terminal_key)

        fingerprint = hashlib.sha256(der).hexdigest().upper()
        expiry = cert.not_valid_after_utc.astimezone(JST).date()
        return self._card_result(request, facility, fingerprint, expiry, now, offer=True)

    @staticmethod
    def _check_open(request: CardConfirmationRequest) -> None:
        """MOCK-E017 for what this route and method do not open (:data:`OPEN_AT`)."""
        opened = OPEN_AT.get((request.route, request.method))
        if opened is None:
            raise Refusal(
                "MOCK-E017",
                403,
                f"method {request.method.value} on the {request.route.value} route: the "
                "居宅同意取得型 route proves the holder by pin or visual",
            )
        asked = [item for item in sorted(_ALL) if getattr(request.consents, item, False)]
        closed = [item for item in asked if item not in opened]
        if closed:
            raise Refusal(
                "MOCK-E017",
                403,
                f"consents {', '.join(closed)}: not open to a holder proven by "
                f"{request.method.value} on the {request.route.value} route",
            )

    @staticmethod
    def _registration_open(request: CardConfirmationRequest) -> bool:
        return "registration" in OPEN_AT.get((request.route, request.method), frozenset())

    def register(self, token: str, facility: str) -> tuple[dict[str, Any], str | None]:
        """保険証利用登録 at the reader: the card of an offer (made when its holder was
        proven moments ago by PIN or face) is registered at once, and the confirmation it
        was for answered as if it had been registered before."""
        fingerprint, stored = self.state.take_registration_offer(token, facility)
        request = CardConfirmationRequest.model_validate_json(stored)
        if not self._registration_open(request):  # offers are never made so: a guard
            raise Refusal(
                "MOCK-E017",
                403,
                f"保険証利用登録 rests on the holder's proof by pin or face at the reader, "
                f"not {request.method.value} on the {request.route.value} route",
            )
        now = self.clock.now()
        with registry.transaction(self._writer()) as conn:
            registry.register_certificate(conn, fingerprint, now)
        row = (
            self._db()
            .execute("SELECT not_after FROM certificates WHERE fingerprint = ?", (fingerprint,))
            .fetchone()
        )
        expiry = dt.date.fromisoformat(row["not_after"])
        return self._card_result(request, facility, fingerprint, expiry, now, offer=False)

    def _card_result(
        self,
        request: CardConfirmationRequest,
        facility: str,
        fingerprint: str,
        expiry: dt.date,
        now: dt.datetime,
        *,
        offer: bool,
    ) -> tuple[dict[str, Any], str | None]:
        """The result for a proven holder of the card with this certificate."""
        link = (
            self._db()
            .execute(
                "SELECT c.person_id, c.revoked_at, c.registered_at, p.persona "
                "FROM certificates c JOIN persons p USING (person_id) WHERE c.fingerprint = ?",
                (fingerprint,),
            )
            .fetchone()
        )
        today = now.date()
        header = self._header(now, facility, "1", request.arbitrary_file_identifier)
        if link is None:
            return _refused(header, "MOCK-R003", "保険証利用登録がありません"), None
        persona = link["persona"]
        if link["revoked_at"] is not None:
            return _refused(header, "MOCK-R001", "電子証明書は失効しています"), persona
        state = certificate_state(expiry, today)
        if state is CertificateState.LAPSED:
            return (
                _refused(
                    header,
                    "MOCK-R002",
                    "電子証明書の有効期限が切れ、猶予期間も過ぎています。更新が必要です",
                ),
                persona,
            )
        if link["registered_at"] is None:
            if offer and not self._registration_open(request):  # 目視, or that route
                why = Route.COUNTER if request.route is Route.COUNTER else Method.VISUAL
                return _refused(header, "MOCK-R003", REGISTRATION_CLOSED[why]), persona
            answer = _refused(header, "MOCK-R003", "保険証利用登録がありません")
            if offer:  # the holder is proven: the reader may register the card now
                kept = request.model_dump_json()  # consents, prescription, file id
                token = self.state.offer_registration(facility, fingerprint, kept)
                until = dt.datetime.fromtimestamp(time.time() + REGISTRATION_OFFER_SECONDS, dt.UTC)
                answer["RegistrationOffer"] = {"token": token, "expires_at": until.isoformat()}
            return answer, persona
        notices: list[str] = []
        message: str | None = None
        consents: Consents = request.consents
        if state is CertificateState.GRACE:
            notices.append("certificate-grace")
            message = "電子証明書の有効期限が切れています（資格情報のみ）。更新してください"
            # qualification only: no records are shared in the grace period
            consents = Consents(limit=consents.limit)
        elif state is CertificateState.RENEWAL_DUE:
            notices.append("certificate-renewal-due")
            message = "電子証明書の有効期限が3か月以内です。更新してください"
        rows = self._visible_rows("q.person_id = ?", (link["person_id"],), today)
        body = self._qualification_body(
            rows, today, facility, consents, notices, message, request.prescription_issue
        )
        results = body.get("ResultList") or {}
        for entry in results.get("ResultOfQualificationConfirmation") or []:
            # seen in real card results (face/ files); its form is not public: ours is an
            # opaque key, new for every confirmation (mock_oqs/format.py)
            entry["QualificationConfirmationKey"] = secrets.token_hex(16).upper()
        return _message(header, body, notices), persona

    def _load_issued_certificate(self, der: bytes) -> x509.Certificate:
        """Parse and check the chain to the mock JPKI CA (cached per certificate in
        ``__init__``; revocation and validity are checked on every request)."""
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise Refusal("MOCK-E004", 403, "certificate: not an X.509 certificate") from None
        try:
            cert.verify_directly_issued_by(self.jpki_ca)
        except (ValueError, TypeError, InvalidSignature):
            raise Refusal(
                "MOCK-E004", 403, "certificate was not issued by the mock JPKI CA"
            ) from None
        return cert

    def _verify_card_signature(self, cert: x509.Certificate, req: CardConfirmationRequest) -> None:
        if req.signature is None:
            raise Refusal("MOCK-E003", 403, "method pin needs the card's signature over the nonce")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Refusal("MOCK-E004", 403, "certificate key is not RSA")
        try:
            key.verify(
                _b64(req.signature, "signature"),
                bytes.fromhex(req.nonce),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise Refusal(
                "MOCK-E003", 403, "the card's signature over the nonce does not verify"
            ) from None

    def _verify_statement(
        self,
        cert: x509.Certificate,
        der: bytes,
        req: CardConfirmationRequest,
        terminal_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None,
    ) -> None:
        if req.statement is None or req.statement_signature is None:
            raise Refusal(
                "MOCK-E005", 403, f"method {req.method.value} needs a statement and its signature"
            )
        if terminal_key is None:
            raise Refusal("MOCK-E001", 401, "a statement needs the terminal's client certificate")
        signature = _b64(req.statement_signature, "statement_signature")
        try:
            if isinstance(terminal_key, ec.EllipticCurvePublicKey):
                terminal_key.verify(signature, req.statement.encode(), ec.ECDSA(hashes.SHA256()))
            else:
                terminal_key.verify(
                    signature, req.statement.encode(), padding.PKCS1v15(), hashes.SHA256()
                )
        except InvalidSignature:
            raise Refusal(
                "MOCK-E005", 403, "the statement is not signed by this terminal's facility key"
            ) from None
        try:
            data = json.loads(req.statement)
            checked_at = dt.datetime.fromisoformat(data["checked_at"])
            ok = (
                data["method"] == req.method.value
                and data["nonce"] == req.nonce
                and data["certificate_sha256"] == hashlib.sha256(der).hexdigest().upper()
            )
        except (ValueError, KeyError, TypeError):
            raise Refusal(
                "MOCK-E005",
                403,
                "statement must be JSON with method, nonce, certificate_sha256, checked_at",
            ) from None
        if not ok:
            raise Refusal(
                "MOCK-E005", 403, "statement does not match this request (method/nonce/certificate)"
            )
        # freshness is real elapsed time: a pinned service day shifts only the rules
        real_now = dt.datetime.now(JST)
        if checked_at.tzinfo is None or abs(real_now - checked_at) > STATEMENT_MAX_AGE:
            raise Refusal("MOCK-E005", 403, "statement time is missing a zone or is stale")

    # -- by number ------------------------------------------------------------------------

    def confirm_number(
        self, request: NumberConfirmationRequest, facility: str
    ) -> tuple[dict[str, Any], str | None]:
        now = self.clock.now()
        today = now.date()
        matches = self._numbered(request, facility)
        header = self._header(now, facility, "2", request.arbitrary_file_identifier)
        persons = {r["person_id"] for r in matches}
        persona = matches[0]["persona"] if len(persons) == 1 else None
        consents = Consents(limit=request.limit_consent)
        notices: list[str] = []
        body: dict[str, Any] | None = None
        if len(persons) == 1 and len(matches) == 1 and not self._valid(matches[0], today):
            # lost: is there a newer qualification of the same person?
            others = self._visible_rows("q.person_id = ?", (matches[0]["person_id"],), today)
            if any(self._valid(r, today) for r in others):
                body = self._body(
                    QualificationValidity.INVALID_NEWER_EXISTS,
                    matches,
                    today,
                    facility,
                    consents,
                    notices,
                    None,
                )
        if body is None:
            body = self._qualification_body(matches, today, facility, consents, notices, None)
        body["QualificationConfirmSearchInfo"] = self._search_info(request)
        return _message(header, body, notices), persona

    @staticmethod
    def _search_info(request: NumberConfirmationRequest) -> dict[str, Any]:
        return {
            "InsurerNumber": InsurerNumber(request.insurer_number.strip()).padded,
            "InsuredCardSymbol": request.symbol or None,
            "InsuredIdentificationNumber": request.number,
            "InsuredBranchNumber": request.branch or None,
            "Birthdate": request.birth_date,
            "LimitApplicationCertificateRelatedConsFlg": "1" if request.limit_consent else "0",
        }

    # -- shared -----------------------------------------------------------------------------

    def _visible_rows(
        self, where: str, params: tuple[object, ...], today: dt.date
    ) -> list[sqlite3.Row]:
        """Qualifications as the service sees them today: registered ones only (time lag)."""
        return list(
            self._db().execute(
                "SELECT q.*, p.persona, p.name, p.name_kana, p.sex, p.birth_date, p.address, "  # noqa: S608 (where: a constant of this module)
                "p.name_of_other, p.name_of_other_kana, p.sex2, "
                "p.post_number, p.public_expense_note FROM qualifications q "
                f"JOIN persons p USING (person_id) WHERE {where} AND q.registered_on <= ? "
                "ORDER BY q.qualification_date",
                (*params, today.isoformat()),
            )
        )

    @staticmethod
    def _valid(row: sqlite3.Row, today: dt.date) -> bool:
        lost = _date(row["disqualification_date"])
        return dt.date.fromisoformat(row["qualification_date"]) <= today and (
            lost is None or lost > today
        )

    def _qualification_body(
        self,
        rows: list[sqlite3.Row],
        today: dt.date,
        facility: str,
        consents: Consents,
        notices: list[str],
        message: str | None,
        prescription: str | None = None,
    ) -> dict[str, Any]:
        valid = [r for r in rows if self._valid(r, today)]
        if len({r["person_id"] for r in rows}) > 1 or len(valid) > 1:
            return self._body(
                QualificationValidity.MULTIPLE,
                valid or rows,
                today,
                facility,
                consents,
                notices,
                message,
            )
        if len(valid) == 1:
            return self._body(
                QualificationValidity.VALID,
                valid,
                today,
                facility,
                consents,
                notices,
                message,
                prescription,
            )
        if rows:
            return self._body(
                QualificationValidity.INVALID,
                rows[-1:],
                today,
                facility,
                consents,
                notices,
                message,
            )
        return self._body(
            QualificationValidity.NO_MATCH, [], today, facility, consents, notices, message
        )

    def _body(
        self,
        validity: QualificationValidity,
        rows: list[sqlite3.Row],
        today: dt.date,
        facility: str,
        consents: Consents,
        notices: list[str],
        message: str | None,
        prescription: str | None = None,
    ) -> dict[str, Any]:
        valid = validity is QualificationValidity.VALID
        entries = [
            self._entry(
                r,
                today,
                facility,
                # records are shared, and a prescription form chosen, for a valid one only
                consents if valid else Consents(limit=consents.limit),
                notices,
                prescription if valid else None,
            )
            for r in rows
        ]
        return {
            "ProcessingResultStatus": "1",
            "ProcessingResultCode": None,
            "ProcessingResultMessage": message,
            "QualificationValidity": validity.value,
            "ResultList": {"ResultOfQualificationConfirmation": entries},
        }

    def _entry(
        self,
        row: sqlite3.Row,
        today: dt.date,
        facility: str,
        consents: Consents,
        notices: list[str],
        prescription: str | None,
    ) -> dict[str, Any]:
        birth = dt.date.fromisoformat(row["birth_date"])
        insurer = InsurerNumber(row["insurer_number"])
        ratio = copayment_ratio(
            birth,
            today,
            active_income=bool(row["active_income"]),
            insurer_percent=row["ratio_percent"],
        )
        entry: dict[str, Any] = {
            "InsuredCardClassification": row["card_classification"],
            "InsurerNumber": insurer.padded,
            "InsuredCardSymbol": row["symbol"] or None,
            "InsuredIdentificationNumber": row["number"],
            "InsuredBranchNumber": row["branch"] or None,
            "PersonalFamilyClassification": row["personal_family"],
            "InsuredName": result_name(row["insured_name"] or row["name"]),
            "Name": result_name(row["name"]),
            "NameOfOther": result_name(row["name_of_other"]) if row["name_of_other"] else None,
            "NameKana": result_kana(row["name_kana"]),
            "NameOfOtherKana": (
                result_kana(row["name_of_other_kana"]) if row["name_of_other_kana"] else None
            ),
            "Sex1": row["sex"],
            "Sex2": row["sex2"],
            "Birthdate": _ymd(birth),
            "Address": row["address"],
            "PostNumber": result_post_number(row["post_number"]),
            "InsuredCertificateIssuanceDate": _ymd_text(row["issued_on"]),
            "InsuredCardValidDate": _ymd_text(row["valid_from"]),
            "InsuredCardExpirationDate": _ymd_text(row["expires_on"]),
            "QualificationDate": _ymd_text(row["qualification_date"]),
            # a 喪失日 is a past event: the registry's plan (the 75th birthday) is not one
            **_loss(row, today),
            # 後期高齢者医療 only; 70–74 in 高齢受給者 info, others by age at the clinic
            "InsuredPartialContributionRatio": ratio.code if insurer.law == "39" else None,
            "PreschoolClassification": "1" if ratio.bracket is AgeBracket.PRESCHOOL else None,
            "InsurerName": self._insurer_names.get(row["insurer_number"]),
        }
        medical_aid = row["card_classification"] == "A1"
        if medical_aid:  # 医療扶助: the 福祉事務所 pays; the 医療券 says what the patient does
            entry["PreschoolClassification"] = None
            entry["PublicExpenseResultList"] = self._medical_tickets(row, today, facility, notices)
        elif ratio.bracket is AgeBracket.PRESCHOOL:
            notices.append("preschool-ratio")
        if (
            ratio.bracket is AgeBracket.ELDERLY_RECIPIENT
            and insurer.law != "39"
            and not medical_aid
        ):
            notices.append("elderly-recipient")
            entry["ElderlyRecipientCertificateInfo"] = _elderly_info(row, birth, ratio.code)
        subsidies = self._subsidies(row, today) if consents.subsidies else []
        if subsidies:  # 公費 by card (the pilot): the 受給者証's information comes along
            entry["MedicalSubsidyList"] = {"MedicalSubsidyInfo": subsidies}
            notices.append("public-expense-card")
        elif row["public_expense_note"]:
            notices.append("public-expense-paper")
        stamp = _stamp(self.clock.now())
        limit_flag = "1" if consents.limit else "0"
        entry["LimitApplicationCertificateRelatedConsFlg"] = limit_flag
        entry["SpecificDiseasesCertificateRelatedConsFlg"] = limit_flag
        if consents.limit:
            entry["LimitApplicationCertificateRelatedConsTime"] = stamp
            entry["SpecificDiseasesCertificateRelatedConsTime"] = stamp
            entry.update(_limit_and_disease_info(row, notices))
        until = time.time() + CONSENT_SECONDS
        if consents.medication or consents.checkup or consents.operation:
            # the consent itself is the key to the shared records (24 h, this facility)
            until = self.state.record_consents(row["person_id"], facility, consents)
        available = _stamp(dt.datetime.fromtimestamp(until, JST))
        for prefix, flag in (
            ("SpecificHealthCheckupsInfo", consents.checkup),
            ("PharmacistsInfo", consents.medication),
            ("DiagnosisInfo", consents.medication),
            ("OperationInfo", consents.operation),
        ):
            entry[f"{prefix}ConsFlg"] = "1" if flag else "0"
            if flag:
                entry[f"{prefix}ConsTime"] = stamp
                entry[f"{prefix}AvailableTime"] = available
        # 照会番号: the clinic's own patient id, where it registered one for this person
        entry["ReferenceNumber"] = self.state.reference_number(row["person_id"], facility)
        entry["PrescriptionIssueSelect"] = prescription
        return {k: v for k, v in entry.items() if v is not None}

    def _subsidies(self, row: sqlite3.Row, today: dt.date) -> list[dict[str, Any]]:
        """The person's 医療費助成 受給者証 valid today, as registered for use by card."""
        day = today.isoformat()
        rows = self._db().execute(
            "SELECT * FROM medical_subsidies WHERE person_id = ? AND valid_from <= ? "
            "AND valid_until >= ? ORDER BY insurer_number",
            (row["person_id"], day, day),
        )
        found = []
        for s in rows:
            info = {
                "MedicalSubsidyInsurerNumber": s["insurer_number"],
                "MedicalSubsidyRecipientNumber": s["recipient_number"],
                "CertificationName": s["certificate_name"],
                "MedicalSubsidyValidStartDate": _ymd_text(s["valid_from"]),
                "MedicalSubsidyValidEndDate": _ymd_text(s["valid_until"]),
            }
            if s["copayment_cap"] is not None:
                info["MaxCopaymentAmount"] = str(s["copayment_cap"])
            info["IsAlwaysReimbursement"] = s["always_reimbursed"]
            found.append(info)
        return found

    def _medical_tickets(
        self, row: sqlite3.Row, today: dt.date, facility: str, notices: list[str]
    ) -> dict[str, Any]:
        """医療扶助資格確認結果リスト: this month's 医療券 / 調剤券 entrusting this
        institution, whole; if none does, one entry that says so (指定医療機関確認フラグ
        0: 未委託・未登録 — only the entrusted institution sees a ticket's details)."""
        notices.append("medical-aid")
        month = today.strftime("%Y-%m")
        tickets = (
            self._db()
            .execute(
                "SELECT * FROM medical_tickets WHERE person_id = ? AND treatment_month = ? "
                "ORDER BY ticket_type",
                (row["person_id"], month),
            )
            .fetchall()
        )
        mine = [t for t in tickets if t["institution_code"] == facility]
        if not mine:
            notices.append("medical-aid-not-designated")
            flag = {"TicketType": "1", "MedicalTreatmentMonth": month.replace("-", "")}
            return {"MedicalTicketInfo": [flag | {"DesignatedMedicalInstitutionFlag": "0"}]}
        return {
            "MedicalTicketInfo": [
                {
                    "TicketType": t["ticket_type"],
                    "MedicalTicketValidDate": _ymd_text(t["valid_from"]),
                    "MedicalTicketExpirationDate": _ymd_text(t["valid_until"]),
                    "IssueNumber": t["issue_number"],
                    "MedicalTreatmentMonth": t["treatment_month"].replace("-", ""),
                    "DesignatedMedicalInstitutionCode": t["institution_code"],
                    "DesignatedMedicalInstitutionFlag": "1",
                    "DesignatedMedicalInstitutionName": t["institution_name"],
                    "InjuryName1": t["injury"],
                    "MedicalTreatmentType": t["treatment_type"],
                    "SelfPayAmount": str(t["self_pay"]),
                    "DistrictContactName": t["district_contact"],
                    "HandlingContactName": t["handling_contact"],
                    "SingleOrCombinedUse": t["single_or_combined"],
                }
                for t in mine
            ]
        }

    def _header(
        self, now: dt.datetime, facility: str, classification: str, file_id: str | None
    ) -> dict[str, Any]:
        return {
            "ProcessExecutionTime": _stamp(now),
            "QualificationConfirmationDate": _ymd(now),
            "MedicalInstitutionCode": facility,
            "ArbitraryFileIdentifier": file_id,
            "ReferenceClassification": classification,
            "SegmentOfResult": "1",
            "ErrorCode": None,
            "ErrorMessage": None,
            "CharacterCodeIdentifier": "0",
        }

    # -- shared records -----------------------------------------------------------------------

    # -- 一括照会 -----------------------------------------------------------------------------

    def start_bulk(self, queries: list[NumberConfirmationRequest], facility: str) -> str:
        """一括照会: the ``ReceptionNumber`` at once; the queries run in a thread of their
        own, their answers stored as they come (in batches), fetched by that number.
        Within the facility's limits: entries per job and per day (MOCK-E018), jobs
        running and kept (MOCK-E019)."""
        cap = self.limits.bulk_entries
        if len(queries) > cap:
            raise Refusal(
                "MOCK-E018",
                429,
                f"a 一括照会 of {len(queries)} entries: at most {cap} per job for this facility",
            )
        self._check_bulk_birth_dates(queries)
        number = self.state.start_bulk(
            facility, len(queries), self.limits, self._windows(bulk=True)
        )

        def run() -> None:
            try:
                for first in range(0, len(queries), BULK_BATCH):
                    batch = queries[first : first + BULK_BATCH]
                    answers = [self._bulk_answer(query, facility) for query in batch]
                    self.state.add_bulk_results(number, first, answers)
            except Exception:
                log.exception("一括照会 %s failed; it is dropped", number)
                self.state.finish_bulk(number, failed=True)
                return
            self.state.finish_bulk(number)

        threading.Thread(target=run, name=f"bulk-{number}", daemon=True).start()
        return number

    def _bulk_answer(self, query: NumberConfirmationRequest, facility: str) -> dict[str, Any]:
        try:
            message, _ = self.confirm_number(query, facility)
        except Refusal as exc:  # one bad entry does not stop the others
            if exc.status == 429:  # an entry over a limit: audited as a lookup's would be
                self.record_refusal(facility, exc.code, exc.message)
            message = _refused(
                self._header(self.clock.now(), facility, "2", query.arbitrary_file_identifier),
                exc.code,
                exc.message,
            )
            message["MessageBody"]["QualificationConfirmSearchInfo"] = self._search_info(query)
        return message

    def bulk(self, number: str, facility: str) -> dict[str, Any]:
        found = self.state.bulk(number, facility)
        if found is None:
            raise Refusal("MOCK-E014", 404, "no 一括照会 with this ReceptionNumber here")
        total, answers = found
        done = len(answers) >= total
        return {
            "ReceptionNumber": number,
            "SegmentOfResult": "1" if done else "2",
            "total": total,
            "done": len(answers),
            "results": answers if done else [],
        }

    def _numbered(self, request: PatientNumbers, facility: str) -> list[sqlite3.Row]:
        """The visible qualifications with these numbers and birth date (by-number queries,
        照会番号, records) — for a facility that has not tried too many birth dates with
        these numbers (MOCK-E020)."""
        self.check_birth_date(request, facility)
        try:
            insurer = InsurerNumber.parse(request.insurer_number)
            birth = dt.datetime.strptime(request.birth_date, "%Y%m%d").date()
        except (RuleInputError, ValueError) as exc:
            raise Refusal("MOCK-E006", 422, str(exc)) from None
        where = "q.insurer_number = ? AND q.symbol = ? AND q.number = ? AND p.birth_date = ?"
        params: list[object] = [
            insurer.digits,
            request.symbol.strip(),
            request.number.strip(),
            birth.isoformat(),
        ]
        if request.branch:
            where += " AND q.branch = ?"
            params.append(request.branch)
        return self._visible_rows(where, tuple(params), self.clock.today())

    def _person(self, request: PatientNumbers, facility: str) -> tuple[str, str | None]:
        """The one person whose qualification has these numbers (any validity)."""
        persons = {(r["person_id"], r["persona"]) for r in self._numbered(request, facility)}
        if len(persons) != 1:
            raise Refusal("MOCK-E007", 404, "no one person has a qualification with these numbers")
        return persons.pop()

    def register_reference_number(
        self, request: ReferenceRegistration, facility: str
    ) -> tuple[dict[str, str], str | None]:
        """照会番号 (the clinic's patient id) against the person of these numbers; later
        results of that person at this facility carry it as ``ReferenceNumber``."""
        person_id, persona = self._person(request, facility)
        self.state.register_reference_number(person_id, facility, request.reference_number)
        return {"ReferenceNumber": request.reference_number}, persona

    def records(
        self, request: PatientNumbers, facility: str, kind: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The shared records of the person of these numbers (newest first, within the
        window the service shows), if they consented at this facility in the last 24 h
        — the consent is the key, not a number. MOCK-E008 without consent, MOCK-E016
        once it has expired."""
        person_id, persona = self._person(request, facility)
        record = RECORDS[kind]
        state = self.state.consent_state(person_id, facility, record.consent)
        if state != "valid":
            code, why = (
                ("MOCK-E016", "the patient's consent has expired (24 h): ask again at the reader")
                if state == "expired"
                else ("MOCK-E008", "the patient has not consented to share these records")
            )
            raise Refusal(code, 403, f"{kind}: {why}")
        since = self.clock.now().date() - dt.timedelta(days=365 * record.years)
        rows = self._db().execute(
            f"SELECT * FROM {record.table} WHERE person_id = ? AND {record.date} >= ? "  # noqa: S608 (constants of this module)
            f"ORDER BY {record.date} DESC",
            (person_id, since.isoformat()),
        )
        return [{k: v for k, v in dict(r).items() if k != "person_id"} for r in rows], persona
