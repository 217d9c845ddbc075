"""A store that cannot be used as it is — not SQLite, cut short, damaged inside, another
program's, a garbage -wal, a directory, a FIFO — is refused with which file, what is wrong
and what to do, and left exactly as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reception.store import Store, StoreUnusable
from tests.support.stores import DAMAGES, a_store, snapshot


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_store_that_cannot_be_used_is_refused_and_left_as_it_was(
    tmp_path: Path, damage: str
) -> None:
    path = a_store(tmp_path)
    make, problem = DAMAGES[damage]
    make(path)
    before = snapshot(tmp_path)
    with pytest.raises(StoreUnusable) as refused:
        Store(path)
    assert snapshot(tmp_path) == before  # no byte changed, no file added or removed
    message = str(refused.value)
    assert str(path) in message and problem in message
    assert "移" in message or "確かめて" in message  # and what to do


def test_a_wal_of_zeros_is_what_a_power_cut_leaves_and_is_not_refused(tmp_path: Path) -> None:
    path = a_store(tmp_path)
    path.with_name(path.name + "-wal").write_bytes(bytes(4096))
    Store(path).close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM receptions").fetchone() == (200,)


def test_a_wal_a_killed_program_left_is_read(tmp_path: Path) -> None:
    """The -wal check accepts SQLite's own: what a program killed mid-way committed is
    there when the next one opens the store."""
    path = tmp_path / "reception.sqlite"
    writer = Store(path)
    rid = writer.begin_reception()
    wal = path.with_name(path.name + "-wal")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (path, wal):  # the files as a kill -9 leaves them: WAL not checkpointed
        (copy / name.name).write_bytes(name.read_bytes())
    writer.close()
    assert Store(copy / path.name).reception(rid).status == "in-progress"
