"""A reader slot holds one card (issue 20 §3), through pyscard → pcscd → vsmartcard-vpcd
(slot 1, "Virtual PCD 00 01"): a second virtual card for a slot that holds one is refused
— by ``vcard serve``, by ``reception checkin --persona``, by the in-process server — and
the card already there keeps answering; a check-in told which card to expect stops
before any VERIFY when another card is in the reader, no try spent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mock_oqs.world import World
from reader.children import spawn
from reader.errors import SlotTaken
from reader.pcsc import PcscTransport
from reader.virtual.card import VirtualCard
from reader.virtual.profile import load_profile
from reader.virtual.vpcd import VpcdCardServer
from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.cli import main
from reception.flow import Method, State
from reception.store import Store, now_jst
from tests.support.checkin import card_of, expected_of, pin_of, terminal_of
from tests.support.oqs import in_process
from tests.support.stack import (
    TEST_READER,
    TEST_SLOT_PORT,
    in_test_slot,
    mock_oqs_serving,
    myna_reader,
    wait_for_presence,
    wait_served,
)

pytestmark = [pytest.mark.usefixtures("pcscd"), pytest.mark.timeout(180)]

BIN = Path(sys.executable).parent
LEFT = "family"  # the card left in the slot from earlier work
WANTED = "adult-kyokai"  # the persona the terminal is told about


@pytest.fixture
def slot_world(world: World, tmp_path: Path) -> World:
    """A copy: the cards write their PIN counters back into their profiles."""
    shutil.copytree(
        world.directory,
        tmp_path / "w",
        ignore=shutil.ignore_patterns("service-state.sqlite*", "mock-oqs.log", "clinic"),
    )
    return World.load(tmp_path / "w")


def profile_of(world: World, persona: str) -> Path:
    return world.directory / str(world.persona(persona)["card"])


def fingerprint_of(world: World, persona: str) -> str:
    der = load_profile(profile_of(world, persona)).certificate().public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest().upper()


def tries_left(world: World, persona: str) -> int:
    """The PIN counter as the card keeps it (written back to its profile)."""
    return load_profile(profile_of(world, persona)).auth_pin.tries_left


def vcard_serve(profile: Path, ready: Path) -> subprocess.Popen[str]:
    return spawn(
        [
            str(BIN / "vcard"),
            "serve",
            "--profile",
            str(profile),
            "--port",
            str(TEST_SLOT_PORT),
            "--ready-file",
            str(ready),
            "--honeypot-log",
            str(ready.with_suffix(".honeypot")),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def left_in_slot(world: World, persona: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``persona``'s card served into the test slot by a ``vcard serve`` of its own, as a
    card left there from earlier work; taken out at the end (its honeypot stays empty)."""
    ready = tmp_path / f"{persona}.ready"
    proc = vcard_serve(profile_of(world, persona), ready)
    try:
        wait_served(proc, ready)
        wait_for_presence(TEST_READER, True)
        yield proc
        assert proc.poll() is None, "the card left in the slot was disturbed"
    finally:
        stop(proc)
        wait_for_presence(TEST_READER, False)
    assert ready.with_suffix(".honeypot").read_text() == ""


def card_in_reader() -> str:
    """The SHA-256 fingerprint of the certificate of the card pcscd has in the reader."""
    cert = myna_reader("cert", "--format", "text", "--json")
    assert cert.returncode == 0, cert.stderr
    fingerprint: str = json.loads(cert.stdout)["sha256_fingerprint"]
    return fingerprint


# -- vcard serve -----------------------------------------------------------------------------


def test_a_second_vcard_serve_into_a_taken_slot_is_refused(
    slot_world: World, tmp_path: Path
) -> None:
    with left_in_slot(slot_world, LEFT, tmp_path):
        ready = tmp_path / "second.ready"
        second = subprocess.run(
            [
                str(BIN / "vcard"),
                "serve",
                "--profile",
                str(profile_of(slot_world, WANTED)),
                "--port",
                str(TEST_SLOT_PORT),
                "--ready-file",
                str(ready),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 11, second.stderr
        assert "Virtual PCD 00 01 (vpcd port 35964) already holds a card" in second.stderr
        assert "Take that card out first" in second.stderr
        assert "inserted" not in second.stderr and not ready.exists()
        # the first card is untouched: it is the one that answers
        assert card_in_reader() == fingerprint_of(slot_world, LEFT)


def test_two_cards_served_at_once_into_an_empty_slot_one_goes_in(
    slot_world: World, tmp_path: Path
) -> None:
    """Both find the slot empty when they ask pcscd; vpcd takes one, the other is never
    spoken to and is refused — not left waiting unseen for the first to leave."""
    procs = {
        persona: vcard_serve(profile_of(slot_world, persona), tmp_path / f"{persona}.ready")
        for persona in (LEFT, WANTED)
    }
    try:
        deadline = time.monotonic() + 30
        while all(p.poll() is None for p in procs.values()):
            assert time.monotonic() < deadline, "neither card was refused"
            time.sleep(0.05)
        [(refused, proc)] = [(k, p) for k, p in procs.items() if p.poll() is not None]
        [(served, _)] = [(k, p) for k, p in procs.items() if p.poll() is None]
        assert proc.returncode == 11
        assert proc.stderr is not None and "already holds a card" in proc.stderr.read()
        assert (tmp_path / f"{served}.ready").exists()
        assert not (tmp_path / f"{refused}.ready").exists()
        wait_for_presence(TEST_READER, True)
        assert card_in_reader() == fingerprint_of(slot_world, served)
    finally:
        for proc in procs.values():
            stop(proc)
        wait_for_presence(TEST_READER, False)


def test_a_connection_pcscd_never_speaks_to_is_refused(world: World) -> None:
    """Without asking pcscd first (another machine's pcscd, a race): the card connects —
    vpcd's listen queue takes it — but pcscd never speaks to it, and it is refused."""
    with in_test_slot(card_of(world, LEFT)):
        second = VpcdCardServer(
            card_of(world, WANTED), port=TEST_SLOT_PORT, ask_pcscd=False, accept_seconds=1.0
        ).start()
        try:
            with pytest.raises(SlotTaken, match="pcscd did not take the card") as refused:
                second.wait_taken(15)
            assert (refused.value.reader, refused.value.port) == (TEST_READER, TEST_SLOT_PORT)
            assert "Virtual PCD 00 01" in refused.value.staff_message
        finally:
            second.stop()
        assert card_in_reader() == fingerprint_of(world, LEFT)


# -- reception checkin ---------------------------------------------------------------------


@pytest.fixture
def env(slot_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`reception` configured through the environment, the world's service running."""
    with mock_oqs_serving(slot_world) as (_, url):
        monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
        monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        yield tmp_path / "data" / "reception.sqlite"


def checkin(
    world: World,
    extra: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """`reception checkin --persona adult-kyokai` with that persona's PIN on stdin."""
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{world.persona(WANTED)['pin']}\n"))
    code = main(
        [
            "checkin",
            "--world",
            str(world.directory),
            "--persona",
            WANTED,
            "--transport",
            "pcsc",
            "--method",
            "pin",
            "--pin-stdin",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_checkin_of_a_persona_into_a_taken_slot_is_refused(
    slot_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's run: a card left in the slot, a check-in with a persona — before, the
    left card got the persona's PIN (exit 5, 「暗証番号が違います（あと2回）」)."""
    with left_in_slot(slot_world, LEFT, tmp_path):
        code, out, err = checkin(slot_world, ["--slot", "1"], monkeypatch, capsys)
        assert code == 11, out + err
        assert "「Virtual PCD 00 01」（vpcd ポート 35964）には別のカードが入っています" in err
        assert "Virtual PCD 00 01 (vpcd port 35964) already holds a card" in err
        assert tries_left(slot_world, LEFT) == 3
        assert card_in_reader() == fingerprint_of(slot_world, LEFT)
    assert Store(env).receptions_on(now_jst().date()) == []  # nothing began


def test_checkin_expecting_a_persona_stops_at_another_card_before_any_verify(
    slot_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--persona` with `--reader`: the card is already in that reader — the left one,
    not the persona's. The check-in reads its certificate (free) and stops: exit 10, the
    reason for staff in Japanese, no VERIFY sent (not even the empty one of the tries
    left), the PIN counter as it was, the reception cancelled."""
    trace = tmp_path / "trace.txt"
    with left_in_slot(slot_world, LEFT, tmp_path):
        code, out, err = checkin(
            slot_world,
            ["--reader", TEST_READER, "--trace", str(trace), "--json"],
            monkeypatch,
            capsys,
        )
        assert code == 10, out + err
        data = json.loads(out)
        assert (data["state"], data["outcome"]) == ("wrong-card", "cancelled")
        assert "別のカードです" in data["message"] and WANTED in data["message"]
        assert "試行回数は減っていません" in data["message"]
        assert data["wrong_card"] == {
            "expected": WANTED,
            "expected_sha256": fingerprint_of(slot_world, WANTED),
            "found_sha256": fingerprint_of(slot_world, LEFT),
            "pin_sent": False,
        }
        commands = [line for line in trace.read_text().splitlines() if line.startswith("> ")]
        assert commands and not any(c.startswith("> 0020") for c in commands), commands
        assert tries_left(slot_world, LEFT) == 3
    [reception] = Store(env).receptions_on(now_jst().date())
    assert reception.status == "cancelled" and "別のカード" in (reception.reason or "")


class Recording(VirtualCard):
    """A virtual card that keeps every command it is sent (to prove none was a VERIFY)."""

    def __init__(self, card: VirtualCard) -> None:
        super().__init__(card.profile, honeypot=card.honeypot)
        self.commands: list[bytes] = []

    def process(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        return super().process(apdu)


@pytest.mark.parametrize("method", [Method.PIN, Method.FACE])
def test_the_terminal_checks_the_card_before_any_verify(
    world: World, tmp_path: Path, method: Method
) -> None:
    """check_in through pcscd with the card expected: another card in the reader gets no
    VERIFY — the card itself says so — and keeps its tries; the expected one goes on."""
    left = Recording(card_of(world, LEFT))
    store = Store(tmp_path / "reception.sqlite")
    request = CheckinRequest(
        method, pin_source=pin_of(world, WANTED), expected=expected_of(world, WANTED)
    )

    def run() -> CheckinOutcome:
        async def go() -> CheckinOutcome:
            async with in_process(world) as oqs:
                with PcscTransport(TEST_READER) as transport:
                    return await check_in(transport, oqs, store, terminal_of(world), request)

        return asyncio.run(go())

    with in_test_slot(left):
        outcome = run()
    assert outcome.state is State.WRONG_CARD, outcome.detail
    assert left.commands and not [c for c in left.commands if c[1] in (0x20, 0x82, 0x88)]
    assert left.profile.auth_pin.tries_left == 3
    assert outcome.result is None
    with in_test_slot(card_of(world, WANTED)):  # the right card: the check-in goes on
        assert run().state is State.CONFIRMED
