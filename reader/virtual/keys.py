"""Deterministic test keys, certificates of the mock JPKI CA, and the synthetic 個人番号.

``cryptography`` cannot generate an RSA key from a caller's random source, and a seeded
world must be reproducible, so seeded keys are made here: two 1024-bit primes, each the
next prime (GMP's ``next_prime``, via gmpy2) after a number drawn from a SHA-256
counter-mode stream, with the usual conditions (top two bits set so that n has 2048 bits,
gcd(p − 1, e) = 1, p and q far apart); the rest of the key is computed by
``cryptography``. Test keys only: the same seed gives the same key, in milliseconds (the
pure-Python search it replaces took about 0.7 s a key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

MOCK_CA_NAME = "Mock JPKI User Authentication CA (TEST ONLY, myna-sim)"
MOCK_SIGN_CA_NAME = "Mock JPKI Digital Signature CA (TEST ONLY, myna-sim)"


CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
"""Key usage of a certificate authority: it signs certificates and CRLs, nothing else."""


def self_signed_ca(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A self-signed CA certificate (path length 0, SHA-256) — every test CA here."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


class SeededStream:
    """A deterministic byte stream: SHA-256(seed ‖ label ‖ counter) blocks."""

    def __init__(self, seed: int | str | bytes, label: str = "") -> None:
        seed_bytes = seed if isinstance(seed, bytes) else str(seed).encode()
        self._prefix = seed_bytes + b"\x00" + label.encode() + b"\x00"
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha256(self._prefix + self._counter.to_bytes(8, "big")).digest()
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def integer(self, upper: int) -> int:
        """A uniform integer in ``[0, upper)``."""
        size = (upper.bit_length() + 7) // 8 + 8
        return int.from_bytes(self(size), "big") % upper

    def child(self, label: str) -> SeededStream:
        return SeededStream(self(32), label)


E = 65537


def _seeded_prime(stream: SeededStream, bits: int) -> int:
    import gmpy2  # GMP: only for seeded test keys

    while True:
        candidate = int.from_bytes(stream(bits // 8), "big") | (0b11 << (bits - 2)) | 1
        prime = int(gmpy2.next_prime(candidate))
        if prime.bit_length() == bits and gmpy2.gcd(prime - 1, E) == 1:
            return prime


def generate_rsa_key(stream: SeededStream | None = None) -> rsa.RSAPrivateKey:
    """RSA-2048, e = 65537; reproducible when a seeded stream is given."""
    if stream is None:
        return rsa.generate_private_key(public_exponent=E, key_size=2048)
    p = _seeded_prime(stream, 1024)
    q = _seeded_prime(stream, 1024)
    while abs(p - q).bit_length() < 1024 - 100 or p == q:  # FIPS 186-4: far apart
        q = _seeded_prime(stream, 1024)
    d = pow(E, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(E, p * q),
    )
    # OpenSSL's key check would test p and q for primality again (30 ms a key: half of
    # seeding a world). They come from GMP's next_prime (a probable-prime test whose
    # chance of passing a composite is negligible) and every other number is computed
    # from them just above; the card tests sign and verify with each key.
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def my_number_check_digit(first_eleven: str) -> int:
    """Check digit of the 個人番号 (総務省令第85号 第5条).

    Σ P_n × Q_n over the 11 digits, n counted from the right starting at 1,
    Q_n = n + 1 for n ≤ 6 and n − 5 for n ≥ 7; remainder r = Σ mod 11;
    check digit = 0 when r ≤ 1, else 11 − r.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("need exactly 11 ASCII digits")
    total = 0
    for n, ch in enumerate(reversed(first_eleven), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def synthetic_my_number(stream: SeededStream | None = None) -> str:
    """A random 12-digit number with a valid check digit (synthetic; honeypot bait)."""
    value = stream.integer(10**11) if stream else secrets.randbelow(10**11)
    body = f"{value:011d}"
    return body + str(my_number_check_digit(body))


def fifth_birthday_after(issued: dt.date, birth_date: dt.date) -> dt.date:
    """The holder's 5th birthday strictly after ``issued`` (29 Feb → 28 Feb)."""
    return nth_birthday_after(issued, birth_date, 5)


def nth_birthday_after(issued: dt.date, birth_date: dt.date, n: int) -> dt.date:
    """The holder's ``n``-th birthday strictly after ``issued`` (29 Feb → 28 Feb)."""

    def birthday(year: int) -> dt.date:
        try:
            return birth_date.replace(year=year)
        except ValueError:  # 29 February in a common year
            return dt.date(year, 2, 28)

    first = birthday(issued.year)
    if first <= issued:
        first = birthday(issued.year + 1)
    return birthday(first.year + n - 1)


def card_expiry(issued: dt.date, birth_date: dt.date) -> dt.date:
    """The card's own 有効期限 (printed on its face; not the certificates'): the 10th birthday
    after issue for a holder aged 18 or more when the card was made, the 5th below 18
    (applications from 2022-04-01; 20 was the age before). Sources: 港区 FAQ "マイナンバー
    カードの有効期限はあるのか" and 鴻巣市 "マイナンバーカードの有効期限" (municipal pages)."""
    eighteenth = nth_birthday_after(birth_date, birth_date, 18)
    return nth_birthday_after(issued, birth_date, 10 if issued >= eighteenth else 5)


_ERAS = (  # (first day, name): 令和, 平成, 昭和, 大正, 明治
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 10, 23), "明治"),
)


def era_yymmdd(day: dt.date) -> str:
    """The date as ``YYMMDD`` with the Japanese era's year (1980-02-17 → ``550217``, 昭和55)."""
    for start, _name in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{year:02d}{day.month:02d}{day.day:02d}"
    raise ValueError(f"{day} is before the Meiji era")


def collation_number_b(birth_date: dt.date, card_expires: dt.date, security_code: str) -> str:
    """照合番号B: 14 ASCII digits — the birth date as ``YYMMDD`` in the Japanese era year,
    the Gregorian year the card expires (4 digits) and the 4-digit security code printed on
    the card. Source: soltia48/myna-card ``src/data.rs`` ``verification_code_b``, confirmed
    on a card (born 1980-02-17, 昭和55, card expiring in 2035, code 2285 → ``55021720352285``),
    agreeing with a vendor's eKYC guide quoted in public notes ("生年月日6桁＋有効期限西暦4桁＋
    セキュリティコード4桁") and with AokiApp's @aokiapp/mynacard ("PIN B (14 digits)")."""
    if len(security_code) != 4 or not security_code.isascii() or not security_code.isdigit():
        raise ValueError("a security code is 4 digits")
    return f"{era_yymmdd(birth_date)}{card_expires.year:04d}{security_code}"


def opaque_cn(stream: SeededStream | None = None) -> str:
    """An opaque 23-character CN, as on the real auth certificate (no name, no number)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    raw = stream(23) if stream else secrets.token_bytes(23)
    return "".join(alphabet[b % len(alphabet)] for b in raw)


@dataclass
class MockJpkiCa:
    """A mock JPKI user-authentication CA (clearly marked as a test CA)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    _signing_ca: x509.Certificate | None = field(default=None, repr=False, compare=False)

    @classmethod
    def generate(
        cls,
        stream: SeededStream | None = None,
        *,
        name: str = MOCK_CA_NAME,
        not_before: dt.datetime | None = None,
    ) -> MockJpkiCa:
        key = generate_rsa_key(stream.child("ca-key") if stream else None)
        start = not_before or dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna-sim TEST ONLY"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        serial = (stream.integer(2**63) if stream else x509.random_serial_number() >> 96) + 1
        cert = self_signed_ca(key, subject, serial, start, start.replace(year=start.year + 30))
        return cls(cert, key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> MockJpkiCa:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CA key is not an RSA key")
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey) or (
            public.public_numbers() != key.public_key().public_numbers()
        ):
            raise ValueError("the CA key does not belong to the CA certificate")
        return cls(cert, key)

    def issue_auth_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        cn: str,
        issued: dt.date,
        birth_date: dt.date,
        serial: int,
        expires: dt.date | None = None,
    ) -> x509.Certificate:
        """A 利用者証明用電子証明書: opaque CN only, valid to the 5th birthday after issue.

        ``expires`` overrides the end date (test worlds need certificates that
        have just expired, or are about to).
        """
        not_before = dt.datetime.combine(issued, dt.time(0, 0), tzinfo=dt.UTC)
        end = expires or fifth_birthday_after(issued, birth_date)
        if end <= issued:
            raise ValueError(f"a certificate must expire after its issue date ({issued})")
        not_after = dt.datetime.combine(end, dt.time(14, 59, 59), tzinfo=dt.UTC)  # 23:59:59 JST
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )

    def signing_ca_certificate(self) -> x509.Certificate:
        """The mock 署名用CA証明書 (the digital-signature CA's certificate) that cards of this
        CA carry in JPKI AP EF 0002, where anyone may read it.

        On a real card EF 0002 is readable without a password: jpki/myna reads it for
        ``myna jpki cert signca`` (src/jpki.rs ``cert_read``, no VERIFY before), OpenSC
        lists it as certificate 04 with no auth id (pkcs15-jpki.c), and an Android JPKI
        client reads it right after selecting the AP (``readSignCACert`` in an
        IsoDep-based app); only the signing certificate itself (EF 0001) needs the signing
        password (jpki/OpenSC issue #3, OpenSC issue #3169's trace: ``6982`` without it).

        Derived from this CA's private key, so every card of one CA carries the same
        signing CA, a seeded world stays reproducible, and no second key file is kept. The
        signing CA's own key exists only to sign its certificate: the simulator issues no
        signing certificate and verifies nothing against this CA (the signing key and
        certificate are out of scope, card.md §2).
        """
        if self._signing_ca is None:
            seed = hashlib.sha256(
                self.key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ).digest()
            stream = SeededStream(seed, "jpki-sign-ca")
            key = generate_rsa_key(stream.child("key"))
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna-sim TEST ONLY"),
                    x509.NameAttribute(NameOID.COMMON_NAME, MOCK_SIGN_CA_NAME),
                ]
            )
            self._signing_ca = self_signed_ca(
                key,
                subject,
                stream.integer(2**63) + 1,
                self.certificate.not_valid_before_utc,
                self.certificate.not_valid_after_utc,
            )
        return self._signing_ca

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return private_key_pem(self.key)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
