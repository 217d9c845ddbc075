"""Watching a running room's processes from outside (tests/support): its desk
processes by desk code, the mock service, everything below it."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.processes import command_line, descendants
from tests.support.room import RoomProcess

DESK_MODULE = "reception.room.desk"
F8 = "\x1b[19~"


def desk_processes(room: RoomProcess) -> dict[int, str]:
    """pid → command line of every desk process of the room."""
    return {
        pid: command_line(pid)
        for pid in descendants(room.proc.pid)
        if DESK_MODULE in command_line(pid)
    }


def desk_pid(
    room: RoomProcess, code: str, *, other_than: int | None = None, seconds: float = 60
) -> int:
    """The pid of desk ``code``'s process (a new one, given the old), waiting for it
    (blocking: from a coroutine, through :func:`asyncio.to_thread`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid, line in desk_processes(room).items():
            if line.split()[-1:] == [code] and pid != other_than:
                return pid
        time.sleep(0.05)
    raise AssertionError(f"no process for desk {code}: {desk_processes(room)}")


def service_pids(room: RoomProcess) -> list[int]:
    return [p for p in descendants(room.proc.pid) if "mock_oqs" in command_line(p)
            or "mock-oqs" in command_line(p)]  # fmt: skip


def world_faults(room: RoomProcess, scenario: str = "kihon") -> dict[str, Any]:
    """The faults file of the world the room plays (``mock-oqs faults``' plan)."""
    path = room.folder / "scenarios" / scenario / "world" / "faults.json"
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
