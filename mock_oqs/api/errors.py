"""The service's one error envelope, ``{"error": {"code": "MOCK-…", "message": …}}``, for
every error answer — the service's refusals and the framework's own (404, 405, 400, 422,
a body over the cap) alike."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_oqs.api.deps import facility_of, service
from mock_oqs.models import ErrorResponse
from mock_oqs.refusal import Refusal

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
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


class BodyTooLarge(Exception):
    """A request body counted past the cap as it arrived (:mod:`mock_oqs.api.middleware`)."""


def error_json(code: str, message: str) -> bytes:
    """The envelope, ``{"error": {"code": "MOCK-…", "message": …}}``, as bytes: the one
    builder of every error answer (the framework's, the middleware's, the server's)."""
    envelope = {"error": {"code": code, "message": message}}
    return json.dumps(envelope, ensure_ascii=False).encode()


def error_response(
    request: Request,
    code: str,
    message: str,
    status: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The envelope as the framework's answer; the code goes to the access log."""
    request.state.outcome = code
    return Response(
        error_json(code, message),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Refusals, the framework's HTTP errors and validation errors, in the envelope."""

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        headers: dict[str, str] = {}
        if exc.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
        if exc.status == 429:  # limits: kept for trainers and developers (mock-oqs refusals)
            service(request).record_refusal(facility_of(request.scope), exc.code, exc.message)
        return error_response(request, exc.code, exc.message, exc.status, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """404, 405 and the framework's own 400s, in the service's error format."""
        if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps what reading raised
            return error_response(
                request, "MOCK-E011", str(exc.__cause__), 413, {"connection": "close"}
            )
        code = {404: "MOCK-E010", 405: "MOCK-E010"}.get(exc.status_code, "MOCK-E006")
        return error_response(request, code, str(exc.detail), exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: "
            f"{err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return error_response(request, "MOCK-E006", f"malformed request: {problems}", 422)
