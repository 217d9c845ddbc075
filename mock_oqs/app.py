"""The FastAPI application of the mock service, made by :func:`create_app`.

The terminal's identity comes from its TLS client certificate, which the
server puts into the ASGI scope (``extensions.tls.client_cert_chain``, PEM, as
the ASGI TLS extension names it) after the TLS layer verified it against the
facility CA. ``/health`` needs no certificate; everything else does — ``/docs`` and
``/openapi.json`` too, since they are served by the same workers a stranger could tie
up (``mock-oqs openapi`` prints the description without a server). Identity and size
are checked before the body is read (:class:`ServiceMiddleware`), and every error
answer, the framework's own included, has the service's format
``{"error": {"code": "MOCK-…", "message": …}}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_oqs.faults import FAULTS_FILE, FaultStore
from mock_oqs.limits import BULK_MAX, ServiceLimits
from mock_oqs.models import (
    BulkConfirmationRequest,
    CardConfirmationRequest,
    ErrorResponse,
    NonceResponse,
    NumberConfirmationRequest,
    PatientNumbers,
    ReferenceRegistration,
    RegistrationRequest,
)
from mock_oqs.pki import medical_institution_code
from mock_oqs.service import Clock, QualificationService, Refusal
from mock_oqs.world import World
from mock_oqs.xml import render_xml

access_log = logging.getLogger("mock_oqs.access")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no client certificate (MOCK-E001)"},
    403: {
        "model": ErrorResponse,
        "description": "signature, certificate or statement refused; MOCK-E017: not open to "
        "a holder proven this way (保険証利用登録 after 目視, a consent item the method or "
        "route does not offer)",
    },
    409: {"model": ErrorResponse, "description": "nonce unknown, expired or used (MOCK-E002)"},
    413: {"model": ErrorResponse, "description": "request body over 64 KiB (MOCK-E011)"},
    422: {"model": ErrorResponse, "description": "malformed request (MOCK-E006)"},
    429: {
        "model": ErrorResponse,
        "description": "too many outstanding nonces (MOCK-E009); lookups by number over the "
        "facility's limit (MOCK-E018); 一括照会 jobs over its cap (MOCK-E019) — with "
        "Retry-After when waiting helps",
    },
}


class ServiceSettings(BaseModel):
    world: Path
    today: dt.date | None = None
    nonce_ttl_seconds: float = 120.0
    max_body_bytes: int = 64 * 1024  # a confirmation is a few kB
    max_outstanding_nonces: int | None = 256  # per facility; None: no limit
    limits: ServiceLimits = ServiceLimits()  # lookups by number, 一括照会 (per facility)


TerminalKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def _client_chain(scope: Scope) -> list[str]:
    """The TLS-verified client certificate chain (PEM) the server put into the scope."""
    chain: list[str] = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return chain


def _terminal(request: Request) -> tuple[str, TerminalKey]:
    chain = _client_chain(request.scope)
    if not chain:
        raise Refusal("MOCK-E001", 401, "a client certificate from the facility CA is required")
    return _terminal_identity(chain[0])


@functools.lru_cache(maxsize=256)
def _terminal_identity(pem: str) -> tuple[str, TerminalKey]:
    """医療機関コード and key of a (TLS-verified) terminal certificate; refusals are not cached."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    code = medical_institution_code(cert)
    if code is None:
        raise Refusal("MOCK-E001", 403, "the client certificate carries no 医療機関コード")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise Refusal("MOCK-E001", 403, "the client certificate's key type is not supported")
    return code, key


@functools.lru_cache(maxsize=256)
def _institution_code(pem: str) -> str | None:
    try:
        return medical_institution_code(x509.load_pem_x509_certificate(pem.encode()))
    except ValueError:
        return None


def _facility_of(scope: Scope) -> str | None:
    chain = _client_chain(scope)
    return _institution_code(chain[0]) if chain else None


async def _send_json(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the request is not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


def _error_json(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


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
                        "facility": _facility_of(scope),
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
            await _send_json(send, status, _error_json(code, message), close=True)
            return
        fault = self.faults.plan().for_facility(_facility_of(scope))
        if fault.outage:
            state["outcome"] = "MOCK-F001"
            await _send_json(send, 503, _error_json("MOCK-F001", "injected outage"))
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
            await _send_json(send, 500, _error_json("MOCK-F002", "injected server error"))
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
        if scope.get("path") != "/health" and not _client_chain(scope):
            return 401, "MOCK-E001", "a client certificate from the facility CA is required"
        length = _content_length(scope)
        if length is not None and length < 0:
            return 400, "MOCK-E006", "malformed request: Content-Length is not a number"
        cap = self._cap(scope)
        if length is not None and length > cap:
            return (413, "MOCK-E011", f"request body of {length} bytes: at most {cap}")
        return None

    def _cap(self, scope: Scope) -> int:
        """A 一括照会 upload carries up to BULK_MAX queries; everything else a few kB."""
        if scope.get("path") == "/v1/bulk-confirmations":
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
                await _send_json(send, 413, _error_json("MOCK-E011", str(exc)), close=True)


Parsed = TypeVar("Parsed", bound=BaseModel)
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """A hot path (nonces, confirmations): the endpoint takes the request alone, parses
    its own body (:func:`_parse`) and returns a response. FastAPI's documented extension
    point (a custom ``get_route_handler``) skips its per-request dependency solving and
    response validation — more CPU than the service's own work for these — while the
    route keeps its OpenAPI description and the exception handlers."""

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI description of a body an endpoint parses itself (:func:`_parse`); its
    schema goes into the components (:func:`_describe_bodies`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _describe_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Put the schemas of self-parsed bodies (and the models they use) into the OpenAPI
    description's components, where FastAPI puts those of the bodies it parses."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # made once, then kept by FastAPI (so completed once)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas.setdefault(model.__name__, schema)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


async def _parse(request: Request, model: type[Parsed]) -> Parsed:
    """The body, read and validated in one pass by pydantic-core: the confirmations are
    the service's hot path, and FastAPI's general body handling (content-type parsing,
    dependency solving, a dict between JSON and model) cost more than the work itself.
    Errors are FastAPI's: 422 MOCK-E006 naming the field."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _respond(request: Request, message: dict[str, Any]) -> Response:
    """JSON: ``MessageHeader`` and ``MessageBody`` with ``MockNotices`` beside them; XML: the
    closed ``XmlMsg`` document alone. Both carry the notices in ``X-Mock-Notices``."""
    headers = {"X-Mock-Notices": ",".join(message.get("MockNotices", []))}
    if "application/xml" in request.headers.get("accept", ""):
        # the closed document: what travels beside it (notices, an offer) stays out
        document = {k: message[k] for k in ("MessageHeader", "MessageBody")}
        return Response(
            render_xml(document), media_type="application/xml; charset=utf-8", headers=headers
        )
    return Response(orjson.dumps(message), media_type="application/json", headers=headers)


def create_app(settings: ServiceSettings) -> FastAPI:
    world = World.load(settings.world)
    service = QualificationService(
        world,
        clock=Clock(settings.today),
        nonce_ttl_seconds=settings.nonce_ttl_seconds,
        max_outstanding_nonces=settings.max_outstanding_nonces,
        limits=settings.limits,
    )
    app = FastAPI(
        title="mock オンライン資格確認",
        version="1",
        description="A mock of the online qualification service for the reception simulator. "
        "Every result is synthetic. Error and result codes are mock codes (MOCK-…).",
    )
    app.state.service = service

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        request.state.outcome = exc.code
        headers: dict[str, str] = {}
        if exc.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
        if exc.status == 429:  # limits: kept for trainers and developers (mock-oqs refusals)
            service.record_refusal(_facility_of(request.scope), exc.code, exc.message)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """404, 405 and the framework's own 400s, in the service's error format."""
        if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps what reading raised
            request.state.outcome = "MOCK-E011"
            return JSONResponse(
                {"error": {"code": "MOCK-E011", "message": str(exc.__cause__)}},
                status_code=413,
                headers={"connection": "close"},
            )
        code = {404: "MOCK-E010", 405: "MOCK-E010"}.get(exc.status_code, "MOCK-E006")
        request.state.outcome = code
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: "
            f"{err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        request.state.outcome = "MOCK-E006"
        return JSONResponse(
            {"error": {"code": "MOCK-E006", "message": f"malformed request: {problems}"}},
            status_code=422,
        )

    app.add_middleware(
        ServiceMiddleware,
        faults=FaultStore(settings.world / FAULTS_FILE),
        max_body_bytes=settings.max_body_bytes,
    )

    @app.get("/health", summary="liveness (no client certificate needed)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    _describe_bodies(app, [CardConfirmationRequest, NumberConfirmationRequest])

    def hot(path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        def add(endpoint: Endpoint) -> Endpoint:
            app.router.add_api_route(
                path, endpoint, methods=["POST"], route_class_override=DirectRoute, **options
            )
            return endpoint

        return add

    @hot(
        "/v1/nonces",
        response_model=NonceResponse,
        responses=ERRORS,
        summary="a single-use nonce for one card confirmation",
    )
    async def nonce(request: Request) -> Response:
        facility, _ = _terminal(request)
        value, expires = service.issue_nonce(facility)
        answer = {"nonce": value, "expires_at": expires.isoformat()}
        return Response(orjson.dumps(answer), media_type="application/json")

    @hot(
        "/v1/confirmations/card",
        responses=ERRORS,
        summary="confirm by card (PIN signature or face/visual statement)",
        openapi_extra=_json_body(CardConfirmationRequest),
    )
    async def by_card(request: Request) -> Response:
        facility, key = _terminal(request)
        body = await _parse(request, CardConfirmationRequest)
        message, persona = service.confirm_card(body, facility, key)
        request.state.persona = persona
        request.state.outcome = (
            message["MessageBody"]["ProcessingResultCode"]
            or message["MessageBody"]["QualificationValidity"]
        )
        return _respond(request, message)

    @app.post(
        "/v1/registrations",
        responses=ERRORS,
        summary="保険証利用登録 at the reader: registers the card of a MOCK-R003 answer's "
        "RegistrationOffer (its holder proven moments ago) and answers that confirmation",
    )
    async def registration(body: RegistrationRequest, request: Request) -> Response:
        facility, _ = _terminal(request)
        message, persona = service.register(body.token, facility)
        request.state.persona = persona
        request.state.outcome = (
            message["MessageBody"]["ProcessingResultCode"]
            or message["MessageBody"]["QualificationValidity"]
        )
        return _respond(request, message)

    @hot(
        "/v1/confirmations/number",
        responses=ERRORS,
        summary="confirm by 保険者番号・記号・番号・枝番 and birth date",
        openapi_extra=_json_body(NumberConfirmationRequest),
    )
    async def by_number(request: Request) -> Response:
        facility, _ = _terminal(request)
        body = await _parse(request, NumberConfirmationRequest)
        service.charge_lookup(facility)
        message, persona = service.confirm_number(body, facility)
        request.state.persona = persona
        request.state.outcome = message["MessageBody"]["QualificationValidity"]
        return _respond(request, message)

    @app.post(
        "/v1/records/{kind}",
        responses=ERRORS,
        summary="薬剤情報 (medications, 3 years), 診療情報 (diagnoses), 手術情報 (operations) "
        "or 特定健診情報 (checkups; 5 years) of a patient, named by a qualification's numbers: "
        "only with their consent at this facility (24 h)",
    )
    async def records(
        kind: Literal["medications", "diagnoses", "operations", "checkups"],
        body: PatientNumbers,
        request: Request,
    ) -> dict[str, Any]:
        facility, _ = _terminal(request)
        service.charge_lookup(facility)  # numbers and a birth date name the patient
        found, request.state.persona = service.records(body, facility, kind)
        return {kind: found}

    @app.post(
        "/v1/bulk-confirmations",
        status_code=202,
        responses=ERRORS,
        summary="一括照会: upload queries by number; the ReceptionNumber comes back at once "
        "(each entry counts against the facility's lookups; jobs per facility are capped)",
    )
    async def bulk_start(body: BulkConfirmationRequest, request: Request) -> dict[str, Any]:
        facility, _ = _terminal(request)
        number = service.start_bulk(body.queries, facility)
        return {"ReceptionNumber": number, "total": len(body.queries)}

    @app.get(
        "/v1/bulk-confirmations/{number}",
        responses=ERRORS,
        summary="一括照会: SegmentOfResult 2 while it runs, 1 with every answer when done",
    )
    async def bulk_fetch(number: str, request: Request) -> dict[str, Any]:
        facility, _ = _terminal(request)
        return service.bulk(number, facility)

    @app.post(
        "/v1/reference-numbers",
        responses=ERRORS,
        summary="register 照会番号 (the clinic's own patient id, ≤ 50 characters) for a "
        "patient named by a qualification's numbers; later results carry it",
    )
    async def reference_numbers(body: ReferenceRegistration, request: Request) -> dict[str, str]:
        facility, _ = _terminal(request)
        service.charge_lookup(facility)
        answer, request.state.persona = service.register_reference_number(body, facility)
        return answer

    return app
