"""The folder interface of the 資格確認端末 (oqs.md §7): what a レセコン / 電子カルテ talks to.

``DIR/req``: the clinic software drops a request; the answer appears in ``DIR/res`` with
the same name, ``req`` replaced by ``res``; ``DIR/face``: every card confirmation at the
reader, as it completes. Every answer is written under a hidden name and renamed, so a
watcher on ``res/`` never reads half a file. A request answered is moved to
``req/done/`` (or removed): a restart does not answer it again.

Requests (the element names of oqs.md §7):

- ``OQSsiquc01req_*``: one query by 保険者番号・記号・番号・枝番 and birth date;
- ``OQSsiimm01req_*``: register the clinic's 照会番号 (``ReferenceNumber``) for a patient;
- ``YZKsiquc01req_*`` / ``TKKsiquc01req_*``: 薬剤情報 / 特定健診情報 of a consenting patient.

The patient is named as in ``OQSsiquc01req``: ``MessageBody/QualificationConfirmSearchInfo``
(保険者番号・記号・番号・枝番・生年月日); ``OQSsiimm01req`` adds ``MessageBody/ReferenceNumber``.
The answers to OQSsiimm01 (``ReferenceNumber`` echoed) and to YZK / TKK
(``MedicationInfoList/MedicationInfo`` with ``DispensedOn``, ``Institution``, ``Drug``,
``Dose``, ``Days``; ``SpecificHealthCheckupInfoList/SpecificHealthCheckupInfo`` with
``ExaminedOn``, ``Item``, ``Value``, ``Unit``, ``Reference``) are the simulator's own
layout: the real ones are not public. They are the same records the staff console's
診療情報 tab shows.

A request that cannot be answered gets an answer all the same, ``SegmentOfResult`` 9 with
a mock error code (there is no public list of the real ones; oqs.md §3):

=========  ==============================================================================
LINK-E001  not a well-formed XML document, not in the encoding it declares, or nested
           deeper than 64 elements
LINK-E002  the file name's prefix is not a request this terminal answers
LINK-E003  a required element is missing or malformed (the message names it); also an
           ``ArbitraryFileIdentifier`` longer than 50 characters (every answer echoes it)
LINK-E004  the file is larger than 4 MiB
LINK-E005  the service could not answer (unreachable, or it refused the request)
LINK-E006  no consent for these records at this clinic (24 h after the card confirmation)
LINK-E007  (log and staff console only, once) the request could not be read or its answer
           could not be written — e.g. a full disk; the request stays in req/ and the
           answer (kept, the service is not asked again) is written when the folder is
           next swept
LINK-E008  not a regular file: a symlink (never followed), a FIFO, a directory or a device
           named like a request; the entry itself is moved to req/done/ (a symlink or FIFO
           is removed when answered requests are)
LINK-E009  (log and staff console only, once) a ``.reception-link.journal`` in the shared
           folder (an earlier version's, or written there by someone else) was removed
           unread: the link's record is in the terminal's data directory, and every
           request the file named is answered
=========  ==============================================================================

What the link repeats of a request is bounded, by one function where text leaves it
(:func:`excerpt`): an answer's ``ErrorMessage``, an event on the staff console and its log
line, a line of the 連携 pane's view of an answer hold at most ``ECHO_LIMIT`` (160)
characters, then ``…`` and the full length — a 3 MB ``Birthdate`` was written back 3 MB
into the answer and twice into the log. An answer's header echoes an
``ArbitraryFileIdentifier`` of at most 50 characters (the format's limit).

A file that is not yet well-formed XML and was written in the last two seconds is taken
for one still being written (a writer that has not finished): it is tried again once it
has not changed for a moment, and only then answered as broken.

**The folder is hostile** (design.md §6.8): other machines and programs write it. The
link opens ``DIR`` and then ``req/``, ``res/``, ``face/`` and ``req/done/`` once, each
``O_DIRECTORY | O_NOFOLLOW``, and works relative to those descriptors (``dir_fd=``);
before each use it checks that the name still leads to the directory it holds — a
directory deleted is made again (the link keeps watching), one replaced by another real
directory is taken, one replaced by a symlink is refused (logged once; at start the link
does not start). Between that check and the use a swap cannot redirect anything: the
descriptor still names the directory that was checked. Requests are read only when they
are regular files, opened ``O_NOFOLLOW | O_NONBLOCK``; answers are written through an
exclusive temp file (:mod:`reception.shared_folder`), 0600 (0640 with ``link.group``).
Any file name is answered: names that are not UTF-8 (a Shift_JIS name from a Windows
client) keep their bytes, and an answer name longer than a file name may be (255 bytes)
is shortened by :func:`reception.shared_folder.fit_name` (its start, ``~``, 8 hex digits
of its SHA-256, ``.xml``). Names are shown and logged with controls made visible.

**Once and only once.** One link per folder: it holds ``flock`` on the folder's own
directory — which whoever writes inside the folder cannot delete or replace — and on
``DIR/.reception-link.lock`` (which says who holds it, and is made again if deleted); a
second link refuses to start and names the holder (:meth:`Link._lock` says what NFS and
SMB make of these locks). Before an answer is renamed into place, the request it answers —
name, size, modification time and SHA-256 of its content — is recorded in a journal with
the name of the answer's temp file; the record is dropped once the request is moved out
of req/. A link that finds a request in that record after a restart (``kill -9`` between
the two steps) only moves it, unless the temp file is still there (then the answer never
appeared, and it is answered). The journal is kept in the terminal's private data
directory (``settings.data_dir``), never in the shared folder, whose writers could
otherwise make a request look answered (:class:`_Journal`). Nothing is decided from
modification times, which copied files, reused sequence numbers and 2-second
FAT/SMB clocks make unreliable: a request whose name was answered before is answered
again. A request rewritten while it was being answered — renamed over, or rewritten in
place with the same size and time (a 2-second clock) — is not moved away: its content is
compared with what was answered before it is moved, and the new content is answered too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from reader.safe_text import printable
from reception.errors import InputError
from reception.export import xml_document, xml_message
from reception.oqs_client import NumberQuery, OqsClient, OqsError, OqsRateLimited, OqsRefused
from reception.results import QualificationResult, xml_to_message
from reception.shared_folder import (
    KIND_LABELS,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    FilePrivacy,
    NotRegular,
    UnsafeFolder,
    fit_name,
    open_directory,
    publish,
    read_file,
    read_regular,
    stage,
    sync_directory,
)
from reception.store import now_jst, private_directory

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a 一括照会 of 10,000 patients fits
BULK_MAX = 10_000
STILL_WRITING_SECONDS = 2.0
RETRY_SECONDS = 0.25
SWEEP_SECONDS = 1
BUSY_SWEEP_SECONDS = 10  # a folder never quiet for a second is swept this often all the same
STALE_FACE_TEMP_SECONDS = 600  # face/ is written by check-ins of other processes too
LOCK_NAME = ".reception-link.lock"
JOURNAL_NAME = ".reception-link.journal"  # where earlier versions kept it: never read
JOURNALS = "link-journals"  # in the terminal's private data directory: one per folder
MAX_JOURNAL_BYTES = 1 << 20
ECHO_LIMIT = 160  # characters of a message, an event or a log line about a request
MAX_FILE_IDENTIFIER = 50  # ArbitraryFileIdentifier: what an answer's header may echo
MAX_RECEPTION_NUMBER = 64  # the service's are 16 characters

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """An answer that is not a qualification result: its body and ``SegmentOfResult``."""

    body: dict[str, Any]
    segment: str = "1"


class LinkError(Exception):
    """A request answered with ``SegmentOfResult`` 9."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LinkFolderError(InputError):
    """The folder cannot be used: a subfolder is a symlink, or another link holds it."""

    title = "連携フォルダを使えません"


@dataclass(frozen=True)
class LinkEvent:
    """One thing the link did, for the staff console and the log. ``name`` and ``detail``
    are safe to show (controls made visible); ``file`` is the file's real name."""

    at: str
    kind: str  # request | answer | error | face
    name: str
    detail: str = ""
    file: str | None = None


def excerpt(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text``, or its first ``limit`` characters, ``…`` and its length: how much of a
    request any message, event or log line repeats. Applied where the text leaves the
    link (the answer's ``ErrorMessage``, :meth:`Link._event`), whatever put it there — the
    request's own values, a parser's message, the service's reason."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…（全{len(text)}文字）"


def answer_name(request: str) -> str:
    """``OQSsiquc01req_0001.xml`` → ``OQSsiquc01res_0001.xml`` (oqs.md §7); shortened
    when it would be longer than a file name may be (:func:`fit_name`)."""
    return fit_name(request.replace("req", "res", 1) if "req" in request else f"res_{request}")


def is_request_name(name: str) -> bool:
    """A visible ``.xml`` name: hidden and temporary names are how writers write whole."""
    return name.lower().endswith(".xml") and not name.startswith((".", "~"))


def shown_name(name: str) -> str:
    """A file name as staff read it: its bytes as UTF-8, else as Shift_JIS (a Windows
    client's name), else with � for what cannot be read; controls made visible."""
    raw = os.fsencode(name)
    for codec in ("utf-8", "cp932"):
        with contextlib.suppress(UnicodeDecodeError):
            return printable(raw.decode(codec))
    return printable(raw.decode("utf-8", errors="replace"))


Identity = tuple[int, int, int, int]
_JOURNAL_KEY = re.compile(r"[0-9a-f]{40}")
_OUR_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}" + re.escape(TEMP_SUFFIX))


def _identity(status: os.stat_result) -> Identity:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class _Request:
    """A request as read from req/: what it is, and its content once parsed."""

    name: str
    kind: str  # file | symlink | fifo | directory | socket | device
    identity: Identity
    mtime: float
    key: str  # name, size, mtime and content hash: what the journal records
    digest: str | None = None  # SHA-256 of the content read (None: not read)
    too_large: bool = False
    message: dict[str, Any] | None = None
    parse_error: str | None = None


class _Directory:
    """One directory of the shared folder, held open by descriptor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fd = -1
        self.identity = (0, 0)

    def open(self, parent_fd: int) -> int:
        fd = open_directory(self.name, dir_fd=parent_fd, create=True)
        status = os.fstat(fd)
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.identity = fd, (status.st_dev, status.st_ino)
        return fd

    def checked(self, parent_fd: int) -> int:
        """The descriptor, after checking that the name still leads to it: a directory
        deleted is made again, one replaced is taken if real, a symlink refused."""
        try:
            status = os.stat(self.name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return self.open(parent_fd)
        if (status.st_dev, status.st_ino) != self.identity:
            return self.open(parent_fd)
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Journal:
    """Requests answered and not yet moved out of req/ (see the module's docstring): one
    line ``A <key> <temp>`` per answer about to be renamed into place, ``R <key>`` once
    the request is gone; emptied whenever nothing is open.

    It is kept in the terminal's private data directory (0700, the file 0600), one per
    folder, named by the SHA-256 of the folder's real path — not in the shared folder.
    There, whoever writes the folder could compute a request's key (its name, size, time
    and content are theirs) and append a line: the link then took the request for
    answered and moved it away unanswered, saying nothing. Authenticating each line
    (an HMAC with a private key) would stop a forged line but not a genuine line copied
    and appended again when the same request is sent again, nor the file deleted; kept
    out of the folder, it is out of their reach altogether, with no key to keep. What it
    costs: the record belongs to this terminal's data directory — a link with another
    data directory taking over the folder after a ``kill -9`` may answer the one request
    caught between the two steps again (never drop it)."""

    def __init__(self, fd: int, entries: dict[str, str], header: str) -> None:
        self.fd = fd
        self.entries = entries
        self.header = header

    @classmethod
    def load(cls, private_dir: Path, folder: Path) -> _Journal:
        """The journal of ``folder`` (its real path), made if missing."""
        directory = private_dir / JOURNALS
        private_directory(directory)
        name = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16] + ".journal"
        dir_fd = open_directory(directory)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(name, flags | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafeFolder(errno.EINVAL, f"{directory / name} が通常のファイルではありません")
        text = os.pread(fd, MAX_JOURNAL_BYTES, 0).decode("ascii", errors="replace")
        entries: dict[str, str] = {}
        for line in text.splitlines():
            match line.split(" "):
                case ["A", key, temp] if _JOURNAL_KEY.fullmatch(key) and _OUR_TEMP.fullmatch(temp):
                    entries[key] = temp
                case ["R", key]:
                    entries.pop(key, None)
                case _:
                    pass  # the header, or a torn last line
        # which folder it is for, for whoever looks (ASCII: the file is read as ASCII)
        where = printable(str(folder)).encode("ascii", errors="backslashreplace").decode()
        return cls(fd, entries, f"# reception link journal of {where}\n")

    def rewrite(self) -> None:
        os.ftruncate(self.fd, 0)
        lines = "".join(f"A {key} {temp}\n" for key, temp in self.entries.items())
        os.write(self.fd, (self.header + lines).encode("ascii"))

    def answering(self, key: str, temp: str) -> None:
        # written before the answer appears, so that a link killed after it finds it; not
        # synced: what it covers is the process dying (kill -9), not a power cut
        os.write(self.fd, f"A {key} {temp}\n".encode("ascii"))
        self.entries[key] = temp

    def done(self, key: str) -> None:
        if self.entries.pop(key, None) is None:
            return
        if self.entries:
            os.write(self.fd, f"R {key}\n".encode("ascii"))
        else:
            self.rewrite()

    def close(self) -> None:
        os.close(self.fd)


class Link:
    """The folder interface over one directory, answering through the service;
    ``private_dir`` is the terminal's own data directory (``settings.data_dir``), where
    the link keeps its journal (:class:`_Journal`).

    Every file operation runs on one thread of its own, in order: the event loop (the
    TUI's reader panel and PIN pad) never waits for a disk, a network share or a parse,
    and descriptors are closed only after the operations queued before."""

    def __init__(
        self,
        folder: Path,
        client: OqsClient,
        *,
        institution_code: str,
        private_dir: Path,
        keep_done: bool = True,
        on_event: Callable[[LinkEvent], None] | None = None,
        privacy: FilePrivacy | None = None,
    ) -> None:
        self.folder = folder
        self.req, self.res, self.face = folder / "req", folder / "res", folder / "face"
        self.done = self.req / "done"
        self.client = client
        self.institution_code = institution_code
        self.private_dir = private_dir
        self.keep_done = keep_done
        self.on_event = on_event
        self.privacy = privacy or FilePrivacy()
        self._busy: set[str] = set()
        self._reported: dict[str, set[str]] = {}
        self._undelivered: dict[str, tuple[str, bytes]] = {}  # name → (request key, answer)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="link-io")
        self._closed = False
        self._root_fd = -1
        self._lock_fd = -1
        self._lock_file = (0, 0)  # the lock file's device and inode
        self._lock_trouble: str | None = None  # why it could not be made again (logged)
        self._dirs = {
            "req": _Directory("req"),
            "res": _Directory("res"),
            "face": _Directory("face"),
            "done": _Directory("done"),
        }
        self._journal: _Journal | None = None
        self._notices: list[tuple[str, str]] = []  # found while preparing: said in run()
        self.started = False  # run() has the folder (a LinkFolderError later: it stopped)

    # -- the folder ---------------------------------------------------------------------

    def prepare(self) -> None:
        """Open and lock the folder; :class:`LinkFolderError` when a subfolder is not a
        real directory or another link holds it. Then no half-written answer of a
        terminal that was killed."""
        if self._root_fd >= 0:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._root_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._lock()
            for name in ("req", "res", "face"):
                self._dirs[name].open(self._root_fd)
            self._dirs["done"].open(self._dirs["req"].fd)
            self._journal = self._open_journal()
            self._drop_shared_journal()
            self._recover()
        except UnsafeFolder as exc:
            self._close_now()
            raise LinkFolderError(f"{self.folder}: {exc.strerror}") from None
        except BaseException:
            self._close_now()
            raise

    def _lock(self) -> None:
        """One link per folder; a second one refuses, naming the holder (pid, host, since
        when). The lock is ``flock`` on the folder's own directory, through the descriptor
        the link holds: whoever writes inside the folder can delete or replace any file
        there — with the lock on ``DIR/.reception-link.lock`` alone, ``rm`` of that file
        let a second link answer beside the first — but not the directory itself.

        On Linux's local file systems (ext4, xfs, btrfs, tmpfs) a directory's flock
        excludes every other process. On NFS and SMB (cifs) mounts the kernel keeps a
        directory's flock on the client: it excludes a second link on this machine only.
        So the link also locks the file ``DIR/.reception-link.lock``: the NFS client (since
        Linux 2.6.12, unless mounted ``local_lock=flock``) and cifs (since Linux 5.5, unless
        mounted ``nobrl``) take a file's flock on the server, where links on other machines
        see it. That file can be deleted: while the link runs it is checked every quiet
        second and, if gone or replaced, made and locked again (:meth:`_keep_lock`)."""
        try:
            fcntl.flock(self._root_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._held() from None
        except OSError as exc:  # a file system with no flock on directories
            log.warning(
                "link: %s cannot be locked itself (%s): only its lock file is",
                printable(str(self.folder)),
                exc.strerror,
            )
        self._take_lock_file()

    def _held(self) -> LinkFolderError:
        """Another link holds the folder: who, as the lock file says (if it still can)."""
        try:
            data = read_regular(self._root_fd, LOCK_NAME, 300)[1]
        except OSError:
            data = None  # deleted, or not a file: the lock of the directory says enough
        holder = printable(data.decode("utf-8", errors="replace").strip()) if data else ""
        return LinkFolderError(
            f"{self.folder}: 別の連携が使用中です（{holder or '不明'}）。"
            "一つのフォルダに答える連携は一つだけです"
        )

    def _take_lock_file(self) -> None:
        """Lock ``DIR/.reception-link.lock`` and write in it who holds the folder: the file
        that is there, or a new one renamed over the name when it is missing or is not a
        regular file (a symlink is replaced, never followed)."""
        root = self._root_fd
        fd = -1
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.stat(LOCK_NAME, dir_fd=root, follow_symlinks=False).st_mode):
                flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
                with contextlib.suppress(OSError):  # swapped meanwhile: a new one below
                    fd = os.open(LOCK_NAME, flags, dir_fd=root)
                if fd >= 0 and not stat.S_ISREG(os.fstat(fd).st_mode):
                    os.close(fd)
                    fd = -1
        if fd < 0:
            temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temp, flags, 0o644, dir_fd=root)
            try:
                os.rename(temp, LOCK_NAME, src_dir_fd=root, dst_dir_fd=root)
            except OSError as exc:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=root)
                if isinstance(exc, IsADirectoryError):
                    raise UnsafeFolder(exc.errno, f"{LOCK_NAME} がディレクトリです") from None
                raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, BlockingIOError):  # a link on another machine of a share
                raise self._held() from None
            raise
        since = now_jst().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode(), 0)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
        status = os.fstat(fd)
        self._lock_fd, self._lock_file = fd, (status.st_dev, status.st_ino)

    def _keep_lock(self) -> None:
        """The lock file still the one this link holds (on the file thread): deleted or
        replaced, it is made and locked again. :class:`LinkFolderError` when another link
        took it meanwhile (on another machine of an NFS or SMB share): this one stops.
        A lock file that cannot be made now (a directory of its name, a share that does
        not answer) is logged once and tried again: the folder's own lock still holds."""
        try:
            now = os.stat(LOCK_NAME, dir_fd=self._root_fd, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == self._lock_file:
                return
        except FileNotFoundError:
            pass
        except OSError:
            return  # the folder cannot be read now: the sweep says so
        try:
            self._take_lock_file()
        except OSError as exc:
            trouble = exc.strerror or str(exc)
            if trouble != self._lock_trouble:
                self._lock_trouble = trouble
                log.warning("link: %s cannot be made again (%s)", LOCK_NAME, trouble)
            return
        self._lock_trouble = None
        log.warning("link: %s was deleted or replaced; made and locked again", LOCK_NAME)

    def _open_journal(self) -> _Journal:
        real = Path(os.path.realpath(self.folder))
        try:
            return _Journal.load(self.private_dir, real)
        except UnsafeFolder:
            raise
        except OSError as exc:  # e.g. a data directory this user cannot write
            raise LinkFolderError(
                f"{self.private_dir / JOURNALS}: 連携の記録を置けません（{exc.strerror or exc}）"
            ) from None

    def _drop_shared_journal(self) -> None:
        """A journal in the shared folder is never read (see :class:`_Journal`): an
        earlier version kept it there, or someone wrote it to make requests look
        answered. It is removed, and said once; every request it names is answered."""
        try:
            os.unlink(JOURNAL_NAME, dir_fd=self._root_fd)
        except FileNotFoundError:
            return
        except OSError as exc:  # a directory of that name: left there, said all the same
            log.warning("link: cannot remove %s (%s)", JOURNAL_NAME, exc.strerror)
        self._notices.append(
            (
                JOURNAL_NAME,
                "LINK-E009 共有フォルダの記録ファイルは使いません（削除しました）。"
                "連携の記録は端末の中にあり、要求にはすべて答えます",
            )
        )

    def _recover(self) -> None:
        """After a crash: a journal entry whose temp file is still in res/ was never
        answered (forgotten, answered again); then the temp files of a killed link go."""
        assert self._journal is not None
        res_fd = self._dirs["res"].fd
        for key, temp in list(self._journal.entries.items()):
            with contextlib.suppress(FileNotFoundError):
                os.stat(temp, dir_fd=res_fd, follow_symlinks=False)
                del self._journal.entries[key]
        self._journal.rewrite()
        now = time.time()
        # res/ is this link's alone (it holds the lock): every hidden temp file there is a
        # dead link's. face/ is written by check-ins of other processes too: only our
        # writers' temp files (and the old writer's), and only old ones
        for name, fd, age, prefixes in (
            ("res", res_fd, 0.0, (".",)),
            (
                "face",
                self._dirs["face"].fd,
                STALE_FACE_TEMP_SECONDS,
                (TEMP_PREFIX, ".OQSsiquc01res_face_"),
            ),
        ):
            for entry in os.listdir(fd):
                if not (entry.startswith(prefixes) and entry.endswith(TEMP_SUFFIX)):
                    continue
                with contextlib.suppress(OSError):
                    status = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISREG(status.st_mode) and now - status.st_mtime >= age:
                        os.unlink(entry, dir_fd=fd)
                        log.info("link: removed the stale temp file %s/%s", name, shown_name(entry))

    def _fd(self, name: str) -> int:
        """A subfolder's descriptor, checked (see :meth:`_Directory.checked`)."""
        if name == "done":
            return self._dirs["done"].checked(self._fd("req"))
        return self._dirs[name].checked(self._root_fd)

    def _listing(self, unless_replaced: bool) -> list[str] | None:
        """The names in req/ (on the file thread); None when ``unless_replaced`` and req/
        is not the directory held open any more."""
        if unless_replaced:
            try:
                status = os.stat("req", dir_fd=self._root_fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            if (status.st_dev, status.st_ino) != self._dirs["req"].identity:
                return None
        return os.listdir(self._fd("req"))

    def close(self, *, wait: bool = False) -> None:
        """Release the folder once the file operations queued before are done (``wait``:
        return only then; the event loop never waits for a stalled share)."""
        if not self._closed:
            self._closed = True
            self._io.submit(self._close_now)
        self._io.shutdown(wait=wait)

    def _close_now(self) -> None:
        for directory in self._dirs.values():
            directory.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        for fd in (self._lock_fd, self._root_fd):
            if fd >= 0:
                os.close(fd)  # the lock goes with it
        self._lock_fd = self._root_fd = -1

    async def _on_io(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))

    def _event(self, kind: str, name: str, detail: str = "", *, file: str | None = None) -> None:
        event = LinkEvent(
            now_jst().isoformat(timespec="seconds"),
            kind,
            shown_name(name),
            excerpt(printable(detail)),
            file if file is not None else name,
        )
        log.info("link %s %s %s", event.kind, event.name, event.detail)
        if self.on_event is not None:
            self.on_event(event)

    def _report_once(self, name: str, detail: str, *, about: str | None = None) -> bool:
        """A trouble that is not answered (it stays, or recurs): said once, not every
        second, until ``about`` (that name; a subfolder's trouble: "folder") is well.
        Whether it was said now."""
        said = self._reported.setdefault(about or name, set())
        if detail in said:
            return False
        said.add(detail)
        self._event("error", name, detail)
        return True

    # -- the watcher ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Answer what is waiting, then every request as it arrives, until ``stop``."""
        try:
            await self._on_io(self.prepare)
            self.started = True
            while self._notices:  # on the event loop: the TUI's pane is not thread-safe
                name, detail = self._notices.pop(0)
                self._event("error", name, detail)
            while not stop.is_set():
                if await self.sweep():
                    await self._watch(stop)
                else:  # req/ cannot be used now (said once): look again in a moment
                    await _wait(stop, SWEEP_SECONDS)
        finally:
            for task in self._tasks:
                task.cancel()
            self.close()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Answer what changes in req/ as it changes, and sweep it whenever it has been
        quiet for a second (an event lost, a network share that reports nothing) or
        busy for long; return when req/ must be watched anew (deleted, replaced)."""
        from watchfiles import Change, awatch  # only the link needs the watcher

        swept = time.monotonic()
        try:
            async for changes in awatch(
                self.req,
                stop_event=stop,
                step=1,
                debounce=400,
                recursive=False,
                yield_on_timeout=True,
                rust_timeout=SWEEP_SECONDS * 1000,
            ):
                held = self._dirs["req"].identity
                for change, path in sorted(changes, key=lambda c: c[1]):
                    if change is not Change.deleted:
                        await self.handle(os.path.basename(path))
                if self._dirs["req"].identity != held:
                    return  # found replaced while reading (and taken): watched anew
                if not changes or time.monotonic() - swept > BUSY_SWEEP_SECONDS:
                    swept = time.monotonic()
                    await self._on_io(self._keep_lock)
                    if not await self.sweep(unless_replaced=True):
                        return  # deleted (made again by the next sweep) or replaced
        except LinkFolderError:
            raise  # another link took the folder: this one stops (said by the caller)
        except Exception as exc:  # e.g. a name that is not UTF-8: the watcher cannot say it
            cause: BaseException = exc
            while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
                cause = cause.exceptions[0]
            # the library's own words (English, a path) go to the log; staff read one
            # sentence, once: every request is still answered by the sweep
            log.warning(
                "link: the watcher stopped (%s: %s); watching again",
                type(cause).__name__,
                excerpt(printable(str(cause))),
            )
            self._report_once(
                "req/",
                "LINK-E007 フォルダの監視をやり直しました（名前の読めないファイルなど）。"
                "要求にはすべて答えます",
                about="watcher",
            )
            await _wait(stop, RETRY_SECONDS)

    async def sweep(self, *, unless_replaced: bool = False) -> bool:
        """Every request waiting in req/ (at start, on every change, when quiet); False
        when req/ cannot be read now (said once) — or, ``unless_replaced``, when it is not
        the directory being watched any more (deleted or replaced)."""
        try:
            names = await self._on_io(self._listing, unless_replaced)
        except OSError as exc:  # UnsafeFolder: req/ is a symlink now
            self._report_once("req/", f"LINK-E007 {exc.strerror or exc}")
            return False
        if names is None:
            return False
        self._reported.pop("req/", None)
        for name in sorted(names):
            await self.handle(name)
        return True

    async def handle(self, name: str | Path) -> Path | None:
        """Answer one request of req/ by name; the answer's path, or None (not a request,
        already answered, or still being written — then it is tried again shortly)."""
        name = name.name if isinstance(name, Path) else name
        if not is_request_name(name) or name in self._busy:
            return None
        self._busy.add(name)
        try:
            return await self._handle(name)
        except UnsafeFolder as exc:  # res/ or req/done/ is a symlink now: nothing goes there
            self._report_once(name, f"LINK-E007 {exc.strerror}", about="folder")
            return None
        except Exception as exc:  # the watcher never dies of one request (a full disk …)
            # an OSError's text names the file (a temp file's random name): said once
            # means once per kind of trouble, so without it
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            if self._report_once(name, f"LINK-E007 {type(exc).__name__}: {reason}"):
                # the traceback with it, once: not every second while it recurs
                log.warning("link: %s could not be answered", shown_name(name), exc_info=True)
            return None
        finally:
            self._busy.discard(name)

    async def _handle(self, name: str) -> Path | None:
        request = await self._on_io(self._read, name)
        if request is None:
            return None  # moved or removed meanwhile
        assert self._journal is not None
        if request.key in self._journal.entries:
            self._undelivered.pop(name, None)
            await self._on_io(self._retire_answered, request)  # answered before a restart
            return None
        kept = self._undelivered.get(name)
        if kept is not None and kept[0] == request.key:
            document = kept[1]  # answered before, not written (a full disk): not asked again
        else:
            answered = await self._compose(request)
            if answered is None:
                return None
            document = answered
        try:
            answer, retired = await self._on_io(self._deliver, request, document)
        except BaseException:
            self._undelivered[name] = (request.key, document)
            raise
        self._undelivered.pop(name, None)
        self._reported.pop(name, None)
        self._reported.pop("folder", None)
        if not retired:  # rewritten while it was answered: the new content is answered too
            self._retry_later(name)
        return self.res / answer

    async def _compose(self, request: _Request) -> bytes | None:
        """The answer's document; None for a file that is still being written."""
        name = request.name
        message: dict[str, Any] | None = None
        error: LinkError | None = None
        if request.kind != "file":
            label = KIND_LABELS.get(request.kind, request.kind)
            error = LinkError("LINK-E008", f"{label}には答えません（通常のファイルではありません）")
        elif name.split("_", 1)[0] not in HANDLERS:
            prefix = shown_name(name)
            error = LinkError("LINK-E002", f"この端末が答える要求ではありません（{prefix}）")
        elif request.too_large:
            error = LinkError("LINK-E004", "4 MiB を超えています")
        elif request.parse_error is not None:
            if time.time() - request.mtime < STILL_WRITING_SECONDS:
                self._retry_later(name)  # a writer that has not finished
                return None
            error = LinkError("LINK-E001", request.parse_error)
        else:
            message = request.message
        self._event("request", name)
        return await self._answer(name, message, error)

    def _read(self, name: str) -> _Request | None:
        """The request as it is now (on the file thread): read and parsed if it is a
        regular file of a request kind, else only looked at; None when gone. Nothing
        is read while res/ cannot take the answer (:class:`UnsafeFolder`)."""
        self._fd("res")
        req_fd = self._fd("req")
        try:
            status, data = read_regular(req_fd, name, MAX_REQUEST_BYTES)
        except FileNotFoundError:
            return None
        except NotRegular as exc:
            try:
                status = os.stat(name, dir_fd=req_fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            return _Request(name, exc.kind, _identity(status), status.st_mtime, _key(name, status))
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        key = _key(name, status, digest)
        found = _Request(name, "file", _identity(status), status.st_mtime, key, digest)
        if data is None:
            return _replace(found, too_large=True)
        if name.split("_", 1)[0] not in HANDLERS:
            return found
        try:
            return _replace(found, message=xml_to_message(data))
        except ValueError as exc:
            return _replace(found, parse_error=str(exc))

    def _deliver(self, request: _Request, document: bytes) -> tuple[str, bool]:
        """The answer into res/, recorded, then the request moved out of req/ (on the file
        thread); the answer's name, and whether the request was moved."""
        assert self._journal is not None
        res_fd = self._fd("res")
        answer = answer_name(request.name)
        temp = stage(res_fd, document, self.privacy)
        self._journal.answering(request.key, temp)
        try:
            publish(res_fd, temp, answer, sync=False)
        except BaseException:
            self._journal.done(request.key)  # never appeared: answered again next sweep
            raise
        retired = self._retire(request)  # at once: the answer is there, the request goes
        sync_directory(res_fd)  # the answer's name durable before the journal forgets it
        self._journal.done(request.key)
        return answer, retired

    def _retire_answered(self, request: _Request) -> None:
        """A request answered before a restart: moved, never answered twice."""
        assert self._journal is not None
        self._retire(request)
        self._journal.done(request.key)

    def _retire(self, request: _Request) -> bool:
        """Moved to req/done (removed when ``keep_done`` is off; a directory stays there),
        unless it changed since it was read: False then, and it stays in req/."""
        req_fd, done_fd = self._fd("req"), self._fd("done")
        try:
            if not _unchanged(req_fd, request.name, request):
                return False
        except FileNotFoundError:
            return True  # the clinic software took it back
        target = fit_name(request.name)
        with contextlib.suppress(FileNotFoundError):
            os.stat(target, dir_fd=done_fd, follow_symlinks=False)
            stem, suffix = os.path.splitext(request.name)
            target = fit_name(f"{stem}.{now_jst():%Y%m%d%H%M%S%f}{suffix}")
        os.rename(request.name, target, src_dir_fd=req_fd, dst_dir_fd=done_fd)
        try:
            moved = _unchanged(done_fd, target, request)
        except FileNotFoundError:
            return True  # taken out of done/ at once: gone all the same
        if not moved:  # replaced or rewritten in the instant between: back to req/
            with contextlib.suppress(FileNotFoundError):
                os.stat(request.name, dir_fd=req_fd, follow_symlinks=False)
                return False  # a newer one is there already
            os.rename(target, request.name, src_dir_fd=done_fd, dst_dir_fd=req_fd)
            return False
        if not self.keep_done and request.kind != "directory":
            os.unlink(target, dir_fd=done_fd)
        return True

    def _retry_later(self, name: str) -> None:
        loop = asyncio.get_running_loop()

        def again() -> None:
            task = asyncio.ensure_future(self.handle(name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_later(RETRY_SECONDS, again)

    # -- answers ------------------------------------------------------------------------

    async def _answer(
        self, name: str, request: dict[str, Any] | None, error: LinkError | None
    ) -> bytes:
        header = (request or {}).get("MessageHeader")
        header = header if isinstance(header, dict) else {}
        answer = answer_name(name)
        identifier = _text(header, "ArbitraryFileIdentifier") or ""
        if error is None and len(identifier) > MAX_FILE_IDENTIFIER:
            error = LinkError(
                "LINK-E003",
                f"MessageHeader/ArbitraryFileIdentifier は{MAX_FILE_IDENTIFIER}文字までです"
                f"（{len(identifier)}文字）",
            )
        try:
            if error is not None:
                raise error
            assert request is not None
            result = await HANDLERS[name.split("_", 1)[0]](self, request)
        except LinkError as exc:
            self._event("error", name, f"{exc.code} {exc.message}")
            return xml_message(self._error(header, exc))
        except OqsRefused as exc:
            failure = _refusal(exc)
            self._event("error", name, f"{failure.code} {type(exc).__name__}: {exc}")
            return xml_message(self._error(header, failure))
        except OqsError as exc:
            # a refusal names what was wrong in the request; an outage says to try later
            failure = LinkError("LINK-E005", exc.staff_message if exc.fallback else str(exc))
            self._event("error", name, f"LINK-E005 {type(exc).__name__}: {exc}")
            return xml_message(self._error(header, failure))
        if isinstance(result, QualificationResult):
            result.message_header.character_code_identifier = _character_code(header)
            self._event("answer", answer, result.validity_label)
            return xml_message(result)
        reply = result if isinstance(result, Answer) else Answer(result)
        document = {
            "MessageHeader": self._header(header, reply.segment),
            "MessageBody": reply.body,
        }
        self._event("answer", answer, "処理中" if reply.segment == "2" else "")
        return xml_document(document)

    def _header(self, request: dict[str, Any], segment: str) -> dict[str, Any]:
        """The answer's header: this terminal, the request's identifier and encoding."""
        now = now_jst()
        return {
            "ProcessExecutionTime": now.strftime("%Y%m%d%H%M%S"),
            "QualificationConfirmationDate": now.strftime("%Y%m%d"),
            "MedicalInstitutionCode": self.institution_code,
            "ArbitraryFileIdentifier": _file_identifier(request),
            "ReferenceClassification": "2",
            "SegmentOfResult": segment,
            "CharacterCodeIdentifier": _character_code(request),
        }

    def _error(self, header: dict[str, Any], error: LinkError) -> QualificationResult:
        answer = self._header(header, "9")
        answer |= {"ErrorCode": error.code, "ErrorMessage": excerpt(error.message)}
        return QualificationResult.parse(
            {"MessageHeader": answer, "MessageBody": {"ProcessingResultStatus": "2"}}
        )


def _key(name: str, status: os.stat_result, content: str | None = None) -> str:
    """What identifies a request that was answered: its name, size, modification time and
    content (``content``: its SHA-256; a reused name with new content is a new request)."""
    digest = hashlib.sha256(os.fsencode(name))
    digest.update(f"\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    digest.update(bytes.fromhex(content or hashlib.sha256(b"").hexdigest()))
    return digest.hexdigest()[:40]


def _unchanged(dir_fd: int, name: str, request: _Request) -> bool:
    """Whether the entry is still the request as it was answered: the same file, size and
    time — and, when its content was read, the same content (a file rewritten in place
    within one tick of a 2-second FAT/SMB clock keeps all the rest).
    ``FileNotFoundError`` when it is gone."""
    status = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if _identity(status) != request.identity:
        return False
    if request.digest is None:  # not a regular file, or over 4 MiB: never read
        return True
    try:
        status, data = read_regular(dir_fd, name, MAX_REQUEST_BYTES)
    except NotRegular:
        return False
    return (
        data is not None
        and _identity(status) == request.identity
        and hashlib.sha256(data).hexdigest() == request.digest
    )


def _replace(request: _Request, **changes: Any) -> _Request:
    return dataclasses.replace(request, **changes)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def describe_answer(path: Path) -> list[str]:
    """An answer file as staff read it: one line per patient (一括照会: every patient),
    each at most ``ECHO_LIMIT`` characters (res/ is written by others too)."""
    return [excerpt(line) for line in _described(path)]


def _described(path: Path) -> list[str]:
    from reception.results import VALIDITY_LABELS

    try:
        data = read_file(path, MAX_REQUEST_BYTES)  # never through a symlink, never a FIFO
        if data is None:
            return ["読めません: 4 MiB を超えています"]
        message = xml_to_message(data)
    except (OSError, ValueError) as exc:
        return [f"読めません: {exc}"]
    header = message.get("MessageHeader") or {}
    if not isinstance(header, dict) or _text(header, "SegmentOfResult") == "9":
        code = _text(header, "ErrorCode") if isinstance(header, dict) else None
        return [f"エラー {code}: {_text(header, 'ErrorMessage') if code else ''}"]
    body = message.get("MessageBody") or {}
    bulk = body.get("QualificationConfirmationResultList") if isinstance(body, dict) else None
    if _text(header, "SegmentOfResult") == "2":
        return [f"処理中（ReceptionNumber {_text(body, 'ReceptionNumber')}）"]
    patients = bulk.get("QualificationConfirmationResult") if isinstance(bulk, dict) else [body]
    patients = patients if isinstance(patients, list) else [patients]
    lines = [f"{len(patients)}件"] if bulk else []
    for patient in patients:
        if not isinstance(patient, dict):
            continue
        search = patient.get("QualificationConfirmSearchInfo")
        who = _text(search, "InsuredIdentificationNumber") if isinstance(search, dict) else None
        validity = VALIDITY_LABELS.get(_text(patient, "QualificationValidity") or "", "—")
        entries = (patient.get("ResultList") or {}) if isinstance(patient, dict) else {}
        found = (
            entries.get("ResultOfQualificationConfirmation", [])
            if isinstance(entries, dict)
            else []
        )
        names = "、".join(e.get("Name", "") for e in found if isinstance(e, dict))
        lines.append(f"番号 {who or '—'}  {validity}  {names}".rstrip())
    return lines


def _text(element: dict[str, Any], name: str) -> str | None:
    value = element.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _file_identifier(header: dict[str, Any]) -> str | None:
    """The request's ``ArbitraryFileIdentifier``, to echo: None when too long to."""
    identifier = _text(header, "ArbitraryFileIdentifier")
    return identifier if identifier is None or len(identifier) <= MAX_FILE_IDENTIFIER else None


def _character_code(header: dict[str, Any]) -> str:
    return "1" if _text(header, "CharacterCodeIdentifier") == "1" else "0"


def _search(request: dict[str, Any], *required: str) -> dict[str, Any]:
    body = request.get("MessageBody")
    info = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    if isinstance(info, list):
        raise LinkError(
            "LINK-E003", "QualificationConfirmSearchInfo は1件です（一括照会は OQSmuquc01）"
        )
    return _checked(info, *required)


def _checked(info: Any, *required: str) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise LinkError("LINK-E003", "MessageBody/QualificationConfirmSearchInfo がありません")
    for name in required:
        if _text(info, name) is None:
            raise LinkError("LINK-E003", f"QualificationConfirmSearchInfo/{name} がありません")
    return info


def _patient(request: dict[str, Any], info: Any = None) -> NumberQuery:
    """The patient a request names: 保険者番号 (国保 padded to 8), 記号, 番号, 枝番, 生年月日."""
    needed = ("InsurerNumber", "InsuredIdentificationNumber", "Birthdate")
    info = _search(request, *needed) if info is None else _checked(info, *needed)
    birth = _text(info, "Birthdate") or ""
    try:
        day = dt.datetime.strptime(birth, "%Y%m%d").date()
    except ValueError:
        raise LinkError("LINK-E003", f"Birthdate は YYYYMMDD です（{birth!r}）") from None
    header = request.get("MessageHeader")
    return NumberQuery(
        insurer_number=_text(info, "InsurerNumber") or "",
        symbol=_text(info, "InsuredCardSymbol") or "",
        number=_text(info, "InsuredIdentificationNumber") or "",
        branch=_text(info, "InsuredBranchNumber") or "",
        birth_date=day,
        limit_consent=_text(info, "LimitApplicationCertificateRelatedConsFlg") == "1",
        arbitrary_file_identifier=_text(header, "ArbitraryFileIdentifier")
        if isinstance(header, dict)
        else None,
    )


def _refusal(exc: OqsRefused) -> LinkError:
    """What the service refused, said to the clinic software."""
    if isinstance(exc, OqsRateLimited):  # held back (429): what to do, in Japanese
        return LinkError("LINK-E005", exc.staff_message)
    if exc.code == "MOCK-E008":
        return LinkError("LINK-E006", "この医療機関での同意がありません")
    if exc.code == "MOCK-E016":
        return LinkError("LINK-E006", "同意の有効期限（24時間）が過ぎました")
    if exc.code == "MOCK-E014":
        return LinkError("LINK-E003", "この ReceptionNumber の一括照会はありません")
    if exc.code in ("MOCK-E006", "MOCK-E007"):
        return LinkError("LINK-E003", f"要求の内容で確認できません: {exc.reason}")
    return LinkError("LINK-E005", f"資格確認サービスが要求を拒否しました: {exc.code}")


async def _single_query(link: Link, request: dict[str, Any]) -> QualificationResult:
    return await link.client.confirm_number(_patient(request))


async def _register_reference(link: Link, request: dict[str, Any]) -> dict[str, Any]:
    """OQSsiimm01: 照会番号 (``MessageBody/ReferenceNumber``, ≤ 50 characters)."""
    body = request.get("MessageBody")
    number = _text(body, "ReferenceNumber") if isinstance(body, dict) else None
    if number is None or len(number) > 50:
        raise LinkError("LINK-E003", "MessageBody/ReferenceNumber（50文字まで）がありません")
    registered = await link.client.register_reference_number(_patient(request), number)
    return {"ProcessingResultStatus": "1", "ReferenceNumber": registered}


def _records(kind: str, element: str) -> Callable[[Link, dict[str, Any]], Any]:
    """YZK / TKK: the records of a patient who consented at this clinic (24 h)."""

    async def fetch(link: Link, request: dict[str, Any]) -> dict[str, Any]:
        rows = await link.client.records(_patient(request), kind)
        items = [{_pascal(k): v for k, v in row.items()} for row in rows]
        return {"ProcessingResultStatus": "1", f"{element}List": {element: items}}

    return fetch


async def _bulk_upload(link: Link, request: dict[str, Any]) -> Answer:
    """OQSmuquc01: many QualificationConfirmSearchInfo → a ReceptionNumber at once, 2 (処理中)."""
    body = request.get("MessageBody")
    infos = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    infos = infos if isinstance(infos, list) else [infos]
    queries = []
    for position, info in enumerate(infos, start=1):
        try:
            queries.append(_patient(request, info))
        except LinkError as exc:
            raise LinkError(exc.code, f"{position}件目: {exc.message}") from None
    if len(queries) > BULK_MAX:
        raise LinkError("LINK-E003", f"一括照会は{BULK_MAX}件までです（{len(queries)}件）")
    number = await link.client.start_bulk(queries)
    return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")


async def _bulk_fetch(link: Link, request: dict[str, Any]) -> Answer:
    """OQSmuquc02: 2 while the 一括照会 runs; 1 with every patient's result when done."""
    body = request.get("MessageBody")
    number = _text(body, "ReceptionNumber") if isinstance(body, dict) else None
    if number is None:
        raise LinkError("LINK-E003", "MessageBody/ReceptionNumber がありません")
    if not (number.isascii() and number.isalnum()) or len(number) > MAX_RECEPTION_NUMBER:
        # (a 3 MB one made a URL too long to send: never answered, retried every second)
        raise LinkError(
            "LINK-E003",
            f"MessageBody/ReceptionNumber は{MAX_RECEPTION_NUMBER}文字までの英数字です"
            f"（{len(number)}文字: {number}）",
        )
    results = await link.client.fetch_bulk(number)
    if results is None:
        return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")
    # each patient's answer: its MessageBody (the search echoed, validity, qualifications)
    each = [r.message_body.model_dump(by_alias=True, exclude_none=True) for r in results]
    return Answer(
        {
            "ProcessingResultStatus": "1",
            "ReceptionNumber": number,
            "QualificationConfirmationResultList": {"QualificationConfirmationResult": each},
        }
    )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


HANDLERS: dict[str, Callable[[Link, dict[str, Any]], Any]] = {
    "OQSsiquc01req": _single_query,
    "OQSsiimm01req": _register_reference,
    "YZKsiquc01req": _records("medications", "MedicationInfo"),
    "TKKsiquc01req": _records("checkups", "SpecificHealthCheckupInfo"),
    "OQSmuquc01req": _bulk_upload,
    "OQSmuquc02req": _bulk_fetch,
}
