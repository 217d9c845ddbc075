"""Connects a virtual card to vsmartcard-vpcd inside pcscd (card.md §9).

The card is the TCP client: pcscd's vpcd driver listens on port 35963 (slot 0).
Every message is a 2-byte big-endian length and a payload; a 1-byte payload is
a control byte (00 power off, 01 power on, 02 reset, 04 get ATR), anything
longer a command APDU answered by exactly one response APDU. Closing the
socket removes the card.

Latency: pcscd writes length and payload as separate small segments, so the
card socket sets ``TCP_NODELAY`` and re-arms ``TCP_QUICKACK`` before each read;
without them every exchange waits ~40 ms for a delayed ACK.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from reader.children import spawn

log = logging.getLogger(__name__)


class ServedCard(Protocol):
    """What :class:`VpcdCardServer` needs of a card (a :class:`VirtualCard`, or the
    benchmark's card that answers everything at once)."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...


VPCD_DEFAULT_PORT = 35963


def vpcd_port(slot: int) -> int:
    """vpcd's TCP port for a slot: 35963 is "Virtual PCD 00 00", 35964 "… 00 01"."""
    if slot not in (0, 1):
        raise ValueError(f"vpcd has slots 0 and 1, not {slot}")
    return VPCD_DEFAULT_PORT + slot


def vpcd_reader(slot: int) -> str:
    """The PC/SC reader name pcscd gives vpcd's slot."""
    vpcd_port(slot)
    return f"Virtual PCD 00 {slot:02d}"


class SlotError(RuntimeError):
    """The card did not appear in (or leave) the vpcd reader in time."""


@contextlib.contextmanager
def card_in_slot(profile: Path, slot: int, *, seconds: float = 10.0) -> Iterator[str]:
    """Serve the card of ``profile`` into vpcd slot ``slot`` (``vcard serve``, a program of
    its own, as a card in a reader is) until the block ends; yields the reader's name once
    pcscd sees the card, and waits for the card to leave at the end."""
    from reader.pcsc import wait_for_card

    reader = vpcd_reader(slot)
    vcard = Path(sys.executable).parent / "vcard"
    proc = spawn(  # ends with this process, even on kill -9
        [str(vcard), "serve", "--profile", str(profile), "--port", str(vpcd_port(slot)), "--quiet"],
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_for_card(reader, True, seconds=seconds):
            raise SlotError(f"the virtual card did not appear in {reader!r} (is pcscd running?)")
        yield reader
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wait_for_card(reader, False, seconds=5)


CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04


class _Closed(Exception):
    pass


class VpcdCardServer:
    """Keeps one virtual card in a vpcd slot: connects, serves, reconnects.

    ``remove()``/``insert()`` take the card out of the reader and put it back
    (close and reopen the socket). ``remove_after_apdus`` is a test hook: the
    card disappears, unanswered, when that APDU arrives (counted from 1).
    """

    def __init__(
        self,
        card: ServedCard,
        host: str = "127.0.0.1",
        port: int = VPCD_DEFAULT_PORT,
        *,
        retry_seconds: float = 0.2,
        max_retry_seconds: float = 2.0,
        remove_after_apdus: int | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.remove_after_apdus = remove_after_apdus
        self.on_event = on_event
        self.apdus_served = 0
        self.connected = threading.Event()
        self._inserted = threading.Event()
        self._inserted.set()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def inserted(self) -> bool:
        """Whether the card is in the reader (it may still be connecting)."""
        return self._inserted.is_set()

    @property
    def nodelay(self) -> bool:
        """Whether the live socket has TCP_NODELAY set (False when not connected)."""
        with self._sock_lock:
            sock = self._sock
            if sock is None:
                return False
            return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # -- control from other threads -------------------------------------------------

    def _event(self, text: str) -> None:
        log.info("%s", text)
        if self.on_event is not None:
            self.on_event(text)

    def remove(self) -> None:
        """Take the card out of the reader (close the socket; no reconnect). The card
        loses power at once — also a card still busy with (or silent on) a command."""
        self._inserted.clear()
        self._drop_socket()
        self.card.power_off()

    def insert(self) -> None:
        """Put the card back (the serving loop reconnects)."""
        self._inserted.set()

    def stop(self) -> None:
        self._stop.set()
        self._inserted.set()
        self._drop_socket()
        self.card.power_off()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def start(self) -> VpcdCardServer:
        self._thread = threading.Thread(target=self.serve_forever, name="vpcd-card", daemon=True)
        self._thread.start()
        return self

    def _drop_socket(self) -> None:
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the loop -----------------------------------------------------------------------

    def serve_forever(self) -> None:
        delay = self.retry_seconds
        announced_wait = False
        while not self._stop.is_set():
            if not self._inserted.is_set():
                self._inserted.wait()
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError as exc:
                if not announced_wait:
                    self._event(
                        f"waiting for pcscd/vpcd at {self.host}:{self.port} ({exc.strerror or exc})"
                    )
                    announced_wait = True
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_retry_seconds)
                continue
            delay = self.retry_seconds
            announced_wait = False
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._sock_lock:
                if self._stop.is_set() or not self._inserted.is_set():
                    sock.close()
                    continue
                self._sock = sock
            self.card.power_on()
            self.connected.set()
            self._event(f"card inserted into vpcd at {self.host}:{self.port}")
            try:
                self._serve(sock)
            except (_Closed, OSError):
                pass
            finally:
                self.connected.clear()
                self._drop_socket()
                self.card.power_off()
            if self._stop.is_set():
                break
            if self._inserted.is_set():
                self._event("pcscd closed the connection; reconnecting")
                self._stop.wait(self.retry_seconds)
            else:
                self._event("card removed from the reader")

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            quickack = getattr(socket, "TCP_QUICKACK", None)
            if quickack is not None:
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise _Closed
            buf += chunk
        return buf

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            size = int.from_bytes(self._recv_exact(sock, 2), "big")
            payload = self._recv_exact(sock, size) if size else b""
            if len(payload) == 1:
                control = payload[0]
                if control == CTRL_ATR:
                    self._send(sock, self.card.atr)
                elif control == CTRL_OFF:
                    self.card.power_off()
                elif control == CTRL_ON:
                    self.card.power_on()
                elif control == CTRL_RESET:
                    self.card.reset()
                else:
                    log.warning("vpcd: unknown control byte %02X ignored", control)
                continue
            self.apdus_served += 1
            if self.remove_after_apdus is not None and self.apdus_served >= self.remove_after_apdus:
                self.remove_after_apdus = None
                self._inserted.clear()
                self._event(f"test hook: card pulled out at APDU {self.apdus_served}")
                raise _Closed
            self._send(sock, self.card.process(payload))
