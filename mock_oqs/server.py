"""Serving the mock service over HTTPS with client certificates (uvicorn).

uvicorn (0.54) verifies the client certificate at the TLS layer but does not
hand it to the application. :class:`ClientCertHttpProtocol` — uvicorn's
httptools protocol, extended — reads the verified peer certificate from the
TLS connection and puts it into each request's scope as the ASGI TLS extension
does (``extensions.tls.client_cert_chain``, PEM).

Client certificates are *optional* at the TLS layer (``/health`` works without
one) but every other endpoint refuses a request without one (401); a
certificate from another CA fails the handshake.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_oqs.app import ServiceSettings, create_app

ENV_WORLD = "MOCK_OQS_WORLD"
ENV_TODAY = "MOCK_OQS_TODAY"


class ClientCertHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with the verified client certificate in the scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._client_chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []

    def on_message_begin(self) -> None:
        super().on_message_begin()
        scope: Any = self.scope
        scope["extensions"] = {"tls": {"client_cert_chain": self._client_chain}}


def app_from_environment() -> FastAPI:
    """The factory uvicorn's workers call (settings come through the environment)."""
    world = os.environ.get(ENV_WORLD)
    if not world:
        raise RuntimeError(f"{ENV_WORLD} is not set")
    today = os.environ.get(ENV_TODAY)
    access = logging.getLogger("mock_oqs.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    app = create_app(
        ServiceSettings(world=Path(world), today=dt.date.fromisoformat(today) if today else None)
    )
    # long-lived objects made at start-up need no more cycle collection; fewer gen-0
    # collections under load shave the latency tail
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    return app


def serve(
    world: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    workers: int = 1,
    today: dt.date | None = None,
    log_level: str = "info",
) -> None:
    """Run the service until interrupted (SIGINT/SIGTERM)."""
    os.environ[ENV_WORLD] = str(world.resolve())
    if today is not None:
        os.environ[ENV_TODAY] = today.isoformat()
    else:
        os.environ.pop(ENV_TODAY, None)
    uvicorn.run(
        "mock_oqs.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=ClientCertHttpProtocol,
        ssl_certfile=str(world / "server" / "cert.pem"),
        ssl_keyfile=str(world / "server" / "key.pem"),
        ssl_ca_certs=str(world / "facility-ca" / "cert.pem"),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
        log_level=log_level,
        access_log=False,  # the app writes its own structured access log
        timeout_graceful_shutdown=5,
    )
