"""The service's own state: nonces, consents, 一括照会 jobs, registration offers, 照会番号,
the lookup budgets and the refusal audit — one SQLite file shared by every worker process
(``service-state.sqlite`` in the world; the registry is the world's, :mod:`mock_oqs.registry`).
"""

from __future__ import annotations

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

from mock_oqs.limits import DAY, REFUSALS_KEEP_DAYS, ServiceLimits
from mock_oqs.models import Consents
from mock_oqs.refusal import Refusal, lookup_refusal

log = logging.getLogger(__name__)
CONSENT_SECONDS = 24 * 3600
CONSENT_ITEMS = ("medication", "checkup", "operation", "limit")
REGISTRATION_OFFER_SECONDS = 300.0
MMAP_BYTES = 256 * 1024 * 1024  # address space, not memory: pages are the OS's cache
# the serving run: the worker processes of one `mock-oqs serve` share it (the parent sets
# it in their environment); a 一括照会 left unfinished by another run has no thread any more
ENV_RUN = "MOCK_OQS_RUN"
RUN_ID = os.environ.get(ENV_RUN) or secrets.token_hex(8)

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
-- bulk_keep_hours; an unfinished job whose run is over is resumed from its spec
-- kind: what the job is (confirm: 一括照会 by number; others: the bulk kinds of the
-- folder interface, oqs.md §7), fetched only as that kind; spec: what was asked (JSON)
CREATE TABLE IF NOT EXISTS bulk_jobs (
    reception_number TEXT PRIMARY KEY, facility TEXT NOT NULL, total INTEGER NOT NULL,
    created_at REAL NOT NULL, run TEXT NOT NULL, pid INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL DEFAULT 'confirm',
    spec TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS bulk_results (
    reception_number TEXT NOT NULL, position INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (reception_number, position));
-- 保険証利用登録 offered at a reader: the holder was proven (PIN or face), the card is
-- not registered; the terminal may register it within minutes with the token
CREATE TABLE IF NOT EXISTS registration_offers (
    token TEXT PRIMARY KEY, facility TEXT NOT NULL, fingerprint TEXT NOT NULL,
    request TEXT NOT NULL, expires_at REAL NOT NULL);
-- the consents a confirmation in two steps still awaits: the holder was proven and the
-- card can be confirmed (its nonce spent); the terminal sends the patient's consents
-- within minutes with the token (POST /v1/confirmations/card/consents)
CREATE TABLE IF NOT EXISTS consent_offers (
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
STATE_VERSION = 3  # 2: bulk_jobs with run, pid and done; 3: with kind and spec (older
# jobs are dropped)


@dataclass(frozen=True)
class OrphanedJob:
    """An unfinished 一括照会 job taken over from a run or worker that is gone: its kind,
    what was asked (``spec``) and how many answers are stored (``stored``)."""

    number: str
    facility: str
    total: int
    kind: str
    spec: dict[str, Any]
    stored: int


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
            # at start-up: 一括照会 jobs past their time (one of a run that is over is
            # resumed by the service: Lookups.resume_bulk), and
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

    @contextmanager
    def confirmation(self, nonce: str | None, facility: str) -> Iterator[None]:
        """A confirmation's writes in one transaction, with the nonce spent first.

        Inside the block the answer is made and its writes (consents, a registration
        offer) are held; then one write transaction spends the nonce and makes them — the
        write lock is held for that alone, never while a signature is checked or an answer
        built. The nonce goes whatever follows (single use) and its refusal comes first:
        a refusal from the block is raised after the nonce is spent, unless the nonce
        itself is refused; a refused nonce drops the held writes. Without held writes the
        nonce's delete is the transaction."""
        pending: list[tuple[str, list[tuple[object, ...]]]] = []
        self._local.pending = pending
        try:
            yield
        except Refusal:
            self._local.pending = None
            if nonce is not None:
                self.consume_nonce(nonce, facility)
            raise
        finally:
            self._local.pending = None
        if not pending:
            if nonce is not None:
                self.consume_nonce(nonce, facility)
            return
        refused = self._commit(nonce, facility, pending)
        if refused is not None:
            raise refused

    def _commit(
        self, nonce: str | None, facility: str, pending: list[tuple[str, list[tuple[object, ...]]]]
    ) -> Refusal | None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                if nonce is not None:
                    self.consume_nonce(nonce, facility)
            except Refusal as refused:
                conn.execute("COMMIT")  # an expired nonce's row is gone all the same
                return refused
            for sql, rows in pending:
                conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return None

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Now, or with the confirmation under way (:meth:`confirmation`)."""
        pending: list[tuple[str, list[tuple[object, ...]]]] | None = getattr(
            self._local, "pending", None
        )
        if pending is None:
            self._conn().executemany(sql, rows)
        else:
            pending.append((sql, rows))

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
        return self._offer("registration_offers", facility, fingerprint, request)

    def take_registration_offer(self, token: str, facility: str) -> tuple[str, str]:
        """The offer's certificate fingerprint and original request (single use)."""
        return self._take("registration_offers", token, facility, "保険証利用登録")

    def offer_consents(self, facility: str, fingerprint: str, request: str) -> str:
        """A confirmation in two steps awaits the patient's consents (single use, minutes)."""
        return self._offer("consent_offers", facility, fingerprint, request)

    def take_consent_offer(self, token: str, facility: str) -> tuple[str, str]:
        """The first step's certificate fingerprint and request (single use)."""
        return self._take("consent_offers", token, facility, "consent")

    def _offer(self, table: str, facility: str, fingerprint: str, request: str) -> str:
        token = secrets.token_hex(16)
        # table: registration_offers or consent_offers, never input
        self._write(f"DELETE FROM {table} WHERE expires_at < ?", [(time.time(),)])  # noqa: S608
        self._write(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [(token, facility, fingerprint, request, time.time() + REGISTRATION_OFFER_SECONDS)],
        )
        return token

    def _take(self, table: str, token: str, facility: str, what: str) -> tuple[str, str]:
        row = (
            self._conn()
            .execute(
                # another facility's attempt neither sees nor spends the offer
                f"DELETE FROM {table} WHERE token = ? AND facility = ? "  # noqa: S608
                "RETURNING facility, fingerprint, request, expires_at",
                (token, facility),
            )
            .fetchone()
        )
        if row is None or row[3] < time.time():
            raise Refusal(
                "MOCK-E015",
                409,
                f"no such {what} offer for this facility (unknown, used or expired): "
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
        records: list[tuple[object, ...]] = [
            (person_id, facility, item, now, until)
            for item in CONSENT_ITEMS
            if getattr(consents, item)
        ]
        self._write("INSERT OR REPLACE INTO consent_records VALUES (?, ?, ?, ?, ?)", records)
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
        *,
        kind: str = "confirm",
        spec: dict[str, Any] | None = None,
    ) -> str:
        """A new job of ``kind`` for the facility, within its caps (MOCK-E019) and with
        its entries charged to its lookup budget (MOCK-E018) — checked, charged and made
        in one transaction; ``spec``: what was asked (kept with the job)."""
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
                "INSERT INTO bulk_jobs VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    number,
                    facility,
                    total,
                    time.time(),
                    RUN_ID,
                    os.getpid(),
                    kind,
                    json.dumps(spec or {}, ensure_ascii=False),
                ),
            )
        return number

    def add_bulk_results(self, number: str, first: int, messages: list[dict[str, Any]]) -> None:
        """A batch of answers from position ``first``, whole or not at all (a job resumed
        after a kill goes on from the answers stored)."""
        rows = [
            (number, first + i, json.dumps(m, ensure_ascii=False)) for i, m in enumerate(messages)
        ]
        with self._transaction(self._conn()) as conn:
            # a job resumed while its first thread still lived (another run's, sharing the
            # state file) makes the same answers: the first kept
            conn.executemany("INSERT OR IGNORE INTO bulk_results VALUES (?, ?, ?)", rows)

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
        """Jobs past their keeping time, with their answers. An unfinished job of a run or
        worker that is gone is kept: it is resumed (:meth:`claim_orphaned_bulk`)."""
        before = time.time() - self.bulk_keep_seconds
        gone = [
            (number,)
            for (number,) in conn.execute(
                "SELECT reception_number FROM bulk_jobs WHERE created_at < ?", (before,)
            )
        ]
        if gone:
            conn.executemany("DELETE FROM bulk_results WHERE reception_number = ?", gone)
            conn.executemany("DELETE FROM bulk_jobs WHERE reception_number = ?", gone)
            log.info("一括照会: %d job(s) purged", len(gone))

    def claim_orphaned_bulk(self, number: str | None = None) -> list[OrphanedJob]:
        """Unfinished jobs whose run or worker is gone (a ``kill -9``, a restart) — or
        only ``number`` — taken over by this worker (one transaction: of several workers
        starting at once, one takes each), with what was asked and how many answers are
        stored: the caller resumes them from there."""
        taken: list[OrphanedJob] = []
        with self._transaction(self._conn()) as conn:
            rows = conn.execute(
                "SELECT reception_number, facility, total, run, pid, kind, spec FROM bulk_jobs "
                "WHERE done = 0 AND (?1 IS NULL OR reception_number = ?1)",
                (number,),
            ).fetchall()
            for found, facility, total, run, pid, kind, spec in rows:
                if _alive(run, pid):
                    continue
                (stored,) = conn.execute(
                    "SELECT count(*) FROM bulk_results WHERE reception_number = ?", (found,)
                ).fetchone()
                conn.execute(
                    "UPDATE bulk_jobs SET run = ?, pid = ? WHERE reception_number = ?",
                    (RUN_ID, os.getpid(), found),
                )
                taken.append(
                    OrphanedJob(found, facility, int(total), kind, json.loads(spec), int(stored))
                )
        return taken

    def bulk(
        self, number: str, facility: str, kinds: Sequence[str] = ("confirm",)
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """The job's size and the answers made so far (None: no such job here, or not
        of one of ``kinds``)."""
        conn = self._conn()
        job = conn.execute(
            "SELECT total, kind FROM bulk_jobs WHERE reception_number = ? AND facility = ?",
            (number, facility),
        ).fetchone()
        if job is None or job[1] not in kinds:
            return None
        rows = conn.execute(
            "SELECT message FROM bulk_results WHERE reception_number = ? ORDER BY position",
            (number,),
        )
        return int(job[0]), [json.loads(r[0]) for r in rows]

    def bulk_asked(self, number: str, key: str) -> Any:
        """One value of what job ``number`` asked (its ``spec``'s ``key``; None if none),
        read in SQLite: a spec may hold the 10,000 entries of an upload."""
        sql = "SELECT json_extract(spec, ?) FROM bulk_jobs WHERE reception_number = ?"
        row = self._conn().execute(sql, (f"$.{key}", number)).fetchone()
        return row[0] if row is not None else None

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
