"""Transports to a card, the trace recorder, and the guarded channel over them.

A :class:`Transport` moves raw bytes. Nothing outside this package sends bytes
through one directly: the :class:`CardChannel` is the only sender, and it runs
every command through the :class:`~reader.guard.Guard` first.

The guard's idea of where the card is holds only while no other program can
move it: the channel therefore sends nothing but SELECT by AID outside an
exclusive transaction (:meth:`CardChannel.transaction`), and the guard forgets
the card's position when a transaction begins and when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from reader.apdu import INS_GET_RESPONSE, INS_SELECT, CommandApdu, ResponseApdu, redacted_hex
from reader.errors import EndlessResponse, ForbiddenCommand, MalformedResponse, TransactionRefused
from reader.guard import MAX_GET_RESPONSES, MAX_RESPONSE_BYTES, Guard

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Raw byte exchange with one card in one reader."""

    @property
    def name(self) -> str: ...

    @property
    def atr(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes:
        """Send a command APDU, return the response APDU (data + SW)."""
        ...

    def reset(self) -> None:
        """Warm-reset the card (clears its verified state)."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive access for a multi-APDU operation.

        Raises :class:`~reader.errors.TransactionRefused` where the reader or its
        driver cannot give one."""
        ...

    def close(self) -> None: ...


class TransportDecorator:
    """A pass-through wrapper of a :class:`Transport` (as pyscard's
    ``CardConnectionDecorator``): subclasses override what they change — tracing,
    an unpluggable reader — and inherit the rest."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, command: bytes) -> bytes:
        return self.inner.transmit(command)

    def reset(self) -> None:
        self.inner.reset()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.inner.transaction()

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True, slots=True)
class Exchange:
    """One command/response pair as the trace shows it (VERIFY data redacted)."""

    command: str
    response: str
    seconds: float


class TracingTransport(TransportDecorator):
    """Wraps a transport and records each exchange, VERIFY data redacted.

    ``sink`` (optional) receives ``> HEX`` and ``< HEX SW`` lines as they happen.
    """

    def __init__(self, inner: Transport, sink: TextIO | None = None) -> None:
        super().__init__(inner)
        self.sink = sink
        self.exchanges: list[Exchange] = []

    def transmit(self, command: bytes) -> bytes:
        shown = redacted_hex(command)
        if self.sink is not None:
            self.sink.write(f"> {shown}\n")
            self.sink.flush()
        start = time.perf_counter()
        try:
            raw = self.inner.transmit(command)
        except Exception as exc:
            self.exchanges.append(Exchange(shown, f"error: {type(exc).__name__}", 0.0))
            if self.sink is not None:
                self.sink.write(f"< error: {type(exc).__name__}\n")
                self.sink.flush()
            raise
        elapsed = time.perf_counter() - start
        body = raw[:-2].hex().upper()
        sw = raw[-2:].hex().upper()
        line = f"{body} {sw}" if body else sw
        self.exchanges.append(Exchange(shown, line, elapsed))
        if self.sink is not None:
            self.sink.write(f"< {line}\n")
            self.sink.flush()
        return raw

    def reset(self) -> None:
        if self.sink is not None:
            self.sink.write("# reset\n")
        self.inner.reset()


@dataclass
class ChannelStats:
    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def bytes_moved(self) -> int:
        return self.bytes_sent + self.bytes_received


def _select_by_aid(apdu: CommandApdu) -> bool:
    return apdu.ins == INS_SELECT and apdu.p1 == 0x04


@dataclass
class CardChannel:
    """The only way commands reach a card: guard first, then the transport.

    Another program on the same reader (any PC/SC client) can select another
    application between two of our commands. So the guard's view of the card is
    trusted only inside an exclusive transaction (:meth:`transaction`): the guard
    starts from "unknown" when it begins and forgets again when it ends, so the
    first command of every transaction must be a SELECT by full AID. Outside a
    transaction — or where the reader refuses one — the channel sends nothing but
    SELECT by AID.

    Also handles T=0 answers: ``61xx`` fetches the rest with GET RESPONSE — each one
    passing the guard, which allows it only for the answer to our own command, and only
    as many as a genuine answer needs — and ``6Cxx`` repeats the command once with the
    Le the card asked for (our own command again, checked by the guard again).
    """

    transport: Transport
    guard: Guard = field(default_factory=Guard)
    stats: ChannelStats = field(default_factory=ChannelStats)
    on_exchange: Callable[[CommandApdu, ResponseApdu], None] | None = None
    _depth: int = field(default=0, init=False, repr=False)
    _exclusive: bool = field(default=False, init=False, repr=False)

    @property
    def reader_name(self) -> str:
        return self.transport.name

    @property
    def exclusive(self) -> bool:
        """True inside a transaction that the reader granted."""
        return self._exclusive

    def transmit(self, apdu: CommandApdu) -> ResponseApdu:
        """Send one command (guarded) and return the card's response."""
        response = self._send(apdu)
        if response.sw1 == 0x6C and apdu.le is not None:
            # "wrong Le, xx available": the same command of ours once more, with Le = xx;
            # it passes the guard again like any command (a second 6Cxx is returned as is)
            response = self._send(
                CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, le=response.sw2 or 256)
            )
        data = response.data
        while response.sw1 == 0x61:
            if self.guard.answer_too_long:
                pending = self.guard.pending
                assert pending is not None
                self.guard.reset()  # the card still holds an answer we do not take
                raise EndlessResponse(
                    f"the card kept answering 61xx (more data) after {pending.fetched} GET "
                    f"RESPONSEs and {pending.received} bytes; no genuine answer needs more "
                    f"than {MAX_GET_RESPONSES} or {MAX_RESPONSE_BYTES} bytes"
                )
            # the guard lets it through only right after a 61xx answer to our own command
            response = self._send(CommandApdu(0x00, INS_GET_RESPONSE, 0, 0, le=response.sw2 or 256))
            data += response.data
        return ResponseApdu(data, response.sw)

    def _send(self, apdu: CommandApdu) -> ResponseApdu:
        exclusive = self._exclusive
        if not exclusive and not _select_by_aid(apdu):
            raise ForbiddenCommand(
                f"{apdu.to_bytes()[:4].hex().upper()} refused: outside an exclusive "
                "transaction another program could have moved the card to another "
                "application, so only SELECT by AID is sent"
                + (" (this reader refused the transaction)" if self._depth else "")
            )
        self.guard.check(apdu)
        raw_command = apdu.to_bytes()
        try:
            raw = self.transport.transmit(raw_command)
        except Exception:
            # Whether the card executed the command is unknown: so is its current DF.
            self.guard.reset()
            raise
        self.stats.apdus += 1
        self.stats.bytes_sent += len(raw_command)
        self.stats.bytes_received += len(raw)
        try:
            response = ResponseApdu.parse(raw)
        except MalformedResponse:
            self.guard.reset()
            raise
        if not exclusive:
            # nothing but another SELECT by AID may follow: where the card is stays unknown
            self.guard.reset()
        else:
            self.guard.observe(apdu, response)
        if self.on_exchange is not None:
            self.on_exchange(apdu, response)
        return response

    def reset(self) -> None:
        self.guard.reset()
        self.transport.reset()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Exclusive access to the card for the block (re-entrant).

        The guard forgets where the card is at the start and at the end, so the
        block's first command must select an application by its full AID. Where the
        reader refuses a transaction the block still runs, but only SELECT by AID is
        sent in it.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.transport.transaction())
                self._exclusive = True
            except TransactionRefused as exc:
                log.warning("%s: only SELECT by AID will be sent to the card", exc)
                self._exclusive = False
            self.guard.reset()
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._exclusive = False
                self.guard.reset()
