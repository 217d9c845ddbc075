"""Every exchange with a card is bounded (issue 19): a card that answers ``61xx`` for
ever, a card that never answers, a card that answers every exchange in time but slowly
for ever (one command, one operation), the ``6Cxx`` re-send, and answers that are no
status word.

No test here measures time: a deadline that did not work would hang, and the suite's
time-out (pytest-timeout) turns that into a failure.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest

from reader.aids import EF_AUTH_KEY, EF_AUTH_PIN, JPKI_AID
from reader.apdu import CommandApdu
from reader.errors import (
    CardRemoved,
    CardUnresponsive,
    EndlessResponse,
    ForbiddenCommand,
    MalformedResponse,
)
from reader.guard import MAX_GET_RESPONSES, CurrentDf, Guard
from reader.jpki import JpkiClient, ReadMode
from reader.pin import Pin
from reader.transport import CardChannel, DeadlineTransport
from reader.virtual.card import VirtualCard
from reader.virtual.hostile import EndlessCard, NonsenseCard, SilentCard, SlowCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import CardProfile
from tests.support.stack import TEST_PIN

pytestmark = pytest.mark.timeout(60)

SELECT_JPKI = CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)
READ_TOKEN = CommandApdu(0x00, 0xB0, 0x86, 0x00, le=0x20)
GET_RESPONSE = CommandApdu(0x00, 0xC0, 0x00, 0x00, le=256)
VERIFY = CommandApdu(0x00, 0x20, 0x00, 0x80 | EF_AUTH_PIN, TEST_PIN.encode())
SIGN = CommandApdu(0x80, 0x2A, 0x00, 0x80 | EF_AUTH_KEY, bytes(51), le=256)
SHORT = 0.2  # seconds: these cards never answer, so no genuine answer can miss it


class Counting(EndlessCard):
    """An endless card that counts the GET RESPONSEs it was sent."""

    def __init__(self, card: VirtualCard, after: int, piece: int) -> None:
        super().__init__(card, after, piece)
        self.get_responses = 0

    def process(self, apdu: bytes) -> bytes:
        self.get_responses += apdu[1:2] == b"\xc0"
        return super().process(apdu)


# --- 61xx for ever -----------------------------------------------------------------


@pytest.mark.parametrize("piece", [0, 1, 256])
def test_a_card_answering_61xx_for_ever_is_given_up(card: VirtualCard, piece: int) -> None:
    """Before: ``while sw1 == 0x61`` with no bound — the reader side hung, its memory
    growing. Now the channel stops after the most GET RESPONSEs (and bytes) a genuine
    answer needs, forgets where the card is, and a GET RESPONSE by hand stays refused."""
    endless = Counting(card, after=2, piece=piece)
    channel = CardChannel(LoopbackTransport(endless))
    with channel.transaction():
        channel.transmit(SELECT_JPKI)
        with pytest.raises(EndlessResponse, match="kept answering 61xx"):
            channel.transmit(READ_TOKEN)
        assert 0 < endless.get_responses <= MAX_GET_RESPONSES
        assert channel.guard.current_df is CurrentDf.UNKNOWN
        sent = endless.apdus
        for command in (GET_RESPONSE, READ_TOKEN):
            with pytest.raises(ForbiddenCommand):
                channel.transmit(command)
        assert endless.apdus == sent
    assert card.honeypot.empty


def test_authentication_ends_on_an_endless_answer_at_every_apdu(
    make_profile: Callable[..., CardProfile],
) -> None:
    full = JpkiClient(CardChannel(LoopbackTransport(VirtualCard(make_profile()))))
    full.authenticate(Pin(TEST_PIN), b"x")
    for after in range(1, full.channel.stats.apdus + 1):
        card = VirtualCard(make_profile())
        client = JpkiClient(CardChannel(LoopbackTransport(EndlessCard(card, after=after))))
        with pytest.raises(EndlessResponse):
            client.authenticate(Pin(TEST_PIN), b"x")
        assert card.honeypot.empty


# --- a card that never answers ---------------------------------------------------------


@pytest.mark.parametrize("mode", [ReadMode.SHORT, ReadMode.EXTENDED])
def test_a_silent_card_is_given_up_at_every_apdu(
    make_profile: Callable[..., CardProfile], mode: ReadMode
) -> None:
    """Before: no deadline — the caller waited for as long as the card stayed silent."""
    full = JpkiClient(CardChannel(LoopbackTransport(VirtualCard(make_profile()))), read_mode=mode)
    full.authenticate(Pin(TEST_PIN), b"x")
    for after in range(1, full.channel.stats.apdus + 1):
        card = VirtualCard(make_profile())
        silent = SilentCard(card, after=after)
        transport = LoopbackTransport(silent)
        client = JpkiClient(CardChannel(transport, deadline=SHORT), read_mode=mode)
        with pytest.raises(CardUnresponsive, match=r"no answer within 0\.2 s"):
            client.authenticate(Pin(TEST_PIN), b"x")
        assert silent.waiting.is_set()
        # the connection is abandoned: nothing more goes down it
        with pytest.raises(CardUnresponsive, match="not used again"):
            client.fetch_pin_tries_left()
        assert silent.apdus == after
        transport.close()  # the card is taken out: the stuck exchange ends
        assert card.profile.auth_pin.tries_left == 3
        assert card.honeypot.empty


def test_a_sane_card_works_after_a_silent_one(make_profile: Callable[..., CardProfile]) -> None:
    silent = SilentCard(VirtualCard(make_profile()), after=1)
    transport = LoopbackTransport(silent)
    with pytest.raises(CardUnresponsive):
        JpkiClient(CardChannel(transport, deadline=SHORT)).authenticate(Pin(TEST_PIN), b"x")
    transport.close()
    sane = JpkiClient(CardChannel(LoopbackTransport(VirtualCard(make_profile())), deadline=SHORT))
    assert sane.authenticate(Pin(TEST_PIN), b"x").signature


class Stuck:
    """A transport whose chosen operation blocks until released, recording what ran."""

    name = "stuck reader"
    atr = b"\x3b\x00"

    def __init__(self, stuck_on: str) -> None:
        self.stuck_on = stuck_on
        self.release = threading.Event()
        self.closed = threading.Event()
        self.ran: list[str] = []

    def _maybe_block(self, what: str) -> None:
        self.ran.append(what)
        if what == self.stuck_on:
            self.release.wait()

    def transmit(self, command: bytes) -> bytes:
        self._maybe_block("transmit")
        return b"\x90\x00"

    def reset(self) -> None:
        self._maybe_block("reset")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._maybe_block("begin")
        try:
            yield
        finally:
            self.ran.append("end")

    def close(self) -> None:
        self.ran.append("close")
        self.closed.set()


@pytest.mark.parametrize("stuck_on", ["begin", "transmit", "reset"])
def test_what_is_left_after_a_missed_deadline_runs_once_the_call_returns(stuck_on: str) -> None:
    """The end of the transaction and the close are queued behind the stuck call — the
    caller does not wait for them — and run, in order, when it returns (pcsc-lite makes
    every call on a context wait for the one in flight anyway)."""
    inner = Stuck(stuck_on)
    transport = DeadlineTransport(inner, SHORT)
    with pytest.raises(CardUnresponsive), transport.transaction():
        if stuck_on == "reset":
            transport.reset()
        transport.transmit(b"\x00\xa4\x04\x0c")
    transport.close()
    assert "close" not in inner.ran  # not yet: the stuck call has not returned
    inner.release.set()
    assert inner.closed.wait(30)
    assert inner.ran[-2:] == ["end", "close"]
    assert inner.ran.count("end") == 1


def test_the_deadline_is_the_channels_own() -> None:
    """Whoever builds a channel gets the deadline: the transport is wrapped (once)."""
    inner = Stuck("nothing")
    channel = CardChannel(inner, deadline=SHORT)
    assert isinstance(channel.transport, DeadlineTransport)
    assert channel.transport.seconds == SHORT
    again = CardChannel(channel.transport)
    assert again.transport is channel.transport


# --- slow, but answering: one command, one operation ------------------------------------


def test_an_answer_in_slow_pieces_is_given_up_after_one_commands_time(card: VirtualCard) -> None:
    """Issue 19: a card answering every exchange in 4.5 s with ``AA 61 01`` (one byte,
    "one more") kept a check-in for 19 minutes — the deadline held each exchange, not the
    command. Now the whole answer to one command, each GET RESPONSE included, gets the
    deadline: given up long before the count of GET RESPONSEs would stop it."""
    endless = Counting(card, after=2, piece=1)
    channel = CardChannel(LoopbackTransport(SlowCard(endless, delay=SHORT / 4)), deadline=SHORT)
    with channel.transaction():
        channel.transmit(SELECT_JPKI)
        with pytest.raises(
            CardUnresponsive, match=r"did not finish its answer to one command within 0\.2 s"
        ):
            channel.transmit(READ_TOKEN)
    assert 0 < endless.get_responses < MAX_GET_RESPONSES  # before: all 256 of them
    assert card.honeypot.empty


def test_a_card_answering_every_command_slowly_cannot_hold_an_operation(
    make_profile: Callable[..., CardProfile],
) -> None:
    """Each command well within its deadline, the authentication as a whole past twice
    that: given up there (before, it took as long as the card liked: 258 slow answers
    are 19 minutes), before the PIN was sent."""
    card = VirtualCard(make_profile())
    channel = CardChannel(LoopbackTransport(SlowCard(card, delay=0.3)), deadline=1.0)
    with pytest.raises(
        CardUnresponsive,
        match=r"did not finish one card operation \(an exclusive transaction\) within 2 s",
    ):
        JpkiClient(channel).authenticate(Pin(TEST_PIN), b"x")
    assert card.profile.auth_pin.tries_left == 3
    assert channel.operation_deadline == 2.0  # twice the deadline of one command


class LateSignature:
    """A transport that answers ``9000`` at once, but the signature only once
    ``release`` is set: then with an answer, or — ``leaves`` — with the card gone."""

    name = "late reader"
    atr = b"\x3b\x00"

    def __init__(self, leaves: bool) -> None:
        self.leaves = leaves
        self.release = threading.Event()
        self.closed = threading.Event()
        self.ran: list[str] = []

    def transmit(self, command: bytes) -> bytes:
        self.ran.append(f"{command[1]:02X}")
        if command[1] == SIGN.ins:
            self.release.wait()
            if self.leaves:
                raise CardRemoved("the card left")
        return b"\x90\x00"

    def reset(self) -> None:
        self.ran.append("reset")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.ran.append("begin")
        try:
            yield
        finally:
            self.ran.append("end")

    def close(self) -> None:
        self.ran.append("close")
        self.closed.set()


@pytest.mark.parametrize("leaves", [False, True], ids=["answers-late", "leaves"])
def test_a_card_given_up_after_its_pin_is_reset_before_others_come_in(leaves: bool) -> None:
    """A PIN verified, then the signature late past the deadline: the connection is
    abandoned, and the reset that locks the card again is queued behind the late call —
    before the end of the transaction lets other programs in (before, it was skipped: a
    card that answered at last stayed open to any program on the reader, to sign with
    the holder's key without the PIN). A card that left is not reset (vpcd would then
    miss the next card)."""
    inner = LateSignature(leaves)
    channel = CardChannel(inner, deadline=SHORT)
    with pytest.raises(CardUnresponsive), channel.transaction():
        channel.transmit(SELECT_JPKI)
        channel.transmit(VERIFY)
        channel.transmit(SIGN)
    channel.transport.close()
    assert "end" not in inner.ran  # not yet: the signature has not returned
    inner.release.set()
    assert inner.closed.wait(30)
    late = ["end", "close"] if leaves else ["reset", "end", "close"]
    assert inner.ran == ["begin", "A4", "20", "2A", *late]


# --- 6Cxx: our own command again, through the guard again -------------------------------------


class WrongLe:
    """A card (in front of a virtual one) that answers ``6C20`` ("Le should be 32"): to
    the first command with another Le — or, ``always``, to every command with an Le."""

    def __init__(self, card: VirtualCard, *, always: bool = False) -> None:
        self.card = card
        self.always = always
        self.sent: list[bytes] = []
        self.atr = card.atr

    def process(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        parsed = CommandApdu.parse(apdu)
        if parsed.le is not None and (self.always or (parsed.le != 0x20 and len(self.sent) <= 2)):
            return b"\x6c\x20"
        return self.card.process(apdu)

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()


class RecordingGuard(Guard):
    def __init__(self) -> None:
        super().__init__()
        self.checked: list[CommandApdu] = []

    def check(self, apdu: CommandApdu) -> None:
        self.checked.append(apdu)
        super().check(apdu)


def test_6cxx_resends_our_own_command_once_through_the_guard(card: VirtualCard) -> None:
    wrong = WrongLe(card)
    guard = RecordingGuard()
    channel = CardChannel(LoopbackTransport(wrong), guard=guard)
    read = CommandApdu(0x00, 0xB0, 0x86, 0x00, le=0x10)
    with channel.transaction():
        channel.transmit(SELECT_JPKI)
        response = channel.transmit(read)
    assert response.sw == 0x9000 and len(response.data) == 0x20
    resent = CommandApdu(0x00, 0xB0, 0x86, 0x00, le=0x20)
    assert guard.checked == [SELECT_JPKI, read, resent]  # checked again, the Le changed only
    assert wrong.sent[1:] == [read.to_bytes(), resent.to_bytes()]


def test_6cxx_cannot_make_the_channel_loop_or_send_elsewhere(card: VirtualCard) -> None:
    """A card answering 6Cxx to everything gets our command twice — then the channel
    gives up on it: a card that answers 6Cxx to the Le it asked for answers nonsense
    (before, its 6Cxx was handed back, and a check-in ended as an error of the terminal);
    and a command the guard refuses is never re-sent (it was never sent)."""
    wrong = WrongLe(card, always=True)
    channel = CardChannel(LoopbackTransport(wrong))
    with channel.transaction():
        channel.transmit(SELECT_JPKI)
        with pytest.raises(MalformedResponse, match=r"answered 6C20 .* then 6C20"):
            channel.transmit(CommandApdu(0x00, 0xB0, 0x86, 0x00, le=4))
        assert wrong.sent[1:] == [bytes.fromhex("00B0860004"), bytes.fromhex("00B0860020")]
    with channel.transaction(), pytest.raises(ForbiddenCommand):
        channel.transmit(CommandApdu(0x00, 0xB0, 0x81, 0x00, le=4))  # DF unknown: refused
    assert len(wrong.sent) == 3
    assert card.honeypot.empty


# --- answers that no card gives --------------------------------------------------------------


@pytest.mark.parametrize("sw", ["EAE9", "0000", "6000", "A000", "FFFF"])
def test_an_answer_that_is_no_status_word_is_malformed(card: VirtualCard, sw: str) -> None:
    """Before: handed on as a status word, and a check-in ended as an error of the
    terminal ("中断しました", exit 1) instead of a card that cannot be read."""
    channel = CardChannel(LoopbackTransport(NonsenseCard(card, bytes.fromhex(sw), after=2)))
    with channel.transaction():
        channel.transmit(SELECT_JPKI)
        with pytest.raises(MalformedResponse, match=f"answered {sw}, which is no status word"):
            channel.transmit(READ_TOKEN)
        assert channel.guard.current_df is CurrentDf.UNKNOWN
    assert card.honeypot.empty
