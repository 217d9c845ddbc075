"""The hot paths' way through FastAPI: a route that takes the request alone, a body
parsed in one pass, and the answer made at the edge from the typed message."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from mock_oqs.results import Message, to_format
from mock_oqs.xml import render_xml

Parsed = TypeVar("Parsed", bound=BaseModel)
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """A hot path (nonces, confirmations): the endpoint takes the request alone, parses
    its own body (:func:`parse`) and returns a response. FastAPI's documented extension
    point (a custom ``get_route_handler``) skips its per-request dependency solving and
    response validation — more CPU than the service's own work for these — while the
    route keeps its OpenAPI description and the exception handlers."""

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI description of a body an endpoint parses itself (:func:`parse`); its
    schema goes into the components (:func:`describe_bodies`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def describe_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
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


async def parse(request: Request, model: type[Parsed]) -> Parsed:
    """The body, read and validated in one pass by pydantic-core: the confirmations are
    the service's hot path, and FastAPI's general body handling (content-type parsing,
    dependency solving, a dict between JSON and model) cost more than the work itself.
    Errors are FastAPI's: 422 MOCK-E006 naming the field."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def respond(request: Request, message: Message) -> Response:
    """The answer at the edge, in the format (:func:`mock_oqs.results.to_format`). JSON:
    ``MessageHeader`` and ``MessageBody`` with ``MockNotices`` beside them; XML: the
    closed ``XmlMsg`` document alone. Both carry the notices in ``X-Mock-Notices``; the
    access log gets the persona and the outcome."""
    request.state.persona = message.persona
    request.state.outcome = message.body.outcome
    headers = {"X-Mock-Notices": ",".join(message.notices)}
    answer = to_format(message)
    if "application/xml" in request.headers.get("accept", ""):
        # the closed document: what travels beside it (notices, an offer) stays out
        document = {k: answer[k] for k in ("MessageHeader", "MessageBody")}
        return Response(
            render_xml(document), media_type="application/xml; charset=utf-8", headers=headers
        )
    return Response(orjson.dumps(answer), media_type="application/json", headers=headers)


def hot_post(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """Register ``endpoint`` as a hot POST route of ``router`` (:class:`DirectRoute`)."""

    def add(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=DirectRoute, **options
        )
        return endpoint

    return add
