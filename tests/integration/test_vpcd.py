"""The vpcd wire protocol against a stand-in for pcscd's vpcd driver on loopback.

This one can be restarted at will, so reconnection is tested without touching
the machine's pcscd.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from reader.errors import SlotTaken
from reader.virtual.card import ATR, VirtualCard
from reader.virtual.vpcd import VpcdCardServer


class FakeVpcd:
    """Listens like vpcd does; speaks length-prefixed frames."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(10)
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(len(payload).to_bytes(2, "big") + payload)

    def recv(self) -> bytes:
        assert self.conn is not None
        size = int.from_bytes(self._exact(2), "big")
        return self._exact(size)

    def _exact(self, n: int) -> bytes:
        assert self.conn is not None
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def exchange(self, apdu: str) -> bytes:
        self.send(bytes.fromhex(apdu))
        return self.recv()

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self.drop()
        self.listener.close()


@pytest.fixture
def fake() -> Iterator[FakeVpcd]:
    f = FakeVpcd()
    yield f
    f.close()


def test_control_bytes_and_apdus(fake: FakeVpcd, card: VirtualCard) -> None:
    server = VpcdCardServer(card, port=fake.port).start()
    try:
        fake.accept()
        fake.send(b"\x04")
        assert fake.recv() == ATR
        fake.send(b"\x01")  # power on: no reply
        assert fake.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
        assert fake.exchange("0020009804" + b"4711".hex()) == b"\x90\x00"
        assert card.auth_verified
        fake.send(b"\x02")  # reset clears the verified state
        fake.send(b"\x04")
        assert fake.recv() == ATR
        assert not card.auth_verified
        assert server.nodelay  # card.md §9: no 40 ms delayed-ACK stalls
    finally:
        server.stop()


def test_reconnects_when_pcscd_restarts(card: VirtualCard) -> None:
    first = FakeVpcd()
    port = first.port
    server = VpcdCardServer(card, port=port, retry_seconds=0.05).start()
    try:
        first.accept()
        assert first.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
        first.close()  # pcscd goes away entirely
        second = FakeVpcd(port)  # and comes back on the same port
        try:
            second.accept()
            second.send(b"\x04")
            assert second.recv() == ATR
            assert second.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
        finally:
            second.close()
    finally:
        server.stop()


def test_remove_closes_and_insert_reconnects(fake: FakeVpcd, card: VirtualCard) -> None:
    server = VpcdCardServer(card, port=fake.port, retry_seconds=0.05).start()
    try:
        fake.accept()
        fake.send(b"\x04")  # pcscd's first word: the card is taken
        assert fake.recv() == ATR
        assert server.connected.wait(5)
        server.remove()
        with pytest.raises(ConnectionError):
            fake.recv()
        fake.drop()
        server.insert()
        fake.accept()
        assert fake.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
    finally:
        server.stop()


def test_remove_after_apdus_pulls_the_card_unanswered(fake: FakeVpcd, card: VirtualCard) -> None:
    server = VpcdCardServer(card, port=fake.port, remove_after_apdus=2).start()
    try:
        fake.accept()
        assert fake.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
        fake.send(bytes.fromhex("00B0860020"))
        with pytest.raises(ConnectionError):
            fake.recv()
        assert server.apdus_served == 2
        assert not server.inserted  # stays out until insert()
    finally:
        server.stop()


def test_a_connection_pcscd_never_speaks_to_is_refused_at_start(card: VirtualCard) -> None:
    """vpcd's slot holds another card: our connection sits in its listen queue, accepted
    by the kernel, unread (vpcd.c: listen(sock, 0), accept only when the slot is empty).
    The card is refused — not announced as inserted — and the server stops."""
    queue = socket.create_server(("127.0.0.1", 0), backlog=0)  # never accepts
    events: list[str] = []
    try:
        server = VpcdCardServer(
            card, port=queue.getsockname()[1], accept_seconds=0.5, on_event=events.append
        ).start()
        with pytest.raises(SlotTaken, match="pcscd did not take the card") as refused:
            server.wait_taken(10)
        assert refused.value.port == queue.getsockname()[1]
        assert server.stopped and not server.connected.is_set()
        assert not any("inserted" in e for e in events), events
    finally:
        server.stop()
        queue.close()


def test_put_back_into_a_taken_slot_the_card_stays_out(fake: FakeVpcd, card: VirtualCard) -> None:
    """Once served, a card put back while another took the slot stays out (insert()
    tries again) instead of waiting unseen for the other card to leave."""
    events: list[str] = []
    server = VpcdCardServer(
        card, port=fake.port, retry_seconds=0.05, accept_seconds=0.5, on_event=events.append
    ).start()
    try:
        fake.accept()
        fake.send(b"\x04")
        assert fake.recv() == ATR
        server.remove()
        fake.drop()  # our card is out; the fake now stands for a slot taken by another
        server.insert()
        fake.accept()  # the kernel queues it; pcscd says nothing
        for _ in range(100):
            if not server.inserted:
                break
            time.sleep(0.05)
        assert not server.inserted and not server.stopped
        assert any("stays out" in e for e in events), events
        fake.drop()
        server.insert()  # the slot is free again: it goes in
        fake.accept()
        assert fake.exchange("00A4040C0AD392F000260100000001") == b"\x90\x00"
    finally:
        server.stop()
