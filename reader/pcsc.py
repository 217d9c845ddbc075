"""The PC/SC transport over pyscard: real USB readers and vsmartcard-vpcd alike.

pyscard's low-level ``smartcard.scard`` binding is used directly: it returns
PC/SC result codes, which map one to one onto our typed errors (card removed,
no card, reader gone, service not running) and gives the exclusive
transactions (``SCardBeginTransaction``) that a multi-APDU operation needs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from smartcard import scard

from reader.errors import (
    CardInUse,
    CardRemoved,
    CardUnresponsive,
    MalformedResponse,
    NoCard,
    ReaderError,
    ReaderUnavailable,
    TransactionRefused,
    TransportError,
)
from reader.transport import DEFAULT_DEADLINE_SECONDS, in_worker

_REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_RESET = {scard.SCARD_W_RESET_CARD}
_READER_GONE = {
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
# what a reader or driver answers when it cannot lock the card for one client
_NO_TRANSACTIONS = {
    scard.SCARD_E_UNSUPPORTED_FEATURE,
    scard.SCARD_E_NOT_TRANSACTED,
    scard.SCARD_E_SHARING_VIOLATION,
}


def _message(hr: int) -> str:
    try:
        return str(scard.SCardGetErrorMessage(hr)).strip().rstrip(".")
    except Exception:  # pragma: no cover - pyscard quirk
        return f"PC/SC error {hr & 0xFFFFFFFF:08X}"


def _error(hr: int, doing: str, reader: str | None = None) -> ReaderError:
    where = f" in {reader!r}" if reader else ""
    text = f"{doing}{where}: {_message(hr)} ({hr & 0xFFFFFFFF:08X})"
    if hr in _REMOVED:
        return CardRemoved(f"the card left the reader while {doing}{where}")
    if hr in _RESET:
        return CardRemoved(
            f"the card was reset by another program while {doing}{where}; start again"
        )
    if hr in _READER_GONE:
        return ReaderUnavailable(text)
    if hr in _NO_SERVICE:
        return ReaderUnavailable(
            "the PC/SC service (pcscd) is not running; start it (scripts/setup does) "
            f"and try again [{text}]"
        )
    return TransportError(text)


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    name: str
    card_present: bool  # a card there that answers (not mute)
    atr: bytes
    occupied: bool = False  # any card there, also one pcscd could not power (mute)


def _reader_status(name: str, event: int, atr: Any) -> ReaderStatus:
    """One reader's state as ``SCardGetStatusChange`` reports it."""
    occupied = bool(event & scard.SCARD_STATE_PRESENT)
    present = occupied and not event & scard.SCARD_STATE_MUTE
    return ReaderStatus(name, present, bytes(atr) if present else b"", occupied)


class PcscContext:
    """An established PC/SC context (released on close)."""

    def __init__(self) -> None:
        hr, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "connecting to the PC/SC service")

    def readers(self) -> list[str]:
        hr, names = scard.SCardListReaders(self.handle, [])
        if hr in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return []
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "listing readers")
        return list(names)

    def status(self, names: list[str] | None = None) -> list[ReaderStatus]:
        names = self.readers() if names is None else names
        if not names:
            return []
        states = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        hr, result = scard.SCardGetStatusChange(self.handle, 0, states)
        if hr not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
            raise _error(hr, "reading reader states")
        return [_reader_status(name, event, atr) for name, event, atr in result]

    def wait_for(self, names: list[str], present: bool, seconds: float) -> bool:
        """Wait until a card is (or is no longer) in any of ``names``; False on time-out.
        Blocks in ``SCardGetStatusChange`` until pcscd reports a change: no polling."""
        return _await_states(self, names, lambda s: s.card_present == present, seconds)

    def close(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None

    def __enter__(self) -> PcscContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CHANGED_BIT = 0xFFFFFFFF ^ scard.SCARD_STATE_CHANGED


def _await_states(
    ctx: PcscContext, names: list[str], done: Callable[[ReaderStatus], bool], seconds: float
) -> bool:
    """Block until ``done`` holds for one of ``names`` (True) or ``seconds`` pass (False).

    ``SCardGetStatusChange`` returns when a reader's state differs from the one given
    (each reader's event counter included, so a card taken out and put back between two
    calls still counts), or at the time-out: pcscd wakes us, nobody polls."""
    if not names:
        return False
    deadline = time.monotonic() + seconds
    states: list[tuple[str, int]] = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
    timeout = 0
    while True:
        hr, result = scard.SCardGetStatusChange(ctx.handle, timeout, states)
        if hr == scard.SCARD_E_TIMEOUT:
            return False
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "reading reader states")
        if any(done(_reader_status(name, event, atr)) for name, event, atr in result):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        states = [(name, event & _CHANGED_BIT) for name, event, _ in result]
        timeout = max(1, int(remaining * 1000))


def list_readers() -> list[ReaderStatus]:
    """All PC/SC readers with card presence and ATR."""
    with PcscContext() as ctx:
        return ctx.status()


def wait_for_card(reader: str, present: bool = True, seconds: float = 10.0) -> bool:
    """Wait until a card is in ``reader`` (or, with ``present=False``, has left it)."""
    with PcscContext() as ctx:
        return ctx.wait_for([reader], present, seconds)


def reader_holds_card(reader: str, settle_seconds: float = 0.0) -> bool | None:
    """Whether pcscd sees a card in ``reader`` — any card, also one it could not power
    (``SCARD_STATE_MUTE``): it occupies the reader all the same. A card seen is given
    ``settle_seconds`` to leave (pcscd notices a card gone at its next poll of the
    reader, every 0.4 s: ``PCSCLITE_STATUS_POLL_RATE`` 400000 µs in pcsc-lite's
    ``pcsclite.h``), so a card just taken out is not taken for one still there.

    None when that cannot be told: pcscd does not answer, or lists no such reader."""
    try:
        with PcscContext() as ctx:
            if reader not in ctx.readers():
                return None
            gone = _await_states(ctx, [reader], lambda s: not s.occupied, settle_seconds)
            return not gone
    except ReaderError:
        return None


def choose_reader(names: list[str], wanted: str | None, present: dict[str, bool]) -> str:
    """Pick a reader: exact name, else a unique substring, else the first with a card."""
    if not names:
        raise ReaderUnavailable("no PC/SC reader is connected (is pcscd running with a reader?)")
    if wanted is not None:
        if wanted in names:
            return wanted
        matches = [n for n in names if wanted.lower() in n.lower()]
        if len(matches) == 1:
            return matches[0]
        listing = ", ".join(repr(n) for n in names)
        if not matches:
            raise ReaderUnavailable(f"no reader named {wanted!r}; readers: {listing}")
        raise ReaderUnavailable(
            f"{wanted!r} matches several readers ({', '.join(repr(m) for m in matches)}); "
            "give the full name"
        )
    with_card = [n for n in names if present.get(n)]
    if with_card:
        return with_card[0]
    raise NoCard(
        "no card in any reader (" + ", ".join(repr(n) for n in names) + "); place the card"
    )


class _Connect:
    """One ``SCardConnect``, run in a worker thread so that the caller can give up on it.
    Given up, it closes what it gets when it returns at last — the connection, and the
    context it was made on (pcsc-lite holds every call on a context while one is in
    flight, so neither can be released before) — and nothing leaks."""

    def __init__(self, ctx: PcscContext, reader: str, share: int) -> None:
        self.ctx, self.reader, self.share = ctx, reader, share
        self._lock = threading.Lock()
        self._returned = False
        self._given_up = False

    def run(self) -> tuple[int, Any, int]:
        result: tuple[int, Any, int] = scard.SCardConnect(
            self.ctx.handle,
            self.reader,
            self.share,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        with self._lock:
            self._returned = True
            if not self._given_up:
                return result
        hr, card, _protocol = result
        try:
            if hr == scard.SCARD_S_SUCCESS:
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        finally:
            self.ctx.close()
        return result

    def give_up(self) -> bool:
        """True: given up before it returned (it cleans up after itself); False: it had
        returned just in time, and its result is the caller's."""
        with self._lock:
            if self._returned:
                return False
            self._given_up = True
            return True


class PcscTransport:
    """One card in one PC/SC reader.

    ``exclusive`` connects in exclusive mode: no other program may connect to the card
    while we hold it (the CLI's default). In shared mode (the terminal's: other programs
    may watch the reader) every multi-APDU operation still runs in an exclusive
    transaction (:meth:`transaction`), which the channel requires.

    Connecting returns within ``deadline`` seconds, as every exchange does
    (:class:`~reader.transport.DeadlineTransport`): a card that stopped answering in the
    middle of an exchange — ours, given up on, or that of a program that has ended since
    — keeps pcscd's lock on the reader until it leaves, and ``SCardConnect`` waits as
    long. Past the deadline it raises :class:`~reader.errors.CardUnresponsive` naming the
    reader; the connection, if it is granted later, is closed then.
    """

    def __init__(
        self,
        reader: str | None = None,
        *,
        wait_seconds: float = 0.0,
        exclusive: bool = False,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        if not deadline > 0:
            raise ValueError(f"the deadline must be positive, got {deadline}")
        self._share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        self._card: Any = None
        self._in_transaction = False
        # held while a PC/SC call on this card runs: close() never waits on it
        self._io = threading.Lock()
        self._close_requested = False
        self._given_up = False  # closed while a call was in flight
        self._card_left = False  # the last call found the card gone
        self._ctx: PcscContext | None = PcscContext()
        try:
            statuses = self._ctx.status()
            names = [s.name for s in statuses]
            present = {s.name: s.card_present for s in statuses}
            if reader is None and wait_seconds > 0 and not any(present.values()):
                self._ctx.wait_for(names, True, wait_seconds)
                present = {s.name: s.card_present for s in self._ctx.status(names)}
            self._name = choose_reader(names, reader, present)
            if wait_seconds > 0 and not present.get(self._name):
                self._ctx.wait_for([self._name], True, wait_seconds)
            hr, card, self._protocol = self._connect(deadline)
            if hr == scard.SCARD_S_SUCCESS:
                self._card = card
            elif hr == scard.SCARD_E_NO_SMARTCARD or hr == scard.SCARD_W_REMOVED_CARD:
                raise NoCard(f"no card in {self._name!r}; place the card")
            elif hr == scard.SCARD_E_SHARING_VIOLATION:
                # pcscd shows no difference between a program holding the card and a
                # connection stuck in an exchange with a card that went silent (its
                # program may be long gone): the message must be true of both
                raise CardInUse(
                    f"the card in {self._name!r} is held by another connection"
                    + (" (exclusive access refused)" if exclusive else " exclusively")
                    + ": either another program is using the card — close it"
                    + (", or share the card (myna-reader --shared)" if exclusive else "")
                    + " — or a connection whose card stopped answering mid-way still holds "
                    "the reader: then take the card out and place it again"
                )
            else:
                raise _error(hr, "connecting to the card", self._name)
            self._atr = self._read_atr()
        except BaseException:
            self.close()
            raise

    def _connect(self, deadline: float) -> tuple[int, Any, int]:
        assert self._ctx is not None
        attempt = _Connect(self._ctx, self._name, self._share)
        job = in_worker(attempt.run)
        if not job.done.wait(deadline) and attempt.give_up():
            self._ctx = None  # the attempt releases it when SCardConnect returns
            raise CardUnresponsive(
                f"{self._name!r}: the card there does not answer (no connection within "
                f"{deadline:g} s): take it out. A card that stopped answering in the "
                "middle of an exchange keeps the reader busy until it leaves; another "
                "card, or this one placed again, starts afresh"
            )
        job.done.wait()
        return job.outcome()

    def _read_atr(self) -> bytes:
        hr, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "reading the ATR", self._name)
        return bytes(atr)

    @property
    def name(self) -> str:
        return self._name

    @property
    def atr(self) -> bytes:
        return self._atr

    @contextlib.contextmanager
    def _calling(self, doing: str) -> Iterator[Any]:
        """One PC/SC call on the card (yields the handle); a close() asked for meanwhile
        from another thread is done as soon as it returns."""
        with self._io:
            if self._card is None:
                raise TransportError(f"{doing} in {self._name!r}: the connection is closed")
            yield self._card
        if self._close_requested:
            self._close_if_idle()

    def transmit(self, command: bytes) -> bytes:
        with self._calling("exchanging an APDU") as card:
            hr, response = scard.SCardTransmit(card, self._protocol, list(command))
            self._card_left = hr in _REMOVED or (hr == scard.SCARD_S_SUCCESS and not response)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "exchanging an APDU", self._name)
        if not response:
            # vpcd (and some readers) report a card that vanished mid-command as an
            # empty answer rather than an error: no answer at all means no card.
            raise CardRemoved(
                f"the card in {self._name!r} gave no answer: it was removed or went mute"
            )
        if len(response) < 2:
            # but a byte came: a card that is there and answers what no card may
            raise MalformedResponse(
                f"the card in {self._name!r} answered {bytes(response).hex().upper()}: a "
                "response APDU has at least 2 bytes (the status word)"
            )
        return bytes(response)

    def reset(self) -> None:
        with self._calling("resetting the card") as card:
            hr, self._protocol = scard.SCardReconnect(
                card,
                self._share,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                scard.SCARD_RESET_CARD,
            )
            self._card_left = hr in _REMOVED
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "resetting the card", self._name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Exclusive access: no other program's APDU lands between ours."""
        if self._in_transaction:
            yield
            return
        with self._calling("starting an exclusive transaction") as card:
            hr = scard.SCardBeginTransaction(card)
            self._card_left = hr in _REMOVED
        if hr in _NO_TRANSACTIONS:
            raise TransactionRefused(
                f"{self._name!r} refused an exclusive transaction: {_message(hr)} "
                f"({hr & 0xFFFFFFFF:08X})"
            )
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "starting an exclusive transaction", self._name)
        self._in_transaction = True
        try:
            yield
        finally:
            self._in_transaction = False
            with contextlib.suppress(TransportError), self._calling("ending a transaction") as card:
                scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (one closed while a call was in flight closes
        when that call returns)."""
        return self._card is None

    def close(self) -> None:
        """Disconnect and release the context. Never waits: while a call on this card is
        in flight on another thread (a card that does not answer, given up on by
        :class:`~reader.transport.DeadlineTransport`), pcsc-lite would hold every call on
        the context until it returns — so that thread closes once it does, and resets
        the card then, unless it left or was reset meanwhile (as pcscd does for a client
        that dies): whatever the call given up on did — a VERIFY that opened the card,
        a signature still waiting to be asked for — is undone before anyone else comes
        in."""
        self._close_requested = True
        if not self._close_if_idle():
            self._given_up = True

    def _close_if_idle(self) -> bool:
        """Close unless a call is in flight; False when one is (it closes on return)."""
        if not self._io.acquire(blocking=False):
            return False  # the call in flight closes when it returns (_calling)
        try:
            if self._card is not None:
                scard.SCardDisconnect(self._card, self._disposition())
                self._card = None
            if self._ctx is not None:  # None: a connect given up on releases it
                self._ctx.close()
        finally:
            self._io.release()
        return True

    def _disposition(self) -> int:
        # a card that left, or was reset already, is left alone (vpcd, asked to reset a
        # card that left, misses the next one placed). The call given up on knows first
        # that it left (an empty answer from vpcd): pcscd may not have noticed yet
        if not self._given_up or self._card_left:
            return int(scard.SCARD_LEAVE_CARD)
        hr, *_ = scard.SCardStatus(self._card)
        return int(
            scard.SCARD_RESET_CARD if hr == scard.SCARD_S_SUCCESS else scard.SCARD_LEAVE_CARD
        )

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The pseudo-reader whose state changes when a reader is plugged in or out (pcsc-lite,
# Windows). pyscard's PCSCCardRequest (smartcard/pcsc/PCSCCardRequest.py) waits on it
# beside the readers; node-pcsclite's PCSCLite class takes its state SCARD_STATE_UNKNOWN
# as "not supported" (then: a 2 s time-out, below); a .NET listener of pcsc-lite passes
# its reader count, shifted left 16 bits, back as its state. Here: the state it returned
# is passed back, so the wait blocks until the reader count changes (tested: an idle
# monitor without readers makes no call, tests/integration/test_card_presence.py).
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
_GONE = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE | scard.SCARD_STATE_UNAVAILABLE


class CardPresenceMonitor:
    """Watches readers for cards arriving and leaving: one PC/SC context, held for the
    monitor's life, and a thread of its own that blocks in ``SCardGetStatusChange``
    until pcscd reports a change — a card placed is seen the moment pcscd sees it, and an
    idle terminal makes no PC/SC call at all. :meth:`stop` wakes it with ``SCardCancel``
    (the one call pcsc-lite lets another thread make on a context in use) and returns at
    once.

    Callbacks run on the monitor's thread (a UI hands them on: Textual's
    ``post_message`` is safe from any thread):

    - ``on_change(reader, present, atr)`` on every change of a reader's card, and once
      per reader when it is first seen (at start, or plugged in later); a reader that
      goes away reports its card gone, if it had one.
    - ``on_readers(names)`` with the readers watched (of ``readers``, when given: those
      of them pcscd lists) whenever that list changes — plugged in, unplugged, or all
      gone with pcscd.
    - ``on_trouble(problem)``: a sentence when the readers cannot be watched (pcscd
      stopped or not running), None once they can again.

    Readers come and go through the ``\\\\?PnP?\\Notification`` pseudo-reader, waited on
    with the others. pcscd restarting ends the wait with an error: the context is
    released, the cards count as gone, and a new context is tried after 0.5 s, then
    1, 2, 4 and every 5 s (waits that :meth:`stop` cuts short) — never a busy loop.
    """

    def __init__(
        self,
        on_change: Callable[[str, bool, bytes], None],
        readers: list[str] | None = None,
        *,
        on_readers: Callable[[list[str]], None] | None = None,
        on_trouble: Callable[[str | None], None] | None = None,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 5.0,
    ) -> None:
        self._on_change = on_change
        self._on_readers = on_readers
        self._on_trouble = on_trouble
        self._readers = readers
        self._retry = retry_seconds
        self._max_retry = max_retry_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _ctx between the thread and stop()
        self._ctx: PcscContext | None = None
        self._thread = threading.Thread(target=self._run, name="card-monitor", daemon=True)
        self._present: dict[str, bool] = {}  # what was last reported, reader by reader
        self._names: list[str] | None = None  # the readers last reported (on_readers)
        self._problem: str | None = ""  # "": not known yet; None: watching
        self.error: ReaderError | None = None  # why the readers cannot be watched now
        self._answered = False  # pcscd answered a wait on the current context

    def start(self) -> CardPresenceMonitor:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, seconds: float = 2.0) -> bool:
        """Stop watching: the blocked call is cancelled and the thread ends, its context
        released. True once it has ended (within ``seconds``)."""
        self._stop.set()
        deadline = time.monotonic() + seconds
        while self._thread.is_alive():
            with self._lock:
                # a cancel that comes before the thread blocks again is lost (pcsc-lite
                # cancels only a wait in progress): repeated until the thread sees _stop
                if self._ctx is not None and self._ctx.handle is not None:
                    scard.SCardCancel(self._ctx.handle)
            self._thread.join(0.05)
            if time.monotonic() > deadline:
                return False
        return True

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry
        while not self._stop.is_set():
            self._answered = False
            try:
                ctx = PcscContext()
            except ReaderError as exc:
                self._lost(exc)
            else:
                with self._lock:
                    self._ctx = ctx
                try:
                    self._watch(ctx)
                except ReaderError as exc:
                    self._lost(exc)
                finally:
                    with self._lock:
                        self._ctx = None
                    ctx.close()
            if self._answered:  # it worked for a while: start over gently
                delay = self._retry
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._max_retry)

    def _watch(self, ctx: PcscContext) -> None:
        """Wait for changes until stopped (returns) or the context fails (raises)."""
        words: dict[str, int] = {}  # each reader's state as pcscd last told it
        pnp = scard.SCARD_STATE_UNAWARE
        pnp_works = True
        quiet_returns = 0
        while not self._stop.is_set():
            names = self._listed(ctx)
            for name in [n for n in words if n not in names]:
                del words[name]
            self._report_names(names)
            self._healthy()  # pcscd answers (said once the readers are known)
            states = [(name, words.get(name, scard.SCARD_STATE_UNAWARE)) for name in names]
            if pnp_works:
                states.append((PNP_NOTIFICATION, pnp))
            # without the pseudo-reader (a PC/SC layer that lacks it), a reader plugged in
            # is noticed at the next change or within 2 s
            timeout = scard.INFINITE if pnp_works else 2000
            hr, result = scard.SCardGetStatusChange(ctx.handle, timeout, states)
            if self._stop.is_set():
                return
            if hr in (scard.SCARD_E_CANCELLED, scard.SCARD_E_TIMEOUT):
                continue
            if hr in _READER_GONE:  # a reader left between listing and waiting
                quiet_returns += 1
                self._stop.wait(min(0.05 * quiet_returns, 2.0))
                continue
            if hr == scard.SCARD_F_COMM_ERROR:  # pcsc-lite: pcscd's socket closed
                raise ReaderUnavailable(
                    "the PC/SC service (pcscd) stopped while the readers were watched "
                    f"({hr & 0xFFFFFFFF:08X}); watching again once it is back"
                )
            if hr != scard.SCARD_S_SUCCESS:
                raise _error(hr, "watching the readers")
            news = False
            for name, event, atr in result:
                before = pnp if name == PNP_NOTIFICATION else words.get(name)
                news = news or before is None or (event & _CHANGED_BIT) != before
                if name == PNP_NOTIFICATION:
                    pnp_works = not event & scard.SCARD_STATE_UNKNOWN
                    pnp = event & _CHANGED_BIT
                    continue
                words[name] = event & _CHANGED_BIT  # waited on as it is: no busy loop
                if event & _GONE:  # unplugged meanwhile, or its driver lost it
                    self._report(name, False, b"")
                else:
                    status = _reader_status(name, event, atr)
                    self._report(name, status.card_present, status.atr)
            # pcscd returns at once only when a state differs from the one given: a
            # return with nothing new is a layer misbehaving, waited out, never spun on
            quiet_returns = 0 if news else quiet_returns + 1
            if quiet_returns > 1:
                self._stop.wait(min(0.1 * quiet_returns, 2.0))

    def _listed(self, ctx: PcscContext) -> list[str]:
        names = ctx.readers()
        if self._readers is None:
            return names
        return [name for name in self._readers if name in names]

    # -- what the callbacks are told --------------------------------------------------

    def _report(self, reader: str, present: bool, atr: bytes) -> None:
        if self._present.get(reader) is not present:
            self._present[reader] = present
            self._on_change(reader, present, atr)

    def _report_names(self, names: list[str]) -> None:
        for gone in [n for n in self._present if n not in names]:
            if self._present.pop(gone):
                self._on_change(gone, False, b"")
        if names != self._names:
            self._names = list(names)
            if self._on_readers is not None:
                self._on_readers(list(names))

    def _lost(self, exc: ReaderError) -> None:
        """The context failed (pcscd stopped, or is not running): said once (the first
        sentence: later attempts fail for the same cause), then every reader counts as
        gone until pcscd answers again."""
        self.error = exc
        if not self._problem:
            self._problem = str(exc)
            if self._on_trouble is not None:
                self._on_trouble(str(exc))
        self._report_names([])

    def _healthy(self) -> None:
        self._answered = True
        self.error = None
        was, self._problem = self._problem, None
        if was and self._on_trouble is not None:
            self._on_trouble(None)
