"""The FastAPI application of the mock service, made by :func:`create_app`.

The terminal's identity comes from its TLS client certificate (:mod:`mock_oqs.api.deps`).
``/health`` needs no certificate; everything else does — ``/docs`` and ``/openapi.json``
too, since they are served by the same workers a stranger could tie up (``mock-oqs
openapi`` prints the description without a server). Identity and size are checked before
the body is read (:class:`~mock_oqs.api.middleware.ServiceMiddleware`), and every error
answer, the framework's own included, has the service's format
``{"error": {"code": "MOCK-…", "message": …}}`` (:mod:`mock_oqs.api.errors`).

Routers per area (:mod:`mock_oqs.api.routes`): health, confirmations (nonces, by card,
registrations, by number), records, 照会番号 (one and bulk), 一括照会, the bulk kinds by
period.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

from mock_oqs.api.errors import install_error_handlers
from mock_oqs.api.hot import describe_bodies
from mock_oqs.api.middleware import ServiceMiddleware
from mock_oqs.api.routes import bulk, confirmations, health, period, records, reference
from mock_oqs.faults import FAULTS_FILE, FaultStore
from mock_oqs.limits import ServiceLimits
from mock_oqs.models import CardConfirmationRequest, NumberConfirmationRequest
from mock_oqs.service import Clock, QualificationService
from mock_oqs.world import World


class ServiceSettings(BaseModel):
    world: Path
    today: dt.date | None = None
    nonce_ttl_seconds: float = 120.0
    max_body_bytes: int = 64 * 1024  # a confirmation is a few kB
    max_outstanding_nonces: int | None = 256  # per facility; None: no limit
    limits: ServiceLimits = ServiceLimits()  # lookups by number, 一括照会 (per facility)


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service of one world: its use cases in ``app.state.service``, the routers, the
    error envelope and the middleware."""
    service = QualificationService(
        World.load(settings.world),
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
    install_error_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        faults=FaultStore(settings.world / FAULTS_FILE),
        max_body_bytes=settings.max_body_bytes,
    )
    for area in (health, confirmations, records, reference, bulk, period):
        # the area's routes as they are: FastAPI 0.165's include_router keeps a router as a
        # level of its own that every request is matched through (~20 µs, /health's too)
        app.router.routes.extend(area.router.routes)
    describe_bodies(app, [CardConfirmationRequest, NumberConfirmationRequest])
    return app
