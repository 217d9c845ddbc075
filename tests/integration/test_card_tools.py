"""The virtual card as independent card tools see it, through pcscd + vsmartcard-vpcd.

pcsc-tools' ``pcsc_scan`` and OpenSC (``pkcs15-tool``, ``pkcs11-tool`` with
``opensc-pkcs11.so``) are Debian's packages, installed by ``scripts/setup --dev``; the
card is served into slot 1 ("Virtual PCD 00 01"). Every tool runs with ``HOME`` in the
test's directory, so no cache of a developer's (pcsc-tools' list, OpenSC's files) plays
a part.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.profile import CardAtr, CardProfile
from reader.virtual.vpcd import VpcdCardServer
from tests.support.client_sequences import (
    MYNA_PIN_STATUS,
    MYNA_PIN_STATUS_TOUCHES,
    PYJPKI_SIGN_DATA_ANSWERS,
    myna_jpki_cert,
    pyjpki_sign_data,
    run,
)
from tests.support.stack import TEST_PIN, TEST_READER, TEST_SLOT_PORT, wait_for_presence

pytestmark = pytest.mark.usefixtures("pcscd")

TOKEN_AUTH = "JPKI (User Authentication PIN)"
"""The PKCS#11 token OpenSC's JPKI emulation makes of the user-authentication PIN."""


def tool(name: str) -> str:
    """The path of a card tool, or skip (fail where the PC/SC stack is required)."""
    path = shutil.which(name)
    if path is None:
        problem = f"{name} is not installed (scripts/setup --dev installs pcsc-tools and opensc)"
        if os.environ.get("MYNA_REQUIRE_PCSCD") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return path


def opensc_pkcs11() -> str:
    candidates = [*sorted(Path("/usr/lib").glob("*/opensc-pkcs11.so"))]
    for candidate in [*candidates, Path("/usr/lib/opensc-pkcs11.so")]:
        if candidate.exists():
            return str(candidate)
    tool("pkcs11-tool")  # skips or fails with the reason
    pytest.fail("opensc is installed but opensc-pkcs11.so was not found")


@pytest.fixture
def run_tool(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "LANG": "C.UTF-8"}

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool(args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=tmp_path,
            check=False,
        )

    return run


@pytest.fixture
def serve(
    make_profile: Callable[..., CardProfile],
) -> Iterator[Callable[..., VirtualCard]]:
    """Serve a card (profile options as keywords) into slot 1 until the test ends."""
    servers: list[VpcdCardServer] = []

    def start(honeypot: Honeypot | None = None, **options: object) -> VirtualCard:
        profile = make_profile()
        for name, value in options.items():
            setattr(profile, name, value)
        card = VirtualCard(profile, honeypot=honeypot)
        servers.append(VpcdCardServer(card, port=TEST_SLOT_PORT).start())
        wait_for_presence(TEST_READER, True)
        return card

    yield start
    for server in servers:
        server.stop()
    if servers:
        wait_for_presence(TEST_READER, False)


def scan_once(run_tool: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    """``pcsc_scan`` prints the readers, the cards and their ATR analysis, then keeps
    watching; ``-t 2`` ends it after two seconds (``-c``, cards only, skips the
    analysis). Colour codes are dropped."""
    done = run_tool("pcsc_scan", "-t", "2", timeout=30)
    assert done.returncode == 0, done.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)


# --- the ATR ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atr", "named"),
    [
        (CardAtr.CONTACTLESS, "ID card issued by Japan government"),
        (CardAtr.CONTACT, "Japanese Individual Number Card"),
    ],
)
def test_pcsc_scan_names_the_card_a_my_number_card(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
    atr: CardAtr,
    named: str,
) -> None:
    """Issue 20: pcsc-tools named the virtual card "JUKICARD", the old 住基カード."""
    card = serve(atr=atr)
    out = scan_once(run_tool)
    spaced = card.atr.hex(" ").upper()
    assert f"ATR: {spaced}" in out
    identified = out.split("Possibly identified card", 1)[1]
    assert spaced in identified and named in identified and "kojinbango-card.go.jp" in identified
    assert "JUKICARD" not in out


def test_pcsc_scan_the_default_card_is_the_contactless_one(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    serve()
    out = scan_once(run_tool)
    assert "ATR: 3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B" in out
    assert "ID card issued by Japan government" in out


def test_pcsc_scan_the_old_juki_card_stays_selectable(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    serve(atr=CardAtr.JUKI)
    out = scan_once(run_tool)
    assert "ATR: 3B E0 00 FF 81 31 FE 45 14" in out and '"JUKICARD"' in out


# --- OpenSC ------------------------------------------------------------------------------


@pytest.mark.parametrize("atr", list(CardAtr))
def test_opensc_reads_the_certificate_and_signs_with_the_auth_pin(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
    atr: CardAtr,
) -> None:
    """OpenSC identifies the card by selecting the JPKI AID (card-jpki.c
    ``jpki_match_card``), whatever the ATR: it reads the auth certificate (PKCS#15 id
    01) and signs with the auth PIN through its PKCS#11 module."""
    card = serve(atr=atr)
    read = run_tool("pkcs15-tool", "--reader", TEST_READER, "--read-certificate", "01")
    assert read.returncode == 0, read.stderr
    assert x509.load_pem_x509_certificate(read.stdout.encode()) == card.profile.certificate()

    (tmp_path / "data").write_bytes(b"signed by OpenSC through the virtual card")
    signed = run_tool(
        "pkcs11-tool",
        "--module",
        opensc_pkcs11(),
        "--token-label",
        TOKEN_AUTH,
        "--login",
        "--pin",
        TEST_PIN,
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS",
        "--id",
        "01",
        "--input-file",
        "data",
        "--output-file",
        "sig",
    )
    assert signed.returncode == 0, signed.stderr
    key = card.profile.certificate().public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        (tmp_path / "sig").read_bytes(),
        (tmp_path / "data").read_bytes(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert card.profile.auth_pin.tries_left == 3
    assert card.honeypot.empty


def test_pkcs11_tool_self_test_passes_random_numbers_included(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """``pkcs11-tool -t`` starts with C_GenerateRandom, a GET CHALLENGE in the JPKI AP:
    the card answered 6985 there (issue 20), and the self-test failed."""
    card = serve()
    done = run_tool(
        "pkcs11-tool",
        "--module",
        opensc_pkcs11(),
        "--token-label",
        TOKEN_AUTH,
        "--test",
        "--login",
        "--pin",
        TEST_PIN,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "C_GenerateRandom failed" not in done.stdout + done.stderr
    assert "C_GenerateRandom():\n  seeding (C_SeedRandom) not supported\n  seems to be OK" in (
        done.stdout
    )
    assert "SHA256-RSA-PKCS: OK" in done.stdout and done.stdout.endswith("No errors\n")
    assert card.honeypot.empty


def test_opensc_reads_the_signing_ca_certificate(
    serve: Callable[..., VirtualCard],
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """pkcs15-jpki.c lists EF 0002 as certificate 04 ("Digital Signature Certificate CA",
    no PIN); the card answered 6A82 (issue 20): "Certificate read failed: File not found"."""
    card = serve()
    done = run_tool("pkcs15-tool", "--reader", TEST_READER, "--read-certificate", "04")
    assert done.returncode == 0, done.stderr
    read = x509.load_pem_x509_certificate(done.stdout.encode())
    assert read == card.profile.sign_ca_certificate()
    assert card.honeypot.empty


# --- public clients' APDU sequences, through pcscd + vpcd ----------------------------------


@pytest.fixture
def connect_raw() -> Iterator[Callable[[], Callable[[bytes], bytes]]]:
    """Another program's plain connection to slot 1 (made once a card is served): no guard
    of ours in the way."""
    from smartcard.System import readers

    connections = []

    def connect() -> Callable[[bytes], bytes]:
        (reader,) = [r for r in readers() if str(r) == TEST_READER]
        connection = reader.createConnection()
        connection.connect()
        connections.append(connection)

        def transmit(command: bytes) -> bytes:
            data, sw1, sw2 = connection.transmit(list(command))
            return bytes([*data, sw1, sw2])

        return transmit

    yield connect
    for connection in connections:
        connection.disconnect()


def test_myna_and_pyjpki_sequences_through_pcscd(
    serve: Callable[..., VirtualCard], connect_raw: Callable[[], Callable[[bytes], bytes]]
) -> None:
    """jpki/myna's ``pin status`` and ``cert auth/authca/signca``, pyjpki's signing, sent
    by another program through pcscd + vpcd (tests/support/client_sequences.py)."""
    card = serve(honeypot=Honeypot(deliberate=True))
    raw_card = connect_raw()
    replies = [(command, run(raw_card, command)[1]) for command, _ in MYNA_PIN_STATUS]
    assert replies == MYNA_PIN_STATUS
    expected = {
        "auth": card.profile.certificate(),
        "authca": card.profile.ca_certificate(),
        "signca": card.profile.sign_ca_certificate(),
    }
    for which, certificate in expected.items():
        der, sent = myna_jpki_cert(raw_card, which)
        assert {sw for _, sw in sent} == {0x9000}, which
        assert x509.load_der_x509_certificate(der) == certificate
    signing = [run(raw_card, command)[1] for command in pyjpki_sign_data(TEST_PIN, b"x")]
    assert signing == PYJPKI_SIGN_DATA_ANSWERS
    touched = [
        (a.application, a.operation)
        for a in card.honeypot.accesses
        if not a.operation.startswith("command ")
    ]
    assert touched == MYNA_PIN_STATUS_TOUCHES
