"""Files in folders that other machines and programs write (design.md §6.8).

The link's folder (req/, res/, face/) is shared with clinic software, often over the
network: whoever can write there may plant a symlink where we are about to write, swap
a directory for a symlink, or leave a FIFO, a directory or a device where a request is
expected. Nothing in it is trusted:

- a directory is opened with ``O_DIRECTORY | O_NOFOLLOW`` (:func:`open_directory`) and
  used through its descriptor (``dir_fd=``): a directory later swapped for a symlink
  cannot redirect a write — it lands in the directory that was checked, wherever that
  has been moved to;
- a file is written under a temporary name created ``O_CREAT | O_EXCL | O_NOFOLLOW`` in
  its target directory, synced, then renamed over the final name and the directory
  synced (:func:`write_in`, the project's one writer, :mod:`reader.files`): the temp
  file is always one we created, and a rename replaces a symlink instead of following
  it;
- a file is read only when it is a regular file, opened ``O_NOFOLLOW | O_NONBLOCK`` and
  checked again on the open descriptor (:func:`read_regular`): a symlink is never
  followed and a FIFO never blocks;
- what we write holds personal data (answers, card confirmations, exports): it is 0600,
  or 0640 with a configured group (:class:`FilePrivacy`) for clinic software that runs
  as another user.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from reader import files

TEMP_PREFIX = ".reception-"
TEMP_SUFFIX = files.TEMP_SUFFIX
NAME_MAX = 255  # bytes of one file name (Linux, and what SMB servers accept)

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

KIND_LABELS = {
    "symlink": "シンボリックリンク",
    "fifo": "FIFO（名前付きパイプ）",
    "directory": "ディレクトリ",
    "socket": "ソケット",
    "device": "デバイスファイル",
    "file": "通常のファイル",
}


class UnsafeFolder(OSError):
    """A directory of a shared folder that is a symlink or not a directory at all."""


class NotRegular(OSError):
    """An entry that is not a regular file (``kind``: symlink, fifo, directory …)."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(f"{KIND_LABELS.get(kind, kind)}です（通常のファイルではありません）")
        self.name = name
        self.kind = kind


@dataclass(frozen=True)
class FilePrivacy:
    """Who may read what we write: the owner only (0600), or also ``group`` (0640)."""

    group: int | None = None

    @property
    def mode(self) -> int:
        return 0o600 if self.group is None else 0o640


def resolve_group(value: str) -> int:
    """A group name or number → its id, if this process may give files that group
    (a member of it, or root); else ``ValueError`` saying why."""
    try:
        gid = int(value) if value.isdigit() else grp.getgrnam(value).gr_gid
    except KeyError:
        raise ValueError(f"no group named {value!r} on this machine") from None
    if os.geteuid() != 0 and gid != os.getegid() and gid not in os.getgroups():
        raise ValueError(f"this user is not a member of group {value!r}: files cannot be given it")
    return gid


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """``name``, or when its bytes exceed ``limit`` its start, ``~``, 8 hex digits of its
    SHA-256 and its extension: distinct long names stay distinct, and still fit."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    _, dot, extension = raw.rpartition(b".")
    suffix = (b"." + extension) if dot and len(extension) <= 16 else b""
    tag = b"~" + hashlib.sha256(raw).hexdigest()[:8].encode()
    keep = limit - len(tag) - len(suffix)
    return os.fsdecode(raw[:keep] + tag + suffix)


def open_directory(name: str | Path, *, dir_fd: int | None = None, create: bool = False) -> int:
    """A descriptor of the directory ``name`` (relative to ``dir_fd``), never through a
    symlink at its last component; created first when ``create`` and missing.
    :class:`UnsafeFolder` when it is a symlink or no directory."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=dir_fd)
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        try:
            kind = kind_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            kind = "file"
        raise UnsafeFolder(
            exc.errno,
            f"{name} が{KIND_LABELS.get(kind, kind)}です（共有フォルダの中のフォルダは"
            "本物のディレクトリでなければなりません）",
        ) from None


def stage(dir_fd: int, data: bytes, privacy: FilePrivacy) -> str:
    """``data`` in a new hidden file of the directory, whole and synced; its name.
    Created exclusively (never an existing file, never through a symlink)."""
    return files.stage(dir_fd, data, prefix=TEMP_PREFIX, mode=privacy.mode, group=privacy.group)


def publish(dir_fd: int, temp: str, name: str, *, sync: bool = True) -> None:
    """The staged file under its final name (replacing whatever entry had it: a rename
    never follows a symlink), the directory synced (``sync=False``: by the caller, with
    :func:`sync_directory`)."""
    files.publish(dir_fd, temp, name, sync=sync)


sync_directory = files.sync_directory


def write_in(dir_fd: int, name: str, data: bytes, privacy: FilePrivacy) -> None:
    """The file ``name`` of the directory appears whole or not at all."""
    publish(dir_fd, stage(dir_fd, data, privacy), name)


def write_file(path: Path, data: bytes, privacy: FilePrivacy | None = None) -> None:
    """:func:`write_in` by path: the parent is created when missing (its own parents are
    trusted, it is not) and must be a real directory."""
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_directory(path.parent)
    try:
        write_in(fd, path.name, data, privacy or FilePrivacy())
    finally:
        os.close(fd)


def read_regular(dir_fd: int, name: str, limit: int) -> tuple[os.stat_result, bytes | None]:
    """The entry's status and content — None when larger than ``limit`` (never read
    whole). :class:`NotRegular` for anything but a regular file, ``FileNotFoundError``
    when it is gone."""
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegular(name, kind_of(before.st_mode))
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symlink since the look
            raise NotRegular(name, "symlink") from None
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegular(name, kind_of(status.st_mode))
        if status.st_size > limit:
            return status, None
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return status, None if len(data) > limit else data
    finally:
        os.close(fd)


def read_file(path: Path, limit: int) -> bytes | None:
    """:func:`read_regular` by path (the parent must be a real directory)."""
    fd = open_directory(path.parent)
    try:
        return read_regular(fd, path.name, limit)[1]
    finally:
        os.close(fd)
