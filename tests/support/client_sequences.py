"""What public card clients send to a My Number card, APDU by APDU, and what a real card
answers — our own test data, written from reading their public code (none of it is
vendored, built or run here):

- jpki/myna (Rust, the ``myna`` command): ``src/cli.rs`` (``run_pin_status``,
  ``run_jpki_cert``), ``src/reader.rs`` (``select_df``, ``select_ef``, ``read_pin``,
  ``read_binary``, ``read_binary_all``), ``src/jpki.rs`` (``jpki_ap``, ``cert_read``),
  ``src/text.rs`` (``text_ap``), ``src/visual.rs`` (``visual_ap``);
- meowkawaiijp/pyjpki: ``pyjpki/card.py`` (``CardManager.verify_pin``, ``sign_data``,
  ``read_certificate``), ``pyjpki/constants.py``.

The answers of a real card with full counters: 券面事項入力補助用暗証番号 3, 照合番号A and B
10 each, 利用者証明用 PIN 3, 署名用パスワード 5 (sources in reader/virtual/profile.py
``SurfaceKeys`` and card.md §2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from reader.aids import CARD_FACE_AID, JPKI_AID, TEXT_AID

Transmit = Callable[[bytes], bytes]
"""One command APDU in, the response APDU (data and SW) out."""

SELECT_TEXT_AP = "00A4040C0A" + TEXT_AID.hex().upper()
SELECT_CARD_FACE_AP = "00A4040C0A" + CARD_FACE_AID.hex().upper()
SELECT_JPKI_AP = "00A4040C0A" + JPKI_AID.hex().upper()


def select_ef(fid: int) -> str:
    return f"00A4020C02{fid:04X}"


MYNA_PIN_STATUS: list[tuple[str, int]] = [
    # text_ap(): SELECT by AID (P2 0C); then select_ef + read_pin (an empty VERIFY, case 1)
    (SELECT_TEXT_AP, 0x9000),
    (select_ef(0x0011), 0x9000),
    ("00200080", 0x63C3),  # 券面入力補助AP 暗証番号: 3
    (select_ef(0x0014), 0x9000),
    ("00200080", 0x63CA),  # 暗証番号A (照合番号A): 10
    (select_ef(0x0015), 0x9000),
    ("00200080", 0x63CA),  # 暗証番号B (照合番号B): 10
    # visual_ap()
    (SELECT_CARD_FACE_AP, 0x9000),
    (select_ef(0x0013), 0x9000),
    ("00200080", 0x63CA),  # 券面確認AP 暗証番号A: 10
    (select_ef(0x0012), 0x9000),
    ("00200080", 0x63CA),  # 券面確認AP 暗証番号B: 10
    # jpki_ap(): SELECT, the token EF and read_binary(0, 0x20) (one READ BINARY, Le 20)
    (SELECT_JPKI_AP, 0x9000),
    (select_ef(0x0006), 0x9000),
    ("00B0000020", 0x9000),
    (select_ef(0x0018), 0x9000),
    ("00200080", 0x63C3),  # JPKIユーザー認証用 暗証番号: 3
    (select_ef(0x001B), 0x9000),
    ("00200080", 0x63C5),  # JPKIデジタル署名用 パスワード: 5
]
"""``myna pin status``: every command, and the SW a real card with full counters answers."""

MYNA_PIN_STATUS_TOUCHES = [
    ("券面事項入力補助AP", f"SELECT by AID {TEXT_AID.hex().upper()}"),
    *[
        ("券面事項入力補助AP", f"{what} EF {ef}")
        for ef in ("0011", "0014", "0015")
        for what in ("SELECT", "VERIFY")
    ],
    *[
        ("券面事項確認AP", f"{what} EF {ef}")
        for ef in ("0013", "0012")
        for what in ("SELECT", "VERIFY")
    ],
]
"""What the honeypot records of ``myna pin status`` (besides each command inside the text
AP): it reads only counters, but of keys our terminal never touches."""


MYNA_CERT_EF = {"auth": 0x000A, "authca": 0x000B, "signca": 0x0002}
"""``myna jpki cert --type auth|auth_ca|sign_ca`` (``CertType`` in src/jpki.rs; the issue
calls them auth / authca / signca): the EF ``cert_read`` selects."""


def run(transmit: Transmit, command: str) -> tuple[bytes, int]:
    out = transmit(bytes.fromhex(command))
    return out[:-2], int.from_bytes(out[-2:], "big")


def myna_read_binary_all(transmit: Transmit) -> tuple[bytes, list[tuple[str, int]]]:
    """``read_binary_all`` of the current EF: 7 bytes, the BER header's length, then the
    rest from offset 7 — each READ BINARY asks for the remainder, Le 00 (256) while more
    than 255 bytes remain, and the loop stops on an empty answer."""
    sent: list[tuple[str, int]] = []

    def read_binary(pos: int, size: int) -> bytes:
        result = b""
        end = pos + size
        while pos < end:
            remaining = end - pos
            le = 0 if remaining > 0xFF else remaining
            command = f"00B0{pos >> 8:02X}{pos & 0xFF:02X}{le:02X}"
            data, sw = run(transmit, command)
            sent.append((command, sw))
            if sw != 0x9000 or not data:
                break
            result += data
            pos += len(data)
        return result

    head = read_binary(0, 7)
    if len(head) < 4 or head[0] != 0x30 or head[1] != 0x82:
        return head, sent
    total = 4 + int.from_bytes(head[2:4], "big")  # a certificate: 30 82 LL LL
    return head + read_binary(7, total - 7), sent


def myna_jpki_cert(transmit: Transmit, which: str) -> tuple[bytes, list[tuple[str, int]]]:
    """``myna jpki cert`` for a physical card: ``jpki_ap()`` (SELECT, token), then
    ``cert_read`` (SELECT EF, ``read_binary_all``). No VERIFY for these three."""
    sent: list[tuple[str, int]] = []
    for command in (
        SELECT_JPKI_AP,
        select_ef(0x0006),
        "00B0000020",
        select_ef(MYNA_CERT_EF[which]),
    ):
        sent.append((command, run(transmit, command)[1]))
    der, reads = myna_read_binary_all(transmit)
    return der, sent + reads


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
"""What pyjpki's pyasn1 encoding of DigestInfo(SHA-256, NULL parameters) gives."""


def pyjpki_sign_data(pin: str, message: bytes) -> list[str]:
    """``CardManager.sign_data(message, sign_type="auth", pin=pin)``: ``verify_pin`` (SELECT
    the JPKI AP, SELECT EF 0018, VERIFY), then SELECT the JPKI AP *again*, SELECT EF 0017
    and COMPUTE DIGITAL SIGNATURE (CLA 80, P2 80, Le 00)."""
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    return [
        SELECT_JPKI_AP,
        select_ef(0x0018),
        f"00200080{len(pin):02X}" + pin.encode().hex().upper(),
        SELECT_JPKI_AP,
        select_ef(0x0017),
        f"802A0080{len(digest_info):02X}" + digest_info.hex().upper() + "00",
    ]


PYJPKI_SIGN_DATA_ANSWERS = [0x9000, 0x9000, 0x9000, 0x9000, 0x9000, 0x6982]
"""The second SELECT of the JPKI AP ends the verified state (reader/virtual/card.py
``VirtualCard._select``: OpenSC ≥ 0.24 logs out that way), so the signature is refused."""
