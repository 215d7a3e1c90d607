"""Which kind of event arrived, and whether a proxy event has the shape powertools will read.

API Gateway REST (payload 1.0) has `httpMethod`; HTTP API and Function URLs (payload 2.0) have
`version: "2.0"` and `requestContext.http`, Function URLs on a `*.lambda-url.*` domain. A warm-up is an
EventBridge (or EventBridge Scheduler) "Scheduled Event" or `{"warmup": true}`; a direct invocation is
the prediction body itself, `{"inputs": ...}`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from fnkit_runtime.exceptions import EventFormatError

_SCHEDULE_SOURCES = frozenset({"aws.events", "aws.scheduler"})
_FUNCTION_URL_DOMAIN = ".lambda-url."


class EventKind(enum.Enum):
    REST_API = "rest-api"
    HTTP_API = "http-api"
    FUNCTION_URL = "function-url"
    WARMUP = "warmup"
    DIRECT = "direct"
    UNKNOWN = "unknown"


def _proxy_kind(event: Mapping[str, Any]) -> EventKind | None:
    if "httpMethod" in event:
        return EventKind.REST_API
    context = event.get("requestContext")
    if event.get("version") == "2.0" and isinstance(context, Mapping) and "http" in context:
        domain = context.get("domainName")
        if isinstance(domain, str) and _FUNCTION_URL_DOMAIN in domain:
            return EventKind.FUNCTION_URL
        return EventKind.HTTP_API
    return None


def classify(event: Any) -> EventKind:
    if not isinstance(event, Mapping):
        return EventKind.UNKNOWN
    proxy = _proxy_kind(event)
    if proxy is not None:
        return proxy
    source = event.get("source")
    if event.get("warmup") is True or (
        isinstance(source, str)
        and source in _SCHEDULE_SOURCES
        and event.get("detail-type") == "Scheduled Event"
    ):
        return EventKind.WARMUP
    if "inputs" in event:
        return EventKind.DIRECT
    return EventKind.UNKNOWN


def _is_str_map(value: Any, *, list_values: bool = False) -> bool:
    if value is None:
        return True
    if not isinstance(value, Mapping):
        return False
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        if list_values:
            if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                return False
        elif not isinstance(item, str):
            return False
    return True


def _common_fields_ok(event: Mapping[str, Any]) -> bool:
    return (
        _is_str_map(event.get("headers"))
        and _is_str_map(event.get("queryStringParameters"))
        and _is_str_map(event.get("pathParameters"))
        and _is_str_map(event.get("stageVariables"))
        and isinstance(event.get("body"), str | None)
        and isinstance(event.get("isBase64Encoded"), bool | None)
    )


def _rest_ok(event: Mapping[str, Any]) -> bool:
    return (
        isinstance(event.get("httpMethod"), str)
        and isinstance(event.get("path"), str)
        and isinstance(event.get("requestContext"), Mapping)
        and _is_str_map(event.get("multiValueHeaders"), list_values=True)
        and _is_str_map(event.get("multiValueQueryStringParameters"), list_values=True)
    )


def _v2_ok(event: Mapping[str, Any]) -> bool:
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return False
    http = context.get("http")
    cookies = event.get("cookies")
    return (
        isinstance(event.get("rawPath"), str)
        and isinstance(context.get("stage"), str)
        and isinstance(http, Mapping)
        and isinstance(http.get("method"), str)
        and (cookies is None or (isinstance(cookies, list) and all(isinstance(c, str) for c in cookies)))
    )


def check_proxy_event(kind: EventKind, event: Mapping[str, Any]) -> None:
    """Raise EventFormatError unless the fields the resolver reads have their documented types."""
    shape_ok = _rest_ok(event) if kind is EventKind.REST_API else _v2_ok(event)
    if not (shape_ok and _common_fields_ok(event)):
        raise EventFormatError(f"the {kind.value} event is malformed")
