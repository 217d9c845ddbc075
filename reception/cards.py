"""Where the terminal's card comes from: a PC/SC reader (a USB reader, or vpcd's virtual
one), and how the terminal hears that a card arrived or left (:class:`ReaderWatch`). The
simulator adds its own sources (reception/sim/cards.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from reader.errors import ReaderError
from reader.pcsc import CardPresenceMonitor, PcscTransport, list_readers
from reader.transport import DEFAULT_DEADLINE_SECONDS, Transport

if TYPE_CHECKING:
    from reception.checkin import ExpectedCard


class CardSource(Protocol):
    """Where the card comes from: ``transport()`` once one is present. ``expected``: the
    card that must be there, where the source knows it (the simulator placed a persona's
    card), else None — a patient's card in a USB reader is whoever's it is."""

    description: str
    expected: ExpectedCard | None

    def present(self) -> bool: ...

    def transport(self) -> Transport: ...


class PcscCards:
    """A PC/SC reader (a USB reader, or vpcd's virtual one); ``reader`` None: the first
    one (for a check-in: the first with a card)."""

    def __init__(self, reader: str | None, deadline: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self._reader = reader
        self._moved: list[Callable[[], None]] = []
        self.deadline = deadline  # connecting, too, returns within it
        self.description = f"PC/SC: {reader or '最初のリーダー'}"
        self.expected: ExpectedCard | None = None

    @property
    def reader(self) -> str | None:
        return self._reader

    @reader.setter
    def reader(self, name: str | None) -> None:
        """Another reader chosen (the developer view): whoever watches hears of it."""
        self._reader = name
        for moved in list(self._moved):
            moved()

    def on_moved(self, moved: Callable[[], None]) -> None:
        """Call ``moved`` whenever :attr:`reader` is changed."""
        self._moved.append(moved)

    def present(self) -> bool:
        """Whether the reader holds a card now: one look (a context of its own). To
        follow arrivals and departures, watch with :class:`ReaderWatch` instead."""
        try:
            statuses = list_readers()
        except ReaderError:
            return False
        for status in statuses:
            if self.reader is None or status.name == self.reader:
                return status.card_present
        return False

    def transport(self) -> Transport:
        return PcscTransport(self.reader, deadline=self.deadline)


class ReaderWatch:
    """The terminal's PC/SC readers, watched for cards without polling: one
    :class:`~reader.pcsc.CardPresenceMonitor` (one context for the terminal's life, a
    thread blocked in ``SCardGetStatusChange``) over every reader pcscd lists, told in
    the terminal's words — which of its readers (``"card"``, ``"phone"``, ``"counter"``:
    the keys of ``readers``) got or lost a card.

    A reader named in its :class:`PcscCards` is that reader; one left unnamed (the first
    reader) is any reader that no other names. Callbacks run on the monitor's thread:

    - ``on_card(medium, present)`` when a reader of that medium got its first card, or
      lost its last one (and at start, for a card already there);
    - ``on_missing(medium, name, missing)`` when a configured reader is not listed by
      pcscd (at start, or unplugged later) and when it is back;
    - ``on_trouble(problem)`` when the readers cannot be watched (pcscd stopped), None
      when they can again; meanwhile the cards count as gone, and readers missing then
      are not said one by one.
    """

    def __init__(
        self,
        readers: Mapping[str, PcscCards],
        *,
        on_card: Callable[[str, bool], None],
        on_missing: Callable[[str, str, bool], None],
        on_trouble: Callable[[str | None], None],
    ) -> None:
        self.readers = dict(readers)
        self._on_card = on_card
        self._on_missing = on_missing
        self._on_trouble = on_trouble
        self._lock = threading.RLock()
        self._cards: dict[str, bool] = {}  # reader name → holds a card
        self._names: list[str] | None = None  # what pcscd lists (None: not known yet)
        self._present: dict[str, bool] = {}  # medium → what was last said
        self._missing: dict[str, str] = {}  # medium → the reader said missing
        self._trouble: str | None = None
        self._monitor = CardPresenceMonitor(
            self._changed, on_readers=self._listed, on_trouble=self._troubled
        )
        for source in self.readers.values():
            source.on_moved(self._moved)

    def start(self) -> ReaderWatch:
        self._monitor.start()
        return self

    def stop(self) -> bool:
        """Stop watching (the blocked call cancelled); True once the thread has ended."""
        return self._monitor.stop()

    @property
    def running(self) -> bool:
        return self._monitor.running

    def present(self, medium: str) -> bool:
        """Whether a reader of ``medium`` holds a card, as last heard."""
        with self._lock:
            return self._present.get(medium, False)

    # -- from the monitor's thread ------------------------------------------------------

    def _changed(self, reader: str, present: bool, atr: bytes) -> None:
        with self._lock:
            self._cards[reader] = present
        self._tell()

    def _listed(self, names: list[str]) -> None:
        with self._lock:
            self._names = list(names)
            self._cards = {n: p for n, p in self._cards.items() if n in names}
        self._tell()

    def _troubled(self, problem: str | None) -> None:
        with self._lock:
            self._trouble = problem
        self._on_trouble(problem)
        self._tell()

    def _moved(self) -> None:  # the event loop's thread: a reader chosen anew
        self._tell()

    # -- the terminal's words -----------------------------------------------------------

    def _medium_of(self, reader: str) -> str | None:
        named = {source.reader: medium for medium, source in self.readers.items()}
        if reader in named:
            return named[reader]
        return named.get(None)  # the unnamed one takes every other reader

    def _tell(self) -> None:
        """Say what changed since last said (under the lock: one teller at a time)."""
        with self._lock:
            present = dict.fromkeys(self.readers, False)
            for reader, holds in self._cards.items():
                medium = self._medium_of(reader)
                if medium is not None and holds:
                    present[medium] = True
            cards = [(m, p) for m, p in present.items() if self._present.get(m, False) != p]
            self._present.update(present)
            missing = self._missing_now()
            for medium, present_now in cards:
                self._on_card(medium, present_now)
            for medium, name in missing.items():
                if self._missing.get(medium) != name:
                    self._on_missing(medium, name, True)
            for medium, name in self._missing.items():
                if medium not in missing:
                    self._on_missing(medium, name, False)
            self._missing = missing

    def _missing_now(self) -> dict[str, str]:
        """The configured readers pcscd does not list (none said while it is away)."""
        if self._names is None or self._trouble is not None:
            return dict(self._missing)
        named = {s.reader for s in self.readers.values() if s.reader is not None}
        missing: dict[str, str] = {}
        for medium, source in self.readers.items():
            if source.reader is None:
                if not [n for n in self._names if n not in named]:
                    missing[medium] = "（最初のリーダー）"
            elif source.reader not in self._names:
                missing[medium] = source.reader
        return missing
