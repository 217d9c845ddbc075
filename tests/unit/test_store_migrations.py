"""A store written by an earlier terminal opens and keeps its receptions: its layout is
brought up by the numbered steps of reception/store_schema.py, in one transaction; what
the store returns is typed (method, variant, route)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from reception import store_schema
from reception.store import Store
from reception.store_schema import STORE_VERSION, Migration
from reception.vocabulary import ReceptionMethod, Route, Variant

# The layout of a store made before it was numbered (user_version 0): receptions had no
# owner, fallback_reason or route yet (the SQL of the terminal before commit b9bec93).
UNNUMBERED = """
CREATE TABLE receptions (
    reception_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, day TEXT NOT NULL,
    method TEXT, variant TEXT, certificate_sha256 TEXT, status TEXT NOT NULL, reason TEXT,
    finished_at TEXT, apdu_count INTEGER, timings TEXT
);
CREATE INDEX receptions_day ON receptions(day);
CREATE TABLE results (
    reception_id TEXT NOT NULL REFERENCES receptions(reception_id), received_at TEXT NOT NULL,
    confirmed INTEGER NOT NULL, validity TEXT, message TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, reception_id TEXT, detail TEXT NOT NULL
);
INSERT INTO receptions VALUES ('R1', '2026-11-24T09:30:00+09:00', '2026-11-24', 'pin',
    'android', NULL, 'confirmed', NULL, '2026-11-24T09:31:00+09:00', 12, '{"verify": 80.5}');
INSERT INTO receptions VALUES ('R2', '2026-11-24T09:40:00+09:00', '2026-11-24', 'number',
    NULL, NULL, 'fallback', '資格なし', '2026-11-24T09:41:00+09:00', NULL, NULL);
INSERT INTO audit (at, actor, action, reception_id, detail)
    VALUES ('2026-11-24T09:31:00+09:00', 'terminal', 'reception-confirmed', 'R1', '');
"""


def unnumbered_store(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(UNNUMBERED)
    conn.close()


def columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[1] for r in conn.execute("PRAGMA table_info(receptions)")}
    finally:
        conn.close()


def version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_store_made_before_the_layout_was_numbered_migrates_and_keeps_its_receptions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reception.sqlite"
    unnumbered_store(path)
    store = Store(path)
    assert version(path) == STORE_VERSION
    assert {"owner", "fallback_reason", "route", "certificate_sha256"} <= columns(path)
    first, second = store.receptions_on(dt.date(2026, 11, 24))
    assert (first.method, first.variant, first.route) == (
        ReceptionMethod.PIN,
        Variant.ANDROID,
        Route.READER,
    )
    assert isinstance(first.method, ReceptionMethod) and isinstance(first.variant, Variant)
    assert first.timings == {"verify": 80.5} and first.apdu_count == 12
    assert second.method is ReceptionMethod.NUMBER and second.status == "fallback"
    assert store.pending() == []  # the tables it lacked are there
    rid = store.begin_reception()  # and it is written as any store
    store.finish_reception(rid, status="confirmed", method=ReceptionMethod.VISUAL)
    assert store.reception(rid).method is ReceptionMethod.VISUAL
    store.close()
    again = Store(path)  # up to date: opened as it is
    assert again.reception("R1").variant is Variant.ANDROID


def test_a_failing_step_leaves_the_store_at_its_old_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps run in one transaction: a step that fails takes back the ones before."""
    path = tmp_path / "reception.sqlite"
    unnumbered_store(path)

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    steps = (*store_schema.MIGRATIONS, Migration(STORE_VERSION + 1, "broken", broken))
    monkeypatch.setattr(store_schema, "MIGRATIONS", steps)
    monkeypatch.setattr(store_schema, "STORE_VERSION", STORE_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError):
        store_schema.migrate(sqlite3.connect(path, isolation_level=None))
    assert version(path) == 0
    assert "route" not in columns(path)


def test_the_route_is_kept_as_before(tmp_path: Path) -> None:
    """A counter reception is written "counter", a reader one as no route — the file a
    terminal before the typed store reads the same way."""
    store = Store(tmp_path / "reception.sqlite")
    counter, reader = store.begin_reception(), store.begin_reception()
    store.finish_reception(counter, status="confirmed", route=Route.COUNTER)
    store.finish_reception(reader, status="confirmed", route=Route.READER)
    rows = dict(
        sqlite3.connect(tmp_path / "reception.sqlite").execute(
            "SELECT reception_id, route FROM receptions"
        )
    )
    assert rows == {counter: "counter", reader: None}
    assert store.reception(counter).route is Route.COUNTER
    assert store.reception(reader).route is Route.READER
