"""What the terminal checks of a card before and while a check-in uses it: that it is
the card expected (:class:`ExpectedCard`, before any VERIFY), what it is (:func:`identify`:
card, 顔認証マイナンバーカード, Android, iPhone; the tries left), and which failures mean a
card that cannot be read here (:func:`card_fault`: the ladder) rather than a fault of the
terminal. Used by :mod:`reception.checkin`; no I/O of its own beyond the card's channel.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reader.errors import (
    CardStatusError,
    CardUnresponsive,
    ClassNotSupported,
    FileNotFound,
    InstructionNotSupported,
    MalformedCardData,
    MalformedResponse,
    NotAMyNumberCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
)
from reader.face import face_path, read_face_template
from reader.jpki import JpkiClient, TokenKind
from reader.transport import CardChannel, Transport
from reception.flow import Variant

if TYPE_CHECKING:
    from reception.checkin import Terminal


@dataclass(frozen=True)
class ExpectedCard:
    """The card the terminal was told to expect — where it knows (the simulator's persona:
    ``reception checkin --persona``, the demo's placed card): the SHA-256 fingerprint of
    the card's user-authentication certificate (JPKI AP EF 000A, free to read on a card,
    card.md §3), and whose card it is, as staff know it (``holder``: the persona's id)."""

    certificate_sha256: str
    holder: str

    @staticmethod
    def fingerprint(certificate_der: bytes) -> str:
        """The SHA-256 fingerprint as the store keeps it (upper-case hex)."""
        return hashlib.sha256(certificate_der).hexdigest().upper()

    def matches(self, certificate_der: bytes) -> bool:
        return self.fingerprint(certificate_der) == self.certificate_sha256.upper()


@dataclass(frozen=True)
class Identified:
    """What :func:`identify` found: the variant, the tries left of a reader PIN, and the
    user-authentication certificate where it was read to check the card expected."""

    variant: Variant
    tries_left: int | None
    certificate_der: bytes | None = None


def identify(jpki: JpkiClient, expected: ExpectedCard | None = None) -> Identified:
    """The card's variant and, for a reader PIN, the tries left (one exclusive transaction).

    With ``expected``, the card must be that one, and this is found out before any
    VERIFY — also before the empty VERIFY that asks the tries left: the certificate is
    read first (free on a card and an iPhone token, card.md §3) and compared.
    :class:`WrongCard` otherwise. An Android token releases its certificate only after
    the PIN (reader/jpki.py, ``certificate_needs_pin``): it is checked then
    (``_Visit.pin`` in reception/checkin.py), before anything is signed for the service."""
    with jpki.channel.transaction():
        jpki.select()
        token = jpki.token_info()
        der: bytes | None = None
        if expected is not None and not token.certificate_needs_pin:
            der = jpki.auth_certificate_der()
            if not expected.matches(der):
                raise WrongCard(expected, der, jpki.channel.reader_name, pin_sent=False)
        if token.kind is TokenKind.IPHONE:
            return Identified(Variant.IPHONE, None, der)
        if token.kind is TokenKind.ANDROID:
            return Identified(Variant.ANDROID, jpki.pin_tries_left(), der)
        if token.kind is TokenKind.JUKI_CARD:
            raise JukiCard(f"an old 住基カード (token {token.label!r}): not a My Number card")
        if token.kind is not TokenKind.PHYSICAL_CARD:
            raise CardDefect(f"unsupported JPKI token {token.label!r} ({token.kind.value})")
        try:
            return Identified(Variant.PHYSICAL, jpki.pin_tries_left(), der)
        except PinNotSet:
            return Identified(Variant.FACE_ONLY, None, der)


class CardFailedError(Exception):
    """The check-in cannot go on (e.g. no PIN given to a headless run)."""


class CardDefect(CardFailedError):
    """The card cannot be used for 保険証 confirmation at this reader: a ladder case."""


class JukiCard(CardDefect):
    """An old 住民基本台帳カード: it has a JPKI AP, but its token says ``JPKIAPICCTOKEN``
    (reader/jpki.py, TokenKind.JUKI_CARD). No health insurance card: refused as such
    (reception/error_screens.py, 【S01】)."""


class WrongCard(CardFailedError):
    """The card in the reader is not the one expected (:class:`ExpectedCard`): its
    certificate's fingerprint differs. The check-in stops there (no PIN is sent when it
    is found out before the PIN, ``pin_sent`` False)."""

    def __init__(
        self, expected: ExpectedCard, certificate_der: bytes, reader: str, *, pin_sent: bool
    ) -> None:
        self.expected = expected
        self.found_sha256 = ExpectedCard.fingerprint(certificate_der)
        self.pin_sent = pin_sent
        super().__init__(
            f"the card in {reader!r} is not the expected one ({expected.holder}'s): its "
            f"authentication certificate's SHA-256 is {self.found_sha256}, expected "
            f"{expected.certificate_sha256.upper()}; "
            + (
                "a PIN was verified first (a smartphone shows its certificate only then), "
                "nothing was sent to the service"
                if pin_sent
                else "no PIN was sent"
            )
            + "; take it out and place the expected card"
        )


UNREADABLE_CARD = (
    CardDefect,
    NotAMyNumberCard,
    CardUnresponsive,  # silent or too slow: this card, not the reader (another works)
    MalformedResponse,  # EndlessResponse too: 61xx past any genuine answer; no status word
    MalformedCardData,
    FileNotFound,
    InstructionNotSupported,
    ClassNotSupported,
)

PIN_STATES = (PinIncorrect, PinBlocked, PinNotSet)
"""Status words about the PIN: the flow's business (tries, blocked, no PIN), never a
defect of the card."""


def card_fault(exc: BaseException) -> bool:
    """Whether ``exc`` ends a check-in as a card that cannot be read here (pending, for
    the ladder) rather than as an error of the terminal. Every status word the check-in
    did not expect is one: a genuine card answers our commands as card.md says, so a card
    that answers ``6Cxx`` to the Le it asked for, ``6F00``, or ``6A86`` to a command that
    never has wrong parameters is a defective card — as is one that answers no status word
    at all. A guard refusal or a terminal problem stays an error."""
    if isinstance(exc, UNREADABLE_CARD):
        return True
    return isinstance(exc, CardStatusError) and not isinstance(exc, PIN_STATES)


class UnopenedCard:
    """The card of a check-in whose connection could not be opened in time — the
    transport's constructor raised :class:`~reader.errors.CardUnresponsive` (a card that
    went silent in the middle of an exchange keeps pcscd's lock on the reader until it
    leaves). Every operation raises that error, so the check-in ends as it does for a
    card that goes silent at its first command: recorded, pending, card-defect."""

    def __init__(self, error: CardUnresponsive) -> None:
        self.error = error

    @property
    def name(self) -> str:
        return "(not connected)"

    @property
    def atr(self) -> bytes:
        return b""

    def transmit(self, command: bytes) -> bytes:
        raise self.error

    def reset(self) -> None:
        raise self.error

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise self.error

    def close(self) -> None:
        pass


def open_card(connect: Callable[[], Transport]) -> Transport:
    """``connect()``, or an :class:`UnopenedCard` when the card does not let itself be
    connected within the deadline: the check-in then runs, and ends as a card fault."""
    try:
        return connect()
    except CardUnresponsive as exc:
        return UnopenedCard(exc)


def face_template(channel: CardChannel, terminal: Terminal) -> list[float]:
    """The card's face template, read over the face path with this terminal's
    certificate (reader/face.py)."""
    if terminal.face_certificate is None:
        raise CardFailedError("この端末には顔認証用の端末証明書がありません")
    with channel.transaction(), face_path(channel):
        return read_face_template(channel, terminal.face_certificate, terminal.key)
