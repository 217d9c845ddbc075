"""Application identifiers and file identifiers of the My Number card (card.md §1–2)."""

from __future__ import annotations

JPKI_AID = bytes.fromhex("D392F000260100000001")
"""公的個人認証AP: the only application the PIN path uses."""

TEXT_AID = bytes.fromhex("D3921000310001010408")
"""券面事項入力補助AP: holds the 12-digit 個人番号. Never selected."""

CARD_FACE_AID = bytes.fromhex("D3921000310001010402")
"""券面事項確認AP: card-face image (with the face photo) and the number image."""

JUKI_AID = bytes.fromhex("D3921000310001010401")
"""住基AP (AID from one source, uncertain). Never selected."""

COMMON_AID = bytes.fromhex("D3921000310001010100")
"""共通カードAP. Never selected."""

# JPKI AP elementary files
EF_TOKEN_INFO = 0x0006
EF_AUTH_CERT = 0x000A
EF_AUTH_CA_CERT = 0x000B
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_CERT = 0x0001
EF_SIGN_CA_CERT = 0x0002
EF_SIGN_KEY = 0x001A
EF_SIGN_PASSWORD = 0x001B

# text AP elementary files (honeypot only)
EF_TEXT_MY_NUMBER = 0x0001
EF_TEXT_BASIC_INFO = 0x0002
EF_TEXT_NUMBER_HASH = 0x0003
EF_TEXT_PIN = 0x0011
EF_TEXT_BLOCKED_KEY = 0x0012  # a key reference blocked on every card examined (soltia48/myna-card)
EF_TEXT_COLLATION_A = 0x0014
EF_TEXT_COLLATION_B = 0x0015

# card-face AP elementary files
EF_FACE_IMAGE = 0x0002
EF_FACE_NUMBER_IMAGE = 0x0005
EF_FACE_COLLATION_B = 0x0012
EF_FACE_COLLATION_A = 0x0013

APPLICATION_NAMES: dict[bytes, str] = {
    JPKI_AID: "公的個人認証AP (JPKI)",
    TEXT_AID: "券面事項入力補助AP (text AP, holds the 個人番号)",
    CARD_FACE_AID: "券面事項確認AP (card-face AP)",
    JUKI_AID: "住基AP",
    COMMON_AID: "共通カードAP",
}
