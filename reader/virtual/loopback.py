"""The loopback transport: a virtual card in process, no PC/SC stack between."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from reader.errors import CardRemoved
from reader.virtual.vpcd import ServedCard


class LoopbackTransport:
    """Direct calls into a :class:`~reader.virtual.card.VirtualCard` (or any card
    :class:`~reader.virtual.vpcd.VpcdCardServer` can serve), in process."""

    def __init__(self, card: ServedCard, name: str = "Loopback virtual reader") -> None:
        self._card = card
        self._name = name
        self._present = True

    @property
    def name(self) -> str:
        return self._name

    @property
    def atr(self) -> bytes:
        if not self._present:
            raise CardRemoved("no card in the loopback reader")
        return self._card.atr

    @property
    def card(self) -> ServedCard:
        return self._card

    def remove_card(self) -> None:
        self._present = False
        self._card.power_off()

    def transmit(self, command: bytes) -> bytes:
        if not self._present:
            raise CardRemoved("the card was removed from the reader")
        return self._card.process(command)

    def reset(self) -> None:
        if not self._present:
            raise CardRemoved("no card in the loopback reader")
        self._card.reset()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        self._card.power_off()
