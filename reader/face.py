"""The terminal's side of the simulated face path: authenticate to the card and read the
face object — nothing else (the protocol itself: reader/terminal_auth.py).

Nothing else of the card-face AP is ever released: the guard refuses the rest
(EF 0005 — the number image — and VERIFY against 照合番号A above all).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric import ec

from reader.aids import CARD_FACE_AID, EF_FACE_IMAGE
from reader.apdu import INS_READ_BINARY, INS_SELECT, CommandApdu, check
from reader.errors import MalformedCardData
from reader.terminal_auth import (
    CHALLENGE_BYTES,
    FACE_TAG,
    INS_EXTERNAL_AUTHENTICATE,
    INS_GET_CHALLENGE,
    TerminalCertificate,
    authentication_data,
    parse_face_object,
)
from reader.transport import CardChannel


def read_face_template(
    channel: CardChannel,
    certificate: TerminalCertificate,
    terminal_key: ec.EllipticCurvePrivateKey,
) -> list[float]:
    """Authenticate the terminal to the card and read the face object — nothing else.

    The channel's guard must have face access (see :func:`face_path`). One exclusive
    transaction that begins by selecting the card-face AP by its full AID.
    """
    with channel.transaction():
        return _read_face_template(channel, certificate, terminal_key)


def _read_face_template(
    channel: CardChannel,
    certificate: TerminalCertificate,
    terminal_key: ec.EllipticCurvePrivateKey,
) -> list[float]:
    check(channel.transmit(CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, CARD_FACE_AID)))
    challenge = check(
        channel.transmit(CommandApdu(0x00, INS_GET_CHALLENGE, 0, 0, le=CHALLENGE_BYTES))
    )
    if len(challenge) != CHALLENGE_BYTES:
        raise MalformedCardData(f"challenge of {len(challenge)} bytes")
    data = authentication_data(certificate, terminal_key, challenge)
    check(channel.transmit(CommandApdu(0x00, INS_EXTERNAL_AUTHENTICATE, 0, 0, data)))
    check(
        channel.transmit(
            CommandApdu(0x00, INS_SELECT, 0x02, 0x0C, EF_FACE_IMAGE.to_bytes(2, "big"))
        )
    )
    head = check(channel.transmit(CommandApdu(0x00, INS_READ_BINARY, 0, 0, le=5)))
    if len(head) < 5 or not head.startswith(FACE_TAG + b"\x82"):
        raise MalformedCardData("the face object does not start with tag DF27")
    total = 5 + int.from_bytes(head[3:5], "big")
    content = bytearray(head)
    while len(content) < total:
        offset = len(content)
        chunk = check(
            channel.transmit(
                CommandApdu(
                    0x00,
                    INS_READ_BINARY,
                    offset >> 8,
                    offset & 0xFF,
                    le=min(0xFF, total - offset),
                )
            )
        )
        if not chunk:
            raise MalformedCardData("the face object ended early")
        content += chunk
    return parse_face_object(bytes(content))


@contextmanager
def face_path(channel: CardChannel) -> Iterator[None]:
    """Open the guard's face access for the block; afterwards the current DF is unknown
    again, so the next command must select an application by its full AID."""
    channel.guard.face_access = True
    try:
        yield
    finally:
        channel.guard.face_access = False
        channel.guard.reset()
