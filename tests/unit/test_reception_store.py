"""The reception store: what it keeps, the queue's life, and survival of kill -9."""

from __future__ import annotations

import datetime as dt
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reader.children import spawn
from reception.declaration import LadderStep, SelfDeclaration
from reception.errors import NotFound
from reception.results import QualificationResult
from reception.store import INTERRUPTED_REASON, Store, now_jst
from reception.vocabulary import Method, Variant
from tests.support.forms import valid

RESULT = {
    "MessageHeader": {"ProcessExecutionTime": "20261124093000", "SegmentOfResult": "1"},
    "MessageBody": {
        "ProcessingResultStatus": "1",
        "QualificationValidity": "1",
        "ResultList": {
            "ResultOfQualificationConfirmation": [
                {"Name": "架空 太郎", "InsuredPartialContributionRatio": "030"}
            ]
        },
    },
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


def test_reception_round_trip(store: Store) -> None:
    rid = store.begin_reception()
    assert store.reception(rid).status == "in-progress"
    result = QualificationResult.parse(RESULT)
    store.finish_reception(
        rid,
        status="confirmed",
        method=Method.PIN,
        variant=Variant.PHYSICAL,
        certificate_sha256="AB" * 32,
        result=result,
        apdu_count=9,
        timings={"card": 8.1, "oqs": 12.0},
    )
    reception = store.reception(rid)
    assert reception.status == "confirmed" and reception.apdu_count == 9
    assert reception.timings == {"card": 8.1, "oqs": 12.0}
    assert [r.entries[0].name for r in store.results_of(rid)] == ["架空 太郎"]
    assert [r.reception_id for r in store.receptions_on(now_jst().date())] == [rid]
    actions = [a["action"] for a in store.audit_trail(rid)]
    assert actions == ["reception-started", "reception-confirmed"]


def test_wal_mode_and_unknown_ids(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(NotFound):
        store.finish_reception("R-nope", status="confirmed")
    with pytest.raises(ValueError, match="status"):
        store.finish_reception(store.begin_reception(), status="fine")


def test_ladder_and_declaration_queue(store: Store, tmp_path: Path) -> None:
    rid = store.begin_reception()
    store.record_step(rid, LadderStep.NOTICE, "資格情報のお知らせ（紙）を確認: 協会けんぽ")
    declaration = SelfDeclaration.parse(valid())
    did = store.add_declaration(declaration, reception_id=rid, pdf=tmp_path / "d.pdf")
    assert [d.declaration_id for d in store.pending()] == [did]
    assert store.declaration(did).declaration == declaration
    store.settle(did, "unknown")
    assert [d.state for d in store.pending()] == ["unknown"]  # still queued
    store.settle(
        did,
        "differing",
        difference={"ratio": ["3割", "2割"]},
        result=QualificationResult.parse(RESULT),
    )
    assert store.pending() == []
    assert store.declaration(did).difference == {"ratio": ["3割", "2割"]}
    assert store.steps_of(rid) == [
        ("資格情報のお知らせ", "資格情報のお知らせ（紙）を確認: 協会けんぽ")
    ]
    assert len(store.results_of(rid)) == 1


def test_a_failed_write_leaves_nothing(store: Store) -> None:
    declaration = SelfDeclaration.parse(valid())
    with pytest.raises(sqlite3.IntegrityError):
        store.add_declaration(declaration, reception_id="R-does-not-exist")
    assert store.pending() == [] and store.declarations() == []


WRITER = """
import sys
from pathlib import Path
from reception.store import Store
store = Store(Path(sys.argv[1]))
while True:
    rid = store.begin_reception()
    store.finish_reception(rid, status="confirmed", method="pin", apdu_count=9)
    print(rid, flush=True)
"""


def test_committed_receptions_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "reception.sqlite"
    rng = random.Random(20261124)
    committed: set[str] = set()
    for _ in range(30):
        proc = spawn([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()  # wait until it writes
        assert first, "the writer did not start"
        committed.add(first)
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        committed.update(line.strip() for line in proc.stdout if line.strip())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(conn.execute("SELECT reception_id, status FROM receptions").fetchall())
    missing = committed - rows.keys()
    assert not missing, f"{len(missing)} committed receptions lost"
    assert all(rows[r] == "confirmed" for r in committed)
    # a reception begun but not finished when killed is never half-done: the next program
    # to open the store marks it interrupted (the last one is still in progress here)
    assert set(rows.values()) <= {"confirmed", "interrupted", "in-progress"}
    assert list(rows.values()).count("in-progress") <= 1
    reopened = Store(path)
    assert "in-progress" not in {r.status for r in reopened.receptions_on(now_jst().date())}
    for rid in reopened.interrupted:
        assert reopened.reception(rid).reason == INTERRUPTED_REASON
        assert reopened.audit_trail(rid)[-1]["action"] == "reception-interrupted"
    assert len(rows) >= len(committed) > 20
    started = conn.execute("SELECT count(*) FROM audit WHERE action='reception-started'")
    assert started.fetchone()[0] == len(rows)


def test_days_are_separate(store: Store) -> None:
    store.begin_reception()
    assert store.receptions_on(now_jst().date() - dt.timedelta(days=1)) == []


def test_the_store_is_private_to_its_user(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "reception.sqlite")
    store.begin_reception()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    for name in ("reception.sqlite", "reception.sqlite-wal"):
        assert (tmp_path / "data" / name).stat().st_mode & 0o777 == 0o600, name


def test_a_stored_declaration_outlives_the_rules_of_its_day(store: Store) -> None:
    """Read back months later, a declaration is not re-judged (申立日 window, fonts)."""
    from tests.support.forms import valid

    old = SelfDeclaration.parse(valid()).model_copy(
        update={"declared_on": dt.date(2025, 1, 6), "note": "旧字 \x1b"}
    )
    did = store.add_declaration(old)
    assert store.declaration(did).declaration.declared_on == dt.date(2025, 1, 6)
    assert [d.declaration_id for d in store.pending()] == [did]


def test_every_write_to_a_reception_is_in_the_change_feed(tmp_path: Path) -> None:
    """The day's list reads only what changed since it last looked (issue 19): every
    write that changes a reception's line names it between two change marks — written
    through this connection or another program's, a result added on its own included."""
    path = tmp_path / "reception.sqlite"
    store = Store(path)
    result = QualificationResult.parse(RESULT)

    def changed_by(write: Callable[[], object]) -> list[str] | None:
        before = store.change_mark()
        write()
        return store.receptions_changed(before, store.change_mark(), limit=5)

    began: list[str] = []
    assert changed_by(lambda: began.append(store.begin_reception())) == began
    rid, other = began[0], store.begin_reception()
    assert changed_by(lambda: store.finish_reception(rid, status="fallback")) == [rid]
    assert changed_by(lambda: store.record_step(rid, LadderStep.NOTICE, "3割")) == [rid]
    assert changed_by(lambda: store.add_result(rid, result)) == [rid]
    did = store.add_declaration(SelfDeclaration.parse(valid()), reception_id=rid)
    assert changed_by(lambda: store.settle(did, "confirmed", result=result)) == [rid]
    another_program = Store(path)
    assert changed_by(lambda: another_program.add_result(other, result)) == [other]
    # a reception its program left in progress when it died: marked by the next to open
    sqlite3.connect(path).execute(
        "UPDATE receptions SET owner = '999999999:1' WHERE reception_id = ?", (other,)
    ).connection.commit()
    assert changed_by(lambda: Store(path)) == [other]
    assert changed_by(lambda: store.audit("staff", "export", "本日分")) == []
    # more than the caller reads one by one: it reads the day anew instead
    assert changed_by(lambda: [store.begin_reception() for _ in range(6)]) is None
