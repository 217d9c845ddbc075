"""More clinics in one world (issue 26): ``mock-oqs terminal CODE=DIR`` issues a
terminal certificate with the clinic's 医療機関コード, chained to the world's facility
CA, its key private; the new clinic is made like the world's; mistakes get clear
errors. ``mock-oqs faults --facility X --clear`` clears X's alone, and changes made at
once all survive."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from mock_oqs.cli import main
from mock_oqs.pki import medical_institution_code
from mock_oqs.terminals import CLINIC_ROWS
from mock_oqs.world import World

CLINIC = "1319000019"
OTHER = "1319000027"


def rows_of(world: World, code: str) -> dict[str, int]:
    conn = sqlite3.connect(world.directory / "registry.sqlite")
    try:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = ?",  # noqa: S608 (constants)
                (code,),
            ).fetchone()[0]
            for table, column in CLINIC_ROWS
        }
    finally:
        conn.close()


def terminal(
    world: World, *clinics: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(["terminal", "--world", str(world.directory), *clinics])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clinic_gets_a_certificate_of_its_own_from_the_facility_ca(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "desk" / "terminal"
    code, said, err = terminal(own_world, f"{CLINIC}={out}", capsys=capsys)
    assert code == 0, err
    assert CLINIC in said
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    assert medical_institution_code(cert) == CLINIC
    ca = x509.load_pem_x509_certificate(
        (own_world.directory / "facility-ca" / "cert.pem").read_bytes()
    )
    assert cert.issuer == ca.subject
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(ca)  # raises when not signed by the world's CA
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    assert out.stat().st_mode & 0o777 == 0o700
    assert (out / "face-auth.cvc").stat().st_size > 0


def test_the_new_clinic_is_made_like_the_worlds_and_issuing_twice_adds_nothing(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world_clinic = str(own_world.index["institution_code"])
    theirs = rows_of(own_world, world_clinic)
    assert theirs["medical_tickets"] > 0  # the world has 医療券 for its clinic to copy
    assert terminal(own_world, f"{CLINIC}={tmp_path / 'a'}", capsys=capsys)[0] == 0
    assert rows_of(own_world, CLINIC) == theirs
    first = (tmp_path / "a" / "cert.pem").read_bytes()
    assert terminal(own_world, f"{CLINIC}={tmp_path / 'a'}", capsys=capsys)[0] == 0
    assert rows_of(own_world, CLINIC) == theirs  # not doubled
    assert rows_of(own_world, world_clinic) == theirs  # the world's clinic untouched
    assert (tmp_path / "a" / "cert.pem").read_bytes() != first  # replaced


def test_several_clinics_at_once(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = terminal(
        own_world, f"{CLINIC}={tmp_path / 'a'}", f"{OTHER}={tmp_path / 'b'}", capsys=capsys
    )
    assert code == 0, err
    for clinic, folder in ((CLINIC, "a"), (OTHER, "b")):
        cert = x509.load_pem_x509_certificate((tmp_path / folder / "cert.pem").read_bytes())
        assert medical_institution_code(cert) == clinic


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("131900001=DIR", "10 digits"),
        ("13190000190=DIR", "10 digits"),
        ("131900001x=DIR", "10 digits"),
        ("１３１９００００１９=DIR", "10 digits"),  # full-width digits
        ("=DIR", "10 digits"),
        (CLINIC, "CODE=DIR expected"),
        (f"{CLINIC}=", "CODE=DIR expected"),
    ],
)
def test_a_bad_clinic_is_refused_before_anything_is_written(
    own_world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    given: str,
    message: str,
) -> None:
    before = rows_of(own_world, CLINIC)
    code, _, err = terminal(
        own_world,
        f"{OTHER}={tmp_path / 'ok'}",
        given.replace("DIR", str(tmp_path / "bad")),
        capsys=capsys,
    )
    assert code == 2
    assert err.startswith("mock-oqs: ") and message in err
    assert not (tmp_path / "ok").exists() and not (tmp_path / "bad").exists()
    assert rows_of(own_world, CLINIC) == before


def test_an_unreadable_facility_ca_is_a_clear_error(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (own_world.directory / "facility-ca" / "key.pem").write_text("not a key")
    code, _, err = terminal(own_world, f"{CLINIC}={tmp_path / 'a'}", capsys=capsys)
    assert code == 2
    assert "facility CA cannot be read" in err and "Traceback" not in err
    assert not (tmp_path / "a" / "cert.pem").exists()


def test_a_missing_facility_ca_is_a_clear_error(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(own_world.directory / "facility-ca")
    code, _, err = terminal(own_world, f"{CLINIC}={tmp_path / 'a'}", capsys=capsys)
    assert code == 2 and "facility CA cannot be read" in err


def test_not_a_world_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["terminal", "--world", str(tmp_path), f"{CLINIC}={tmp_path / 'a'}"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("mock-oqs: ")


def test_an_output_folder_that_is_a_file_is_a_clear_error(
    own_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = terminal(own_world, f"{CLINIC}={tmp_path / 'file'}", capsys=capsys)
    assert code == 2 and err.startswith("mock-oqs: ") and "file" in err


# -- faults per facility --------------------------------------------------------------------


def faults(world: World, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "mock_oqs.cli", "faults", "--world", str(world.directory), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    plan: dict[str, object] = json.loads(proc.stdout)
    return plan


def plan_of(world: World) -> dict[str, object]:
    data: dict[str, object] = json.loads((world.directory / "faults.json").read_text())
    return data


def facilities(plan: dict[str, object]) -> dict[str, dict[str, object]]:
    found = plan.get("facilities")
    assert isinstance(found, dict)
    return found


def test_clearing_one_facility_leaves_the_others_and_the_global_faults(own_world: World) -> None:
    faults(own_world, "--latency-ms", "100")
    faults(own_world, "--facility", CLINIC, "--outage", "on")
    faults(own_world, "--facility", OTHER, "--error-rate", "0.5")
    plan = faults(own_world, "--facility", CLINIC, "--clear")
    assert CLINIC not in facilities(plan)
    assert facilities(plan)[OTHER]["error_rate"] == 0.5
    assert plan_of(own_world) == plan
    text = json.dumps(plan)
    assert '"latency_ms": 100' in text  # the global faults stay


def test_concurrent_fault_changes_all_survive(own_world: World) -> None:
    codes = [f"13190000{n:02d}" for n in range(10, 22)]
    with ThreadPoolExecutor(len(codes)) as pool:
        list(pool.map(lambda c: faults(own_world, "--facility", c, "--outage", "on"), codes))
    kept = facilities(plan_of(own_world))
    assert sorted(kept) == sorted(codes)
    assert all(kept[c]["outage"] is True for c in codes)


@pytest.mark.parametrize("bad", ["123", "13190000190", "abcdefghij", "１３１９００００１９"])
def test_faults_refuse_a_bad_facility(
    own_world: World, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code = main(["faults", "--world", str(own_world.directory), "--facility", bad, "--clear"])
    assert code == 2 and "10 digits" in capsys.readouterr().err
