"""The link's record of requests answered and not yet moved out of req/ (see
:mod:`reception.link`: once and only once)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path

from reader.safe_text import printable
from reception.shared_folder import TEMP_PREFIX, TEMP_SUFFIX, UnsafeFolder, open_directory
from reception.store import private_directory

JOURNALS = "link-journals"  # in the terminal's private data directory: one per folder
MAX_JOURNAL_BYTES = 1 << 20
_JOURNAL_KEY = re.compile(r"[0-9a-f]{40}")
_OUR_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}" + re.escape(TEMP_SUFFIX))


class Journal:
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
    def load(cls, private_dir: Path, folder: Path) -> Journal:
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
