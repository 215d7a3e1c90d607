"""HTTP routes, shared by the three powertools resolvers (REST v1, HTTP API v2, Function URL).

    POST /predict            POST /<model>/predict     run the model on {"inputs": ...}
    GET  /health             GET  /<model>/health      public manifest + function version

`<model>` must be the served model's name (else 404 ModelNotFoundError). Other methods on these paths
are 405; any other path is 404. HTTP API stages other than `$default` are stripped by powertools.

Imported by `app` on the first API event, not at init: `aws_lambda_powertools.event_handler`'s
`__init__` imports every resolver (AppSync, Bedrock, VPC Lattice, asyncio), ~36 ms of a cold start that
direct invocations never need. Upstream, a PEP 562 lazy `__getattr__` in that `__init__` would let
`aws_lambda_powertools.event_handler.api_gateway` load alone (as powertools did for its utilities in
#2352 and #3397).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from fnkit_runtime import constants as c
from fnkit_runtime import error_responses, observability
from fnkit_runtime.event_kinds import EventKind
from fnkit_runtime.exceptions import (
    BodyFormatError,
    MethodNotAllowedError,
    ModelNotFoundError,
    RouteNotFoundError,
)
from fnkit_runtime.manifest import Limits
from fnkit_runtime.predict import predict
from fnkit_runtime.session import holder
from fnkit_runtime.validation import check_body_size, parse_body

router = Router()  # type: ignore[no-untyped-call]


def _request_id() -> str:
    return str(getattr(router.lambda_context, "aws_request_id", "") or "")


def _check_model(model: str | None) -> None:
    served = holder.config.model_name
    if model is not None and model != served:
        raise ModelNotFoundError(
            f"this function serves the model {served!r}; use /{served}/predict or /predict"
        )


def _raw_body(limits: Limits) -> bytes:
    """The request body's bytes, size-checked before any decoding beyond base64."""
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        check_body_size(len(body) * 3 // 4, limits)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodyFormatError("the body is marked base64 but is not valid base64") from None
    else:
        check_body_size(len(body), limits)  # characters <= bytes: reject before encoding
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyFormatError("the body is not valid UTF-8") from None
    check_body_size(len(raw), limits)
    return raw


def predict_route(model: str | None = None) -> dict[str, Any]:
    """POST /predict and POST /<model>/predict (`model` is the path's, None on /predict)."""
    _check_model(model)
    served = holder.model()
    body = parse_body(_raw_body(served.limits))
    return predict(served, body, observability.function_version(router.lambda_context))


def health_route(model: str | None = None) -> dict[str, Any]:
    """GET /health and GET /<model>/health."""
    observability.mark_probe()
    _check_model(model)
    public = holder.manifest().public()
    public["function_version"] = observability.function_version(router.lambda_context)
    public["loaded"] = holder.loaded
    return public


def _not_allowed(allowed: str) -> Any:
    def handler(**_: str) -> dict[str, Any]:
        raise MethodNotAllowedError(f"this path accepts {allowed} only")

    return handler


for _paths, _method, _route in (
    (c.PREDICT_PATHS, "POST", predict_route),
    (c.HEALTH_PATHS, "GET", health_route),
):
    for _path in _paths:
        router.route(_path, method=_method)(_route)
        router.route(_path, method=[m for m in c.HTTP_METHODS if m != _method])(_not_allowed(_method))


def error_response(exc: Exception) -> Response[dict[str, Any]]:
    """Every exception a route raises becomes the one error body (see `fnkit_runtime.error_responses`)."""
    reply = error_responses.error_reply(exc, _request_id())
    return Response(status_code=reply.status, content_type=content_types.APPLICATION_JSON, body=reply.body)


def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
    return error_response(RouteNotFoundError("no route for this path; use POST /predict or GET /health"))


def _build(resolver: ApiGatewayResolver) -> ApiGatewayResolver:
    resolver.include_router(router)
    resolver.exception_handler(Exception)(error_response)
    resolver.not_found(_not_found)
    return resolver


_RESOLVER_CLASSES: dict[EventKind, type[ApiGatewayResolver]] = {
    EventKind.REST_API: APIGatewayRestResolver,
    EventKind.HTTP_API: APIGatewayHttpResolver,
    EventKind.FUNCTION_URL: LambdaFunctionUrlResolver,
}
_resolvers: dict[EventKind, ApiGatewayResolver] = {}


def resolver(kind: EventKind) -> ApiGatewayResolver:
    """The resolver of an API event kind, built on its first use (one per process and kind)."""
    built = _resolvers.get(kind)
    if built is None:
        built = _resolvers[kind] = _build(_RESOLVER_CLASSES[kind]())
    return built
