"""A training run on disk (issue 25 §2): one SQLite file (WAL) beside the run's own store,
written as the run goes — the run's scenario and trainee, each case's reception and
its actions as they happen, each score when the case is settled — so a run closed or
killed (kill -9) is resumed where it stood: the settled cases keep their scores, the
case under way keeps its reception and what the trainee did on it.

Every row says it is training (``meta.training = 1``); the file is never the clinic's
store (reception.sqlite lives in the clinic's data directory; a run's, in its own).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reception.errors import InputError
from reception.training.phrases import Mistake
from reception.training.scoring import CaseScore

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    reception_id TEXT,
    arrived_at TEXT NOT NULL,
    waited REAL NOT NULL DEFAULT 0,
    score TEXT
);
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    mistake TEXT,
    at TEXT NOT NULL
);
"""


class JournalError(InputError):
    title = "研修の記録を開けません"


@dataclass(frozen=True)
class JournaledAction:
    case_id: str
    action: dict[str, object]
    result: str
    mistake: str | None


@dataclass(frozen=True)
class JournaledCase:
    case_id: str
    position: int
    reception_id: str | None
    arrived_at: dt.datetime
    waited: float
    score: CaseScore | None


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # one run at a time in a folder: a second terminal on it is refused, not mixed in
        self._lock = open(path.with_name(path.name + ".lock"), "a+b")  # noqa: SIM115
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise JournalError(
                f"{path.parent}: この研修は別の端末（プロセス）で実行中です"
            ) from None
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._lock.close()
            raise JournalError(f"{path}: {exc}") from None
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('training', '1')")

    def close(self) -> None:
        self._db.close()
        self._lock.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- the run ----------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._db.execute("SELECT key, value FROM meta")}

    def set_meta(self, **values: str) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    # -- cases ------------------------------------------------------------------------

    def cases(self) -> list[JournaledCase]:
        rows = self._db.execute("SELECT * FROM cases ORDER BY position")
        return [
            JournaledCase(
                r["case_id"],
                r["position"],
                r["reception_id"],
                dt.datetime.fromisoformat(r["arrived_at"]),
                float(r["waited"]),
                CaseScore.model_validate_json(r["score"]) if r["score"] else None,
            )
            for r in rows
        ]

    def open_case(self, case_id: str, position: int, arrived: dt.datetime, waited: float) -> None:
        """A case begins (again: what a case under way had is forgotten)."""
        with self._tx() as db:
            db.execute("DELETE FROM actions WHERE case_id = ?", (case_id,))
            db.execute(
                "INSERT OR REPLACE INTO cases (case_id, position, arrived_at, waited) "
                "VALUES (?, ?, ?, ?)",
                (case_id, position, arrived.isoformat(), waited),
            )

    def set_reception(self, case_id: str, reception_id: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE cases SET reception_id = ? WHERE case_id = ?", (reception_id, case_id)
            )

    def settle(self, case_id: str, score: CaseScore) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE cases SET score = ? WHERE case_id = ?", (score.model_dump_json(), case_id)
            )

    # -- actions ----------------------------------------------------------------------

    def add_action(
        self, case_id: str, action: dict[str, object], result: str, mistake: str | None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO actions (case_id, action, result, mistake, at) VALUES (?, ?, ?, ?, ?)",
                (
                    case_id,
                    json.dumps(action, ensure_ascii=False),
                    result,
                    mistake,
                    dt.datetime.now(dt.UTC).isoformat(),
                ),
            )

    def actions(self, case_id: str) -> list[JournaledAction]:
        rows = self._db.execute("SELECT * FROM actions WHERE case_id = ? ORDER BY seq", (case_id,))
        return [
            JournaledAction(r["case_id"], json.loads(r["action"]), r["result"], r["mistake"])
            for r in rows
        ]


# -- read by another process (a training room's trainer) ------------------------------------


@dataclass(frozen=True)
class CaseProgress:
    """A journaled case as another process reads it: its score once settled, and the
    mistakes journaled with its actions so far (the case under way)."""

    case_id: str
    position: int
    score: CaseScore | None
    mistakes: tuple[Mistake, ...] = ()


@dataclass(frozen=True)
class Progress:
    """A run read from its journal without taking it (the desk's process holds its lock):
    ``reason`` says why there is nothing to show (no journal yet, unreadable)."""

    meta: dict[str, str]
    cases: tuple[CaseProgress, ...] = ()
    reason: str | None = None

    @property
    def trainee(self) -> str | None:
        return self.meta.get("trainee")

    @property
    def started(self) -> str | None:
        return self.meta.get("started")

    @property
    def finished(self) -> str | None:
        return self.meta.get("finished")


KNOWN_MISTAKES = frozenset(m.value for m in Mistake)
NO_JOURNAL = "まだ記録がありません"


def read_progress(path: Path) -> Progress:
    """The run in the journal at ``path``, read-only (``mode=ro``: never written, never
    locked, a run being written is read as of its last commit). A missing, half-made or
    unreadable file is no progress, with the reason — never an exception."""
    if not path.is_file():
        return Progress({}, reason=NO_JOURNAL)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        return Progress({}, reason=f"記録を開けません: {exc}")
    try:
        meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
        rows = db.execute("SELECT case_id, position, score FROM cases ORDER BY position")
        found = [(str(r[0]), int(r[1]), r[2]) for r in rows]
        mistakes: dict[str, list[Mistake]] = {}
        for case_id, kind in db.execute(
            "SELECT case_id, mistake FROM actions WHERE mistake IS NOT NULL ORDER BY seq"
        ):
            if kind in KNOWN_MISTAKES:
                mistakes.setdefault(str(case_id), []).append(Mistake(kind))
        cases = tuple(
            CaseProgress(
                case_id,
                position,
                CaseScore.model_validate_json(score) if score else None,
                tuple(mistakes.get(case_id, ())),
            )
            for case_id, position, score in found
        )
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the desk's process is making the file
            return Progress({}, reason=NO_JOURNAL)
        return Progress({}, reason=f"記録を読めません: {exc}")
    except (sqlite3.Error, ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
        return Progress({}, reason=f"記録を読めません: {exc}")
    finally:
        db.close()
    return Progress(meta, cases)
