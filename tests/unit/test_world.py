"""The seeded world: personas, cards, registry, PKI — consistent with the rules."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mock_oqs import registry
from mock_oqs.cli import main as mock_oqs
from mock_oqs.pki import medical_institution_code
from mock_oqs.rules import (
    InsurerNumber,
    certificate_state,
    copayment_ratio,
    late_elderly_from,
)
from mock_oqs.world import World, born_turning, seed_world
from reader.virtual.profile import load_profile
from tests.support.stack import WORLD_TODAY as TODAY

REQUIRED = {
    "adult-kyokai",
    "family",
    "child-preschool",
    "elderly-70-2wari",
    "elderly-70-active",
    "late-elderly-1wari",
    "late-elderly-2wari",
    "kokuho",
    "limit-u",
    "dialysis",
    "cert-grace",
    "cert-lapsed",
    "revoked",
    "not-registered",
    "new-employee",
    "lost",
    "lost-newer",
    "multiple",
    "pin-blocked",
    "face-only",
    "android",
    "public-expense",
}


def db(world: World) -> sqlite3.Connection:
    return registry.connect(world.registry_path, readonly=True)


def test_every_required_persona_is_there(world: World) -> None:
    ids = {p["id"] for p in world.index["personas"]}
    assert ids >= REQUIRED
    assert world.index["today"] == TODAY.isoformat()


def test_cards_load_and_chain_to_the_jpki_ca(world: World) -> None:
    ca = x509.load_pem_x509_certificate((world.directory / "jpki-ca" / "cert.pem").read_bytes())
    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    for entry in world.index["personas"]:
        profile = load_profile(world.directory / entry["card"])
        cert = profile.certificate()
        assert cert.issuer == ca.subject
        assert cert.signature_hash_algorithm is not None
        ca_key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
        assert profile.auth_pin.pin == entry["pin"]
        assert profile.variant.value == entry["variant"]
        assert profile.holder_birth_date.isoformat() == entry["birth_date"]


def test_special_cards(world: World) -> None:
    blocked = load_profile(world.directory / world.persona("pin-blocked")["card"])
    assert blocked.auth_pin.tries_left == 0
    assert load_profile(world.directory / world.persona("face-only")["card"]).auth_pin.pin is None
    for pid, state in (
        ("cert-grace", "grace"),
        ("cert-lapsed", "lapsed"),
        ("cert-renewal-due", "renewal-due"),
        ("adult-kyokai", "valid"),
    ):
        expiry = load_profile(world.directory / world.persona(pid)["card"]).certificate()
        assert certificate_state(expiry.not_valid_after_utc.date(), TODAY).value == state, pid


def test_certificate_links_and_revocation(world: World) -> None:
    conn = db(world)
    rows = {
        r["persona"]: r
        for r in conn.execute(
            "SELECT p.persona, c.revoked_at, c.serial, c.registered_at FROM persons p "
            "LEFT JOIN certificates c ON c.person_id = p.person_id"
        )
    }
    assert rows["not-registered"]["serial"] is not None  # J-LIS knows the card …
    assert rows["not-registered"]["registered_at"] is None  # … not registered for 保険証
    assert rows["revoked"]["revoked_at"] is not None
    assert rows["adult-kyokai"]["serial"] is not None and rows["adult-kyokai"]["revoked_at"] is None
    cert = load_profile(world.directory / world.persona("adult-kyokai")["card"]).certificate()
    assert rows["adult-kyokai"]["serial"] == format(cert.serial_number, "X")


def test_expected_ratios_follow_the_rules(world: World) -> None:
    conn = db(world)
    for entry in world.index["personas"]:
        expect = entry["expect"]
        if expect["validity"] != "1":
            continue
        q = conn.execute(
            "SELECT ratio_percent, active_income, card_classification FROM qualifications "
            "WHERE person_id = ? AND (disqualification_date IS NULL OR disqualification_date > ?)",
            (entry["person_id"], TODAY.isoformat()),
        ).fetchone()
        if q["card_classification"] == "A1":  # 医療扶助: no share by age, the 医療券's
            assert expect["ratio"] == "000", entry["id"]
            continue
        ratio = copayment_ratio(
            dt.date.fromisoformat(entry["birth_date"]),
            TODAY,
            active_income=bool(q["active_income"]),
            insurer_percent=q["ratio_percent"],
        )
        assert ratio.code == expect["ratio"], entry["id"]


def test_turning_75_reaches_koki_on_the_worlds_day(world: World) -> None:
    """The persona's 75th birthday is the world's day, by the calendar (leap days aside);
    on 29 February of a leap year the birthday falls a day earlier (already 75)."""
    birth = dt.date.fromisoformat(world.persona("turning-75")["birth_date"])
    assert late_elderly_from(birth) == TODAY
    assert world.persona("turning-75")["expect"]["ratio"] == "010"
    assert born_turning(dt.date(2028, 2, 29), 75, 0) == dt.date(1953, 2, 28)
    assert born_turning(dt.date(2026, 12, 7), 75, 3) == dt.date(1951, 12, 10)


def test_registry_is_consistent(world: World) -> None:
    conn = db(world)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for (number,) in conn.execute("SELECT insurer_number FROM insurers"):
        InsurerNumber.parse(number)
    lag = conn.execute(
        "SELECT q.registered_on FROM qualifications q JOIN persons p USING (person_id) "
        "WHERE p.persona = 'new-employee'"
    ).fetchone()
    assert dt.date.fromisoformat(lag[0]) > TODAY
    multiple = conn.execute(
        "SELECT COUNT(*) FROM qualifications q JOIN persons p USING (person_id) "
        "WHERE p.persona = 'multiple' AND q.qualification_date <= ? "
        "AND (q.disqualification_date IS NULL OR q.disqualification_date > ?)",
        (TODAY.isoformat(), TODAY.isoformat()),
    ).fetchone()[0]
    assert multiple == 2
    # nobody stays with another insurer past the 75th birthday: there 後期 starts
    assert past_75(conn) == 0
    note = conn.execute(
        "SELECT public_expense_note FROM persons WHERE persona = 'public-expense'"
    ).fetchone()[0]
    assert "受給者証" in note


def test_no_my_number_in_the_registry_or_index(world: World) -> None:
    raw = world.registry_path.read_bytes() + (world.directory / "world.json").read_bytes()
    for entry in world.index["personas"]:
        number = load_profile(world.directory / entry["card"]).my_number
        assert number.encode() not in raw


def test_facility_pki(world: World) -> None:
    ca = x509.load_pem_x509_certificate((world.facility_ca).read_bytes())
    terminal = x509.load_pem_x509_certificate((world.terminal_cert).read_bytes())
    server = x509.load_pem_x509_certificate((world.directory / "server" / "cert.pem").read_bytes())
    assert medical_institution_code(terminal) == world.index["institution_code"]
    assert medical_institution_code(server) is None
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    for cert in (terminal, server):
        terminal.verify_directly_issued_by(ca)
        cert.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert (world.terminal_key).stat().st_mode & 0o077 == 0


def test_same_seed_same_world(world: World, tmp_path: Path) -> None:
    again = seed_world(tmp_path / "again", seed=11, today=TODAY)
    assert again.index == world.index
    for entry in world.index["personas"]:
        assert (again.directory / entry["card"]).read_text() == (
            world.directory / entry["card"]
        ).read_text()


def test_cli_seed_revoke_and_bad_input(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(world.directory, copy)
    assert mock_oqs(["revoke", "--world", str(copy), "adult-kyokai"]) == 0
    assert "1 certificate(s) revoked" in capsys.readouterr().out
    assert mock_oqs(["revoke", "--world", str(copy), "adult-kyokai"]) == 0
    assert "nothing to revoke" in capsys.readouterr().out
    assert mock_oqs(["revoke", "--world", str(copy), "nobody"]) == 2
    err = capsys.readouterr().err
    assert "no persona 'nobody'" in err and "adult-kyokai" in err
    assert mock_oqs(["revoke", "--world", str(tmp_path / "none"), "x"]) == 2
    assert "not a world" in capsys.readouterr().err
    assert mock_oqs(["unregister", "--world", str(copy), "not-registered"]) == 0
    assert "nothing to undo" in capsys.readouterr().out
    assert mock_oqs(["unregister", "--world", str(copy), "nobody"]) == 2
    assert "no persona 'nobody'" in capsys.readouterr().err
    assert mock_oqs(["seed", "--out", str(copy)]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mock_oqs(["seed", "--out", str(tmp_path / "n"), "--extra-persons", "many"])
    assert "not a whole number" in capsys.readouterr().err


def past_75(conn: sqlite3.Connection) -> int:
    """Qualifications of an insurer other than 後期 that outlive the 75th birthday
    (医療扶助 is the 福祉事務所's, not an insurer's: it goes on)."""
    count: int = conn.execute(
        "SELECT COUNT(*) FROM qualifications q JOIN persons p USING (person_id) "
        "WHERE q.insurer_number NOT LIKE '39%' AND q.card_classification != 'A1' "
        "AND (q.disqualification_date IS NULL "
        "OR q.disqualification_date > date(p.birth_date, '+75 years'))"
    ).fetchone()[0]
    return count


def test_extra_persons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "big"
    assert (
        mock_oqs(
            ["seed", "--out", str(out), "--extra-persons", "2_000", "--today", TODAY.isoformat()]
        )
        == 0
    )
    assert "2000 extra persons" in capsys.readouterr().out
    conn = registry.connect(out / "registry.sqlite", readonly=True)
    assert conn.execute("SELECT COUNT(*) FROM persons WHERE persona IS NULL").fetchone()[0] == 2000
    assert conn.execute("SELECT COUNT(*) FROM qualifications").fetchone()[0] >= 2000
    # each has exactly one qualification valid today, and none outlives the 75th birthday
    valid_today = conn.execute(
        "SELECT person_id, COUNT(*) FROM qualifications WHERE person_id LIKE 'X%' "
        "AND qualification_date <= ?1 AND (disqualification_date IS NULL "
        "OR disqualification_date > ?1) GROUP BY person_id",
        (TODAY.isoformat(),),
    ).fetchall()
    assert len(valid_today) == 2000 and {n for _, n in valid_today} == {1}
    assert past_75(conn) == 0
    index = json.loads((out / "world.json").read_text())
    assert index["extra_persons"] == 2000


def test_a_world_is_private_to_its_user(world: World) -> None:
    """world.json lists every persona's PIN; the CA keys and the registry are beside it."""
    d = world.directory
    assert d.stat().st_mode & 0o777 == 0o700
    for name in ("world.json", "registry.sqlite", "jpki-ca/key.pem", "facility-ca/key.pem"):
        assert (d / name).stat().st_mode & 0o777 == 0o600, name
