"""The simulated terminal authentication and the face object (reader/terminal_auth.py and
the terminal's side, reader/face.py)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from mock_oqs.world import World
from reader.aids import CARD_FACE_AID, EF_FACE_NUMBER_IMAGE
from reader.apdu import CommandApdu, check
from reader.errors import CardStatusError, ForbiddenCommand, SecurityStatusNotSatisfied
from reader.face import read_face_template
from reader.guard import Guard
from reader.terminal_auth import (
    TerminalAuthError,
    TerminalCertificate,
    authentication_data,
    check_authentication,
    issue_terminal_certificate,
)
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile


def terminal_of(world: World) -> tuple[TerminalCertificate, ec.EllipticCurvePrivateKey]:
    cvc, _ = TerminalCertificate.parse(world.face_certificate.read_bytes())
    key = serialization.load_pem_private_key((world.terminal_key).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cvc, key


def face_channel(world: World, persona: str) -> tuple[CardChannel, VirtualCard]:
    card = VirtualCard(load_profile(world.directory / world.persona(persona)["card"]))
    return CardChannel(LoopbackTransport(card), Guard(face_access=True)), card


def test_authenticated_terminal_reads_the_face_object(world: World) -> None:
    channel, card = face_channel(world, "face-only")
    cvc, key = terminal_of(world)
    template = read_face_template(channel, cvc, key)
    assert len(template) == len(card.profile.face_template)
    assert max(abs(a - b) for a, b in zip(template, card.profile.face_template, strict=True)) < 1e-4
    assert cvc.institution_code == "1312345678"


def test_face_object_is_closed_without_authentication(world: World) -> None:
    channel, _ = face_channel(world, "adult-kyokai")
    with channel.transaction():
        check(channel.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, CARD_FACE_AID)))
        check(channel.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x02")))
        with pytest.raises(SecurityStatusNotSatisfied):
            check(channel.transmit(CommandApdu(0x00, 0xB0, 0, 0, le=5)))


def test_terminal_of_another_ca_is_refused(world: World) -> None:
    channel, card = face_channel(world, "adult-kyokai")
    rogue_ca = ec.generate_private_key(ec.SECP256R1())
    rogue_terminal = ec.generate_private_key(ec.SECP256R1())
    cvc = issue_terminal_certificate(rogue_ca, rogue_terminal.public_key(), "1312345678")
    with pytest.raises(CardStatusError):
        read_face_template(channel, cvc, rogue_terminal)
    assert not card.terminal_authenticated


def test_smartphones_have_no_face_path(world: World) -> None:
    channel, _ = face_channel(world, "android")
    cvc, key = terminal_of(world)
    with pytest.raises(SecurityStatusNotSatisfied):
        read_face_template(channel, cvc, key)


def test_the_number_image_stays_forbidden_after_authentication(world: World) -> None:
    channel, _ = face_channel(world, "adult-kyokai")
    cvc, key = terminal_of(world)
    with channel.transaction():  # the card-face AP stays current after the read
        read_face_template(channel, cvc, key)
        with pytest.raises(ForbiddenCommand, match="SELECT EF 0005"):
            channel.transmit(
                CommandApdu(0x00, 0xA4, 0x02, 0x0C, EF_FACE_NUMBER_IMAGE.to_bytes(2, "big"))
            )


@pytest.mark.parametrize("face_access", [False, True])
def test_terminal_auth_commands_only_in_the_face_path(face_access: bool) -> None:
    guard = Guard(face_access=face_access)
    with pytest.raises(ForbiddenCommand, match="face path"):
        guard.check(CommandApdu(0x00, 0x84, 0, 0, le=8))  # current DF unknown
    with pytest.raises(ForbiddenCommand, match="face path"):
        guard.check(CommandApdu(0x00, 0x82, 0, 0, b"\x00" * 8))


@given(st.binary(max_size=300))
def test_authentication_parser_is_total(data: bytes) -> None:
    ca = _CA.public_key()
    with pytest.raises(TerminalAuthError):
        check_authentication(data, b"\x00" * 8, ca)


_CA = ec.derive_private_key(12345, ec.SECP256R1())


def test_stale_challenge_is_not_reusable(world: World) -> None:
    channel, card = face_channel(world, "adult-kyokai")
    cvc, key = terminal_of(world)
    with channel.transaction():
        read_face_template(channel, cvc, key)
        # a second EXTERNAL AUTHENTICATE without a new challenge is refused
        with pytest.raises(CardStatusError):
            again = CommandApdu(0x00, 0x82, 0, 0, authentication_data(cvc, key, b"\x00" * 8))
            check(channel.transmit(again))
        assert card.terminal_authenticated  # the refusal does not undo the earlier success
    assert not card.terminal_authenticated  # the transaction's end locked the card again
