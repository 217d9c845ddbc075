"""Connects a virtual card to vsmartcard-vpcd inside pcscd (card.md §9).

The card is the TCP client: pcscd's vpcd driver listens on port 35963 (slot 0).
Every message is a 2-byte big-endian length and a payload; a 1-byte payload is
a control byte (00 power off, 01 power on, 02 reset, 04 get ATR), anything
longer a command APDU answered by exactly one response APDU. Closing the
socket removes the card.

Latency: pcscd writes length and payload as separate small segments, so the
card socket sets ``TCP_NODELAY`` and re-arms ``TCP_QUICKACK`` before each read;
without them every exchange waits ~40 ms for a delayed ACK.

One card a slot. vpcd's driver (vsmartcard ``virtualsmartcard/src/vpcd/vpcd.c``) listens
with ``listen(sock, 0)`` and accepts a client only while its slot is empty, when pcscd
polls the slot for a card (``vicc_present`` → ``waitforclient`` → ``accept``, then a GET
ATR at once; pcscd polls every 0.4 s, ``PCSCLITE_STATUS_POLL_RATE`` in pcsc-lite). A
second card's connection therefore *succeeds* — the kernel completes it into the
listen queue — but nobody reads it: that card waits unseen and would slip in when the
first one leaves. So a card counts as inserted only once pcscd has spoken to it on the
connection; :class:`VpcdCardServer` asks pcscd first whether the slot already holds a
card (a fast, clear refusal), and refuses a connection that pcscd leaves unspoken to for
``accept_seconds`` (two cards started at once both find the slot empty: one is taken,
the other refused).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from reader.children import spawn
from reader.errors import ReaderUnavailable, SlotTaken
from reader.exitcodes import ExitCode

log = logging.getLogger(__name__)

__all__ = [
    "VPCD_DEFAULT_PORT",
    "ServedCard",
    "SlotError",
    "SlotTaken",
    "VpcdCardServer",
    "card_in_slot",
    "slot_reader",
    "vpcd_port",
    "vpcd_reader",
]


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
ACCEPT_SECONDS = 5.0
"""How long a connected card waits for pcscd's first word before it counts as refused:
pcscd polls an empty slot every 0.4 s, so a card it can take is spoken to well within."""
SETTLE_SECONDS = 1.5
"""How long a card pcscd still reports in the slot is given to leave before the slot
counts as taken: pcscd notices a card gone at its next poll (0.4 s)."""
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def vpcd_port(slot: int) -> int:
    """vpcd's TCP port for a slot: 35963 is "Virtual PCD 00 00", 35964 "… 00 01"."""
    if slot not in (0, 1):
        raise ValueError(f"vpcd has slots 0 and 1, not {slot}")
    return VPCD_DEFAULT_PORT + slot


def vpcd_reader(slot: int) -> str:
    """The PC/SC reader name pcscd gives vpcd's slot."""
    vpcd_port(slot)
    return f"Virtual PCD 00 {slot:02d}"


def slot_reader(host: str, port: int) -> str | None:
    """pcscd's name of the vpcd slot at ``host:port`` when this machine's pcscd has it
    (vpcd's own ports on loopback), else None."""
    if host in _LOOPBACK and port - VPCD_DEFAULT_PORT in (0, 1):
        return vpcd_reader(port - VPCD_DEFAULT_PORT)
    return None


def _where(port: int, reader: str | None) -> str:
    return f"{reader} (vpcd port {port})" if reader else f"the vpcd slot at port {port}"


def slot_taken(port: int, reader: str | None, *, how: str) -> SlotTaken:
    """The refusal of a card for a slot that holds one already, said the same way by
    every program that puts a card into vpcd (``how``: how it was found out)."""
    return SlotTaken(
        f"{_where(port, reader)} already holds a card ({how}); a reader holds one card. "
        "Take that card out first ('vcard remove --pid-file F', or stop the program that "
        "serves it), then serve this one again",
        port=port,
        reader=reader,
    )


class SlotError(RuntimeError):
    """The card did not appear in (or leave) the vpcd reader in time."""


@contextlib.contextmanager
def card_in_slot(profile: Path, slot: int, *, seconds: float = 10.0) -> Iterator[str]:
    """Serve the card of ``profile`` into vpcd slot ``slot`` (``vcard serve``, a program of
    its own, as a card in a reader is) until the block ends; yields the reader's name once
    pcscd has taken *this* card, and waits for the card to leave at the end.

    Raises :class:`~reader.errors.SlotTaken` when the slot already holds a card (nothing
    is served then), :class:`~reader.errors.ReaderUnavailable` when pcscd does not answer
    or lacks the reader, :class:`SlotError` when the card does not appear in time."""
    from reader.pcsc import PcscContext, wait_for_card

    reader = vpcd_reader(slot)
    port = vpcd_port(slot)
    with PcscContext() as ctx:  # pcscd not running: ReaderUnavailable, said clearly
        if reader not in ctx.readers():
            raise ReaderUnavailable(
                f"pcscd has no reader {reader!r} (is vsmartcard-vpcd installed? "
                "scripts/setup installs it)"
            )
    vcard = Path(sys.executable).parent / "vcard"
    with tempfile.TemporaryDirectory(prefix="vcard-") as tmp:
        ready = Path(tmp) / "ready"
        with open(Path(tmp) / "stderr", "w+b") as errors:
            proc = spawn(  # ends with this process, even on kill -9
                [
                    str(vcard),
                    "serve",
                    "--profile",
                    str(profile),
                    "--port",
                    str(port),
                    "--ready-file",
                    str(ready),
                    "--quiet",
                ],
                stderr=errors,
            )
            taken = False
            try:
                deadline = time.monotonic() + seconds
                while not ready.exists():
                    code = proc.poll()
                    if code is not None:
                        errors.seek(0)
                        said = errors.read().decode(errors="replace").strip()
                        if code == ExitCode.SLOT_TAKEN:
                            raise slot_taken(port, reader, how="vcard serve was refused")
                        raise SlotError(f"vcard serve for {reader!r} exited {code}: {said}")
                    if time.monotonic() > deadline:
                        raise SlotError(
                            f"pcscd did not take the virtual card into {reader!r} within "
                            f"{seconds:g} s"
                        )
                    time.sleep(0.02)
                taken = True
                if not wait_for_card(reader, True, seconds=seconds):
                    raise SlotError(f"the virtual card did not appear in {reader!r}")
                yield reader
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if taken:
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

    A slot that holds another card refuses this one (the module's docstring): before
    connecting, pcscd is asked about ``reader`` (default: the slot's name when the port
    is one of vpcd's on this machine; ``ask_pcscd=False`` skips it), and a connection
    pcscd does not speak to within ``accept_seconds`` is closed. The first time, the
    server stops and :attr:`refused` says why (``vcard serve`` exits); later — the card
    put back, or pcscd restarted, while another card took the slot — the card stays out
    (``insert()`` tries again). :attr:`connected` is set while pcscd has the card.
    ``on_taken`` is called with True when pcscd takes the card, False when it leaves.
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
        on_taken: Callable[[bool], None] | None = None,
        reader: str | None = None,
        ask_pcscd: bool = True,
        accept_seconds: float = ACCEPT_SECONDS,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.reader = reader or slot_reader(host, port)
        self.ask_pcscd = ask_pcscd
        self.accept_seconds = accept_seconds
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.remove_after_apdus = remove_after_apdus
        self.on_event = on_event
        self.on_taken = on_taken
        self.apdus_served = 0
        self.connected = threading.Event()
        self.refused: SlotTaken | None = None
        self._ever_taken = False
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
    def stopped(self) -> bool:
        """The server has stopped (:meth:`stop`, or refused by a taken slot)."""
        return self._stop.is_set()

    @property
    def nodelay(self) -> bool:
        """Whether the live socket has TCP_NODELAY set (False when not connected)."""
        with self._sock_lock:
            sock = self._sock
            if sock is None:
                return False
            return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def wait_taken(self, seconds: float = 10.0) -> None:
        """Wait until pcscd has taken the card; :class:`~reader.errors.SlotTaken` if the
        slot refused it, :class:`SlotError` if neither happens in time."""
        deadline = time.monotonic() + seconds
        while not self.connected.wait(0.02):
            if self.refused is not None:
                raise self.refused
            if time.monotonic() > deadline:
                raise SlotError(
                    f"pcscd did not take the card into {_where(self.port, self.reader)} "
                    f"within {seconds:g} s (is pcscd running?)"
                )

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

    # -- one slot, one card -------------------------------------------------------------

    def _slot_holds_a_card(self) -> bool:
        """pcscd's answer, before connecting: the slot already holds a card (None — pcscd
        does not answer, or has no such reader — counts as no: the connection tells)."""
        if not self.ask_pcscd or self.reader is None:
            return False
        from reader.pcsc import reader_holds_card

        return reader_holds_card(self.reader, SETTLE_SECONDS) is True

    def _spoken_to(self, sock: socket.socket) -> bool | None:
        """Wait for pcscd's first word on a new connection (it is read later, as usual):
        True when it comes, False when it does not within ``accept_seconds`` (the slot
        holds another card), None when the connection ends first."""
        sock.settimeout(self.accept_seconds)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return False
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(None)
        return True if first else None

    def _refuse(self, refusal: SlotTaken) -> None:
        """The slot holds another card: stop (the first time), or keep the card out."""
        if not self._ever_taken:  # whoever started the server says it (wait_taken, vcard)
            self.refused = refusal
            log.info("refused: %s", refusal)
            self._stop.set()
            return
        self._inserted.clear()
        self._event(f"the card stays out: {refusal}; 'vcard insert' tries again")

    # -- the loop -----------------------------------------------------------------------

    def serve_forever(self) -> None:
        delay = self.retry_seconds
        announced_wait = False
        while not self._stop.is_set():
            if not self._inserted.is_set():
                self._inserted.wait()
                continue
            if self._slot_holds_a_card():
                self._refuse(slot_taken(self.port, self.reader, how="pcscd reports a card there"))
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError as exc:
                if not announced_wait:
                    self._event(
                        f"waiting for pcscd/vpcd at {self.host}:{self.port} "
                        f"({exc.strerror or exc}): is pcscd running, with vsmartcard-vpcd? "
                        "(scripts/setup installs both); the card goes in once it is"
                    )
                    announced_wait = True
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_retry_seconds)
                continue
            delay = self.retry_seconds
            announced_wait = False
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._sock_lock:
                if self._stop.is_set() or not self._inserted.is_set():
                    sock.close()
                    continue
                self._sock = sock
            spoken = self._spoken_to(sock)
            if spoken is not True:
                self._drop_socket()
                if spoken is False and not self._stop.is_set() and self._inserted.is_set():
                    self._refuse(
                        slot_taken(
                            self.port,
                            self.reader,
                            how=f"vpcd accepted the connection, but pcscd did not take "
                            f"the card within {self.accept_seconds:g} s",
                        )
                    )
                elif not self._stop.is_set() and self._inserted.is_set():
                    self._stop.wait(self.retry_seconds)  # closed at once: try again
                continue
            self._ever_taken = True
            self.card.power_on()
            self.connected.set()
            self._taken(True)
            where = f" ({self.reader})" if self.reader else ""
            self._event(f"card inserted into vpcd at {self.host}:{self.port}{where}")
            try:
                self._serve(sock)
            except (_Closed, OSError):
                pass
            finally:
                self.connected.clear()
                self._taken(False)
                self._drop_socket()
                self.card.power_off()
            if self._stop.is_set():
                break
            if self._inserted.is_set():
                self._event("pcscd closed the connection; reconnecting")
                self._stop.wait(self.retry_seconds)
            else:
                self._event("card removed from the reader")

    def _taken(self, taken: bool) -> None:
        if self.on_taken is not None:
            try:
                self.on_taken(taken)
            except Exception:
                log.exception("on_taken(%s) failed", taken)

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
