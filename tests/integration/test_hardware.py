"""A real My Number card in a USB reader. Off by default: ``pytest -m hardware``.

Set ``MYNA_HW_READER`` to the reader's name (or a unique part). The PIN test runs
only with ``MYNA_HW_PIN_STDIN=1`` and reads the PIN from the terminal's standard
input (``pytest -s``): it uses one of the card's 3 tries if the PIN is wrong.
"""

from __future__ import annotations

import getpass
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reader.jpki import ExtendedLengthMemory, JpkiClient, ReadMode, TokenKind
from reader.pin import Pin
from reader.transport import CardChannel

pytestmark = pytest.mark.hardware


@pytest.fixture
def hw_client() -> JpkiClient:
    from reader.pcsc import PcscTransport

    transport = PcscTransport(os.environ.get("MYNA_HW_READER"), wait_seconds=10)
    return JpkiClient(
        CardChannel(transport), read_mode=ReadMode.EXTENDED, memory=ExtendedLengthMemory.default()
    )


def test_real_card_identifies_and_reads_the_certificate(hw_client: JpkiClient) -> None:
    with hw_client.channel.transaction():
        hw_client.select()
        token = hw_client.token_info()
        assert token.kind is not TokenKind.UNKNOWN
        if token.kind is not TokenKind.ANDROID:
            cert = hw_client.auth_certificate()
            assert cert.subject.rfc4514_string().startswith("CN=")
        assert 0 <= hw_client.pin_tries_left() <= 3


@pytest.mark.skipif(os.environ.get("MYNA_HW_PIN_STDIN") != "1", reason="needs the PIN typed in")
def test_real_card_authenticates(hw_client: JpkiClient) -> None:
    tries = hw_client.fetch_pin_tries_left()
    assert tries > 1, "refusing to risk the last PIN try"
    pin = Pin(getpass.getpass(f"PIN ({tries} tries left): "))
    auth = hw_client.authenticate(pin, b"hardware test")
    key = auth.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(auth.signature, b"hardware test", padding.PKCS1v15(), hashes.SHA256())
