"""The facility PKI of the mock service: a CA, the service's TLS certificate, and
terminal client certificates whose subject carries the 10-digit 医療機関コード.

ECDSA P-256 keys: ``ec.derive_private_key`` makes them reproducible from a seed
without any extra library, and TLS handshakes with them are cheap.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reader.virtual.keys import SeededStream, self_signed_ca

FACILITY_CA_NAME = "Mock OQS Facility CA (TEST ONLY, myna-sim)"


def derive_ec_key(stream: SeededStream | None) -> ec.EllipticCurvePrivateKey:
    if stream is None:
        return ec.generate_private_key(ec.SECP256R1())
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return ec.derive_private_key(stream.integer(order - 1) + 1, ec.SECP256R1())


def _name(cn: str, *extra: x509.NameAttribute[str]) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna-sim TEST ONLY"),
            *extra,
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def medical_institution_code(cert: x509.Certificate) -> str | None:
    """The 医療機関コード in a terminal certificate's subject (serialNumber), if any."""
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(values) != 1:
        return None
    code = str(values[0].value)
    return code if len(code) == 10 and code.isascii() and code.isdigit() else None


@dataclass
class IssuedCertificate:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cert.pem").write_bytes(
            self.certificate.public_bytes(serialization.Encoding.PEM)
        )
        key_path = directory / "key.pem"
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        os.chmod(key_path, 0o600)


@dataclass
class FacilityCa:
    """Issues the service's TLS certificate and the terminals' client certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(
        cls, stream: SeededStream | None, *, not_before: dt.datetime, name: str = FACILITY_CA_NAME
    ) -> FacilityCa:
        key = derive_ec_key(stream.child("facility-ca") if stream else None)
        subject = _name(name)
        serial = stream.integer(2**63) + 1 if stream else x509.random_serial_number()
        cert = self_signed_ca(
            key, subject, serial, not_before, not_before + dt.timedelta(days=3650)
        )
        return cls(cert, key)

    def _issue(
        self,
        stream: SeededStream | None,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        not_before: dt.datetime,
        san: list[x509.GeneralName] | None = None,
    ) -> IssuedCertificate:
        key = derive_ec_key(stream)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(stream.integer(2**63) + 1 if stream else x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return IssuedCertificate(builder.sign(self.key, hashes.SHA256()), key)

    def issue_server(
        self, stream: SeededStream | None, *, not_before: dt.datetime, hosts: list[str]
    ) -> IssuedCertificate:
        """The service's TLS certificate for ``hosts`` (names or IP addresses)."""
        san: list[x509.GeneralName] = []
        for host in hosts:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        return self._issue(
            stream,
            _name("mock オンライン資格確認 service"),
            ExtendedKeyUsageOID.SERVER_AUTH,
            not_before,
            san,
        )

    def issue_terminal(
        self, stream: SeededStream | None, *, not_before: dt.datetime, institution_code: str
    ) -> IssuedCertificate:
        """A terminal's client certificate; its key also signs face/visual statements."""
        if len(institution_code) != 10 or not institution_code.isdigit():
            raise ValueError(f"医療機関コード has 10 digits, got {institution_code!r}")
        subject = _name(
            f"資格確認端末 {institution_code}",
            x509.NameAttribute(NameOID.SERIAL_NUMBER, institution_code),
        )
        return self._issue(stream, subject, ExtendedKeyUsageOID.CLIENT_AUTH, not_before)

    def write(self, directory: Path) -> None:
        IssuedCertificate(self.certificate, self.key).write(directory)
