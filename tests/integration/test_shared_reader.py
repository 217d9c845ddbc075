"""Another program on the same reader (issue 9, design.md §6.1), through the real stack.

A second process keeps selecting the text AP (券面事項入力補助AP) on "Virtual PCD 00 01"
while every ``myna-reader`` command and a check-in run there. The other program's own
SELECTs are its business; nothing *we* send may reach a number-bearing object: the
honeypot sees only the other program's SELECT of the text AP, never a command of ours
inside it.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from smartcard import scard

from mock_oqs.world import World
from reader.aids import TEXT_AID
from reader.children import spawn
from reader.errors import ForbiddenCommand
from reader.jpki import JpkiClient
from reader.pcsc import PcscTransport
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.profile import load_profile
from reception.checkin import CheckinRequest, check_in
from reception.flow import ConsentsGiven, Method, State
from reception.store import Store
from tests.support.checkin import pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import TEST_READER, in_test_slot, myna_reader

pytestmark = pytest.mark.usefixtures("pcscd")

BIN = Path(sys.executable).parent
OTHERS_SELECT = f"SELECT by AID {TEXT_AID.hex().upper()}"
SELECT_JPKI = "00A4040C0AD392F000260100000001"

# The other program: pyscard's raw binding, a shared connection, SELECT of the text AP in
# a loop (with "reconnect", it connects afresh for every SELECT, so that an exclusive
# connection of ours can get in between). It prints how many SELECTs the card answered.
OTHER_PROGRAM = r"""
import os, sys, time
from smartcard import scard
reader, mode = sys.argv[1], sys.argv[2]
select = list(bytes.fromhex("00A4040C0A" + sys.argv[3]))
hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
card = None
answered = 0
sys.stdout.write("ready\n"); sys.stdout.flush()
while sys.stdin.readable():
    if card is None:
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        hr, card, proto = scard.SCardConnect(ctx, reader, scard.SCARD_SHARE_SHARED, protocols)
        if hr != scard.SCARD_S_SUCCESS:
            card = None
            time.sleep(0.002)
            continue
    hr, response = scard.SCardTransmit(card, proto, select)
    if hr == scard.SCARD_S_SUCCESS and response[-2:] == [0x90, 0x00]:
        answered += 1
        with open(sys.argv[4] + ".new", "w") as out:  # whole or not at all: a reader
            out.write(str(answered))  # never sees the file truncated, i.e. 0
        os.replace(sys.argv[4] + ".new", sys.argv[4])
    if mode == "reconnect" or hr != scard.SCARD_S_SUCCESS:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        card = None
        time.sleep(0.002)
"""


class Attack:
    def __init__(self, card: VirtualCard, counter: Path) -> None:
        self.card = card
        self.counter = counter

    @property
    def selects(self) -> int:
        """How many of the other program's SELECTs the card answered so far."""
        try:
            return int(self.counter.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def ours(self) -> list[str]:
        return [a.operation for a in self.card.honeypot.accesses if a.operation != OTHERS_SELECT]


@pytest.fixture(params=["persistent", "reconnect"])
def attack(
    request: pytest.FixtureRequest, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Attack]:
    # the honeypot warns once per access: thousands of the other program's SELECTs here
    monkeypatch.setattr(logging.getLogger("reader.virtual.card"), "disabled", True)
    pot = Honeypot(deliberate=True)  # the other program's SELECTs land here; checked below
    profile = load_profile(world.directory / world.persona("adult-kyokai")["card"])
    card = VirtualCard(profile, honeypot=pot)
    counter = tmp_path / "selects"
    with in_test_slot(card):
        other = spawn(
            [
                sys.executable,
                "-c",
                OTHER_PROGRAM,
                TEST_READER,
                request.param,
                TEXT_AID.hex().upper(),
                str(counter),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert other.stdout is not None and other.stdout.readline() == "ready\n"
            deadline = time.monotonic() + 10
            attack = Attack(card, counter)
            while attack.selects == 0:  # the other program is at work before we start
                assert time.monotonic() < deadline, "the other program never reached the card"
                time.sleep(0.01)
            yield attack
            assert attack.ours() == [], "our commands reached a number-bearing object"
        finally:
            other.kill()
            other.wait(5)


def test_every_myna_reader_command_under_attack(attack: Attack, world: World) -> None:
    pin = world.persona("adult-kyokai")["pin"]
    before = attack.selects
    for shared in ([], ["--shared"]):
        runs = [
            myna_reader("apdu", SELECT_JPKI, "00B0810010", "00B0810010", *shared) for _ in range(15)
        ]
        runs += [
            myna_reader("probe", *shared),
            myna_reader("cert", "--format", "text", *shared),
            myna_reader("pin-status", *shared),
            myna_reader("auth-test", "--pin-stdin", *shared, stdin=pin + "\n"),
        ]
        for run in runs:
            if shared or run.returncode == 0:
                assert run.returncode == 0, run.stderr
            else:  # exclusive by default: refused while the other program holds the card
                assert run.returncode == 3, run.stderr
                assert "another program is using the card" in run.stderr
        assert attack.ours() == []
    assert attack.selects > before  # the other program kept selecting the text AP meanwhile
    assert attack.card.profile.auth_pin.tries_left == 3


def test_raw_apdus_that_skip_the_select_are_refused_under_attack(attack: Attack) -> None:
    run = myna_reader("apdu", "00B0810010", "--shared")
    assert run.returncode == 4
    assert "refused by the My Number guard" in run.stderr
    run = myna_reader("apdu", SELECT_JPKI, "00A4040C0AD3921000310001010408", "--shared")
    assert run.returncode == 4  # and the text AP stays out of reach, of course


@pytest.mark.parametrize("get_response", ["00C0000004", "80C0000004", "00C00000"])
def test_get_response_is_refused_under_attack(attack: Attack, get_response: str) -> None:
    """Issue 19: GET RESPONSE as the first command of a transaction went into whatever
    application the other program left selected — the text AP here; had its last
    command been a READ BINARY answered 61xx, the answer would have been ours."""
    for _ in range(3):
        selects = attack.selects
        while attack.selects == selects:  # the other program has just selected the text AP
            time.sleep(0.005)
        run = myna_reader("apdu", get_response, "--shared")
        assert run.returncode == 4, run.stderr
        assert "refused by the My Number guard" in run.stderr
        assert "GET RESPONSE refused: it is sent only" in run.stderr
        assert attack.ours() == []


def test_check_in_under_attack(attack: Attack, world: World, tmp_path: Path) -> None:
    store = Store(tmp_path / "reception.sqlite")
    for method in (Method.PIN, Method.FACE):
        request = CheckinRequest(
            method,
            pin_source=pin_of(world, "adult-kyokai"),
            seed=1,
            consents=ConsentsGiven(medication=True),
        )

        async def go(request: CheckinRequest = request) -> State:
            with PcscTransport(TEST_READER) as transport:
                async with in_process(world) as oqs:
                    outcome = await check_in(transport, oqs, store, terminal_of(world), request)
            return outcome.state

        assert asyncio.run(go()) is State.CONFIRMED


def test_a_reader_refusing_transactions_gets_only_select_by_aid(
    attack: Attack, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pcscd answering SCardBeginTransaction with SCARD_E_NOT_TRANSACTED (as a driver
    without transactions would): the channel sends nothing but SELECT by AID."""
    monkeypatch.setattr(
        "reader.pcsc.scard.SCardBeginTransaction", lambda card: scard.SCARD_E_NOT_TRANSACTED
    )
    with PcscTransport(TEST_READER) as transport:
        client = JpkiClient(CardChannel(transport))
        with pytest.raises(ForbiddenCommand, match="refused the transaction"):
            client.authenticate(Pin(world.persona("adult-kyokai")["pin"]), b"x")
        assert client.channel.stats.apdus == 1  # the SELECT of the JPKI AP, nothing more
