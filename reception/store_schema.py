"""The store's layout and how a store file gets there: numbered migrations.

``PRAGMA user_version`` says which layout a store file has. Opening a store runs, in one
``BEGIN IMMEDIATE`` transaction, every step numbered above it, in order, and sets the
version to the last — so a store is never half-migrated, and two programs opening an old
store at once migrate it once. A store of a later layout than :data:`STORE_VERSION` is
refused before anything is written (reception/store_file.py). A new column or table is a
new :class:`Migration` at the end of :data:`MIGRATIONS`; a step already released never
changes.

Version 0 is a store made before the layout was numbered: it may lack the ``owner``,
``fallback_reason`` and ``route`` columns of ``receptions`` (added one by one as the
program grew) — step 1 brings any of them to layout 1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from reception.home_visit.schema import SCHEMA as ACTIVATIONS

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS receptions (
    reception_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,               -- ISO 8601, JST
    day TEXT NOT NULL,                      -- YYYY-MM-DD (JST), for the day's list and export
    method TEXT,                            -- a ReceptionMethod: pin | face | visual | number
    variant TEXT,                           -- a Variant: physical | face-only | android | iphone
    certificate_sha256 TEXT,                -- the card's auth certificate, fingerprint only
    status TEXT NOT NULL,                   -- a ReceptionStatus
    reason TEXT,                            -- why not confirmed (a staff-readable line)
    finished_at TEXT,
    apdu_count INTEGER,
    timings TEXT,                           -- JSON: phase → ms
    owner TEXT,                             -- the process running it: "pid:start-ticks"
    fallback_reason TEXT,                   -- a FallbackReason code, when the ladder is next
    route TEXT                              -- "counter": 居宅同意取得型 (NULL: the reader)
);
CREATE INDEX IF NOT EXISTS receptions_day ON receptions(day);
CREATE TABLE IF NOT EXISTS results (
    reception_id TEXT NOT NULL REFERENCES receptions(reception_id),
    received_at TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    validity TEXT,
    message TEXT NOT NULL                   -- the result message as received (JSON)
);
CREATE INDEX IF NOT EXISTS results_reception ON results(reception_id);
CREATE TABLE IF NOT EXISTS ladder_steps (
    reception_id TEXT NOT NULL REFERENCES receptions(reception_id),
    at TEXT NOT NULL,
    step TEXT NOT NULL,                     -- a LadderStep (お知らせ, マイナポータル, …)
    detail TEXT NOT NULL                    -- what staff saw
);
CREATE TABLE IF NOT EXISTS declarations (
    declaration_id TEXT PRIMARY KEY,
    reception_id TEXT REFERENCES receptions(reception_id),
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,                     -- the SelfDeclaration (JSON)
    pdf TEXT,                               -- path of the printed form
    state TEXT NOT NULL,                    -- pending | confirmed | differing | unknown
    checked_at TEXT,
    difference TEXT                         -- JSON: field → [declared, found]
);
CREATE TABLE IF NOT EXISTS reverify_queue (
    declaration_id TEXT PRIMARY KEY REFERENCES declarations(declaration_id),
    enqueued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    reception_id TEXT,
    detail TEXT NOT NULL
);
"""

UNNUMBERED_COLUMNS = ("owner", "fallback_reason", "route")
"""Columns of ``receptions`` that stores of version 0 may lack (added before numbering)."""


def statements(script: str) -> list[str]:
    """The statements of an SQL script, to run one by one inside a transaction
    (``executescript`` would commit the transaction first)."""
    return [part.strip() for part in script.split(";\n") if part.strip()]


def _layout_1(conn: sqlite3.Connection) -> None:
    for statement in statements(SCHEMA_1):
        conn.execute(statement)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(receptions)")}
    for column in UNNUMBERED_COLUMNS:
        if column not in columns:
            conn.execute(f"ALTER TABLE receptions ADD COLUMN {column} TEXT")


def _layout_3(conn: sqlite3.Connection) -> None:
    for statement in statements(ACTIVATIONS):
        conn.execute(statement)


@dataclass(frozen=True)
class Migration:
    """One step from layout ``version - 1`` to ``version``."""

    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the tables (receptions, results, ladder_steps, declarations, reverify_queue, "
        "audit); owner, fallback_reason and route for a store made before them",
        _layout_1,
    ),
    Migration(
        2,
        "no table changes: receptions may now be settled by a rung (confirmed-notice, "
        "confirmed-certificate, declared), statuses a program of layout 1 cannot read — "
        "it refuses the store instead of failing on them",
        lambda conn: None,
    ),
    Migration(
        3,
        "app_activations: the マイナ資格確認アプリ's activation codes (reception/home_visit)",
        _layout_3,
    ),
)

STORE_VERSION = MIGRATIONS[-1].version
"""The layout of this program's store (``PRAGMA user_version``). A store of a later layout
is refused, never written."""
STORE_TABLES = ("receptions", "audit")
"""A store made by any version of this program has these tables."""
STORE_COLUMNS = ("reception_id", "started_at", "day", "status")
"""… and its ``receptions`` these columns (from the first version on)."""


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Bring the store to :data:`STORE_VERSION`: every step above its version, in one
    transaction. The versions applied (none when it is up to date: then nothing is
    written, not even a lock taken)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version >= STORE_VERSION:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        # again, under the lock: another program may have migrated it meanwhile
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        applied = []
        for step in MIGRATIONS:
            if step.version > version:
                step.apply(conn)
                applied.append(step.version)
        if applied:
            conn.execute(f"PRAGMA user_version = {STORE_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return applied
