"""The reception store: one SQLite file in WAL mode (design.md §4, §6.7, §7).

It keeps the minimum: receptions and their outcome, the qualification fields reception
needs, the fallback rungs staff recorded, declarations and their re-verification queue,
and an audit trail of staff actions. Never a PIN, never a 個人番号, and the card's
certificate only as its SHA-256 fingerprint.

Every write is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``): when a method
returns, what it wrote is in the WAL and survives ``kill -9`` of the process at any
moment (design.md §7). ``synchronous=NORMAL``: the WAL is synced at checkpoints, not at
every commit, so a power cut — unlike a crash of the program — may lose the last
moments; a check-in stays well under a millisecond of storage.

The file on disk (made private, checked, refused with a reason) is
reception/store_file.py; the layout and its numbered migrations reception/store_schema.py.
What the store keeps of a reception is typed at this API (:class:`ReceptionMethod`,
:class:`Variant`, :class:`Route`, :class:`ReceptionStatus`) and turned into text only in
the SQL.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reader.clock import JST as JST
from reader.clock import now_jst as now_jst
from reception import store_file
from reception.declaration import STORED, LadderStep, SelfDeclaration
from reception.errors import InputError, NotFound
from reception.reasons import FallbackReason
from reception.results import FACE_FILE, QualificationResult, face_file_token
from reception.store_file import DAMAGED, NOT_OURS, check_database, check_file, remove_empty
from reception.store_file import StoreUnusable as StoreUnusable
from reception.store_file import private_directory as private_directory
from reception.store_file import process_identity as process_identity
from reception.store_file import store_problem as store_problem
from reception.store_schema import migrate
from reception.vocabulary import Method, ReceptionMethod, Route, Variant
from reception.vocabulary import ReceptionStatus as ReceptionStatus

E = TypeVar("E", bound=enum.StrEnum)


class DeclarationState(enum.StrEnum):
    """A 申立書's re-verification: pending, then confirmed / differing, or unknown (no
    numbers, or not found yet: stays queued)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DIFFERING = "differing"
    UNKNOWN = "unknown"


class ReceptionSettled(InputError):
    """A rung that would settle a reception already settled, or still being read."""

    title = "記録できません"


INTERRUPTED_REASON = "中断: 受付の途中で端末のプログラムが終了しました（もう一度受付してください）"


def new_id(prefix: str) -> str:
    return f"{prefix}{now_jst():%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


@dataclass(frozen=True)
class Reception:
    reception_id: str
    started_at: str
    day: str
    method: ReceptionMethod | None
    variant: Variant | None
    status: ReceptionStatus
    reason: str | None
    apdu_count: int | None
    fallback_reason: FallbackReason | None
    timings: dict[str, float]
    route: Route = Route.READER  # COUNTER: confirmed at the staff-held reader (居宅同意取得型)


@dataclass(frozen=True)
class Declaration:
    declaration_id: str
    reception_id: str | None
    created_at: str
    declaration: SelfDeclaration
    pdf: str | None
    state: DeclarationState
    checked_at: str | None
    difference: dict[str, list[str | None]]


class Store:
    """The terminal's durable record. One connection per thread."""

    def __init__(self, path: Path) -> None:
        """Open the store at ``path``, made (0600, in a 0700 directory made for it) when
        there is none. A file that cannot be used as it is — not a database, damaged,
        another program's, not writable — raises :class:`StoreUnusable` and is left exactly
        as it was: its bytes, its -wal, its mode."""
        self.path = path
        self._local = threading.local()
        beside = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        made = [p for p in beside if not os.path.lexists(p)]
        try:
            self._open()
        except (StoreUnusable, sqlite3.Error, OSError) as exc:
            self.close()
            unusable = exc if isinstance(exc, StoreUnusable) else store_problem(path, exc)
            if unusable.problem in (DAMAGED, NOT_OURS):
                remove_empty(made)  # what SQLite made beside a file it could not read
            if unusable is exc:
                raise
            raise unusable from exc
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        path = self.path
        private_directory(path.parent)
        # the file (and so its -wal and -shm, which SQLite creates alike) readable by the
        # terminal's user alone: it holds names, birth dates and insurance numbers
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
        try:
            check_file(path, fd)
            conn = self._conn()
            check_database(path, conn)  # reads only: nothing is written to a refused file
            info = os.fstat(fd)
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        self.interrupted = self._mark_interrupted()
        """Receptions found in progress under a dead process when this store opened."""

    def _mark_interrupted(self) -> list[str]:
        """Every reception left ``in-progress`` by a process that is gone (kill -9, a
        crash, a power cut) becomes ``interrupted``, with an audit entry."""
        rows = (
            self._conn()
            .execute("SELECT reception_id, owner FROM receptions WHERE status = 'in-progress'")
            .fetchall()
        )
        dead = [r["reception_id"] for r in rows if not store_file.alive_owner(r["owner"])]
        if not dead:
            return []
        at = now_jst().isoformat()
        with self._write() as conn:
            for reception_id in dead:
                changed = conn.execute(
                    "UPDATE receptions SET status = 'interrupted', reason = ?, finished_at = ? "
                    "WHERE reception_id = ? AND status = 'in-progress'",
                    (INTERRUPTED_REASON, at, reception_id),
                ).rowcount
                if changed:
                    self._audit(
                        conn, "terminal", "reception-interrupted", reception_id, INTERRUPTED_REASON
                    )
        return dead

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            # journal_mode=WAL is kept in the file: set once, when the store opens
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- receptions -------------------------------------------------------------------

    def begin_reception(self, *, actor: str = "terminal") -> str:
        reception_id = new_id("R")
        at = now_jst()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO receptions (reception_id, started_at, day, status, owner) "
                "VALUES (?, ?, ?, 'in-progress', ?)",
                (reception_id, at.isoformat(), at.date().isoformat(), process_identity()),
            )
            self._audit(conn, actor, "reception-started", reception_id, "")
        return reception_id

    def finish_reception(
        self,
        reception_id: str,
        *,
        status: ReceptionStatus | str,
        reason: str | None = None,
        fallback_reason: FallbackReason | None = None,
        method: Method | ReceptionMethod | None = None,
        variant: Variant | None = None,
        certificate_sha256: str | None = None,
        result: QualificationResult | None = None,
        apdu_count: int | None = None,
        timings: dict[str, float] | None = None,
        actor: str = "terminal",
        route: Route | None = None,
    ) -> None:
        """How the reception ended. ``method``, ``variant``, ``route``, the certificate,
        the APDU count and the timings are kept as they were when not given; the reader
        route is the default (kept as no route)."""
        try:
            status = ReceptionStatus(status)
        except ValueError:
            raise ValueError(f"unknown reception status {status!r}") from None
        if status is ReceptionStatus.IN_PROGRESS:
            raise ValueError("a reception is finished with how it ended, not in-progress")
        at = now_jst().isoformat()
        with self._write() as conn:
            updated = conn.execute(
                "UPDATE receptions SET status = ?, reason = ?, fallback_reason = ?, "
                "method = coalesce(?, method), variant = coalesce(?, variant), "
                "certificate_sha256 = coalesce(?, certificate_sha256), finished_at = ?, "
                "apdu_count = coalesce(?, apdu_count), timings = coalesce(?, timings), "
                "route = coalesce(?, route) WHERE reception_id = ?",
                (
                    status,
                    reason,
                    fallback_reason.value if fallback_reason else None,
                    None if method is None else ReceptionMethod(method).value,
                    None if variant is None else Variant(variant).value,
                    certificate_sha256,
                    at,
                    apdu_count,
                    None if timings is None else json.dumps(timings),
                    "counter" if route is Route.COUNTER else None,
                    reception_id,
                ),
            ).rowcount
            if updated != 1:
                raise NotFound(f"no reception {reception_id}")
            if result is not None:
                self._add_result(conn, reception_id, result, at)
            self._audit(conn, actor, f"reception-{status}", reception_id, reason or "")

    def add_result(self, reception_id: str, result: QualificationResult) -> None:
        with self._write() as conn:
            self._add_result(conn, reception_id, result, now_jst().isoformat())
            # audited like every write to a reception: lists catch up through the trail
            self._audit(conn, "terminal", "result-added", reception_id, "")

    @staticmethod
    def _add_result(
        conn: sqlite3.Connection, reception_id: str, result: QualificationResult, at: str
    ) -> None:
        conn.execute(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?)",
            (
                reception_id,
                at,
                int(result.confirmed),
                result.message_body.qualification_validity,
                result.model_dump_json(by_alias=True),
            ),
        )

    def reception(self, reception_id: str) -> Reception:
        row = (
            self._conn()
            .execute("SELECT * FROM receptions WHERE reception_id = ?", (reception_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no reception {reception_id}")
        return _reception(row)

    def receptions_on(self, day: dt.date) -> list[Reception]:
        rows = self._conn().execute(
            "SELECT * FROM receptions WHERE day = ? ORDER BY started_at", (day.isoformat(),)
        )
        return [_reception(r) for r in rows]

    def change_mark(self) -> int:
        """Where the store's history stands: its audit trail's last entry. Every write to a
        reception audits it in the same transaction, so :meth:`receptions_changed` between
        two marks names every reception written in between, by this program or another."""
        row = self._conn().execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()
        return int(row[0])

    def receptions_changed(self, after: int, upto: int, *, limit: int) -> list[str] | None:
        """The receptions written after mark ``after`` up to mark ``upto`` (of
        :meth:`change_mark`), in no particular order — or None when more than ``limit``
        were (then reading the day anew costs less than reading each)."""
        rows = (
            self._conn()
            .execute(
                "SELECT DISTINCT reception_id FROM audit "
                "WHERE seq > ? AND seq <= ? AND reception_id IS NOT NULL LIMIT ?",
                (after, upto, limit + 1),
            )
            .fetchall()
        )
        if len(rows) > limit:
            return None
        return [r["reception_id"] for r in rows]

    def results_of(self, reception_id: str) -> list[QualificationResult]:
        rows = self._conn().execute(
            "SELECT message FROM results WHERE reception_id = ? ORDER BY received_at",
            (reception_id,),
        )
        return [QualificationResult.parse(json.loads(r["message"])) for r in rows]

    def reception_of_file(self, name: str) -> str | None:
        """The reception a face/ result file belongs to, from its name alone (``face/…``
        or a bare name): the file's time narrows the results, its token names one
        (:func:`reception.results.face_file_token`). None: no reception of this store."""
        match = FACE_FILE.fullmatch(Path(name).name)
        if match is None:
            return None
        code, token, stamp = match.groups()
        rows = self._conn().execute(
            "SELECT DISTINCT reception_id FROM results "
            "WHERE json_extract(message, '$.MessageHeader.ProcessExecutionTime') = ? "
            "AND json_extract(message, '$.MessageHeader.MedicalInstitutionCode') = ?",
            (stamp, code),
        )
        for row in rows:
            if face_file_token(row["reception_id"], stamp) == token:
                return str(row["reception_id"])
        return None

    def record_step(
        self,
        reception_id: str,
        step: LadderStep,
        detail: str,
        *,
        actor: str = "staff",
        settles: ReceptionStatus | None = None,
        result: QualificationResult | None = None,
        reason: str | None = None,
        fallback_reason: FallbackReason | None = None,
    ) -> None:
        """Record a rung; one that ``settles`` the reception gives it that status (and
        ``result``, ``reason``, ``fallback_reason`` when given) in the same transaction."""
        at = now_jst().isoformat()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO ladder_steps VALUES (?, ?, ?, ?)",
                (reception_id, at, step.value, detail),
            )
            self._audit(conn, actor, "ladder-step", reception_id, f"{step.value}: {detail}")
            if result is not None:
                self._add_result(conn, reception_id, result, at)
            if settles is not None:
                self._settle(conn, reception_id, settles, actor, reason, fallback_reason)

    def _settle(
        self,
        conn: sqlite3.Connection,
        reception_id: str,
        status: ReceptionStatus,
        actor: str,
        reason: str | None = None,
        fallback_reason: FallbackReason | None = None,
    ) -> None:
        """A finished reception the card route did not settle takes ``status`` (a settling
        one), audited; the reason it had is kept unless another is given. Checked and
        written under the write lock: two terminals cannot both settle one reception."""
        if not status.settled:
            raise ValueError(f"{status} does not settle a reception")
        row = conn.execute(
            "SELECT status FROM receptions WHERE reception_id = ?", (reception_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no reception {reception_id}")
        now = _known(ReceptionStatus, row["status"])
        if now is None or now.settled or now is ReceptionStatus.IN_PROGRESS:
            raise ReceptionSettled(f"受付 {reception_id} は {row['status']} です: 記録していません")
        conn.execute(
            "UPDATE receptions SET status = ?, reason = coalesce(?, reason), "
            "fallback_reason = coalesce(?, fallback_reason) WHERE reception_id = ?",
            (status, reason, fallback_reason and fallback_reason.value, reception_id),
        )
        self._audit(conn, actor, f"reception-{status}", reception_id, reason or "")

    def steps_of(self, reception_id: str) -> list[tuple[str, str]]:
        rows = self._conn().execute(
            "SELECT step, detail FROM ladder_steps WHERE reception_id = ? ORDER BY at",
            (reception_id,),
        )
        return [(r["step"], r["detail"]) for r in rows]

    def steps_since(self, at: str) -> list[tuple[str, str]]:
        """(reception, rung) of every rung and 申立書 recorded since ``at`` (ISO, JST)."""
        rows = self._conn().execute(
            "SELECT reception_id, step, at FROM ladder_steps WHERE at >= ?1 UNION ALL "
            "SELECT reception_id, ?2, created_at FROM declarations WHERE created_at >= ?1 "
            "ORDER BY 3",
            (at, LadderStep.DECLARATION.value),
        )
        return [(r[0], r[1]) for r in rows]

    # -- declarations and the queue -------------------------------------------------------

    def add_declaration(
        self,
        declaration: SelfDeclaration,
        *,
        reception_id: str | None = None,
        pdf: Path | None = None,
        actor: str = "staff",
        declaration_id: str | None = None,
        settles: bool = False,
    ) -> str:
        """Store the declaration (with its printed form, when there is one) and queue it
        for re-verification, in one transaction — which ``settles`` its reception as
        ``declared`` (申立書受付) when asked."""
        declaration_id = declaration_id or new_id("D")
        at = now_jst().isoformat()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO declarations VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL)",
                (
                    declaration_id,
                    reception_id,
                    at,
                    declaration.model_dump_json(),
                    str(pdf) if pdf else None,
                ),
            )
            conn.execute(
                "INSERT INTO reverify_queue (declaration_id, enqueued_at) VALUES (?, ?)",
                (declaration_id, at),
            )
            self._audit(conn, actor, "declaration", reception_id, declaration_id)
            if settles and reception_id is not None:
                self._settle(conn, reception_id, ReceptionStatus.DECLARED, actor)
        return declaration_id

    def declaration(self, declaration_id: str) -> Declaration:
        row = (
            self._conn()
            .execute("SELECT * FROM declarations WHERE declaration_id = ?", (declaration_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no declaration {declaration_id}")
        return _declaration(row)

    def pending(self) -> list[Declaration]:
        """Declarations waiting for re-verification, oldest first."""
        rows = self._conn().execute(
            "SELECT d.* FROM reverify_queue q JOIN declarations d USING (declaration_id) "
            "ORDER BY q.enqueued_at"
        )
        return [_declaration(r) for r in rows]

    def declarations(self) -> list[Declaration]:
        rows = self._conn().execute("SELECT * FROM declarations ORDER BY created_at")
        return [_declaration(r) for r in rows]

    def settle(
        self,
        declaration_id: str,
        state: DeclarationState | str,
        *,
        difference: dict[str, list[str | None]] | None = None,
        result: QualificationResult | None = None,
        actor: str = "reverify",
    ) -> None:
        """Record a re-verification: ``confirmed`` and ``differing`` leave the queue;
        ``unknown`` stays queued (tried again when the service answers differently)."""
        state = DeclarationState(state)
        if state is DeclarationState.PENDING:
            raise ValueError("a re-verification settles as confirmed, differing or unknown")
        at = now_jst().isoformat()
        with self._write() as conn:
            row = conn.execute(
                "SELECT reception_id FROM declarations WHERE declaration_id = ?",
                (declaration_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no declaration {declaration_id}")
            conn.execute(
                "UPDATE declarations SET state = ?, checked_at = ?, difference = ? "
                "WHERE declaration_id = ?",
                (state, at, json.dumps(difference or {}, ensure_ascii=False), declaration_id),
            )
            if state is DeclarationState.UNKNOWN:
                conn.execute(
                    "UPDATE reverify_queue SET attempts = attempts + 1, last_error = NULL "
                    "WHERE declaration_id = ?",
                    (declaration_id,),
                )
            else:
                conn.execute(
                    "DELETE FROM reverify_queue WHERE declaration_id = ?", (declaration_id,)
                )
            if result is not None and row["reception_id"]:
                self._add_result(conn, row["reception_id"], result, at)
            self._audit(conn, actor, f"reverified-{state}", row["reception_id"], declaration_id)

    def queue_error(self, declaration_id: str, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE reverify_queue SET attempts = attempts + 1, last_error = ? "
                "WHERE declaration_id = ?",
                (error[:300], declaration_id),
            )

    # -- audit ------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, detail: str, reception_id: str | None = None) -> None:
        with self._write() as conn:
            self._audit(conn, actor, action, reception_id, detail)

    @staticmethod
    def _audit(
        conn: sqlite3.Connection, actor: str, action: str, reception_id: str | None, detail: str
    ) -> None:
        conn.execute(
            "INSERT INTO audit (at, actor, action, reception_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now_jst().isoformat(), actor, action, reception_id, detail[:500]),
        )

    def audit_trail(self, reception_id: str | None = None) -> list[dict[str, Any]]:
        if reception_id is None:
            rows = self._conn().execute("SELECT * FROM audit ORDER BY seq")
        else:
            rows = self._conn().execute(
                "SELECT * FROM audit WHERE reception_id = ? ORDER BY seq", (reception_id,)
            )
        return [dict(r) for r in rows]


def _reception(row: sqlite3.Row) -> Reception:
    return Reception(
        reception_id=row["reception_id"],
        started_at=row["started_at"],
        day=row["day"],
        method=_known(ReceptionMethod, row["method"]),
        variant=_known(Variant, row["variant"]),
        status=ReceptionStatus(row["status"]),
        reason=row["reason"],
        apdu_count=row["apdu_count"],
        timings=json.loads(row["timings"] or "{}"),
        fallback_reason=_known(FallbackReason, row["fallback_reason"]),
        route=Route.COUNTER if row["route"] == "counter" else Route.READER,
    )


def _known(kind: type[E], value: str | None) -> E | None:
    """``value`` as a ``kind``; None when absent or not one (written by a newer version:
    shown as none rather than failing)."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _declaration(row: sqlite3.Row) -> Declaration:
    return Declaration(
        declaration_id=row["declaration_id"],
        reception_id=row["reception_id"],
        created_at=row["created_at"],
        declaration=SelfDeclaration.model_validate_json(row["data"], context=STORED),
        pdf=row["pdf"],
        state=DeclarationState(row["state"]),
        checked_at=row["checked_at"],
        difference=json.loads(row["difference"] or "{}"),
    )
