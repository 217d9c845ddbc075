"""Profiles, the test CA, the synthetic 個人番号, and the ``vcard new``/``show`` commands."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from reader.virtual.cli import main as vcard
from reader.virtual.keys import (
    MockJpkiCa,
    card_expiry,
    collation_number_b,
    era_yymmdd,
    fifth_birthday_after,
    my_number_check_digit,
    synthetic_my_number,
)
from reader.virtual.profile import (
    CardAtr,
    CardProfile,
    ProfileError,
    Variant,
    load_profile,
    save_profile,
)


def test_my_number_check_digit() -> None:
    assert my_number_check_digit("12345678901") == 8  # 123456789018, the published example
    for _ in range(50):
        n = synthetic_my_number()
        assert len(n) == 12 and my_number_check_digit(n[:11]) == int(n[11])
    with pytest.raises(ValueError):
        my_number_check_digit("123")


@pytest.mark.parametrize(
    ("issued", "birth", "end"),
    [
        (dt.date(2025, 4, 1), dt.date(1980, 6, 15), dt.date(2029, 6, 15)),
        (dt.date(2025, 6, 15), dt.date(1980, 6, 15), dt.date(2030, 6, 15)),  # on the birthday
        (dt.date(2025, 6, 16), dt.date(1980, 6, 15), dt.date(2030, 6, 15)),
        (dt.date(2025, 6, 14), dt.date(1980, 6, 15), dt.date(2029, 6, 15)),
        (dt.date(2025, 3, 1), dt.date(2000, 2, 29), dt.date(2030, 2, 28)),
        (dt.date(2024, 2, 28), dt.date(2000, 2, 29), dt.date(2028, 2, 29)),
    ],
)
def test_fifth_birthday_after_issue(issued: dt.date, birth: dt.date, end: dt.date) -> None:
    assert fifth_birthday_after(issued, birth) == end


def test_certificate_is_opaque_and_valid_to_the_fifth_birthday(
    physical_profile: CardProfile, test_ca: MockJpkiCa
) -> None:
    cert = physical_profile.certificate()
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert len(cert.subject) == 1 and len(names) == 1 and len(str(names[0].value)) == 23
    assert physical_profile.my_number.encode() not in cert.public_bytes(Encoding.DER)
    assert cert.not_valid_after_utc.date() == dt.date(2029, 6, 15)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    key = physical_profile.private_key()
    assert key.key_size == 2048 and key.public_key().public_numbers().e == 65537
    ca_key = test_ca.certificate.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    assert cert.signature_hash_algorithm is not None
    ca_key.verify(
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        cert.signature_hash_algorithm,
    )
    assert "TEST ONLY" in test_ca.certificate.subject.rfc4514_string()


def test_seeded_profiles_are_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert vcard(["new", "--out", str(a), "--seed", "5", "--issued", "2025-01-01"]) == 0
    assert vcard(["new", "--out", str(b), "--seed", "5", "--issued", "2025-01-01"]) == 0
    assert a.read_text() == b.read_text()
    pa = load_profile(a)
    assert pa.auth_pin.pin is not None and len(pa.auth_pin.pin) == 4


def test_vcard_new_with_a_given_ca(tmp_path: Path) -> None:
    assert vcard(["new", "--out", str(tmp_path / "1.json"), "--ca-out", str(tmp_path / "ca")]) == 0
    assert (
        vcard(
            [
                "new",
                "--out",
                str(tmp_path / "2.json"),
                "--pin",
                "0007",
                "--variant",
                "android",
                "--ca-cert",
                str(tmp_path / "ca" / "cert.pem"),
                "--ca-key",
                str(tmp_path / "ca" / "key.pem"),
            ]
        )
        == 0
    )
    one, two = load_profile(tmp_path / "1.json"), load_profile(tmp_path / "2.json")
    assert one.ca_certificate_pem == two.ca_certificate_pem
    assert two.variant is Variant.ANDROID and two.token_label == "JPKIAPGPSETOKEN"
    assert two.auth_pin.pin == "0007"
    issuer = x509.load_pem_x509_certificate((tmp_path / "ca" / "cert.pem").read_bytes())
    assert two.certificate().issuer == issuer.subject
    assert (tmp_path / "ca" / "key.pem").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pin", "12345"], "exactly 4 digits"),
        (["--pin", "abcd"], "exactly 4 digits"),
        (["--birth-date", "1980-13-01"], "not a date"),
        (["--tries-left", "7"], "invalid choice"),
        (["--variant", "tablet"], "invalid choice"),
        (["--ca-cert", "x.pem"], "--ca-cert and --ca-key go together"),
        (["--variant", "face-only", "--pin", "1234"], "has no PIN on the reader"),
    ],
)
def test_vcard_new_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "c.json"
    try:
        code = vcard(["new", "--out", str(out), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_vcard_new_does_not_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.json"
    out.write_text("precious")
    assert vcard(["new", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_text() == "precious"


def test_vcard_show_hides_the_pin(
    physical_profile: CardProfile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.json"
    physical_profile.auth_pin.tries_left = 0
    save_profile(physical_profile, path)
    assert vcard(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "BLOCKED" in out and "physical" in out
    assert physical_profile.auth_pin.pin is not None
    assert physical_profile.auth_pin.pin not in out


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: "{not json", r"not valid JSON \(line 1"),
        (lambda d: json.dumps({**d, "variant": "tablet"}), "variant"),
        (lambda d: json.dumps({**d, "my_number": "123456789012"}), "check digit"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "key_pem"}), "key_pem"),
        (lambda d: json.dumps({**d, "format": "other/9"}), "unknown profile format"),
        (
            lambda d: json.dumps({**d, "auth_pin": {**d["auth_pin"], "pin": "12"}}),
            "auth_pin.pin",
        ),
        (lambda d: json.dumps({**d, "certificate_pem": "garbage"}), "does not parse"),
    ],
)
def test_invalid_profiles_say_what_is_wrong(
    physical_profile: CardProfile,
    tmp_path: Path,
    mutate: Callable[[dict[str, object]], str],
    message: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(mutate(json.loads(physical_profile.model_dump_json())))
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_profile_with_a_foreign_key_is_refused(
    make_profile: Callable[..., CardProfile], tmp_path: Path
) -> None:
    a, b = make_profile(seed=100), make_profile(Variant.ANDROID, seed=101)
    a.key_pem = b.key_pem
    save_profile(a, tmp_path / "x.json")
    with pytest.raises(ProfileError, match="does not belong"):
        load_profile(tmp_path / "x.json")


def test_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "nope.json")


def test_signing_uses_the_profile_key(physical_profile: CardProfile) -> None:
    key = physical_profile.private_key()
    sig = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    pub = physical_profile.certificate().public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    pub.verify(sig, b"m", padding.PKCS1v15(), hashes.SHA256())


def test_a_profile_saved_before_issue_20_still_loads(
    physical_profile: CardProfile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Profiles written before issue 20 have no "atr" and no signing CA: they load, as the
    usual contactless card without EF 0002 (6A82, as before)."""
    raw = json.loads(physical_profile.model_dump_json())
    for added in ("atr", "sign_ca_certificate_pem", "surface_keys", "security_code"):
        del raw[added]
    del raw["card_expires"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw))
    old = load_profile(path)
    assert old.atr is CardAtr.CONTACTLESS and old.sign_ca_certificate() is None
    assert old.surface_keys.text_pin.tries_left == 3
    assert old.surface_keys.face_collation_b.tries_left == 10
    b = old.collation_number_b()  # derived: the card expiry from the certificate's issue
    assert b[:10] == "5506152034" and b == old.collation_number_b()
    assert vcard(["show", str(path)]) == 0
    assert "signing CA:     none (EF 0002 answers 6A82)" in capsys.readouterr().out


@pytest.mark.parametrize("atr", list(CardAtr))
def test_vcard_new_chooses_the_atr_and_show_says_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], atr: CardAtr
) -> None:
    out = tmp_path / "c.json"
    assert vcard(["new", "--out", str(out), "--seed", "7", "--atr", atr.value]) == 0
    assert load_profile(out).atr is atr
    capsys.readouterr()
    assert vcard(["show", str(out)]) == 0
    assert f"ATR:            {atr.atr.hex(' ').upper()} ({atr.value}" in capsys.readouterr().out


def test_vcard_new_refuses_an_unknown_atr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        vcard(["new", "--out", str(tmp_path / "c.json"), "--atr", "felica"])
    assert info.value.code == 2
    assert "invalid choice: 'felica'" in capsys.readouterr().err


def test_collation_number_b_as_soltia48s_card() -> None:
    """soltia48/myna-card src/data.rs: born 1980-02-17 (昭和55), card expiring in 2035,
    security code 2285 → 55021720352285 (confirmed on a card there)."""
    assert collation_number_b(dt.date(1980, 2, 17), dt.date(2035, 2, 17), "2285") == (
        "55021720352285"
    )
    assert era_yymmdd(dt.date(2019, 5, 1)) == "010501"  # 令和元年
    assert era_yymmdd(dt.date(2019, 4, 30)) == "310430"  # 平成31年
    assert era_yymmdd(dt.date(1989, 1, 7)) == "640107"  # 昭和64年
    with pytest.raises(ValueError, match="4 digits"):
        collation_number_b(dt.date(1980, 2, 17), dt.date(2035, 2, 17), "228")


@pytest.mark.parametrize(
    ("issued", "birth", "expires"),
    [
        (dt.date(2025, 4, 1), dt.date(1980, 6, 15), dt.date(2034, 6, 15)),  # adult: 10th
        (dt.date(2025, 4, 1), dt.date(2007, 4, 1), dt.date(2035, 4, 1)),  # 18 that day
        (dt.date(2025, 3, 31), dt.date(2007, 4, 1), dt.date(2029, 4, 1)),  # 17: the 5th
        (dt.date(2025, 4, 1), dt.date(2021, 12, 7), dt.date(2029, 12, 7)),
    ],
)
def test_card_expiry_is_the_10th_birthday_or_the_5th_below_18(
    issued: dt.date, birth: dt.date, expires: dt.date
) -> None:
    assert card_expiry(issued, birth) == expires
