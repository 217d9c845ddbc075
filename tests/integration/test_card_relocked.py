"""A check-in leaves the card as locked as it found it (design.md §6.1, card.md §4–§5).

A card keeps a verified PIN — and, in the face path, the face object's access — until it
is reset or powered off. Another program that holds a connection to the same reader
(any PC/SC client may) could otherwise, right after the patient's check-in, sign with the
holder's authentication key without the PIN (the key of JPKI and マイナポータル logins),
or read the face photo without authenticating as a terminal. An outsider did both.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from smartcard import scard

from mock_oqs.world import World
from reader.pcsc import PcscTransport
from reader.virtual.card import VirtualCard
from reader.virtual.profile import load_profile
from reception.checkin import CheckinRequest, check_in
from reception.flow import ConsentsGiven, Method, State
from reception.store import Store
from tests.support.checkin import pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import TEST_READER, in_test_slot

pytestmark = pytest.mark.usefixtures("pcscd")

DIGEST_INFO = (
    bytes.fromhex("3031300d060960864801650304020105000420")
    + hashlib.sha256(b"signed by another program").digest()
)
# Straight at what our check-in left current (a SELECT first could itself clear the
# state on some cards — card.md §4 — and hide the hole): PSO with the auth key (P2 97)
# without a VERIFY, and a read of the face object without terminal authentication.
SIGN_WITHOUT_PIN = [bytes([0x80, 0x2A, 0x00, 0x97, len(DIGEST_INFO)]) + DIGEST_INFO + b"\x00"]
READ_FACE = [bytes.fromhex("00B0000005")]


class OtherProgram:
    """A PC/SC client holding a shared connection to the reader all along."""

    def __init__(self) -> None:
        hr, self.ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert hr == scard.SCARD_S_SUCCESS
        self.card = None
        self.connect()

    def connect(self) -> None:
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        hr, self.card, self.protocol = scard.SCardConnect(
            self.ctx, TEST_READER, scard.SCARD_SHARE_SHARED, protocols
        )
        assert hr == scard.SCARD_S_SUCCESS, hr

    def last_status(self, commands: list[bytes]) -> str:
        """The status word of the last command (reconnecting once if the card was reset
        meanwhile, as any client does)."""
        sw = ""
        for command in commands:
            hr, response = scard.SCardTransmit(self.card, self.protocol, list(command))
            if hr == scard.SCARD_W_RESET_CARD:
                hr, self.protocol = scard.SCardReconnect(
                    self.card,
                    scard.SCARD_SHARE_SHARED,
                    scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                    scard.SCARD_LEAVE_CARD,
                )
                assert hr == scard.SCARD_S_SUCCESS, hr
                hr, response = scard.SCardTransmit(self.card, self.protocol, list(command))
            assert hr == scard.SCARD_S_SUCCESS, hr
            sw = bytes(response[-2:]).hex().upper()
        return sw

    def close(self) -> None:
        scard.SCardDisconnect(self.card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(self.ctx)


@pytest.fixture
def served(world: World) -> Iterator[VirtualCard]:
    card = VirtualCard(load_profile(world.directory / world.persona("adult-kyokai")["card"]))
    with in_test_slot(card):
        yield card


def checked_in(world: World, tmp_path: Path, method: Method) -> None:
    request = CheckinRequest(
        method,
        pin_source=pin_of(world, "adult-kyokai"),
        seed=1,
        consents=ConsentsGiven(medication=True),
    )

    async def go() -> State:
        with PcscTransport(TEST_READER) as transport:
            async with in_process(world) as oqs:
                store = Store(tmp_path / "reception.sqlite")
                outcome = await check_in(transport, oqs, store, terminal_of(world), request)
        return outcome.state

    assert asyncio.run(go()) is State.CONFIRMED


def test_after_a_pin_checkin_no_other_program_signs_without_the_pin(
    served: VirtualCard, world: World, tmp_path: Path
) -> None:
    other = OtherProgram()
    try:
        checked_in(world, tmp_path, Method.PIN)
        assert other.last_status(SIGN_WITHOUT_PIN) != "9000"
    finally:
        other.close()


def test_after_a_face_checkin_no_other_program_reads_the_face(
    served: VirtualCard, world: World, tmp_path: Path
) -> None:
    other = OtherProgram()
    try:
        checked_in(world, tmp_path, Method.FACE)
        assert other.last_status(READ_FACE) != "9000"
    finally:
        other.close()
