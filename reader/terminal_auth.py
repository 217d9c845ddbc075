"""The simulated terminal authentication of the face path, as a protocol (design.md §5,
card.md §7): the compact terminal certificate, its TLV encoding, the checks the card
makes, and the face object. The card (reader/virtual), the service's seeding (mock_oqs)
and the terminal (reader/face.py) all use it; it sends nothing itself.

Real readers authenticate to the card (特定機関認証) by a mechanism that is not
public. The simulator models it openly, as its own protocol, on the card-face AP:

1. ``GET CHALLENGE`` (``00 84 00 00 08``) → 8 random bytes.
2. ``EXTERNAL AUTHENTICATE`` (``00 82 00 00 Lc data``), data =
   ``7F21`` (a compact card-verifiable terminal certificate: ``5F20`` the 10-digit
   医療機関コード, ``7F49 86`` the terminal's P-256 public point, ``5F37`` the facility
   CA's ECDSA-SHA256 signature over those two) followed by ``9E`` (the terminal's
   ECDSA-SHA256 signature over the challenge followed by the card-face AID).
3. Then — and only then — the card lets EF 0002 (the face object, tag ``DF27``) be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reader.aids import CARD_FACE_AID
from reader.errors import MalformedCardData

INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
CHALLENGE_BYTES = 8
FACE_TAG = b"\xdf\x27"


class TerminalAuthError(ValueError):
    """A terminal certificate or authentication that does not hold."""


def _tlv(tag: bytes, value: bytes) -> bytes:
    if len(value) < 0x80:
        return tag + bytes([len(value)]) + value
    if len(value) < 0x100:
        return tag + b"\x81" + bytes([len(value)]) + value
    return tag + b"\x82" + len(value).to_bytes(2, "big") + value


def read_tlv(data: bytes, offset: int, tag: bytes) -> tuple[bytes, int]:
    """The value of the TLV with ``tag`` at ``offset``, and the offset after it. Total."""
    end = offset + len(tag)
    if data[offset:end] != tag or end >= len(data):
        raise TerminalAuthError(f"expected tag {tag.hex().upper()} at offset {offset}")
    first = data[end]
    if first < 0x80:
        length, start = first, end + 1
    elif first in (0x81, 0x82):
        size = first - 0x80
        length, start = int.from_bytes(data[end + 1 : end + 1 + size], "big"), end + 1 + size
    else:
        raise TerminalAuthError(f"bad length byte {first:02X} at offset {end}")
    if start + length > len(data):
        raise TerminalAuthError(f"tag {tag.hex().upper()} runs past the end of the data")
    return data[start : start + length], start + length


@dataclass(frozen=True)
class TerminalCertificate:
    """The compact terminal certificate the card can check by itself."""

    institution_code: str
    public_point: bytes
    signature: bytes

    @property
    def body(self) -> bytes:
        return _tlv(b"\x5f\x20", self.institution_code.encode("ascii")) + _tlv(
            b"\x7f\x49", _tlv(b"\x86", self.public_point)
        )

    def encode(self) -> bytes:
        return _tlv(b"\x7f\x21", self.body + _tlv(b"\x5f\x37", self.signature))

    @classmethod
    def parse(cls, data: bytes) -> tuple[TerminalCertificate, int]:
        inner, after = read_tlv(data, 0, b"\x7f\x21")
        code, at = read_tlv(inner, 0, b"\x5f\x20")
        key_block, at = read_tlv(inner, at, b"\x7f\x49")
        point, _ = read_tlv(key_block, 0, b"\x86")
        signature, at = read_tlv(inner, at, b"\x5f\x37")
        if at != len(inner):
            raise TerminalAuthError("trailing bytes in the terminal certificate")
        if len(code) != 10 or not code.isdigit():
            raise TerminalAuthError("the 医療機関コード is not 10 digits")
        return cls(code.decode("ascii"), point, signature), after

    def public_key(self) -> ec.EllipticCurvePublicKey:
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.public_point)
        except ValueError:
            raise TerminalAuthError("the terminal public key is not a P-256 point") from None

    def verify(self, ca_key: ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
        """The terminal's key, if the facility CA signed this certificate."""
        try:
            ca_key.verify(self.signature, self.body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise TerminalAuthError("the terminal certificate is not signed by the CA") from None
        return self.public_key()


def issue_terminal_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    terminal_key: ec.EllipticCurvePublicKey,
    institution_code: str,
) -> TerminalCertificate:
    point = terminal_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    unsigned = TerminalCertificate(institution_code, point, b"")
    return TerminalCertificate(
        institution_code, point, ca_key.sign(unsigned.body, ec.ECDSA(hashes.SHA256()))
    )


def authentication_data(
    certificate: TerminalCertificate, terminal_key: ec.EllipticCurvePrivateKey, challenge: bytes
) -> bytes:
    signature = terminal_key.sign(challenge + CARD_FACE_AID, ec.ECDSA(hashes.SHA256()))
    return certificate.encode() + _tlv(b"\x9e", signature)


def check_authentication(
    data: bytes, challenge: bytes, ca_key: ec.EllipticCurvePublicKey
) -> TerminalCertificate:
    """What the card does with EXTERNAL AUTHENTICATE's data (raises TerminalAuthError)."""
    certificate, at = TerminalCertificate.parse(data)
    terminal_key = certificate.verify(ca_key)
    signature, end = read_tlv(data, at, b"\x9e")
    if end != len(data):
        raise TerminalAuthError("trailing bytes after the signature")
    try:
        terminal_key.verify(signature, challenge + CARD_FACE_AID, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TerminalAuthError("the challenge signature does not verify") from None
    return certificate


def face_object(template: list[float]) -> bytes:
    """The DF27 object: 16-bit samples of a unit-length template."""
    samples = b"".join(
        round((max(-1.0, min(1.0, v)) + 1.0) * 32767.5).to_bytes(2, "big") for v in template
    )
    return FACE_TAG + b"\x82" + len(samples).to_bytes(2, "big") + samples


def parse_face_object(data: bytes) -> list[float]:
    if not data.startswith(FACE_TAG + b"\x82") or len(data) < 5:
        raise MalformedCardData("the face object does not start with tag DF27")
    length = int.from_bytes(data[3:5], "big")
    samples = data[5 : 5 + length]
    if len(samples) != length or length % 2 or length == 0:
        raise MalformedCardData("the face object is truncated")
    return [int.from_bytes(samples[i : i + 2], "big") / 32767.5 - 1.0 for i in range(0, length, 2)]
