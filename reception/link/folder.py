"""The shared folder as the link holds it (on the link's file thread): its directories open
by descriptor and checked before each use, its locks, the journal, and reading,
answering and moving requests (see :mod:`reception.link`: the folder is hostile; once
and only once)."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import secrets
import socket
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reader.clock import now_jst
from reader.safe_text import printable
from reception.link.checks import encoding_conflict
from reception.link.journal import JOURNALS, Journal
from reception.link.kinds import HANDLERS
from reception.link.terms import (
    JOURNAL_NAME,
    LOCK_NAME,
    MAX_REQUEST_BYTES,
    STALE_FACE_TEMP_SECONDS,
    LinkFolderError,
    Reply,
    answer_name,
    shown_name,
)
from reception.link.zipped import form_of, wrapped
from reception.results import xml_to_message
from reception.shared_folder import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    FilePrivacy,
    NotRegular,
    UnsafeFolder,
    fit_name,
    open_directory,
    publish,
    read_regular,
    stage,
    sync_directory,
)

log = logging.getLogger("reception.link")

Identity = tuple[int, int, int, int]


def _identity(status: os.stat_result) -> Identity:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class Request:
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
    encoding_error: str | None = None  # CharacterCodeIdentifier against the bytes


class Directory:
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


class HeldFolder:
    """The folder ``DIR`` with req/, res/, face/ and req/done/, held open and locked while
    the link runs; ``private_dir`` holds the journal (:class:`Journal`). Every method runs
    on the link's file thread."""

    def __init__(
        self,
        folder: Path,
        *,
        private_dir: Path,
        keep_done: bool,
        privacy: FilePrivacy,
        answer_forms: Mapping[str, str] | None = None,
        zip_password: bytes | None = None,
    ) -> None:
        self.folder = folder
        self.answer_forms = dict(answer_forms or {})  # prefix → xml | zip | zip-encrypted
        self._zip_password = zip_password  # never logged
        self.private_dir = private_dir
        self.keep_done = keep_done
        self.privacy = privacy
        self._root_fd = -1
        self._lock_fd = -1
        self._lock_file = (0, 0)  # the lock file's device and inode
        self._lock_trouble: str | None = None  # why it could not be made again (logged)
        self._dirs = {
            "req": Directory("req"),
            "res": Directory("res"),
            "face": Directory("face"),
            "done": Directory("done"),
        }
        self._journal: Journal | None = None
        self.notices: list[tuple[str, str]] = []  # found while preparing: said in run()

    @property
    def req_identity(self) -> tuple[int, int]:
        """The device and inode of the req/ held open (it changes when req/ is replaced)."""
        return self._dirs["req"].identity

    def answered_before(self, request: Request) -> bool:
        """The request was answered, and not moved, before the link was killed."""
        assert self._journal is not None
        return request.key in self._journal.entries

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
            self.close_now()
            raise LinkFolderError(f"{self.folder}: {exc.strerror}") from None
        except BaseException:
            self.close_now()
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
        second and, if gone or replaced, made and locked again (:meth:`keep_lock`)."""
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

    def keep_lock(self) -> None:
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

    def _open_journal(self) -> Journal:
        real = Path(os.path.realpath(self.folder))
        try:
            return Journal.load(self.private_dir, real)
        except UnsafeFolder:
            raise
        except OSError as exc:  # e.g. a data directory this user cannot write
            raise LinkFolderError(
                f"{self.private_dir / JOURNALS}: 連携の記録を置けません（{exc.strerror or exc}）"
            ) from None

    def _drop_shared_journal(self) -> None:
        """A journal in the shared folder is never read (see :class:`Journal`): an
        earlier version kept it there, or someone wrote it to make requests look
        answered. It is removed, and said once; every request it names is answered."""
        try:
            os.unlink(JOURNAL_NAME, dir_fd=self._root_fd)
        except FileNotFoundError:
            return
        except OSError as exc:  # a directory of that name: left there, said all the same
            log.warning("link: cannot remove %s (%s)", JOURNAL_NAME, exc.strerror)
        self.notices.append(
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

    def fd(self, name: str) -> int:
        """A subfolder's descriptor, checked (see :meth:`Directory.checked`)."""
        if name == "done":
            return self._dirs["done"].checked(self.fd("req"))
        return self._dirs[name].checked(self._root_fd)

    def listing(self, unless_replaced: bool) -> list[str] | None:
        """The names in req/ (on the file thread); None when ``unless_replaced`` and req/
        is not the directory held open any more."""
        if unless_replaced:
            try:
                status = os.stat("req", dir_fd=self._root_fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            if (status.st_dev, status.st_ino) != self._dirs["req"].identity:
                return None
        return os.listdir(self.fd("req"))

    def close_now(self) -> None:
        """Release the directories, the journal and the locks."""
        for directory in self._dirs.values():
            directory.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        for fd in (self._lock_fd, self._root_fd):
            if fd >= 0:
                os.close(fd)  # the lock goes with it
        self._lock_fd = self._root_fd = -1

    def read(self, name: str) -> Request | None:
        """The request as it is now (on the file thread): read and parsed if it is a
        regular file of a request kind, else only looked at; None when gone. Nothing
        is read while res/ cannot take the answer (:class:`UnsafeFolder`)."""
        self.fd("res")
        req_fd = self.fd("req")
        try:
            status, data = read_regular(req_fd, name, MAX_REQUEST_BYTES)
        except FileNotFoundError:
            return None
        except NotRegular as exc:
            try:
                status = os.stat(name, dir_fd=req_fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            return Request(name, exc.kind, _identity(status), status.st_mtime, _key(name, status))
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        key = _key(name, status, digest)
        found = Request(name, "file", _identity(status), status.st_mtime, key, digest)
        if data is None:
            return _replace(found, too_large=True)
        if name.split("_", 1)[0] not in HANDLERS:
            return found
        found = _replace(found, encoding_error=encoding_conflict(data))
        try:
            return _replace(found, message=xml_to_message(data))
        except ValueError as exc:
            return _replace(found, parse_error=str(exc))

    def deliver(self, request: Request, reply: Reply) -> tuple[str, bool]:
        """The answer into res/ in the form its kind is set to (a ZIP:
        :mod:`~reception.link.zipped`), recorded, then the request moved out of req/ (on
        the file thread); the answer's name, and whether the request was moved."""
        assert self._journal is not None
        form = form_of(self.answer_forms, request.name)
        reply = wrapped(request.name, reply, form, self._zip_password)
        res_fd = self.fd("res")
        answer = answer_name(request.name, reply.suffix)
        temp = stage(res_fd, reply.data, self.privacy)
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

    def retire_answered(self, request: Request) -> None:
        """A request answered before a restart: moved, never answered twice."""
        assert self._journal is not None
        self._retire(request)
        self._journal.done(request.key)

    def _retire(self, request: Request) -> bool:
        """Moved to req/done (removed when ``keep_done`` is off; a directory stays there),
        unless it changed since it was read: False then, and it stays in req/."""
        req_fd, done_fd = self.fd("req"), self.fd("done")
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


def _key(name: str, status: os.stat_result, content: str | None = None) -> str:
    """What identifies a request that was answered: its name, size, modification time and
    content (``content``: its SHA-256; a reused name with new content is a new request)."""
    digest = hashlib.sha256(os.fsencode(name))
    digest.update(f"\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    digest.update(bytes.fromhex(content or hashlib.sha256(b"").hexdigest()))
    return digest.hexdigest()[:40]


def _unchanged(dir_fd: int, name: str, request: Request) -> bool:
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


def _replace(request: Request, **changes: Any) -> Request:
    return dataclasses.replace(request, **changes)
