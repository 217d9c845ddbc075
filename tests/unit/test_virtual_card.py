"""The virtual card behaves as card.md says the real card does."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.aids import CARD_FACE_AID, JPKI_AID, TEXT_AID
from reader.apdu import CommandApdu
from reader.jpki import SHA256_DIGEST_INFO_PREFIX
from reader.virtual.card import ATR, Honeypot, VirtualCard
from reader.virtual.profile import CardAtr, CardProfile, Variant, load_profile, save_profile
from tests.support.stack import TEST_PIN


def tx(card: VirtualCard, hex_or_apdu: str | CommandApdu) -> tuple[bytes, int]:
    raw = (
        bytes.fromhex(hex_or_apdu.replace(" ", ""))
        if isinstance(hex_or_apdu, str)
        else hex_or_apdu.to_bytes()
    )
    out = card.process(raw)
    return out[:-2], int.from_bytes(out[-2:], "big")


SELECT_JPKI = "00A4040C0A" + JPKI_AID.hex()
EMPTY_VERIFY = "00200098"


def verify(pin: str) -> str:
    return "0020009804" + pin.encode().hex()


def sign(data: bytes) -> CommandApdu:
    return CommandApdu(0x80, 0x2A, 0x00, 0x97, data, le=256)


@pytest.mark.parametrize(
    ("atr", "expected"),
    [
        (None, "3B888001000041E0B381A1003B"),  # the default: through a contactless reader
        (CardAtr.CONTACTLESS, "3B888001000041E0B381A1003B"),
        (CardAtr.CONTACT, "3BC5FF8131FB458073C6010000"),
        (CardAtr.JUKI, "3BE000FF8131FE4514"),  # the old 住基カード's, for old-card tests
    ],
)
def test_atr_is_a_my_number_cards_unless_chosen(
    physical_profile: CardProfile, atr: CardAtr | None, expected: str
) -> None:
    if atr is not None:
        physical_profile.atr = atr
    assert VirtualCard(physical_profile).atr.hex().upper() == expected
    assert ATR.hex().upper() == "3B888001000041E0B381A1003B"


def test_unknown_aid_and_instruction(card: VirtualCard) -> None:
    assert tx(card, "00A4040C05A000000003")[1] == 0x6A82
    assert tx(card, "00CA000000")[1] == 0x6D00
    assert tx(card, "0CA4040C0A" + JPKI_AID.hex())[1] == 0x6E00


def test_empty_verify_always_answers_63cx(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C3
    assert tx(card, verify(TEST_PIN))[1] == 0x9000
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C3  # also when verified: never 9000


def test_wrong_pins_count_down_then_block(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    assert tx(card, verify("0000"))[1] == 0x63C2
    assert tx(card, verify("0000"))[1] == 0x63C1
    assert tx(card, verify("0000"))[1] == 0x63C0  # the attempt that exhausts the counter
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C0  # empty VERIFY when blocked
    assert tx(card, verify(TEST_PIN))[1] == 0x6984  # even the right PIN
    assert tx(card, verify("0000"))[1] == 0x6984


def test_success_resets_the_counter(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    tx(card, verify("0000"))
    tx(card, verify("0000"))
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C1
    assert tx(card, verify(TEST_PIN))[1] == 0x9000
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C3


def test_wrong_length_pin_is_not_counted(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    assert tx(card, "002000980312 3456".replace(" ", ""))[1] == 0x6700
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C3


def test_sign_needs_the_verified_pin(card: VirtualCard) -> None:
    di = SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(b"challenge").digest()
    tx(card, SELECT_JPKI)
    assert tx(card, sign(di))[1] == 0x6982
    tx(card, verify(TEST_PIN))
    sig, sw = tx(card, sign(di))
    assert sw == 0x9000 and len(sig) == 256
    cert = card.profile.certificate()
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(sig, b"challenge", padding.PKCS1v15(), hashes.SHA256())


def test_openssl_signs_known_digests_exactly_as_the_raw_path(card: VirtualCard) -> None:
    """Issue 13: a DigestInfo OpenSSL knows is signed by OpenSSL — the very signature the
    card's own CRT arithmetic gives; anything else (MD5, bare data) takes the raw path."""
    from reader.virtual.card import _raw_sign

    tx(card, SELECT_JPKI)
    tx(card, verify(TEST_PIN))
    key = card._key
    for name in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        digest = hashlib.new(name, b"challenge").digest()
        algorithm = getattr(hashes, name.upper())()
        info = _digest_info(algorithm, digest)
        signature, sw = tx(card, sign(info))
        assert sw == 0x9000 and signature == _raw_sign(key, info, 256), name
        key.public_key().verify(signature, b"challenge", padding.PKCS1v15(), algorithm)
    md5 = bytes.fromhex("3020300c06082a864886f70d020505000410") + hashlib.md5(b"x").digest()  # noqa: S324
    for data in (md5, b"not a digest info", SHA256_DIGEST_INFO_PREFIX + bytes(31)):
        signature, sw = tx(card, sign(data))
        assert sw == 0x9000 and signature == _raw_sign(key, data, 256)
        numbers = key.public_key().public_numbers()
        padded = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
        assert padded.endswith(b"\x00" + data) and padded.startswith(b"\x00\x01\xff")


def _digest_info(algorithm: hashes.HashAlgorithm, digest: bytes) -> bytes:
    from reader.virtual.card import _DIGEST_INFOS

    (prefix,) = [p for p, a in _DIGEST_INFOS.items() if a.name == algorithm.name]
    return prefix + digest


def test_sign_after_selecting_the_key_ef(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    tx(card, "00A4020C020018")
    assert tx(card, "00200080 04".replace(" ", "") + TEST_PIN.encode().hex())[1] == 0x9000
    tx(card, "00A4020C020017")
    di = SHA256_DIGEST_INFO_PREFIX + bytes(32)
    assert tx(card, CommandApdu(0x80, 0x2A, 0x00, 0x80, di, le=256))[1] == 0x9000


def test_verified_state_is_cleared_by_reset_power_and_reselect(card: VirtualCard) -> None:
    di = SHA256_DIGEST_INFO_PREFIX + bytes(32)
    for clear in (card.reset, card.power_off, lambda: tx(card, SELECT_JPKI)):
        card.power_on()
        tx(card, SELECT_JPKI)
        tx(card, verify(TEST_PIN))
        assert tx(card, sign(di))[1] == 0x9000
        clear()
        card.power_on()
        tx(card, SELECT_JPKI)
        assert tx(card, sign(di))[1] == 0x6982


def test_certificate_file_has_ff_filler_and_reads_past_the_end(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    head, sw = tx(card, "00B08A0004")  # by short file id, no SELECT
    assert sw == 0x9000 and head[:2] == b"\x30\x82"
    total = int.from_bytes(head[2:4], "big") + 4
    data, sw = tx(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536))  # extended Le
    assert sw == 0x9000 and len(data) == 2048
    assert data[total:] == b"\xff" * (2048 - total)
    x509.load_der_x509_certificate(data[:total])
    # a read that runs past the end returns what is left, with 9000
    tail, sw = tx(card, CommandApdu(0x00, 0xB0, 0x07, 0xF0, le=256))
    assert sw == 0x9000 and len(tail) == 16
    # a read that starts past the end: 6B00
    assert tx(card, CommandApdu(0x00, 0xB0, 0x08, 0x00, le=1))[1] == 0x6B00


def test_read_without_current_ef_and_unreadable_files(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    assert tx(card, "00B0000004")[1] == 0x6986
    tx(card, "00A4020C020017")
    assert tx(card, "00B0000004")[1] == 0x6982  # the private key is not readable
    assert tx(card, "00A4020C020001")[1] == 0x6A82  # no signing certificate


def test_token_label(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    label, sw = tx(card, "00B0860020")
    assert sw == 0x9000 and label.rstrip(b" ") == b"JPKIAPICCTOKEN2"


def test_ef_001b_exists_with_five_tries(card: VirtualCard) -> None:
    tx(card, SELECT_JPKI)
    assert tx(card, "0020009B")[1] == 0x63C5
    tx(card, "00A4020C02001B")
    assert tx(card, "00200080")[1] == 0x63C5


def test_select_by_aid_prefix_reaches_the_first_match(card: VirtualCard) -> None:
    assert tx(card, "00A4040C03D392F0")[1] == 0x9000
    assert card.current_app is not None and card.current_app.aid == JPKI_AID


def test_extended_apdus_refused_when_the_profile_says_so(
    make_profile: Callable[..., CardProfile],
) -> None:
    card = VirtualCard(make_profile(extended_length=False))
    tx(card, SELECT_JPKI)
    assert tx(card, "00B00000000100")[1] == 0x6700
    tx(card, "00A4020C02000A")
    assert tx(card, "00B0000010")[1] == 0x9000


def test_android_certificate_needs_the_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = VirtualCard(make_profile(Variant.ANDROID))
    tx(card, SELECT_JPKI)
    assert tx(card, "00B0860020")[0].rstrip(b" ") == b"JPKIAPGPSETOKEN"
    assert tx(card, "00B08A0004")[1] == 0x6982
    tx(card, verify(TEST_PIN))
    assert tx(card, "00B08A0004")[1] == 0x9000


def test_face_only_card_has_no_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = VirtualCard(make_profile(Variant.FACE_ONLY))
    tx(card, SELECT_JPKI)
    assert tx(card, EMPTY_VERIFY)[1] == 0x6A88
    assert tx(card, "00B08A0004")[1] == 0x9000  # the certificate is there for the face path
    assert tx(card, sign(SHA256_DIGEST_INFO_PREFIX + bytes(32)))[1] == 0x6982


def test_iphone_signs_without_reader_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = VirtualCard(make_profile(Variant.IPHONE))
    tx(card, SELECT_JPKI)
    assert tx(card, "00B0860020")[0].rstrip(b" ") == b"JPKIAPIOSTOKEN"
    assert tx(card, sign(SHA256_DIGEST_INFO_PREFIX + bytes(32)))[1] == 0x9000


def test_pin_counter_persists_atomically(physical_profile: CardProfile, tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    save_profile(physical_profile, path)
    card = VirtualCard(load_profile(path), path=path)
    tx(card, SELECT_JPKI)
    for _ in range(3):
        tx(card, verify("9999"))
    assert load_profile(path).auth_pin.tries_left == 0
    reborn = VirtualCard(load_profile(path), path=path)  # a restart: still blocked
    tx(reborn, SELECT_JPKI)
    assert tx(reborn, EMPTY_VERIFY)[1] == 0x63C0
    assert tx(reborn, verify(TEST_PIN))[1] == 0x6984
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]  # no temp files left


def test_failed_persist_answers_6f00(physical_profile: CardProfile, tmp_path: Path) -> None:
    card = VirtualCard(physical_profile, path=tmp_path / "missing-dir" / "card.json")
    tx(card, SELECT_JPKI)
    assert tx(card, verify("9999"))[1] == 0x6F00
    assert card.last_error is not None


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_process_is_total(card: VirtualCard, raw: bytes) -> None:
    out = card.process(raw)
    assert len(out) >= 2
    assert card.last_error is None


def test_any_digest_info_is_signed_as_the_card_does(card: VirtualCard) -> None:
    """The card signs whatever DigestInfo it gets: the raw RSA of the PKCS#1 type-1
    padded input (SHA-256, SHA-1, anything that fits)."""
    public = card.profile.certificate().public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    n, e = public.public_numbers().n, public.public_numbers().e
    sha1_info = bytes.fromhex("3021300906052B0E03021A05000414") + bytes(20)  # any SHA-1
    for info in (SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(b"x").digest(), sha1_info, b"\x01"):
        tx(card, SELECT_JPKI)
        tx(card, verify(TEST_PIN))
        signature, sw = tx(card, sign(info))
        assert sw == 0x9000
        recovered = pow(int.from_bytes(signature, "big"), e, n).to_bytes(256, "big")
        assert recovered == b"\x00\x01" + b"\xff" * (256 - 3 - len(info)) + b"\x00" + info


def test_get_challenge_answers_in_every_application_as_the_real_card(card: VirtualCard) -> None:
    """soltia48/myna-card src/card.rs (measured): 1 to 256 random bytes, P1-P2 00 00, at the
    MF level and inside an application; the extended form 6985."""
    for before in ("", SELECT_JPKI, "00A4040C0A" + CARD_FACE_AID.hex()):
        if before:
            assert tx(card, before)[1] == 0x9000
        for le, n in (("01", 1), ("08", 8), ("10", 16), ("00", 256)):
            first, sw = tx(card, "00840000" + le)
            again, _ = tx(card, "00840000" + le)
            assert sw == 0x9000 and len(first) == len(again) == n
            assert n < 8 or first != again
    assert tx(card, "0084000000 0010".replace(" ", ""))[1] == 0x6985  # extended Le
    assert tx(card, "0084010008")[1] == 0x6A86
    assert tx(card, "00840000")[1] == 0x6700  # no Le


def test_signing_ca_certificate_is_readable_by_anyone(
    card: VirtualCard, make_profile: Callable[..., CardProfile]
) -> None:
    """JPKI AP EF 0002 (署名用CA証明書) is free on a real card (jpki/myna `cert signca`,
    OpenSC certificate 04): no VERIFY before, 9000, a CA certificate with FF filler."""
    tx(card, SELECT_JPKI)
    assert tx(card, "00A4020C020002")[1] == 0x9000
    head, sw = tx(card, "00B0000004")
    assert sw == 0x9000 and head[:2] == b"\x30\x82"
    total = int.from_bytes(head[2:4], "big") + 4
    data, sw = tx(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536))
    assert sw == 0x9000 and data[total:] == b"\xff" * (len(data) - total)
    sign_ca = x509.load_der_x509_certificate(data[:total])
    assert sign_ca.subject == sign_ca.issuer  # self-signed, a CA of its own
    assert "Digital Signature CA" in sign_ca.subject.rfc4514_string()
    constraints = sign_ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert sign_ca != card.profile.ca_certificate()
    # every card of one CA carries the same signing CA
    other = make_profile(Variant.ANDROID, seed=101)
    assert other.sign_ca_certificate() == sign_ca
    assert tx(card, "00A4020C020001")[1] == 0x6A82  # the signing certificate: out of scope


def test_face_only_card_has_no_signing_ca_certificate(
    make_profile: Callable[..., CardProfile],
) -> None:
    card = VirtualCard(make_profile(Variant.FACE_ONLY))
    tx(card, SELECT_JPKI)
    assert tx(card, "00A4020C020002")[1] == 0x6A82


# --- the text AP's and card-face AP's keys (behind the honeypot) ---------------------------

SELECT_TEXT = "00A4040C0A" + TEXT_AID.hex()
SELECT_FACE = "00A4040C0A" + CARD_FACE_AID.hex()


def surface_card(profile: CardProfile, path: Path | None = None) -> VirtualCard:
    """A card whose honeypot is poked on purpose: these objects are what it guards."""
    return VirtualCard(profile, path=path, honeypot=Honeypot(deliberate=True))


def empty_verify(card: VirtualCard, select: str, ef: int) -> int:
    tx(card, select)
    assert tx(card, f"00A4020C02{ef:04X}")[1] == 0x9000
    return tx(card, "00200080")[1]


def verify_current(card: VirtualCard, value: str) -> int:
    data = value.encode()
    return tx(card, f"00200080{len(data):02X}" + data.hex())[1]


def test_each_surface_key_has_its_own_counter_and_the_text_pin_three_tries(
    physical_profile: CardProfile,
) -> None:
    """Issue 20: one counter of 10 was shared by text-AP EF 0011 and both 照合番号A."""
    card = surface_card(physical_profile)
    assert empty_verify(card, SELECT_TEXT, 0x0011) == 0x63C3
    assert [verify_current(card, "0000") for _ in range(4)] == [0x63C2, 0x63C1, 0x63C0, 0x6984]
    assert verify_current(card, TEST_PIN) == 0x6984  # blocked: even the right PIN
    assert tx(card, "00200080")[1] == 0x63C0
    for select, ef in ((SELECT_TEXT, 0x14), (SELECT_TEXT, 0x15), (SELECT_FACE, 0x13)):
        assert empty_verify(card, select, ef) == 0x63CA
    assert empty_verify(card, SELECT_FACE, 0x12) == 0x63CA
    assert verify_current(card, "00000000000000") == 0x63C9
    assert empty_verify(card, SELECT_TEXT, 0x15) == 0x63CA  # the text AP's B: untouched
    assert empty_verify(card, SELECT_FACE, 0x12) == 0x63C9
    tx(card, SELECT_JPKI)
    assert tx(card, EMPTY_VERIFY)[1] == 0x63C3  # the JPKI PIN: its own
    assert physical_profile.surface_keys.text_pin.tries_left == 0
    assert physical_profile.surface_keys.face_collation_b.tries_left == 9


def test_collation_number_b_opens_the_basic_info_and_the_card_face_not_the_number(
    physical_profile: CardProfile,
) -> None:
    """照合番号B (text AP EF 0015, card-face AP EF 0012; answered 6A82 before issue 20):
    14 digits, birth date in the Japanese era year + expiry year + security code."""
    card = surface_card(physical_profile)
    b = physical_profile.collation_number_b()
    assert len(b) == 14 and b.startswith("550615")  # 1980-06-15 is 昭和55
    assert b[6:10] == "2034"  # issued 2025-04-01 to an adult: 10th birthday after, 2034-06-15
    assert b[10:] == physical_profile.security_code
    assert empty_verify(card, SELECT_TEXT, 0x15) == 0x63CA
    assert verify_current(card, b[:13]) == 0x6700  # wrong length: not counted
    assert verify_current(card, b) == 0x9000
    assert tx(card, "00A4020C020002")[1] == 0x9000
    assert tx(card, "00B0000010")[1] == 0x9000  # 基本4情報: opened
    tx(card, "00A4020C020001")
    assert tx(card, "00B0000010")[1] == 0x6982  # the 個人番号: not by B
    assert empty_verify(card, SELECT_FACE, 0x12) == 0x63CA
    assert verify_current(card, b) == 0x9000
    tx(card, "00A4020C020002")
    assert tx(card, "00B0000010")[1] == 0x9000  # the card face
    tx(card, "00A4020C020005")
    assert tx(card, "00B0000010")[1] == 0x6982  # the number image: only 照合番号A
    tx(card, SELECT_FACE)  # selecting the AP again closes it
    tx(card, "00A4020C020002")
    assert tx(card, "00B0000010")[1] == 0x6982


def test_text_pin_is_the_auth_pin_and_opens_the_text_ap(physical_profile: CardProfile) -> None:
    card = surface_card(physical_profile)
    empty_verify(card, SELECT_TEXT, 0x0011)
    assert verify_current(card, "9999") == 0x63C2
    assert verify_current(card, TEST_PIN) == 0x9000
    assert tx(card, "00200080")[1] == 0x63C3  # reset by the right PIN
    for ef in ("0001", "0002", "0003"):
        tx(card, "00A4020C02" + ef)
        assert tx(card, "00B0000001")[1] == 0x9000
    assert {a.operation for a in card.honeypot.accesses} >= {
        "SELECT EF 0011",
        "VERIFY EF 0011",
        "READ BINARY EF 0001",
    }


def test_a_card_without_a_pin_has_no_text_pin(make_profile: Callable[..., CardProfile]) -> None:
    card = surface_card(make_profile(Variant.FACE_ONLY))
    assert empty_verify(card, SELECT_TEXT, 0x0011) == 0x6A88


def test_text_ap_ef_0012_is_a_blocked_key(physical_profile: CardProfile) -> None:
    """soltia48/myna-card src/ap/text.rs: blocked on every card examined."""
    card = surface_card(physical_profile)
    assert empty_verify(card, SELECT_TEXT, 0x0012) == 0x63C0
    assert verify_current(card, "1234") == 0x6984


def test_surface_counters_persist_and_every_touch_is_recorded(
    physical_profile: CardProfile, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    save_profile(physical_profile, path)
    card = surface_card(load_profile(path), path)
    empty_verify(card, SELECT_TEXT, 0x0015)
    verify_current(card, "12345678901234")
    assert load_profile(path).surface_keys.text_collation_b.tries_left == 9
    reborn = surface_card(load_profile(path), path)
    assert empty_verify(reborn, SELECT_TEXT, 0x0015) == 0x63C9
    operations = [a.operation for a in card.honeypot.accesses]
    assert "SELECT EF 0015" in operations and "VERIFY EF 0015" in operations
    face = surface_card(load_profile(path), path)
    empty_verify(face, SELECT_FACE, 0x0012)
    assert [a.operation for a in face.honeypot.accesses] == ["SELECT EF 0012", "VERIFY EF 0012"]


def test_verified_pin_survives_ef_selects_and_signatures_not_another_application(
    card: VirtualCard,
) -> None:
    """jpki/myna (cms_sign, mpa's sign): VERIFY, select and read a certificate, select the
    key, sign several times — all on one VERIFY. Selecting another application, or the
    JPKI AP again (OpenSC's logout, card-jpki.c since 0.24), clears it; a SELECT that
    fails leaves it."""
    di = SHA256_DIGEST_INFO_PREFIX + bytes(32)
    tx(card, SELECT_JPKI)
    tx(card, "00A4020C020018")
    assert verify_current(card, TEST_PIN) == 0x9000
    tx(card, "00A4020C02000A")
    assert tx(card, "00B0000004")[1] == 0x9000
    tx(card, "00A4020C020017")
    key = CommandApdu(0x80, 0x2A, 0x00, 0x80, di, le=256)
    assert [tx(card, key)[1] for _ in range(3)] == [0x9000] * 3
    assert tx(card, "00A4040C05A000000003")[1] == 0x6A82  # another driver's probe
    assert tx(card, sign(di))[1] == 0x9000
    for elsewhere in (SELECT_FACE, SELECT_JPKI):
        tx(card, SELECT_JPKI)
        tx(card, verify(TEST_PIN))
        tx(card, elsewhere)
        tx(card, SELECT_JPKI)
        assert tx(card, sign(di))[1] == 0x6982
