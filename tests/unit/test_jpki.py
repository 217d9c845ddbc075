"""The JPKI client over the loopback transport."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from reader.errors import (
    CardRemoved,
    NotAMyNumberCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    PinRequired,
    SecurityStatusNotSatisfied,
)
from reader.jpki import ExtendedLengthMemory, JpkiClient, ReadMode, TokenKind
from reader.pin import InvalidPin, Pin
from reader.transport import CardChannel, TracingTransport
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import CardProfile, Variant
from tests.support.stack import TEST_PIN, CardLeavesAfter


def make_client(
    card: VirtualCard, mode: ReadMode = ReadMode.SHORT, memory: ExtendedLengthMemory | None = None
) -> tuple[JpkiClient, LoopbackTransport]:
    transport = LoopbackTransport(card)
    return JpkiClient(CardChannel(transport), read_mode=mode, memory=memory), transport


def verify_signature(profile: CardProfile, signature: bytes, challenge: bytes) -> None:
    key = profile.certificate().public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())


def test_authenticate_extended_takes_six_apdus(card: VirtualCard) -> None:
    client, _ = make_client(card, ReadMode.EXTENDED)
    auth = client.authenticate(Pin(TEST_PIN), b"nonce-1")
    assert client.channel.stats.apdus == 6
    assert auth.token.kind is TokenKind.PHYSICAL_CARD
    assert auth.certificate_der == card.profile.certificate().public_bytes(Encoding.DER)
    verify_signature(card.profile, auth.signature, b"nonce-1")


def test_authenticate_short_reads_in_256_byte_chunks(card: VirtualCard) -> None:
    client, _ = make_client(card, ReadMode.SHORT)
    auth = client.authenticate(Pin(TEST_PIN), b"nonce-2")
    rest = len(auth.certificate_der) - 4
    chunks = -(-rest // 256)
    assert client.channel.stats.apdus == 5 + chunks
    verify_signature(card.profile, auth.signature, b"nonce-2")


def test_extended_falls_back_and_remembers_per_reader(
    make_profile: Callable[..., CardProfile], tmp_path: Path
) -> None:
    memory = ExtendedLengthMemory(tmp_path / "ext.json")
    card = VirtualCard(make_profile(extended_length=False))
    client, _ = make_client(card, ReadMode.EXTENDED, memory)
    first = client.authenticate(Pin(TEST_PIN), b"a")
    first_count = client.channel.stats.apdus
    verify_signature(card.profile, first.signature, b"a")
    assert memory.supports("Loopback virtual reader") is False
    # a new process: the knowledge is on disk, no extended attempt any more
    client2, _ = make_client(card, ReadMode.EXTENDED, ExtendedLengthMemory(tmp_path / "ext.json"))
    client2.authenticate(Pin(TEST_PIN), b"b")
    assert client2.channel.stats.apdus == first_count - 1


def test_wrong_pin_is_sent_once_and_reports_tries(card: VirtualCard) -> None:
    client, _ = make_client(card)
    with client.channel.transaction():
        client.select()
        assert client.pin_tries_left() == 3
        before = card.apdu_count
        with pytest.raises(PinIncorrect) as info:
            client.verify_pin(Pin("0000"))
        assert info.value.tries_left == 2
        assert card.apdu_count - before == 1  # never retried
        assert client.pin_tries_left() == 2


def test_authenticate_with_wrong_pin_stops_and_never_signs(card: VirtualCard) -> None:
    client, _ = make_client(card)
    with pytest.raises(PinIncorrect):
        client.authenticate(Pin("0000"), b"x")
    assert card.profile.auth_pin.tries_left == 2


def test_three_wrong_pins_block(card: VirtualCard) -> None:
    client, _ = make_client(card)
    with client.channel.transaction():
        client.select()
        for left in (2, 1, 0):
            with pytest.raises(PinIncorrect) as info:
                client.verify_pin(Pin("0000"))
            assert info.value.tries_left == left
        assert client.pin_tries_left() == 0
        with pytest.raises(PinBlocked, match="municipal office"):
            client.verify_pin(Pin(TEST_PIN))


def test_pin_is_validated_locally_without_echo() -> None:
    for bad in ("123", "12345", "12a4", "１２３４", "", "12 4"):
        with pytest.raises(InvalidPin) as info:
            Pin(bad)
        if bad:
            assert bad not in str(info.value)
    pin = Pin("4711\n")
    assert "4711" not in repr(pin) and "4711" not in str(pin)
    pin.wipe()
    with pytest.raises(InvalidPin, match="wiped"):
        pin.command_data()


def test_pin_is_wiped_after_authenticate(card: VirtualCard) -> None:
    client, _ = make_client(card)
    pin = Pin(TEST_PIN)
    client.authenticate(pin, b"x")
    with pytest.raises(InvalidPin):
        pin.command_data()


def test_android_verifies_before_reading_the_certificate(
    make_profile: Callable[..., CardProfile],
) -> None:
    card = VirtualCard(make_profile(Variant.ANDROID))
    client, _ = make_client(card, ReadMode.EXTENDED)
    auth = client.authenticate(Pin(TEST_PIN), b"x")
    assert auth.token.kind is TokenKind.ANDROID
    verify_signature(card.profile, auth.signature, b"x")
    with client.channel.transaction():
        client.select()
        with pytest.raises(SecurityStatusNotSatisfied):
            client.auth_certificate()


def test_iphone_needs_no_reader_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = VirtualCard(make_profile(Variant.IPHONE))
    client, _ = make_client(card)
    auth = client.authenticate(None, b"x")
    assert auth.token.kind is TokenKind.IPHONE
    verify_signature(card.profile, auth.signature, b"x")


def test_face_only_card_reports_no_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = VirtualCard(make_profile(Variant.FACE_ONLY))
    client, _ = make_client(card)
    with client.channel.transaction():
        client.select()
        with pytest.raises(PinNotSet):
            client.pin_tries_left()
        assert client.auth_certificate().subject == card.profile.certificate().subject
    with pytest.raises(PinRequired):
        client.authenticate(None, b"x")


def test_not_a_my_number_card(card: VirtualCard) -> None:
    client, _ = make_client(card)
    card.apps = [a for a in card.apps if a.label != "JPKI AP"]
    with pytest.raises(NotAMyNumberCard, match="no JPKI application"):
        client.select()


def test_card_removed_at_every_apdu(make_profile: Callable[..., CardProfile]) -> None:
    """Removal at any point: a typed error; the counter moves only by the patient's attempt."""
    for position in range(6):
        card = VirtualCard(make_profile(tries_left=2))
        client = JpkiClient(
            CardChannel(CardLeavesAfter(card, position)), read_mode=ReadMode.EXTENDED
        )
        with pytest.raises(CardRemoved):
            client.authenticate(Pin(TEST_PIN), b"x")
        # the VERIFY is APDU 5 (index 4): before it the counter is untouched; after it,
        # the patient's own correct attempt reset it to 3
        expected = 3 if position > 4 else 2
        assert card.profile.auth_pin.tries_left == expected, position
        assert client.channel.guard.current_df.value == "unknown"


def test_trace_redacts_the_pin(card: VirtualCard, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink = io.StringIO()
    tracing = TracingTransport(LoopbackTransport(card), sink)
    client = JpkiClient(CardChannel(tracing))
    client.authenticate(Pin(TEST_PIN), b"x")
    text = sink.getvalue()
    assert "> 0020009804 [4 bytes redacted]" in text
    pin_hex = TEST_PIN.encode().hex().upper()
    assert pin_hex not in text.upper()
    assert all(pin_hex not in e.command.upper() for e in tracing.exchanges)
    assert TEST_PIN not in caplog.text and pin_hex not in caplog.text.upper()
    assert len(tracing.exchanges) == client.channel.stats.apdus
