"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mock_oqs.world import World
from reader.aids import TEXT_AID
from reader.apdu import INS_SELECT, CommandApdu
from reader.errors import MalformedApdu
from reader.virtual.card import Application, NumberAccess, VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.vpcd import ServedCard, VpcdCardServer

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


@contextlib.contextmanager
def in_test_slot(card: ServedCard) -> Iterator[VpcdCardServer]:
    """``card`` served into "Virtual PCD 00 01" in process until the block ends; yields
    once pcscd has taken *this* card — a card left in the slot refuses it
    (:class:`~reader.errors.SlotTaken`, naming reader and port) rather than letting the
    test run against the other one — and waits for it to leave at the end."""
    server = VpcdCardServer(card, port=TEST_SLOT_PORT).start()
    try:
        server.wait_taken()
    except BaseException:
        server.stop()
        raise
    try:
        wait_for_presence(TEST_READER, True)
        yield server
    finally:
        server.stop()
        wait_for_presence(TEST_READER, False)


def wait_served(proc: subprocess.Popen[str], ready: Path, seconds: float = 10.0) -> None:
    """Wait until the ``vcard serve --ready-file READY`` of ``proc`` has its card taken by
    pcscd — this card, not any card in the reader; fails with its message (and exit code)
    if it ended first, refused."""
    deadline = time.monotonic() + seconds
    while not ready.exists():
        if proc.poll() is not None:
            said = proc.stderr.read() if proc.stderr is not None else ""
            raise AssertionError(f"vcard serve exited {proc.returncode}: {said}")
        if time.monotonic() > deadline:
            raise AssertionError(f"pcscd did not take the card of vcard serve in {seconds} s")
        time.sleep(0.02)


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


class SharedReader(LoopbackTransport):
    """A loopback reader shared with another program, which selects the text AP
    (券面事項入力補助AP) whenever we are outside a transaction — before our first and
    after each of ours — and which audits every APDU of ours: unless it is a SELECT (by
    AID, or of the MF), the application the card is in must be one *we* selected by AID
    *in this transaction*. ``served`` is what the card answers through (a
    :class:`~reader.virtual.hostile.T0Card`, say); ``card`` the virtual card inside.

    ``violations`` lists the APDUs that broke the rule; :meth:`ours` the honeypot's
    records less the other program's (its SELECTs of the text AP are its business). The
    card's honeypot is checked here (:meth:`assert_clean`), not by the suite-wide
    fixture, which would count the other program's SELECTs."""

    def __init__(self, card: VirtualCard, served: ServedCard | None = None) -> None:
        super().__init__(served or card)
        self.virtual = card
        self.served = served or card
        card.honeypot.deliberate = True  # see assert_clean
        self.violations: list[str] = []
        self.transactions = 0
        self._theirs: set[int] = set()
        self._ours: Application | None = None  # selected by us, in this transaction
        self._depth = 0
        self._other_program()

    def other(self, *commands: CommandApdu) -> None:
        """Commands of the other program (between our transactions), through the card's
        way of answering — a T=0 card keeps its answer for GET RESPONSE."""
        pot = self.virtual.honeypot
        before = len(pot.accesses)
        # the honeypot warns of every access; the other program's are not news
        card_log = logging.getLogger("reader.virtual.card")
        was, card_log.disabled = card_log.disabled, True
        try:
            for command in commands:
                self.served.process(command.to_bytes())
        finally:
            card_log.disabled = was
        self._theirs.update(range(before, len(pot.accesses)))

    def _other_program(self) -> None:
        self.other(CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, TEXT_AID))

    def assert_clean(self) -> None:
        """Nothing of ours went into an application we had not selected in the same
        transaction, and nothing of ours reached a number-bearing object."""
        assert self.violations == [], self.violations
        assert self.ours() == [], self.ours()

    def ours(self) -> list[NumberAccess]:
        pot = self.virtual.honeypot
        return [a for i, a in enumerate(pot.accesses) if i not in self._theirs]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._depth += 1
        if self._depth == 1:
            self.transactions += 1
            self._ours = None
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._ours = None
                self._other_program()  # between two of ours

    def transmit(self, command: bytes) -> bytes:
        try:
            apdu: CommandApdu | None = CommandApdu.parse(command)
        except MalformedApdu:
            apdu = None
        select = apdu is not None and apdu.ins == INS_SELECT and apdu.p1 in (0x00, 0x04)
        current = self.virtual.current_app
        if not select and current is not None and (not self._depth or current is not self._ours):
            self.violations.append(
                f"{command[:4].hex().upper()} sent into the {current.label}, which we did not "
                "select in this transaction"
            )
        answer = super().transmit(command)
        selected = answer[-2:] == b"\x90\x00" or answer[-2:-1] == b"\x61"
        if select and selected and self._depth and apdu is not None and apdu.p1 == 0x04:
            self._ours = self.virtual.current_app
        return answer
