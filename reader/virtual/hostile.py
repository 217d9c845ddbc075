"""Cards that misbehave, for tests: each wraps a :class:`~reader.virtual.card.VirtualCard`
and serves it (in process through :class:`~reader.virtual.loopback.LoopbackTransport`,
or into vpcd through :class:`~reader.virtual.vpcd.VpcdCardServer`) with one behaviour
changed. Every command still reaches the wrapped card first, so its honeypot sees all of
them — GET RESPONSE included.

- :class:`T0Card`: a genuine card's way of answering over T=0 — no data with the status,
  ``61xx`` instead, the data fetched with GET RESPONSE in pieces.
- :class:`EndlessCard`: answers ``61xx`` ("more data") for ever.
- :class:`SilentCard`: stops answering APDUs, until it is taken out (powered off).
- :class:`SlowCard`: answers as the card it wraps (any of these), each answer late.
- :class:`NonsenseCard`: answers what no card may — a status word outside ``6x``/``9x``,
  ``6Cxx`` for ever, a single byte.
"""

from __future__ import annotations

import threading
import time

from reader.apdu import INS_GET_RESPONSE
from reader.sw import StatusWord
from reader.virtual.card import VirtualCard
from reader.virtual.vpcd import ServedCard

SW_WRONG_P1P2 = StatusWord.WRONG_P1P2.to_bytes(2, "big")
SW_CONDITIONS = StatusWord.CONDITIONS_NOT_SATISFIED.to_bytes(2, "big")


def _get_response(raw: bytes) -> bool:
    return len(raw) >= 4 and raw[1] == INS_GET_RESPONSE


class _Wrapper:
    """What :class:`~reader.virtual.vpcd.ServedCard` needs, passed to the card."""

    def __init__(self, card: ServedCard) -> None:
        self.card = card

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)


class T0Card(_Wrapper):
    """Answers as a T=0 card does: an answer with data comes as ``61xx`` alone (xx bytes
    waiting, ``00`` for 256 or more), and GET RESPONSE (``00 C0 00 00 Le``) hands out up
    to Le of them, with ``61xx`` while more wait and the card's status word with the
    last. Any other command drops what was waiting. ``chunk`` caps a piece below Le."""

    def __init__(self, card: VirtualCard, chunk: int = 256) -> None:
        super().__init__(card)
        self.chunk = chunk
        self._waiting = b""
        self._sw = b""

    def process(self, apdu: bytes) -> bytes:
        answer = self.card.process(apdu)  # the honeypot sees every command, this one too
        if not _get_response(apdu):
            data, self._sw = answer[:-2], answer[-2:]
            self._waiting = b""
            if not data:
                return answer
            self._waiting = data
            return self._more()
        if not self._waiting:
            return SW_CONDITIONS  # nothing waits: as a card answers a stray GET RESPONSE
        if apdu[2:4] != b"\x00\x00":
            return SW_WRONG_P1P2
        le = (apdu[4] or 256) if len(apdu) == 5 else 256
        piece, self._waiting = (
            self._waiting[: min(le, self.chunk)],
            self._waiting[min(le, self.chunk) :],
        )
        return piece + (self._more() if self._waiting else self._sw)

    def _more(self) -> bytes:
        return bytes((0x61, min(len(self._waiting), 256) & 0xFF))

    def reset(self) -> None:
        self._waiting = b""
        super().reset()

    def power_off(self) -> None:
        self._waiting = b""
        super().power_off()


class EndlessCard(_Wrapper):
    """From the ``after``-th APDU on (counted from 1), answers every command — GET
    RESPONSE included — with ``piece`` bytes and ``61 00``: there is always more."""

    def __init__(self, card: VirtualCard, after: int = 1, piece: int = 0) -> None:
        super().__init__(card)
        self.after = after
        self.piece = b"\xa5" * piece
        self.apdus = 0

    def process(self, apdu: bytes) -> bytes:
        answer = self.card.process(apdu)
        self.apdus += 1
        if self.apdus < self.after:
            return answer
        return self.piece + b"\x61\x00"


class SilentCard(_Wrapper):
    """From the ``after``-th APDU on (counted from 1), never answers: :meth:`process`
    waits until the card is powered off (taken out of the reader, or the loopback
    reader closed), then gives no answer at all (no status word). Put back (powered on)
    it is silent again. ``waiting`` is set while an APDU hangs."""

    def __init__(self, card: VirtualCard, after: int = 1) -> None:
        super().__init__(card)
        self.after = after
        self.apdus = 0
        self.waiting = threading.Event()
        self._released = threading.Event()

    def process(self, apdu: bytes) -> bytes:
        self.apdus += 1
        answer = self.card.process(apdu)  # executed (the honeypot sees it), never answered
        if self.apdus < self.after:
            return answer
        self.waiting.set()
        self._released.wait()
        return b""

    def power_on(self) -> None:
        self._released.clear()
        super().power_on()

    def power_off(self) -> None:
        self._released.set()
        super().power_off()


class SlowCard(_Wrapper):
    """From the ``after``-th APDU on (counted from 1), answers as the card it wraps — a
    :class:`VirtualCard`, or an :class:`EndlessCard` for a card that answers ``61xx`` for
    ever, slowly — each answer ``delay`` seconds late: every exchange within a deadline,
    the whole taking for ever (issue 19: ``AA 61 01`` every 4.5 s held a check-in for 19
    minutes)."""

    def __init__(self, card: ServedCard, delay: float, after: int = 1) -> None:
        super().__init__(card)
        self.delay = delay
        self.after = after
        self.apdus = 0

    def process(self, apdu: bytes) -> bytes:
        answer = self.card.process(apdu)
        self.apdus += 1
        if self.apdus >= self.after:
            time.sleep(self.delay)
        return answer


class NonsenseCard(_Wrapper):
    """From the ``after``-th APDU on (counted from 1), answers ``answer`` to every
    command: ``EAE9`` (no card's status word: ISO 7816 allows ``6x`` and ``9x``), ``6C10``
    (send again with Le 16 — and again), ``90`` (one byte)."""

    def __init__(self, card: VirtualCard, answer: bytes, after: int = 1) -> None:
        super().__init__(card)
        self.answer = answer
        self.after = after
        self.apdus = 0

    def process(self, apdu: bytes) -> bytes:
        answer = self.card.process(apdu)
        self.apdus += 1
        return answer if self.apdus < self.after else self.answer
