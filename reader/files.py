"""Files written whole or not at all, private to their owner: the one writer of every layer.

Every program of this project that keeps a file — the terminal's exports and result
files, the link folder's answers, a virtual card's profile (its PIN counters), a world's
keys and index, the mock service's fault plan, the reader's extended-length memory —
writes it here, with the same guarantees:

- the data goes to a new temporary file in the target's own directory, created
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (never an existing file, never through a symlink
  someone planted where we write), with exactly ``mode`` (0600 unless said otherwise,
  whatever the umask) and, when asked, a group;
- the temporary file is synced (``fsync``), then renamed over the final name — a reader
  sees the old content or the new, never half (a rename replaces a symlink at the final
  name, it does not follow it);
- the directory is synced after the rename, so the new name survives a power cut too
  (``rename(2)`` is atomic but only durable once the directory is: ext4's and xfs's
  documentation, and SQLite's own "atomic commit" notes on syncing the directory after
  creating a journal). A file system that cannot sync a directory (``EINVAL``: some
  network file systems) keeps what the rename gave.

Only the standard library: ``reader`` is the lowest layer, and ``reception`` and
``mock_oqs`` may both import it (pyproject.toml's import-linter contracts).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

TEMP_SUFFIX = ".tmp"
PRIVATE = 0o600

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def stage(
    dir_fd: int,
    data: bytes,
    *,
    prefix: str,
    mode: int = PRIVATE,
    group: int | None = None,
) -> str:
    """``data`` in a new hidden file of the directory, whole and synced; its name.
    Created exclusively (never an existing file, never through a symlink), ``mode``
    exactly, owned by ``group`` when one is given."""
    temp = f"{prefix}{secrets.token_hex(8)}{TEMP_SUFFIX}"
    fd = os.open(temp, _CREATE_FLAGS, PRIVATE, dir_fd=dir_fd)
    try:
        if group is not None:
            os.fchown(fd, -1, group)
        os.fchmod(fd, mode)  # exactly this, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)
    return temp


def publish(dir_fd: int, temp: str, name: str, *, sync: bool = True) -> None:
    """The staged file under its final name (replacing whatever entry had it: a rename
    never follows a symlink), and the directory synced — or, with ``sync=False``, left
    for the caller to sync with :func:`sync_directory` once what must follow the
    rename at once is done (the link moves the answered request aside first)."""
    try:
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    if sync:
        sync_directory(dir_fd)


def sync_directory(dir_fd: int) -> None:
    """The directory's entries made durable (a no-op where the file system cannot)."""
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


def write_in(
    dir_fd: int,
    name: str,
    data: bytes,
    *,
    mode: int = PRIVATE,
    group: int | None = None,
    prefix: str | None = None,
) -> None:
    """The file ``name`` of the directory ``dir_fd`` appears whole or not at all, durably.
    The temporary file is ``prefix`` + random hex + ``.tmp`` (default: ``.`` + ``name`` +
    ``.``)."""
    temp = stage(
        dir_fd, data, prefix=f".{name}." if prefix is None else prefix, mode=mode, group=group
    )
    publish(dir_fd, temp, name)


def write_private(
    path: Path, data: bytes, *, mode: int = PRIVATE, group: int | None = None
) -> None:
    """:func:`write_in` by path, in the directory ``path`` names (which must exist; it is
    the caller's own place, so a symlink to it is followed — a folder other programs
    write goes through ``reception.shared_folder`` instead, which never follows one)."""
    directory = path.parent if str(path.parent) else Path(".")
    dir_fd = os.open(directory, _DIRECTORY_FLAGS)
    try:
        write_in(dir_fd, path.name, data, mode=mode, group=group)
    finally:
        os.close(dir_fd)
