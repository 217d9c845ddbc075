"""Injected faults, the body cap and the structured access log, as plain ASGI (no
per-request task and body streaming of Starlette's BaseHTTPMiddleware). Identity and size
are checked before the body is read; every answer given here has the service's error
envelope (:mod:`mock_oqs.api.errors`)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_oqs.api.deps import client_chain, facility_of
from mock_oqs.api.errors import BodyTooLarge, error_json
from mock_oqs.faults import FaultStore
from mock_oqs.limits import BULK_MAX

access_log = logging.getLogger("mock_oqs.access")


async def _send_json(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the request is not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class ServiceMiddleware:
    """Injected faults and the structured access log, as plain ASGI (no per-request
    task and body streaming of Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, faults: FaultStore, max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.faults = faults
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        state["persona"] = None
        state["outcome"] = None
        status = 0

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, capture, state)
        finally:
            access_log.info(
                json.dumps(
                    {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 2),
                        "facility": facility_of(scope),
                        "persona": state.get("persona"),
                        "outcome": state.get("outcome"),
                    },
                    ensure_ascii=False,
                )
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any]
    ) -> None:
        refusal = self._refuse_early(scope)
        if refusal is not None:
            status, code, message = refusal
            state["outcome"] = code
            await _send_json(send, status, error_json(code, message), close=True)
            return
        fault = self.faults.plan().for_facility(facility_of(scope))
        if fault.outage:
            state["outcome"] = "MOCK-F001"
            await _send_json(send, 503, error_json("MOCK-F001", "injected outage"))
            return
        if not str(scope.get("path", "")).startswith("/v1/") or not fault.any:
            await self._serve_capped(scope, receive, send)
            return
        if fault.hang:
            state["outcome"] = "MOCK-F003"
            await asyncio.Event().wait()  # never answers; the client times out
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.error_rate and random.random() < fault.error_rate:
            state["outcome"] = "MOCK-F002"
            await _send_json(send, 500, error_json("MOCK-F002", "injected server error"))
            return
        if fault.malformed:
            state["outcome"] = "MOCK-F004"
            await _send_json(send, 200, b'{"MessageHeader": {"SegmentOfResult": "1", "Proc')
            return
        await self._serve_capped(scope, receive, send)

    def _refuse_early(self, scope: Scope) -> tuple[int, str, str] | None:
        """Who is asking and how much they send are checked before a byte of the body is
        read: no terminal certificate, no work (every path but /health, /docs and the
        OpenAPI description included); a body over the cap is not read at all."""
        if scope.get("path") != "/health" and not client_chain(scope):
            return 401, "MOCK-E001", "a client certificate from the facility CA is required"
        length = _content_length(scope)
        if length is not None and length < 0:
            return 400, "MOCK-E006", "malformed request: Content-Length is not a number"
        cap = self._cap(scope)
        if length is not None and length > cap:
            return (413, "MOCK-E011", f"request body of {length} bytes: at most {cap}")
        return None

    def _cap(self, scope: Scope) -> int:
        """A 一括照会 or 照会番号一括登録 upload carries up to BULK_MAX entries; everything else a
        few kB."""
        if scope.get("path") in ("/v1/bulk-confirmations", "/v1/bulk-reference-numbers"):
            return max(self.max_body_bytes, BULK_MAX * 400)
        return self.max_body_bytes

    async def _serve_capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body sent without Content-Length (chunked) is counted as it arrives."""
        received = 0
        started = False
        cap = self._cap(scope)

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(f"request body over {cap} bytes")
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside FastAPI's own body parsing
            if not started:
                await _send_json(send, 413, error_json("MOCK-E011", str(exc)), close=True)
