"""Where the terminal's card comes from: a PC/SC reader (a USB reader, or vpcd's virtual
one). The simulator adds its own sources (reception/sim/cards.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from reader.errors import ReaderError
from reader.pcsc import PcscTransport, list_readers
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
    """A PC/SC reader (a USB reader, or vpcd's virtual one)."""

    def __init__(self, reader: str | None, deadline: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self.reader = reader
        self.deadline = deadline  # connecting, too, returns within it
        self.description = f"PC/SC: {reader or '最初のリーダー'}"
        self.expected: ExpectedCard | None = None

    def present(self) -> bool:
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

    def attached(self) -> bool:
        """Whether pcscd knows this reader (or any reader, when none is named)."""
        try:
            names = [status.name for status in list_readers()]
        except ReaderError:
            return False
        return bool(names) if self.reader is None else self.reader in names
