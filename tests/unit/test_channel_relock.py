"""The channel resets the card at the end of a transaction that may have opened its
security state (a VERIFY with a PIN, the face path's EXTERNAL AUTHENTICATE) — before the
transaction lets other programs in — and only then (a reset costs a real card its ATR)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from reader.apdu import CommandApdu
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel, Transport, TransportDecorator
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from tests.support.stack import TEST_PIN

SIGN = CommandApdu(0x80, 0x2A, 0x00, 0x97, bytes(51), le=256)


class Watched(TransportDecorator):
    """Records, in order, the transaction boundaries and resets the channel asks for."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.events: list[str] = []

    def reset(self) -> None:
        self.events.append("reset")
        super().reset()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.inner.transaction():
            self.events.append("begin")
            yield
            self.events.append("end")


def test_a_verified_pin_is_reset_before_the_transaction_ends(card: VirtualCard) -> None:
    transport = Watched(LoopbackTransport(card))
    client = JpkiClient(CardChannel(transport))
    client.authenticate(Pin(TEST_PIN), b"challenge")
    assert transport.events == ["begin", "reset", "end"]
    # another program after us: the key signs nothing without the PIN
    raw = LoopbackTransport(card).transmit(SIGN.to_bytes())
    assert raw[-2:] != b"\x90\x00"


def test_asking_the_tries_left_resets_nothing(card: VirtualCard) -> None:
    transport = Watched(LoopbackTransport(card))
    client = JpkiClient(CardChannel(transport))
    assert client.fetch_pin_tries_left() == 3
    client.fetch_auth_certificate_der()
    assert "reset" not in transport.events
