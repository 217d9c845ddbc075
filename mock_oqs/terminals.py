"""More clinics in one world: a terminal certificate for another 医療機関コード, issued by
the world's facility CA (``mock-oqs terminal``).

A training room (issue 26) runs one service for many desks, each a clinic of its own:
its own 医療機関コード in its own client certificate, so the service keeps each desk's
faults, nonces, refusals and visits apart as it keeps two clinics'. A new clinic is made
*like the world's*: the 医療券 the 福祉事務所 entrusted to the world's clinic, and the
居宅同意取得型 consents and オンライン診療 given there, are given to the new clinic as
well — a persona whose case rests on them plays the same at every desk.

Files written into ``OUT``: ``cert.pem``, ``key.pem`` (0600; the client certificate
and its key) and ``face-auth.cvc`` (the card-verifiable certificate of the face path,
signed by the same CA: the world's cards trust it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mock_oqs import period_cases, registry
from mock_oqs.pki import FacilityCa
from mock_oqs.world import FACE_AUTH_FILE, World, WorldError
from reader.terminal_auth import issue_terminal_certificate

# the tables whose rows belong to one clinic: (table, the column naming it)
CLINIC_ROWS = (
    ("medical_tickets", "institution_code"),
    ("visit_consents", "facility"),
    ("online_examinations", "facility"),
)


def _facility_ca(world: World) -> FacilityCa:
    folder = world.directory / "facility-ca"
    try:
        cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise WorldError(f"{folder}: the facility CA cannot be read ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise WorldError(f"{folder}/key.pem: not the EC key of the facility CA")
    return FacilityCa(cert, key)


def check_code(code: str) -> str:
    """``code`` if it is a 10-digit 医療機関コード, else ValueError saying why."""
    if len(code) != 10 or not code.isascii() or not code.isdigit():
        raise ValueError(f"医療機関コード has 10 digits, got {code!r}")
    return code


def issue_clinic(world: World, code: str, out: Path, *, like: str | None = None) -> Path:
    """A terminal identity for clinic ``code`` in ``out`` (made 0700), and the clinic
    made like ``like`` (default: the world's clinic) in the registry. Issuing again for
    the same code replaces the certificate; the copied rows are not doubled."""
    check_code(code)
    source = like or str(world.index.get("institution_code") or "")
    ca = _facility_ca(world)
    not_before = ca.certificate.not_valid_before_utc
    if not_before > dt.datetime.now(dt.UTC):  # a world seeded on a later day
        not_before = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    issued = ca.issue_terminal(None, not_before=not_before, institution_code=code)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    issued.write(out)
    face = issue_terminal_certificate(ca.key, issued.key.public_key(), code)
    (out / FACE_AUTH_FILE).write_bytes(face.encode())
    if source and source != code:
        _copy_clinic(world.directory / "registry.sqlite", source, code)
    return out


def _copy_clinic(path: Path, source: str, code: str) -> None:
    conn = registry.connect(path)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")  # the service may be writing
        period_cases.ensure(conn)
        with conn:
            for table, column in CLINIC_ROWS:
                columns = [r["name"] for r in conn.execute(f"PRAGMA table_info({table})")]
                picked = ", ".join("?" if c == column else c for c in columns)
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (code,))  # noqa: S608 (constants)
                conn.execute(
                    f"INSERT INTO {table} SELECT {picked} FROM {table} WHERE {column} = ?",  # noqa: S608 (constants)
                    (code, source),
                )
    finally:
        conn.close()
