"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mock_oqs.world import World
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport

TEST_PIN = "4711"


TEST_SLOT_PORT = 35964  # "Virtual PCD 00 01": the demo uses slot 0


TEST_READER = "Virtual PCD 00 01"


WORLD_TODAY = dt.date(2026, 11, 24)


def pcscd_available() -> str | None:
    """None when pcscd with the vpcd readers answers, else why not."""
    if not Path("/run/pcscd/pcscd.comm").exists():
        return "pcscd is not running (/run/pcscd/pcscd.comm missing)"
    try:
        from reader.pcsc import PcscContext

        with PcscContext() as ctx:
            names = ctx.readers()
    except Exception as exc:
        return f"pcscd does not answer: {exc}"
    if TEST_READER not in names:
        return f"no {TEST_READER!r} reader (is vsmartcard-vpcd installed?); readers: {names}"
    return None


def wait_for_presence(reader: str, present: bool, seconds: float = 10.0) -> None:
    from reader.pcsc import wait_for_card

    if not wait_for_card(reader, present, seconds):
        raise AssertionError(f"{reader!r}: card {'never appeared' if present else 'never left'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def mock_oqs_serving(
    world: World, workers: int = 1, options: tuple[str, ...] = ()
) -> Iterator[tuple[Path, str]]:
    """``mock-oqs serve`` on a free loopback port until the block ends; yields its log
    file (the world's mock-oqs.log, appended to) and its URL. Without the lookup limits
    unless ``options`` set them (a later option wins): the session's tests share one
    facility and state file, and a test about something else must not trip them."""
    from reception.sim.world import WorldFiles, served

    unlimited = ("--lookups-per-minute", "0", "--lookups-per-day", "0")
    with served(
        WorldFiles.open(world.directory), workers=workers, options=(*unlimited, *options)
    ) as url:
        yield world.directory / "mock-oqs.log", url


def myna_reader(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``myna-reader ARGS --reader "Virtual PCD 00 01"`` as a program of its own."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "myna-reader"), *args, "--reader", TEST_READER],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class CardLeavesAfter(LoopbackTransport):
    """A loopback reader whose card leaves when the ``after``-th next APDU arrives
    (0: the very next one) — a patient pulling the card at any point of a check-in."""

    def __init__(self, card: VirtualCard, after: int) -> None:
        super().__init__(card)
        self.after = after

    def transmit(self, command: bytes) -> bytes:
        if self.after == 0:
            self.remove_card()
        self.after -= 1
        return super().transmit(command)
