"""Confirmations: nonces, by card, 保険証利用登録 at the reader, by number.

The nonce and the two confirmations are the service's hot paths (:mod:`mock_oqs.api.hot`):
each handler reads who asks, parses the body, calls one use case and answers — the work
is below the router (:mod:`mock_oqs.service`)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from mock_oqs.api.deps import ServiceDep, TerminalDep, service, terminal
from mock_oqs.api.errors import ERROR_RESPONSES
from mock_oqs.api.hot import hot_post, json_body, parse, respond
from mock_oqs.models import (
    CardConfirmationRequest,
    ConsentSubmission,
    NonceResponse,
    NumberConfirmationRequest,
    RegistrationRequest,
)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@hot_post(
    router,
    "/nonces",
    response_model=NonceResponse,
    summary="a single-use nonce for one card confirmation",
)
async def nonce(request: Request) -> Response:
    value, expires = service(request).issue_nonce(terminal(request).facility)
    answer = {"nonce": value, "expires_at": expires.isoformat()}
    return Response(orjson.dumps(answer), media_type="application/json")


@hot_post(
    router,
    "/confirmations/card",
    summary="confirm by card (PIN signature or face/visual statement)",
    openapi_extra=json_body(CardConfirmationRequest),
)
async def by_card(request: Request) -> Response:
    asking = terminal(request)
    body = await parse(request, CardConfirmationRequest)
    return respond(request, service(request).confirm_card(body, asking.facility, asking.key))


@router.post(
    "/confirmations/card/consents",
    summary="the second step of a confirmation by card: the patient's consents for the "
    "proof a consents_later confirmation kept (its ConsentOffer token, single use)",
)
async def consents(
    body: ConsentSubmission, request: Request, asking: TerminalDep, use: ServiceDep
) -> Response:
    return respond(request, use.give_consents(body, asking.facility))


@router.post(
    "/registrations",
    summary="保険証利用登録 at the reader: registers the card of a MOCK-R003 answer's "
    "RegistrationOffer (its holder proven moments ago) and answers that confirmation",
)
async def registration(
    body: RegistrationRequest, request: Request, asking: TerminalDep, use: ServiceDep
) -> Response:
    return respond(request, use.register(body.token, asking.facility))


@hot_post(
    router,
    "/confirmations/number",
    summary="confirm by 保険者番号・記号・番号・枝番 and birth date",
    openapi_extra=json_body(NumberConfirmationRequest),
)
async def by_number(request: Request) -> Response:
    facility = terminal(request).facility
    body = await parse(request, NumberConfirmationRequest)
    use = service(request)
    use.charge_lookup(facility)
    return respond(request, use.confirm_number(body, facility))
