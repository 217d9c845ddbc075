"""Hostile cards through the real stack: pyscard → pcscd → vsmartcard-vpcd → a card that
answers ``61xx`` for ever, or never answers at all (issue 19).

vpcd reads the card's socket with no time-out, holding pcscd's lock on the reader: a
silent card blocks ``SCardTransmit`` — and every other call on that reader — until it
leaves. The deadline must return control all the same, and once the card is taken out
and a sane one placed, the same reader must work again (our abandoned connection closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.errors import CardUnresponsive
from reader.jpki import JpkiClient
from reader.pcsc import PcscTransport
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.hostile import EndlessCard, SilentCard
from reader.virtual.vpcd import ServedCard, VpcdCardServer
from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.flow import CARD_DEFECT_MESSAGE, Method, State
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import TEST_READER, TEST_SLOT_PORT, myna_reader, wait_for_presence

pytestmark = [pytest.mark.usefixtures("pcscd"), pytest.mark.timeout(120)]

PERSONA = "adult-kyokai"


@contextmanager
def in_the_reader(card: ServedCard) -> Iterator[VpcdCardServer]:
    """``card`` in "Virtual PCD 00 01" until the block ends; then taken out."""
    server = VpcdCardServer(card, port=TEST_SLOT_PORT).start()
    try:
        wait_for_presence(TEST_READER, True)
        yield server
    finally:
        server.stop()
        wait_for_presence(TEST_READER, False)


def check_in_at_the_reader(
    world: World, store: Store, method: Method = Method.PIN, deadline: float = 5.0
) -> CheckinOutcome:
    request = CheckinRequest(method, pin_source=pin_of(world, PERSONA))

    async def go() -> CheckinOutcome:
        with PcscTransport(TEST_READER) as transport:
            async with in_process(world) as oqs:
                return await check_in(
                    transport, oqs, store, terminal_of(world), request, deadline=deadline
                )

    return asyncio.run(go())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


@pytest.mark.parametrize(
    ("hostile", "error"),
    [
        (lambda card: SilentCard(card, after=1), "CardUnresponsive"),  # at identification
        (lambda card: SilentCard(card, after=4), "CardUnresponsive"),  # reading the certificate
        (lambda card: EndlessCard(card, after=2), "EndlessResponse"),
    ],
    ids=["silent-at-once", "silent-later", "endless-61xx"],
)
def test_a_hostile_card_ends_the_check_in_and_the_reader_works_again(
    world: World,
    store: Store,
    hostile: Callable[[VirtualCard], ServedCard],
    error: str,
) -> None:
    card = card_of(world, PERSONA)
    with in_the_reader(hostile(card)):
        outcome = check_in_at_the_reader(world, store, deadline=1.0)
        assert outcome.state is State.CARD_UNREADABLE, outcome.detail
        assert (outcome.detail or "").startswith(error), outcome.detail
        assert outcome.flow.message == CARD_DEFECT_MESSAGE
        reception = store.reception(outcome.reception_id)
        assert reception.status == "pending" and reception.fallback_reason == "card-defect"
    # the patient takes the card away; the next one on the same reader is confirmed
    with in_the_reader(card_of(world, PERSONA)):
        assert check_in_at_the_reader(world, store).state is State.CONFIRMED
        # our abandoned connection is gone: an exclusive connection is granted
        probe = myna_reader("probe")
        assert probe.returncode == 0, probe.stderr
    assert card.profile.auth_pin.tries_left == 3
    assert card.honeypot.empty


def test_myna_reader_gives_up_on_a_silent_card(world: World) -> None:
    """Before: ``myna-reader`` waited for as long as the card stayed silent. Now it ends
    after its deadline (5 s by default) with a clear message, and exits."""
    with in_the_reader(SilentCard(card_of(world, PERSONA), after=3)):
        run = myna_reader("auth-test", "--pin-stdin", stdin=world.persona(PERSONA)["pin"] + "\n")
    assert run.returncode == 1, run.stderr
    assert "カードが応答しません" in run.stderr and "no answer within 5 s" in run.stderr


def test_myna_reader_gives_up_on_an_endless_answer(world: World) -> None:
    with in_the_reader(EndlessCard(card_of(world, PERSONA), after=2)):
        run = myna_reader("probe", "--timeout", "1")
    assert run.returncode == 1, run.stderr
    assert "カードの応答が終わりません" in run.stderr and "kept answering 61xx" in run.stderr


def test_the_same_card_placed_again_works(world: World) -> None:
    """A card that went silent once (a bad contact) works once it is placed again: the
    new connection starts afresh."""
    card = card_of(world, PERSONA)
    silent = SilentCard(card, after=2)
    with in_the_reader(silent) as server:
        with PcscTransport(TEST_READER) as transport:
            client = JpkiClient(CardChannel(transport, deadline=1.0))
            with pytest.raises(CardUnresponsive):
                client.authenticate(Pin(world.persona(PERSONA)["pin"]), b"x")
        server.remove()
        wait_for_presence(TEST_READER, False)
        silent.after = 10**6  # the contact is good now
        server.insert()
        wait_for_presence(TEST_READER, True)
        with PcscTransport(TEST_READER) as transport:
            client = JpkiClient(CardChannel(transport))
            assert client.authenticate(Pin(world.persona(PERSONA)["pin"]), b"x").signature
    assert card.profile.auth_pin.tries_left == 3
