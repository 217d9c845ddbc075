"""Processes as Linux shows them in /proc (tests/support): who descends from whom, who is
still running, who mentions a path — to prove that nothing a test started outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()  # fields from 3 (state) on, after "comm)"


def running(pid: int, start: str | None = None) -> bool:
    """The process exists and is not a zombie (a dead child nobody waited for yet) — and,
    given its start time, is still the process that had this pid."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return start is None or fields[19] == start


def start_time(pid: int) -> str | None:
    fields = _stat(pid)
    return None if fields is None else fields[19]


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid → start time (to tell it from a later one)."""
    found: dict[int, str] = {}
    todo = children(pid)
    while todo:
        child = todo.pop()
        start = start_time(child)
        if start is not None and child not in found:
            found[child] = start
            todo += children(child)
    return found


def wait_for_descendant(pid: int, needle: str, seconds: float = 60.0) -> int:
    """The first process below ``pid`` whose command line contains ``needle``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in descendants(pid):
            if needle in command_line(child):
                return child
        time.sleep(0.05)
    raise AssertionError(f"no {needle!r} below {pid} after {seconds:g} s")


def command_line(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def still_running(pids: dict[int, str], seconds: float = 30.0) -> dict[int, str]:
    """Those of ``pids`` still running after waiting up to ``seconds`` for them to go
    (a generous bound, not a measurement: they are usually gone at once)."""
    deadline = time.monotonic() + seconds
    while True:
        left = {pid: start for pid, start in pids.items() if running(pid, start)}
        if not left or time.monotonic() > deadline:
            return {pid: command_line(pid) for pid in left}
        time.sleep(0.05)


def mentioning(text: str) -> dict[int, str]:
    """Running processes (not this one) whose command line contains ``text``."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        line = command_line(pid)
        start = start_time(pid)
        if text in line and start is not None and running(pid):
            found[pid] = start
    return found


def kill_all(pids: dict[int, str]) -> None:
    """SIGKILL each that is still the process it was (a test's clean-up after a failure)."""
    for pid, start in pids.items():
        if running(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
