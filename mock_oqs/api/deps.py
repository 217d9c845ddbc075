"""Who is asking, and the service they ask: FastAPI dependencies (``TerminalDep``,
``ServiceDep``), and the same functions for the hot routes that skip dependency solving
(:class:`mock_oqs.api.hot.DirectRoute`).

The terminal's identity comes from its TLS client certificate, which the server puts into
the ASGI scope (``extensions.tls.client_cert_chain``, PEM, as the ASGI TLS extension names
it) after the TLS layer verified it against the facility CA.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, Request
from starlette.types import Scope

from mock_oqs.pki import medical_institution_code
from mock_oqs.proofs import TerminalKey
from mock_oqs.refusal import Refusal
from mock_oqs.service import QualificationService


@dataclass(frozen=True, slots=True)
class Terminal:
    """The asking terminal: its facility's 医療機関コード and its certificate's key (which
    signs the face and visual statements)."""

    facility: str
    key: TerminalKey


def client_chain(scope: Scope) -> list[str]:
    """The TLS-verified client certificate chain (PEM) the server put into the scope."""
    chain: list[str] = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return chain


def terminal(request: Request) -> Terminal:
    """The terminal of this request: MOCK-E001 without a usable certificate."""
    chain = client_chain(request.scope)
    if not chain:
        raise Refusal("MOCK-E001", 401, "a client certificate from the facility CA is required")
    return _terminal_of(chain[0])


@functools.lru_cache(maxsize=256)
def _terminal_of(pem: str) -> Terminal:
    """医療機関コード and key of a (TLS-verified) terminal certificate; refusals are not cached."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    code = medical_institution_code(cert)
    if code is None:
        raise Refusal("MOCK-E001", 403, "the client certificate carries no 医療機関コード")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise Refusal("MOCK-E001", 403, "the client certificate's key type is not supported")
    return Terminal(code, key)


@functools.lru_cache(maxsize=256)
def _institution_code(pem: str) -> str | None:
    try:
        return medical_institution_code(x509.load_pem_x509_certificate(pem.encode()))
    except ValueError:
        return None


def facility_of(scope: Scope) -> str | None:
    """The facility a request comes from, if its certificate names one (for the log and
    the refusal audit; never a refusal itself)."""
    chain = client_chain(scope)
    return _institution_code(chain[0]) if chain else None


def service(request: Request) -> QualificationService:
    """The app's use cases (:func:`mock_oqs.app.create_app` puts them in ``app.state``)."""
    found: QualificationService = request.app.state.service
    return found


TerminalDep = Annotated[Terminal, Depends(terminal)]
ServiceDep = Annotated[QualificationService, Depends(service)]
