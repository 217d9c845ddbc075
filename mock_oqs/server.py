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
import json
import logging
import multiprocessing
import os
import secrets
import ssl
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_oqs.api.errors import error_json
from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import ServiceLimits
from mock_oqs.service import ENV_RUN
from reader.children import die_with_parent

ENV_WORLD = "MOCK_OQS_WORLD"
ENV_TODAY = "MOCK_OQS_TODAY"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Limits at the connection (read in every worker process from the environment that
# serve() sets; uvicorn makes protocol objects itself, so they cannot be passed in).
ENV_MAX_CONNECTIONS = "MOCK_OQS_MAX_CONNECTIONS"
ENV_REQUEST_TIMEOUT = "MOCK_OQS_REQUEST_TIMEOUT"
ENV_MAX_NONCES = "MOCK_OQS_MAX_NONCES"
KEEP_ALIVE = 15  # seconds the service keeps an idle connection open
ENV_LIMITS = "MOCK_OQS_LIMITS"  # ServiceLimits as JSON
MAX_HEADER_BYTES = 16 * 1024
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HeadTooLarge(Exception):
    """Raised in a parser callback: the request's head is over :data:`MAX_HEADER_BYTES`."""


class ClientCertHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with the verified client certificate in the scope —
    and the limits a stranger must not get past, enforced before the app sees anything:

    - request headers over 16 KiB: 431 and the connection closes (uvicorn's httptools
      protocol has no limit of its own: a 120 MB header used to stall the worker). Two
      counts, because a read can hold a request's whole head or only part of it: the raw
      bytes read while the head is incomplete (a huge header streamed over many reads is
      cut off before the parser buffers it all), and the request line and headers as the
      parser hands them over (a head that arrives in one read, body and all, is parsed in
      that read — issue 19: 20 KB and 64 KB heads in one piece used to get through);
    - a request (headers and body) not received within ``MOCK_OQS_REQUEST_TIMEOUT``
      seconds (10): 408 and closed (a slow sender holds nothing for long);
    - more than ``MOCK_OQS_MAX_CONNECTIONS`` (256) open connections to this worker: 503
      for the newcomer;
    - a request that does not parse: 400 in the service's error format.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._client_chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        self._header_bytes = 0
        self._parsed_head = 0
        self._head_too_large = False
        self._reading_headers = True
        self._deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > _env_number(ENV_MAX_CONNECTIONS, 256):
            self._refuse(503, "MOCK-E013", "too many open connections; try again shortly")
            return
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        seconds = _env_number(ENV_REQUEST_TIMEOUT, 10.0)
        self._deadline = self.loop.call_later(seconds, self._too_slow, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading_headers:
            self._refuse(408, "MOCK-E012", f"the request did not arrive within {seconds:g} s")
        else:  # the app is reading the body: it sees a disconnect
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        body = error_json(code, message)
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self._disarm()
        self.transport.write(head.encode() + body)
        self.transport.close()
        logging.getLogger("mock_oqs.access").info(
            json.dumps({"status": status, "outcome": code, "client": self.client})
        )

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:  # the parser stopped because a callback refused the head
            self._refuse(431, "MOCK-E011", f"request headers over {MAX_HEADER_BYTES} bytes")
            return
        self._refuse(400, "MOCK-E006", f"malformed HTTP request: {msg}")

    def _count_head(self, size: int) -> None:
        """The request line and headers as parsed; raising in a parser callback stops the
        parse (httptools reports it as a parser error: :meth:`send_400_response`)."""
        self._parsed_head += size
        if self._parsed_head > MAX_HEADER_BYTES:
            self._head_too_large = True
            raise HeadTooLarge(self._parsed_head)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url) + 16)  # method, version, separators
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_headers
            and self._header_bytes > MAX_HEADER_BYTES
            and not self.transport.is_closing()
        ):
            self._refuse(431, "MOCK-E011", f"request headers over {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        scope: Any = self.scope
        scope["extensions"] = {"tls": {"client_cert_chain": self._client_chain}}
        self._reading_headers = True
        self._header_bytes = 0
        self._parsed_head = 0
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def app_from_environment() -> FastAPI:
    """The factory uvicorn's workers call (settings come through the environment)."""
    supervisor = multiprocessing.parent_process()
    if supervisor is not None:  # a worker of `serve --workers N`: it ends with the supervisor
        die_with_parent(supervisor.pid)
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
    max_nonces = int(_env_number(ENV_MAX_NONCES, 256))
    limits = os.environ.get(ENV_LIMITS)
    app = create_app(
        ServiceSettings(
            world=Path(world),
            today=dt.date.fromisoformat(today) if today else None,
            max_outstanding_nonces=max_nonces if max_nonces > 0 else None,
            limits=ServiceLimits.model_validate_json(limits) if limits else ServiceLimits(),
        )
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
    max_connections: int = 256,
    request_timeout: float = 10.0,
    max_outstanding_nonces: int = 256,
    limits: ServiceLimits | None = None,
) -> None:
    """Run the service until interrupted (SIGINT/SIGTERM)."""
    os.environ[ENV_WORLD] = str(world.resolve())
    os.environ[ENV_LIMITS] = (limits or ServiceLimits()).model_dump_json()
    os.environ[ENV_RUN] = secrets.token_hex(8)  # this run, shared by its workers
    os.environ[ENV_MAX_CONNECTIONS] = str(max_connections)
    os.environ[ENV_REQUEST_TIMEOUT] = str(request_timeout)
    os.environ[ENV_MAX_NONCES] = str(max_outstanding_nonces)
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
        # longer than a terminal keeps an idle connection (reception's oqs.keepalive, 5 s):
        # with both at 5 s, a request sent on a connection the server was closing that
        # moment was lost (【S04】 on a training room's 目視 check-ins, the staff's look
        # at the card taking about those 5 s)
        timeout_keep_alive=KEEP_ALIVE,
    )
