"""Stores that cannot be used as they are (tests/support): damaged, another program's,
not a file — and a look at a directory to prove nothing in it changed."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from reception.store import Store


def a_store(directory: Path) -> Path:
    """A store with some receptions in it, every change checkpointed into the file."""
    path = directory / "reception.sqlite"
    store = Store(path)
    for _ in range(200):
        rid = store.begin_reception()
        store.finish_reception(rid, status="confirmed", reason="確認済み" * 40)
    store.close()
    return path


def not_sqlite(path: Path) -> None:
    path.write_text("受付の記録ではないテキスト\n" * 20)


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def truncated_to_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2 // 4096 * 4096)


def one_byte_short(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 1)


def a_page_overwritten(path: Path) -> None:
    """A damage SQLite meets only when it reads that page."""
    with open(path, "r+b") as fh:
        fh.seek(4096 * (path.stat().st_size // 4096 // 2))
        fh.write(b"\xab" * 4096)


def another_programs_database(path: Path) -> None:
    """Not in WAL mode: setting it would rewrite the header."""
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO patients (name) VALUES ('架空 花子')")
    conn.commit()
    conn.close()


def a_receptions_table_of_another_shape(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE receptions (id INTEGER PRIMARY KEY, patient TEXT)")
    conn.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()


def a_store_of_a_newer_terminal(path: Path) -> None:
    """Made by a later version of this program (its layout may differ in ways this one
    would spoil by writing)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()


def a_garbage_wal(path: Path) -> None:
    path.with_name(path.name + "-wal").write_bytes(os.urandom(4096 + 24))


def a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def a_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "not-sqlite": (not_sqlite, "壊れているか、SQLite のデータベースではありません"),
    "random-bytes": (random_bytes, "壊れているか、SQLite のデータベースではありません"),
    "truncated": (truncated_to_half, "壊れているか、SQLite のデータベースではありません"),
    "one-byte-short": (one_byte_short, "壊れているか、SQLite のデータベースではありません"),
    "page-overwritten": (a_page_overwritten, "壊れているか、SQLite のデータベースではありません"),
    "other-schema": (another_programs_database, "受付の記録ファイルではありません"),
    "other-receptions": (a_receptions_table_of_another_shape, "受付の記録ファイルではありません"),
    "newer": (a_store_of_a_newer_terminal, "新しい版の端末で作られた記録ファイルです"),
    "garbage-wal": (a_garbage_wal, "reception.sqlite-wal が壊れています"),
    "directory": (a_directory, "フォルダです"),
    "fifo": (a_fifo, "通常のファイルではありません"),
}


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry of the directory: name → its mode and its bytes' hash."""
    seen = {}
    for entry in sorted(directory.iterdir()):
        info = entry.lstat()
        digest = (
            hashlib.sha256(entry.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
        )
        seen[entry.name] = f"{oct(info.st_mode)} {digest}"
    return seen
