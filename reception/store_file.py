"""The store's file on disk: made private, checked before it is used, refused with a
reason a person can act on (design.md §6.7, §7).

A file that cannot be used as it is — not a database, damaged, another program's, of a
later layout, not writable — raises :class:`StoreUnusable` and is left exactly as it
was: its bytes, its -wal, its mode. Used by :class:`reception.store.Store` when it opens.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import struct
import time
from pathlib import Path

from reader.exitcodes import ExitCode
from reception.errors import ReceptionError
from reception.store_schema import STORE_COLUMNS, STORE_TABLES, STORE_VERSION


def private_directory(path: Path) -> None:
    """Make ``path`` a directory: what is missing of it is created 0700 (what goes in holds
    names, birth dates and insurance numbers); a directory that exists is left exactly as
    it is — it may be /tmp, or one the user named and shares with others."""
    missing: list[Path] = []
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, left as it is
        if directory.stat().st_mode & 0o777 != 0o700:  # a umask that took more away
            directory.chmod(0o700)


WAL_MAGIC = (0x377F0682, 0x377F0683)  # the -wal header's checksums little- / big-endian
WAL_VERSION = 3007000


class StoreUnusable(ReceptionError):
    """The store cannot be used as it is (damaged, another program's, not writable).
    Nothing in it was changed; the message says which file, what is wrong and what to do."""

    title = "受付の記録ファイルを使えません"
    exit_code = ExitCode.ERROR

    def __init__(self, path: Path, problem: str, remedy: str) -> None:
        path = Path(os.path.abspath(path))  # which file, wherever the command was run
        self.path, self.problem, self.remedy = path, problem, remedy
        super().__init__(f"{path}: {problem}。{remedy}（ファイルには手を加えていません）")


DAMAGED = "壊れているか、SQLite のデータベースではありません"
DAMAGED_REMEDY = (
    "このファイルを別の場所へ移してから始めると、新しい記録ファイルで受付できます。"
    "これまでの記録が必要なら、バックアップから戻してください"
)
NOT_OURS = "受付の記録ファイルではありません（ほかのプログラムのデータベースです）"
NOT_WRITABLE = "書き込めません（権限がないか、読み取り専用です）"
DISK_FULL = "ディスクがいっぱいです"
DISK_FULL_REMEDY = "空きを作ってからもう一度試してください"
CHECK_PLACE = "記録ファイルの場所（RECEPTION_DATA_DIR か --store）を確かめてください"


def _writable_remedy(path: Path) -> str:
    return (
        f"このファイルとフォルダ {path.parent} に、端末のプログラムを動かす利用者が"
        "書き込めるようにしてください（読み取り専用の場所なら、書き込める場所を"
        " RECEPTION_DATA_DIR か --store で指定してください）"
    )


def store_problem(path: Path, exc: sqlite3.Error | OSError) -> StoreUnusable:
    """What ``exc``, met while using the store at ``path``, means to the person at the
    terminal: which file, what is wrong, what to do."""
    path = Path(os.path.abspath(path))
    if isinstance(exc, OSError):
        if isinstance(exc, PermissionError) or exc.errno in (errno.EROFS, errno.EACCES):
            return StoreUnusable(path, NOT_WRITABLE, _writable_remedy(path))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreUnusable(path, DISK_FULL, DISK_FULL_REMEDY)
        if isinstance(exc, IsADirectoryError):
            return StoreUnusable(path, "ファイルではなくフォルダです", CHECK_PLACE)
        if isinstance(exc, NotADirectoryError):
            return StoreUnusable(path, "途中にフォルダでないものがあります", CHECK_PLACE)
        return StoreUnusable(path, f"開けません（{exc.strerror or exc}）", CHECK_PLACE)
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StoreUnusable(path, DAMAGED, DAMAGED_REMEDY)
    if name.startswith("SQLITE_FULL"):
        return StoreUnusable(path, DISK_FULL, DISK_FULL_REMEDY)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreUnusable(
            path,
            "ほかのプログラムが使用中で、30 秒待っても空きませんでした",
            "同じ記録ファイルを使うほかの端末のプログラムを確かめてください",
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreUnusable(path, NOT_WRITABLE, _writable_remedy(path))
    return StoreUnusable(
        path, f"読み書きできません（{name or type(exc).__name__}: {exc}）", DAMAGED_REMEDY
    )


def remove_empty(made: list[Path]) -> None:
    """Remove the -wal (when empty) and -shm that opening a file SQLite could not read
    left beside it: they did not exist before, and hold nothing."""
    for path in made:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode) and (path.name.endswith("-shm") or info.st_size == 0):
            path.unlink(missing_ok=True)


def _check_header(path: Path, fd: int, size: int) -> None:
    """The first bytes of a database file, and its size a whole number of its pages (a
    file cut short by a page or less escapes SQLite's own check). Empty: a new store."""
    if size == 0:
        return
    header = os.pread(fd, 100, 0)
    page_size = int.from_bytes(header[16:18], "big") if len(header) == 100 else 0
    page_size = 65536 if page_size == 1 else page_size
    if not header.startswith(b"SQLite format 3\0") or page_size < 512 or size % page_size:
        raise StoreUnusable(path, DAMAGED, DAMAGED_REMEDY)


def _check_wal(path: Path) -> None:
    """A -wal file beside the store must begin with a valid header: SQLite would silently
    drop one that does not (and with it what it holds), then overwrite it. Empty, or zeros
    (what a power cut can leave of a file being written), it holds nothing: SQLite's own
    recovery applies."""
    wal = path.with_name(path.name + "-wal")
    try:
        with open(wal, "rb") as fh:
            header = fh.read(32)
    except FileNotFoundError:
        return
    if not header.strip(b"\0"):
        return
    if len(header) == 32:
        magic, version = struct.unpack(">II", header[:8])
        if magic in WAL_MAGIC and version == WAL_VERSION:
            order = ">" if magic == WAL_MAGIC[1] else "<"
            words = struct.unpack(f"{order}6I", header[:24])
            s0 = s1 = 0
            for i in range(0, 6, 2):
                s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
                s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
            if (s0, s1) == struct.unpack(">II", header[24:]):
                return
    raise StoreUnusable(
        path,
        f"書きかけの記録 {wal.name} が壊れています",
        f"{wal.name} だけを別の場所へ移すと、最後に保存された時点までの記録で続けられます"
        "（その後の数件が失われることがあります）。必要ならバックアップから戻してください",
    )


def check_file(path: Path, fd: int) -> None:
    """The store file open as ``fd`` is a regular file whose SQLite header and -wal are
    whole (before SQLite itself opens it: it would drop a bad -wal)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise StoreUnusable(path, "通常のファイルではありません", CHECK_PLACE)
    for attempt in range(3):
        try:
            _check_header(path, fd, os.fstat(fd).st_size)
            _check_wal(path)
            break
        except StoreUnusable:
            if attempt == 2:
                raise
            time.sleep(0.1)  # a read torn by another program writing it right now?


def check_database(path: Path, conn: sqlite3.Connection) -> None:
    """The database is this program's (or still empty), of a layout no later than
    :data:`STORE_VERSION`, with no damaged page. Reads only: a database of another
    program is not ours to change (setting WAL mode alone rewrites its header)."""
    tables = {
        r["name"]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(receptions)")}
    if tables and not (set(STORE_TABLES) <= tables and set(STORE_COLUMNS) <= columns):
        raise StoreUnusable(path, NOT_OURS, CHECK_PLACE)
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > STORE_VERSION:
        raise StoreUnusable(
            path,
            f"新しい版の端末で作られた記録ファイルです（形式 {version}、この版は "
            f"{STORE_VERSION} まで）",
            "その版の端末で開くか、このファイルを別の場所へ移してから新しい記録"
            "ファイルで始めてください（この版では読み書きしません）",
        )
    # every page read once (0.1 s for 250 MB, 30,000 receptions): a store damaged
    # anywhere is refused before the first write could build on what is broken
    (verdict,) = conn.execute("PRAGMA quick_check(1)").fetchone()
    if verdict != "ok":
        raise StoreUnusable(path, DAMAGED, DAMAGED_REMEDY)


# -- who is running a reception: a process, told from a later one with its pid --------


def process_identity(pid: int | None = None) -> str:
    """Who runs a reception, as the store keeps it (another program's store sees it
    too): ``pid:start-ticks`` — the start time tells a reused pid from the process that had it."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid)}"


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5), after "comm)"


def alive_owner(owner: str | None) -> bool:
    if not owner:
        return False
    pid_text, _, ticks = owner.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process: alive
        return True
    return ticks in ("?", _start_ticks(pid))
