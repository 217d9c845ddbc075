"""Hostile cards through the real stack: pyscard → pcscd → vsmartcard-vpcd → a card that
answers ``61xx`` for ever, never answers at all, answers slowly for ever, or answers what
no card may (issue 19).

vpcd reads the card's socket with no time-out, holding pcscd's lock on the reader: a
silent card blocks ``SCardTransmit`` — and every other call on that reader, a connect
included, also from the next program — until it leaves. The deadline must return control
all the same, and once the card is taken out and a sane one placed, the same reader must
work again (our abandoned connections closed).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reader.errors import CardUnresponsive, ReaderError
from reader.guard import MAX_GET_RESPONSES
from reader.jpki import JpkiClient
from reader.pcsc import PcscContext, PcscTransport
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.hostile import EndlessCard, NonsenseCard, SilentCard, SlowCard
from reader.virtual.vpcd import ServedCard, VpcdCardServer
from reception.cards import PcscCards
from reception.checkin import CheckinOutcome, CheckinRequest, FixedInteraction, check_in
from reception.flow import CARD_DEFECT_MESSAGE, Method, State
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import (
    TEST_READER,
    in_test_slot,
    mock_oqs_serving,
    myna_reader,
    wait_for_presence,
)
from tests.support.tui import services

pytestmark = [pytest.mark.usefixtures("pcscd"), pytest.mark.timeout(120)]

PERSONA = "adult-kyokai"


@contextmanager
def in_the_reader(card: ServedCard, *, settle: bool = False) -> Iterator[VpcdCardServer]:
    """``card`` in "Virtual PCD 00 01" until the block ends; then taken out — with
    ``settle``, once no connection holds it any more (or after 10 s): a program that gave
    up on a slow card ended with a call in flight, which pcscd finishes before it resets
    the card for the program gone, and vpcd asked to reset a card taken out meanwhile
    misses the next one placed."""
    with in_test_slot(card) as server:
        try:
            yield server
        finally:
            if settle:
                unheld(TEST_READER)


def unheld(reader: str, seconds: float = 10.0) -> bool:
    """Whether an exclusive connection to ``reader`` is granted within ``seconds`` (it is
    closed at once): no other connection holds the card."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            PcscTransport(reader, exclusive=True, deadline=1.0).close()
            return True
        except ReaderError:
            time.sleep(0.05)
    return False


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


# --- the programs as staff run them ---------------------------------------------------------

RECEPTION = str(Path(sys.executable).parent / "reception")


@pytest.fixture(scope="module")
def service(world: World) -> Iterator[str]:
    """``mock-oqs serve`` for the session's world, for ``reception checkin`` runs."""
    with mock_oqs_serving(world) as (_, url):
        yield url


def reception_checkin(
    world: World, url: str, data: Path, *, deadline: float = 1.0
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``reception checkin`` at the test reader, the PIN on standard input, its answer
    deadline (``RECEPTION_READER__ANSWER_TIMEOUT``) ``deadline``; with its JSON report."""
    env = os.environ | {
        "RECEPTION_CONFIG": str(data.parent / "none.toml"),
        "RECEPTION_DATA_DIR": str(data),
        "RECEPTION_OQS__URL": url,
        "RECEPTION_OQS__CLIENT_CERT": str(world.terminal_cert),
        "RECEPTION_OQS__CLIENT_KEY": str(world.terminal_key),
        "RECEPTION_OQS__CA": str(world.facility_ca),
        "RECEPTION_READER__ANSWER_TIMEOUT": f"{deadline:g}",
    }
    args = ["checkin", "--reader", TEST_READER, "--method", "pin", "--pin-stdin"]
    run = subprocess.run(
        [RECEPTION, *args, "--consent", "all", "--json"],
        input=world.persona(PERSONA)["pin"] + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return run, json.loads(run.stdout) if run.stdout.startswith("{") else {}


def a_card_fault(run: subprocess.CompletedProcess[str], report: dict[str, Any]) -> bool:
    """The check-in ended as a card that cannot be read: exit 9, pending, card-defect."""
    return (
        run.returncode == 9
        and report.get("outcome") == "pending"
        and report.get("fallback_reason") == "card-defect"
    )


# --- slow, but answering ----------------------------------------------------------------------


def test_an_answer_in_slow_pieces_ends_within_one_commands_time(
    world: World, service: str, tmp_path: Path
) -> None:
    """Issue 19: a card that answered every exchange just inside the deadline with ``AA
    61 01`` (one byte, "one more") kept ``reception checkin`` busy for 1,158 s (258
    APDUs), ``myna-reader auth-test`` for 77 s: the deadline held each exchange, not the
    command. Now one command's whole answer gets the deadline."""
    card = card_of(world, PERSONA)
    slow = SlowCard(EndlessCard(card, after=2, piece=1), delay=0.25, after=2)
    with in_the_reader(slow, settle=True):
        run, report = reception_checkin(world, service, tmp_path / "data")
        assert a_card_fault(run, report), (run.returncode, run.stderr)
        assert report["apdus"] < MAX_GET_RESPONSES  # before: 258, all it took
        assert "did not finish its answer to one command within 1 s" in run.stderr
        assert unheld(TEST_READER)  # pcscd is done with the program that gave up
        auth = myna_reader(
            "auth-test", "--pin-stdin", "--timeout", "1", stdin=world.persona(PERSONA)["pin"]
        )
        assert auth.returncode == 1, auth.stderr
        assert "did not finish its answer to one command within 1 s" in auth.stderr
    assert card.profile.auth_pin.tries_left == 3


def test_a_card_answering_every_command_slowly_cannot_hold_an_authentication(
    world: World, service: str, tmp_path: Path
) -> None:
    """Each command in time, the PIN authentication (one exclusive transaction) past
    twice the deadline: the check-in ends there as a card fault (before, it went on for
    as long as the card took: 0.3 s × every APDU, confirmed)."""
    card = card_of(world, PERSONA)
    with in_the_reader(SlowCard(card, delay=0.3, after=4), settle=True):  # identified fast
        run, report = reception_checkin(world, service, tmp_path / "data")
    assert a_card_fault(run, report), (run.returncode, run.stderr)
    assert "did not finish one card operation (an exclusive transaction) within 2 s" in run.stderr
    assert card.profile.auth_pin.tries_left == 3


# a signature with the holder's authentication key (P2 97), straight at what was left
# current, without a VERIFY: what another program on the reader would try
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
SIGN_WITHOUT_PIN = bytes([0x80, 0x2A, 0x00, 0x97, len(DIGEST_INFO)]) + DIGEST_INFO + b"\x00"


@pytest.mark.parametrize("closed_by", ["channel", "connection"])
def test_a_card_given_up_on_after_its_pin_is_locked_when_it_answers_at_last(
    world: World, closed_by: str
) -> None:
    """The PIN verified, the signature slower than the deadline: the connection is given
    up on, and closed once the card answers at last — through the channel (behind the
    late call: the reset queued for a verified PIN, the end of the transaction, the
    close) or directly, as the terminal closed its connection. Before, either way left
    the card verified: another program on the reader signed with the holder's key
    without the PIN (the channel skipped its reset for a card that did not answer; a
    direct close disconnected and left the card as it was)."""
    card = card_of(world, PERSONA)
    # the 9th APDU: the signature
    with in_the_reader(SlowCard(card, delay=2.0, after=9), settle=True):
        connection = PcscTransport(TEST_READER)
        channel = CardChannel(connection, deadline=1.0)
        with pytest.raises(CardUnresponsive, match="no answer within 1 s"):
            JpkiClient(channel).authenticate(Pin(world.persona(PERSONA)["pin"]), b"x")
        (channel.transport if closed_by == "channel" else connection).close()
        assert closed(connection)  # once the signature came
        with PcscTransport(TEST_READER) as other:
            assert other.transmit(SIGN_WITHOUT_PIN)[-2:] != b"\x90\x00"
    assert card.profile.auth_pin.tries_left == 3


def closed(connection: PcscTransport, seconds: float = 30.0) -> bool:
    """Whether ``connection`` is closed within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not connection.closed:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- after a silent card: the next program --------------------------------------------------


def released(contexts: list[PcscContext], seconds: float = 30.0) -> bool:
    """Whether every one of ``contexts`` is released within ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(context.handle is not None for context in contexts):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.timeout(300)
def test_after_a_silent_card_the_next_programs_end_in_time(
    world: World, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: the first check-in with a card gone silent ended properly (exit 9), but
    pcscd kept the reader for its abandoned exchange until the card left — and the next
    patient's ``reception checkin``, ``myna-reader probe --shared`` and the terminal's
    check-in worker waited in ``SCardConnect`` for as long, with no word. Connecting has
    the deadline too: each ends in time as a card fault, naming the reader; the
    connections given up on are closed, their contexts released, once the card leaves."""
    contexts: list[PcscContext] = []  # those of this process's connects below
    plain_init = PcscContext.__init__

    def recorded_init(context: PcscContext) -> None:
        plain_init(context)
        contexts.append(context)

    data = tmp_path / "data"
    with in_the_reader(SilentCard(card_of(world, PERSONA), after=2)):
        first, report = reception_checkin(world, service, data)
        assert a_card_fault(first, report), first.stderr
        # the card is still in the reader: the next patient's check-in
        second, report = reception_checkin(world, service, data)
        assert a_card_fault(second, report), second.stderr
        assert f"{TEST_READER!r}: the card there does not answer" in second.stderr
        assert "take it out" in second.stderr
        probe = myna_reader("probe", "--shared", "--timeout", "1")
        assert probe.returncode == 1, probe.stderr
        assert "カードが応答しません" in probe.stderr and "does not answer" in probe.stderr
        # the terminal (TUI): its check-in opens the connection in a worker thread
        svc = services(world, tmp_path)
        request = CheckinRequest(Method.PIN, pin_source=pin_of(world, PERSONA))

        async def at_the_terminal() -> CheckinOutcome:
            async with in_process(world) as oqs:
                cards = PcscCards(TEST_READER, deadline=1.0)
                return await svc.check_in(cards, oqs, request, FixedInteraction(request))

        monkeypatch.setattr(PcscContext, "__init__", recorded_init)
        outcome = asyncio.run(at_the_terminal())
        assert outcome.state is State.CARD_UNREADABLE, outcome.detail
        with pytest.raises(CardUnresponsive, match="the card there does not answer"):
            PcscTransport(TEST_READER, deadline=1.0)
        monkeypatch.undo()
        assert len(contexts) == 2  # given up on, both still waiting in pcscd
        assert all(context.handle is not None for context in contexts)
    # the card left: the connects returned, and closed what they got (released contexts)
    assert released(contexts), [context.handle for context in contexts]
    with in_the_reader(card_of(world, PERSONA)):
        probe = myna_reader("probe")  # exclusive: no connection of ours is left over
        assert probe.returncode == 0, probe.stderr


@pytest.mark.timeout(300)
def test_a_reader_held_for_a_silent_card_is_not_blamed_on_another_program(
    world: World,
) -> None:
    """After ``myna-reader`` (exclusive) gave up on a silent card and ended, pcscd keeps
    its connection until the card leaves, and every connect is refused: the message said
    "another program is using the card", which no program was. pcscd shows no
    difference between the two: the message names both, and what to do for each."""
    with in_the_reader(SilentCard(card_of(world, PERSONA), after=3)):
        pin = world.persona(PERSONA)["pin"]
        first = myna_reader("auth-test", "--pin-stdin", "--timeout", "1", stdin=pin)
        assert first.returncode == 1 and "no answer within 1 s" in first.stderr, first.stderr
        for shared in ([], ["--shared"]):
            run = myna_reader("probe", "--timeout", "1", *shared)
            assert run.returncode == 3, run.stderr
            assert "カードは別の接続が使用中です" in run.stderr
            assert "card stopped answering mid-way" in run.stderr
            assert "take the card out and place it again" in run.stderr


# --- exit codes that say what happened ------------------------------------------------------


def test_a_check_in_with_no_card_exits_3(world: World, service: str, tmp_path: Path) -> None:
    """As the help and reader/exitcodes.py say (before: 1)."""
    wait_for_presence(TEST_READER, False)
    run, _ = reception_checkin(world, service, tmp_path / "data")
    assert run.returncode == 3, run.stderr
    assert "カードが置かれていません" in run.stderr


@pytest.mark.parametrize("answer", ["6C10", "EAE9", "90"])
def test_a_card_answering_nonsense_is_a_card_fault(
    world: World, service: str, tmp_path: Path, answer: str
) -> None:
    """``6Cxx`` to the Le it asked for, a status word no card sends, a single byte: before,
    ``reception checkin`` exited 1 (「中断しました」) or — the single byte — 3, as if the
    card had been taken out; ``myna-reader`` said "card removed" for the byte. A card
    that answers nonsense is a defective card: a card fault (9) for the check-in, a
    malformed answer (1) for myna-reader."""
    card = card_of(world, PERSONA)
    with in_the_reader(NonsenseCard(card, bytes.fromhex(answer), after=2)):
        run, report = reception_checkin(world, service, tmp_path / "data")
    assert a_card_fault(run, report), (run.returncode, run.stderr)
    assert "カードの応答が不正です" in run.stderr
    with in_the_reader(NonsenseCard(card, bytes.fromhex(answer), after=2)):
        probe = myna_reader("probe")
    assert probe.returncode == 1, probe.stderr
    assert "カードの応答が不正です" in probe.stderr and "取り外されました" not in probe.stderr
    assert card.profile.auth_pin.tries_left == 3
