"""Through the real stack: pyscard → pcscd → vsmartcard-vpcd → the virtual card.

The tests use slot 1 ("Virtual PCD 00 01", port 35964) so that a running demo in
slot 0 is not disturbed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reader.children import spawn
from reader.errors import CardRemoved, NoCard, PinIncorrect, ReaderUnavailable
from reader.jpki import ExtendedLengthMemory, JpkiClient, ReadMode
from reader.pcsc import CardPresenceMonitor, PcscTransport, list_readers
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.profile import CardProfile, save_profile
from reader.virtual.vpcd import VpcdCardServer
from tests.support.stack import (
    TEST_PIN,
    TEST_READER,
    TEST_SLOT_PORT,
    in_test_slot,
    myna_reader,
    wait_for_presence,
    wait_served,
)

pytestmark = pytest.mark.usefixtures("pcscd")

BIN = Path(sys.executable).parent


@pytest.fixture
def served(physical_profile: CardProfile) -> Iterator[tuple[VpcdCardServer, VirtualCard]]:
    card = VirtualCard(physical_profile)
    with in_test_slot(card) as server:
        yield server, card


def client_for(mode: ReadMode = ReadMode.SHORT) -> tuple[JpkiClient, PcscTransport]:
    transport = PcscTransport(TEST_READER)
    return JpkiClient(CardChannel(transport), read_mode=mode, memory=ExtendedLengthMemory()), (
        transport
    )


@pytest.mark.parametrize("mode", [ReadMode.SHORT, ReadMode.EXTENDED])
def test_authenticate_through_pcscd(
    served: tuple[VpcdCardServer, VirtualCard], mode: ReadMode
) -> None:
    _, card = served
    client, transport = client_for(mode)
    with transport:
        assert transport.atr.hex().upper() == "3B888001000041E0B381A1003B"
        auth = client.authenticate(Pin(TEST_PIN), b"challenge")
        assert auth.certificate == card.profile.certificate()
        key = auth.certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(auth.signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())
        if mode is ReadMode.EXTENDED:
            assert client.channel.stats.apdus == 6
            assert client.memory.supports(TEST_READER) is True
    assert card.honeypot.empty


def test_wrong_pin_three_times_blocks(served: tuple[VpcdCardServer, VirtualCard]) -> None:
    _, card = served
    client, transport = client_for()
    with transport, client.channel.transaction():
        client.select()
        for left in (2, 1, 0):
            with pytest.raises(PinIncorrect) as info:
                client.verify_pin(Pin("0000"))
            assert info.value.tries_left == left
        assert client.pin_tries_left() == 0
    assert card.profile.auth_pin.tries_left == 0


def test_card_removed_in_the_middle_of_a_read(
    served: tuple[VpcdCardServer, VirtualCard],
) -> None:
    server, card = served
    client, transport = client_for(ReadMode.SHORT)
    server.remove_after_apdus = server.apdus_served + 5  # select, token, header, chunk, >chunk<
    with transport, client.channel.transaction():
        client.select()
        client.token_info()
        with pytest.raises(CardRemoved):
            client.auth_certificate_der()
        assert client.channel.guard.current_df.value == "unknown"
    wait_for_presence(TEST_READER, False)
    server.insert()
    wait_for_presence(TEST_READER, True)
    client, transport = client_for()
    with transport:
        assert client.authenticate(Pin(TEST_PIN), b"again").signature
    assert card.profile.auth_pin.tries_left == 3
    assert card.honeypot.empty


def test_myna_reader_exits_3_when_the_card_is_pulled_at_any_apdu(
    served: tuple[VpcdCardServer, VirtualCard],
) -> None:
    """Issue 19: ``myna-reader auth-test`` exited 1 when the card was pulled; 3 means the
    card or the reader left mid-way. Through pcscd, the card pulled at every APDU."""
    server, card = served
    n = 1
    while True:
        server.remove_after_apdus = server.apdus_served + n
        run = myna_reader("auth-test", "--pin-stdin", stdin=TEST_PIN + "\n")
        if server.remove_after_apdus is not None:  # never pulled: the test ran to its end
            assert run.returncode == 0, run.stderr
            break
        assert run.returncode == 3, (n, run.stderr)
        assert "カードが取り外されました" in run.stderr
        wait_for_presence(TEST_READER, False)
        server.insert()
        wait_for_presence(TEST_READER, True)
        n += 1
    assert n > 6
    assert card.profile.auth_pin.tries_left == 3


def test_presence_monitor_sees_removal_and_insertion(
    served: tuple[VpcdCardServer, VirtualCard],
) -> None:
    server, _ = served
    events: list[tuple[str, bool]] = []
    seen = threading.Condition()

    def on_change(reader: str, present: bool, atr: bytes) -> None:
        with seen:
            events.append((reader, present))
            seen.notify_all()

    monitor = CardPresenceMonitor(on_change, readers=[TEST_READER]).start()
    try:
        with seen:
            assert seen.wait_for(lambda: (TEST_READER, True) in events, timeout=5)
        server.remove()
        with seen:
            assert seen.wait_for(lambda: events[-1] == (TEST_READER, False), timeout=5)
        server.insert()
        with seen:
            assert seen.wait_for(lambda: events[-1] == (TEST_READER, True), timeout=5)
    finally:
        monitor.stop()
    assert monitor.error is None


def test_unknown_reader_and_empty_reader() -> None:
    with pytest.raises(ReaderUnavailable, match="no reader named"):
        PcscTransport("No Such Reader 99")
    assert any(r.name == TEST_READER for r in list_readers())
    with pytest.raises(NoCard, match="place the card"):
        PcscTransport(TEST_READER)


# --- the command-line tools, as separate processes ------------------------------------


@pytest.fixture
def vcard_serve(
    physical_profile: CardProfile, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    profile = tmp_path / "card.json"
    save_profile(physical_profile, profile)
    procs: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = spawn(
            [
                str(BIN / "vcard"),
                "serve",
                "--profile",
                str(profile),
                "--port",
                str(TEST_SLOT_PORT),
                "--honeypot-log",
                str(tmp_path / "honeypot.jsonl"),
                "--pid-file",
                str(tmp_path / "vcard.pid"),
                "--ready-file",
                str(tmp_path / "vcard.ready"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        wait_served(proc, tmp_path / "vcard.ready")
        wait_for_presence(TEST_READER, True)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for_presence(TEST_READER, False)


def test_cli_against_vcard_serve(
    vcard_serve: Callable[[], subprocess.Popen[str]], tmp_path: Path
) -> None:
    proc = vcard_serve()
    ok = myna_reader("auth-test", "--pin-stdin", "--extended", "--json", stdin=TEST_PIN + "\n")
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["signature_valid"] and result["apdus"] == 6

    first = myna_reader("auth-test", "--pin-stdin", stdin="0000\n")
    assert first.returncode == 5 and "2 tries left" in first.stderr
    second = myna_reader("auth-test", "--pin-stdin", stdin="9999\n")
    assert second.returncode == 5 and "1 try left" in second.stderr
    third = myna_reader("auth-test", "--pin-stdin", stdin="1111\n")
    assert third.returncode == 6 and "BLOCKED" in third.stderr
    status = myna_reader("pin-status")
    assert status.returncode == 6 and "municipal office" in status.stdout
    forbidden = myna_reader("apdu", "00A4040C0AD3921000310001010408")
    assert forbidden.returncode == 4 and "My Number guard" in forbidden.stderr

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None
    assert "honeypot: 0 number-bearing accesses" in proc.stderr.read()
    assert (tmp_path / "honeypot.jsonl").read_text() == ""
    assert not (tmp_path / "vcard.pid").exists()
    # the blocked state was written to the profile: a restarted card is still blocked
    wait_for_presence(TEST_READER, False)
    vcard_serve()
    status = myna_reader("pin-status", "--json")
    assert json.loads(status.stdout).get("blocked") is True, status.stdout + status.stderr


def test_vcard_remove_and_insert(
    vcard_serve: Callable[[], subprocess.Popen[str]], tmp_path: Path
) -> None:
    vcard_serve()
    pid_file = str(tmp_path / "vcard.pid")
    assert subprocess.run([str(BIN / "vcard"), "remove", "--pid-file", pid_file]).returncode == 0
    wait_for_presence(TEST_READER, False)
    probe = myna_reader("probe")
    assert probe.returncode == 3 and "place the card" in probe.stderr
    assert subprocess.run([str(BIN / "vcard"), "insert", "--pid-file", pid_file]).returncode == 0
    wait_for_presence(TEST_READER, True)
    probe = myna_reader("probe", "--json")
    assert probe.returncode == 0 and json.loads(probe.stdout)["jpki"] is True


def test_list_shows_the_virtual_readers(
    vcard_serve: Callable[[], subprocess.Popen[str]],
) -> None:
    vcard_serve()
    listed = subprocess.run(
        [str(BIN / "myna-reader"), "list", "--json"], capture_output=True, text=True, check=True
    )
    readers = {r["name"]: r for r in json.loads(listed.stdout)["readers"]}
    assert readers[TEST_READER]["card_present"] is True
    assert readers[TEST_READER]["atr"] == "3B888001000041E0B381A1003B"


def test_list_separates_reader_and_state_by_a_tab(
    vcard_serve: Callable[[], subprocess.Popen[str]],
) -> None:
    """Scripts split `myna-reader list` on the tab: it is a tab, not its picture (␉)."""
    vcard_serve()
    listed = subprocess.run(
        [str(BIN / "myna-reader"), "list"], capture_output=True, text=True, check=True
    )
    rows = dict(line.split("\t") for line in listed.stdout.splitlines())
    assert rows[TEST_READER].startswith("card 3B"), listed.stdout
    assert "\u2409" not in listed.stdout


def test_honeypot_file_records_when_poked(physical_profile: CardProfile, tmp_path: Path) -> None:
    """The file sink of the honeypot works (so an empty file means something)."""
    sink = tmp_path / "hp.jsonl"
    pot = Honeypot(sink, deliberate=True)
    card = VirtualCard(physical_profile, honeypot=pot)
    card.process(bytes.fromhex("00A4040C05D392100031"))
    lines = sink.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["application"] == "券面事項入力補助AP"


def test_vcard_serve_waits_for_pcscd_and_exits_on_sigterm(
    physical_profile: CardProfile, tmp_path: Path
) -> None:
    profile = tmp_path / "card.json"
    save_profile(physical_profile, profile)
    proc = spawn(
        [str(BIN / "vcard"), "serve", "--profile", str(profile), "--port", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    assert proc.poll() is None  # still trying, not crashed
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None
    assert "waiting for pcscd/vpcd" in proc.stderr.read()


def test_transaction_keeps_other_programs_out(served: tuple[VpcdCardServer, VirtualCard]) -> None:
    select = bytes.fromhex("00A4040C0AD392F000260100000001")
    order: list[str] = []
    with PcscTransport(TEST_READER) as first, PcscTransport(TEST_READER) as second:

        def other_program() -> None:
            second.transmit(select)
            order.append("other")

        with first.transaction():
            thread = threading.Thread(target=other_program)
            thread.start()
            thread.join(0.5)  # it must still be waiting for our transaction to end
            first.transmit(select)
            order.append("ours")
        thread.join(5)
    assert order == ["ours", "other"]
