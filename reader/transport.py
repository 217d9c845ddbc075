"""Transports to a card, the trace recorder, and the guarded channel over them.

A :class:`Transport` moves raw bytes. Nothing outside this package sends bytes
through one directly: the :class:`CardChannel` is the only sender, and it runs
every command through the :class:`~reader.guard.Guard` first.

The guard's idea of where the card is holds only while no other program can
move it: the channel therefore sends nothing but SELECT by AID outside an
exclusive transaction (:meth:`CardChannel.transaction`), and the guard forgets
the card's position when a transaction begins and when it ends.

Every exchange is bounded: the channel talks to its transport through a
:class:`DeadlineTransport`, so a card that never answers costs the caller
``deadline`` seconds, not the rest of the day; one command of ours — its whole
``61xx`` chain and a ``6Cxx`` re-send included — gets ``deadline`` seconds in all,
and one card operation (an exclusive transaction) twice that, so a card that answers
slowly but for ever cannot hold a patient either; and the channel stops fetching an
answer that a card keeps announcing with ``61xx`` past any genuine length.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, TextIO, TypeVar

from reader.apdu import (
    INS_GET_RESPONSE,
    INS_SELECT,
    INS_VERIFY,
    CommandApdu,
    ResponseApdu,
    redacted_hex,
)
from reader.errors import (
    CardRemoved,
    CardUnresponsive,
    EndlessResponse,
    ForbiddenCommand,
    MalformedResponse,
    NoCard,
    ReaderUnavailable,
    TransactionRefused,
)
from reader.guard import MAX_GET_RESPONSES, MAX_RESPONSE_BYTES, Guard
from reader.sw import is_status_word
from reader.terminal_auth import INS_EXTERNAL_AUTHENTICATE

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DEADLINE_SECONDS = 5.0
"""How long the terminal waits for one answer of the card (or one step of the reader:
a transaction, a reset). A genuine My Number card answers its slowest command, an
RSA-2048 signature, in well under a second, a smartphone's JPKI token within a second
or two; some PC/SC drivers wait far longer for a card that went silent, and
vsmartcard-vpcd waits forever (it reads the card's socket with no time-out).

It bounds one command of ours as a whole — every GET RESPONSE of its answer and a
``6Cxx`` re-send included — and, twice over, one card operation
(:data:`OPERATION_DEADLINE_FACTOR`)."""

OPERATION_DEADLINE_FACTOR = 2.0
"""One card operation — an exclusive transaction: identifying the card, a PIN
authentication, reading the face object — gets this many times the deadline of one
command (10 s by default). A genuine card completes a whole PIN authentication in well
under 2 s and a smartphone in a few; a card that answers each command just inside the
deadline would otherwise hold the patient for a minute per operation (issue 19: 258
answers of 4.5 s each kept a check-in for 19 minutes)."""


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


class _Job(Generic[T]):
    """One operation: run once by a worker, its result or exception kept for the caller;
    ``done`` is set when it has run (and the worker is free again)."""

    def __init__(self, call: Callable[[], T]) -> None:
        self.call = call
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # handed to the caller (or lost with an abandoned one)
            self.error = exc

    def outcome(self) -> T:
        """The result of the call that has run, or its exception raised."""
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set: the call ran without error


class _Worker:
    """A daemon thread that runs the operations handed to it, one at a time. Free
    workers wait in a pool shared by every transport — starting a thread costs more than
    a whole exchange with the card — and end after :attr:`IDLE` seconds without work.
    Being daemons, one stuck in a driver never keeps the process from exiting."""

    IDLE = 2.0
    _pool: ClassVar[list[_Worker]] = []
    _pool_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="card-io", daemon=True).start()

    @classmethod
    def run(cls, job: _Job[Any]) -> None:
        """Hand ``job`` to a free worker (a new one when none is free)."""
        with cls._pool_lock:
            worker = cls._pool.pop() if cls._pool else None
        (worker or cls())._jobs.put(job)

    def _loop(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.IDLE)
            except queue.Empty:
                with self._pool_lock:
                    if self in self._pool:  # not just taken for a job on its way
                        self._pool.remove(self)
                        return
                continue
            job.run()
            with self._pool_lock:
                self._pool.append(self)  # free again before the caller hears of it
            job.done.set()


def in_worker(call: Callable[[], T]) -> _Job[T]:
    """Start ``call`` in a pooled worker thread; wait on the job's ``done`` for as long
    as you are willing to (:class:`DeadlineTransport` does; so does opening a PC/SC
    connection, reader/pcsc.py)."""
    job = _Job(call)
    _Worker.run(job)
    return job


_CARD_LEFT = (CardRemoved, NoCard, ReaderUnavailable)
"""What a call ends with when the card left the reader (or the reader went): nothing to
reset. vpcd, asked to reset a card that left, misses the next one placed."""


class _Budget:
    """Time granted to a group of operations — one command with its whole answer, one
    card operation — measured from when the group began; each operation in it waits at
    most what is left."""

    __slots__ = ("calls", "seconds", "until", "what")

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.until = time.monotonic() + seconds
        self.calls = 0


class _Within:
    """The context of :meth:`DeadlineTransport.within` (a class, not a generator: it
    wraps every command, and costs a fraction of one)."""

    __slots__ = ("budget", "owner")

    def __init__(self, owner: DeadlineTransport, budget: _Budget) -> None:
        self.owner = owner
        self.budget = budget

    def __enter__(self) -> None:
        self.owner._budgets.append(self.budget)

    def __exit__(self, *exc: object) -> None:
        self.owner._budgets.remove(self.budget)


class DeadlineTransport(TransportDecorator):
    """A transport whose every operation returns within ``seconds`` — and a group of
    them (:meth:`within`: one command with its whole answer, one card operation) within
    the time granted to the group.

    PC/SC has no time-out of its own for an exchange: ``SCardTransmit`` waits as long as
    the driver does, and vsmartcard-vpcd's driver reads the card's socket with no
    time-out, holding pcscd's lock on the reader meanwhile — a card that never answers
    blocks the caller until it is pulled out. So each operation runs in a worker thread
    (one at a time: the caller waits for each), and the caller waits at most ``seconds``,
    or what is left of the group's time if that is less: a card that answers every
    exchange just in time, but slowly and for ever (``61xx`` one byte at a time, or one
    command after another), is given up when the group's time is spent.

    When one does not return in time the connection is abandoned: that call raises
    :class:`~reader.errors.CardUnresponsive`, and so does every later one (nothing more
    goes down a connection whose last command has no answer). The end of the transaction
    and ``close()`` wait for the stuck call and run when it returns — with vpcd when the
    card leaves the reader, with a USB reader when its driver gives up, with a slow card
    when it answers at last — and nobody waits for them. pcsc-lite makes every call on a
    context wait for the one in flight, so they could not run earlier anyway. A reset
    asked for meanwhile (the channel's, at the end of a transaction that verified a PIN)
    runs before them, unless the card left. A new connection (another card, or the same
    card again) starts clean. A group whose time is spent between two operations only
    refuses the next one: the connection stays usable (the transaction ends, the card is
    reset, as usual).
    """

    def __init__(self, inner: Transport, seconds: float = DEFAULT_DEADLINE_SECONDS) -> None:
        if not seconds > 0:
            raise ValueError(f"the deadline must be positive, got {seconds}")
        super().__init__(inner)
        self.seconds = seconds
        self._stuck: str | None = None  # what did not return in time
        self._stuck_job: _Job[Any] | None = None
        self._last = threading.Event()  # set when everything handed on so far has run
        self._last.set()
        self._budgets: list[_Budget] = []

    @property
    def abandoned(self) -> bool:
        """Whether a call did not return in time (and nothing more goes down this one)."""
        return self._stuck is not None

    def within(self, seconds: float, what: str) -> contextlib.AbstractContextManager[None]:
        """Every operation of the block returns within ``seconds`` of its start, in all.
        ``what`` (a noun phrase: "its answer to one command") names the group in the
        message of :class:`~reader.errors.CardUnresponsive`. Blocks nest: the tighter
        time holds."""
        if not seconds > 0:
            raise ValueError(f"the time for {what} must be positive, got {seconds}")
        return _Within(self, _Budget(seconds, what))

    def _over(self, budget: _Budget) -> str:
        return (
            f"{self.name!r}: the card did not finish {budget.what} within "
            f"{budget.seconds:g} s ({budget.calls} exchanges, each answered slowly)"
        )

    def _run(self, what: str, call: Callable[[], T]) -> T:
        if self._stuck is not None:
            raise CardUnresponsive(
                f"{self.name!r}: the card did not answer while {self._stuck} and is not "
                "used again on this connection; take it out and place it again"
            )
        wait, binding = self.seconds, None
        if self._budgets:
            now = time.monotonic()
            for budget in self._budgets:
                if budget.until - now < wait:
                    wait, binding = budget.until - now, budget
            if binding is not None and wait <= 0:
                # nothing is in flight: the connection stays usable (for the end of the
                # transaction and the reset), only this group is over
                raise CardUnresponsive(f"{self._over(binding)}; given up")
            for budget in self._budgets:
                budget.calls += 1
        job = in_worker(call)
        if not job.done.wait(wait):
            self._stuck, self._stuck_job, self._last = what, job, job.done
            if binding is not None and binding.calls > 1:
                reason = self._over(binding)
            else:
                limit = self.seconds if binding is None else min(self.seconds, binding.seconds)
                reason = f"{self.name!r}: no answer within {limit:g} s while {what}"
            raise CardUnresponsive(
                f"{reason}; the connection was abandoned (take the card out; another "
                "card, or this one placed again, starts afresh)"
            )
        return job.outcome()

    def _later(self, what: str, call: Callable[[], object]) -> None:
        """Run ``call`` once everything handed on before it has run (the stuck call
        first), in a thread of its own; nobody waits for it, errors are logged."""
        previous, finished = self._last, threading.Event()
        self._last = finished

        def run() -> None:
            previous.wait()
            try:
                call()
            except Exception as exc:
                log.info("%s: %s after an abandoned exchange: %s", self.name, what, exc)
            finally:
                finished.set()

        threading.Thread(target=run, name="card-io cleanup", daemon=True).start()

    def transmit(self, command: bytes) -> bytes:
        return self._run("exchanging an APDU", lambda: self.inner.transmit(command))

    def reset(self) -> None:
        """Reset the card. On an abandoned connection the reset is queued behind the call
        in flight, and runs when it returns unless the card left (a slow card that
        answers at last is reset before the transaction ends); this call raises
        :class:`~reader.errors.CardUnresponsive` all the same (it was not done now)."""
        if self._stuck is not None:
            stuck = self._stuck_job

            def reset_if_still_there() -> None:
                if stuck is None or not isinstance(stuck.error, _CARD_LEFT):
                    self.inner.reset()

            self._later("resetting the card", reset_if_still_there)
        self._run("resetting the card", self.inner.reset)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        inner = self.inner.transaction()
        began: list[bool] = []

        def begin() -> None:
            inner.__enter__()
            began.append(True)

        try:
            self._run("starting an exclusive transaction", begin)
        except CardUnresponsive:
            # if it is granted after all, it ends as soon as it is (the same worker)
            self._later(
                "ending the transaction", lambda: began and inner.__exit__(None, None, None)
            )
            raise
        try:
            yield
        except BaseException as exc:
            self._leave(inner, type(exc), exc, exc.__traceback__)
            raise
        self._leave(inner, None, None, None)

    def _leave(
        self,
        inner: contextlib.AbstractContextManager[None],
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stuck is not None:
            self._later("ending the transaction", lambda: inner.__exit__(kind, exc, tb))
            return
        self._run("ending the transaction", lambda: inner.__exit__(kind, exc, tb))

    def close(self) -> None:
        """Close the connection; never waits for a card that does not answer."""
        if self._stuck is not None:
            self._later("closing", self.inner.close)
            return
        try:
            self._run("closing the connection", self.inner.close)
        except CardUnresponsive as exc:
            log.warning("%s", exc)


def bounded(transport: Transport, seconds: float = DEFAULT_DEADLINE_SECONDS) -> DeadlineTransport:
    """``transport`` with a deadline on every operation (as is, when it has one)."""
    if isinstance(transport, DeadlineTransport):
        return transport
    return DeadlineTransport(transport, seconds)


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


def _unlocks(apdu: CommandApdu) -> bool:
    """A command that may open the card's security state: a VERIFY carrying a PIN (an
    empty VERIFY only asks the tries left), or the face path's EXTERNAL AUTHENTICATE."""
    return (apdu.ins == INS_VERIFY and bool(apdu.data)) or apdu.ins == INS_EXTERNAL_AUTHENTICATE


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

    Every operation on the transport returns within ``deadline`` seconds
    (:class:`DeadlineTransport`), and so does one command as a whole — each GET RESPONSE
    and a ``6Cxx`` re-send waits only for what is left of it —, and one transaction
    within ``operation_deadline`` (by default :data:`OPERATION_DEADLINE_FACTOR` times
    ``deadline``), from its first command to its last: a card that stops answering, or
    answers too slowly, ends the operation with :class:`~reader.errors.CardUnresponsive`.
    A card that answers what no card sends — a status word outside ISO 7816's ``6x``
    and ``9x``, ``6Cxx`` again to the Le it asked for — ends it with
    :class:`~reader.errors.MalformedResponse`.

    A transaction that may have opened the card's security state — a VERIFY with a PIN,
    or the face path's EXTERNAL AUTHENTICATE — ends with a reset of the card, before the
    transaction lets other programs in: a card keeps a verified PIN (and the face
    object's access) until it is reset or powered off, so without the reset any program
    on the reader could sign with the holder's authentication key — the key of JPKI and
    マイナポータル logins — without the PIN, or read the face photo (card.md §4, §5).
    """

    transport: Transport
    guard: Guard = field(default_factory=Guard)
    stats: ChannelStats = field(default_factory=ChannelStats)
    on_exchange: Callable[[CommandApdu, ResponseApdu], None] | None = None
    deadline: float = DEFAULT_DEADLINE_SECONDS
    operation_deadline: float | None = None
    _depth: int = field(default=0, init=False, repr=False)
    _exclusive: bool = field(default=False, init=False, repr=False)
    _unlocking: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._timed = bounded(self.transport, self.deadline)
        self.transport = self._timed
        if self.operation_deadline is None:
            self.operation_deadline = OPERATION_DEADLINE_FACTOR * self.deadline

    @property
    def reader_name(self) -> str:
        return self.transport.name

    @property
    def exclusive(self) -> bool:
        """True inside a transaction that the reader granted."""
        return self._exclusive

    def transmit(self, apdu: CommandApdu) -> ResponseApdu:
        """Send one command (guarded) and return the card's response, whole: within
        ``deadline`` seconds however many exchanges its answer takes."""
        with self._timed.within(self.deadline, "its answer to one command"):
            return self._transmit(apdu)

    def _transmit(self, apdu: CommandApdu) -> ResponseApdu:
        response = self._send(apdu)
        if response.sw1 == 0x6C and apdu.le is not None:
            # "wrong Le, xx available": the same command of ours once more, with Le = xx;
            # it passes the guard again like any command
            first, le = response.sw, response.sw2 or 256
            response = self._send(
                CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, le=le)
            )
            if response.sw1 == 0x6C:
                self.guard.reset()
                raise MalformedResponse(
                    f"the card answered {first:04X} (send again with Le={le}), then "
                    f"{response.sw:04X} to that: it answers nonsense"
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
        if _unlocks(apdu):  # whether it took effect or not: reset at the transaction's end
            self._unlocking = True
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
            if not is_status_word(response.sw):
                raise MalformedResponse(
                    f"the card answered {response.sw:04X}, which is no status word (ISO "
                    "7816-4: 6x or 9x)"
                )
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
            assert self.operation_deadline is not None  # set in __post_init__
            try:
                with self._timed.within(
                    self.operation_deadline, "one card operation (an exclusive transaction)"
                ):
                    yield
            except _CARD_LEFT:
                # no card to reset (it lost power); and vpcd, asked to reset a card that
                # left, misses the next one placed. A card that did not answer in time is
                # reset: at once, or — when its call is still in flight — as soon as it
                # returns, unless the card left meanwhile (DeadlineTransport.reset)
                self._unlocking = False
                raise
            finally:
                if self._unlocking:
                    self._relock()
                self._depth = 0
                self._exclusive = False
                self.guard.reset()

    def _relock(self) -> None:
        """Reset the card while the transaction still keeps everyone else out: a PIN
        verified (or the face object opened) in it is forgotten before they come in."""
        self._unlocking = False
        try:
            self.transport.reset()
        except Exception as exc:  # the card left, or went silent: nobody can use it either
            log.info("%s: the card was not reset after use: %s", self.transport.name, exc)
